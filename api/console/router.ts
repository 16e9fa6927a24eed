import fs from 'node:fs';
import path from 'node:path';
import express, { NextFunction, Request, Response, Router } from 'express';
import { repoRoot } from '../../core/config';
import { SecretBox } from '../../core/secrets';
import { STATES } from '../status';
import { ApiFailure, ConsoleApi, explain } from './api-client';
import { Html } from './html';
import {
  alertsPage,
  connectorsPage,
  detailPage,
  errorBlock,
  groupsPage,
  layout,
  loginPage,
  pipelinesLive,
  pipelinesPage,
  snapshotsPanel,
  statusPanel,
  StatusItem,
  verifyPanel,
} from './pages';
import { clearSession, sameOrigin, sessionToken, setSession } from './session';
import { UUID_RE as uuid } from '../../core/patterns';

/**
 * The web console at /console: pages rendered here from /v1 answers (ConsoleApi, with the
 * signed-in user's token), htmx (one file) polling fragments for the live parts, uPlot for the
 * charts. No build step and no private backend: every read and every action is a /v1 call.
 */
export interface ConsoleOptions {
  secrets: SecretBox;
  selfUrl: () => string;
}

const node = (p: string) => path.join(repoRoot(), 'node_modules', p);
const assets: Record<string, { file: string; type: string }> = {
  'htmx.min.js': { file: node('htmx.org/dist/htmx.min.js'), type: 'text/javascript' },
  'uPlot.iife.min.js': { file: node('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { file: node('uplot/dist/uPlot.min.css'), type: 'text/css' },
  'console.js': { file: path.join(repoRoot(), 'api', 'console', 'assets', 'console.js'), type: 'text/javascript' },
  'console.css': { file: path.join(repoRoot(), 'api', 'console', 'assets', 'console.css'), type: 'text/css' },
};

type Handler = (req: Request, res: Response, api: ConsoleApi) => Promise<void>;

export function consoleRouter(o: ConsoleOptions): Router {
  const r = Router();
  r.use((_req, res, next) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self' " +
        "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; " +
        "form-action 'self'; base-uri 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });
  r.use(express.urlencoded({ extended: false, limit: '64kb' }));
  // Every state-changing request must come from this console's own pages (see session.ts).
  r.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || sameOrigin(req)) {
      next();
      return;
    }
    res
      .status(403)
      .type('text/plain')
      .send('Refused: this request did not come from a page of this console (Origin header missing or foreign).');
  });

  const cache = new Map<string, Buffer>();
  r.get('/assets/:file', (req, res) => {
    const a = assets[String(req.params.file)];
    if (!a) {
      res.status(404).type('text/plain').send('no such asset');
      return;
    }
    let body = cache.get(a.file);
    if (!body) {
      body = fs.readFileSync(a.file);
      cache.set(a.file, body);
    }
    res.setHeader('Content-Type', `${a.type}; charset=utf-8`);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(body);
  });

  r.get('/login', (req, res) => {
    res.type('html').send(loginPage(safeNext(req.query.next)));
  });
  r.post('/login', async (req, res) => {
    const token = String(req.body?.token ?? '').trim();
    const next = safeNext(req.body?.next);
    const check = token
      ? await new ConsoleApi(o.selfUrl(), token, req).call('GET', '/v1/pipelines?page_size=1')
      : { status: 401, body: { detail: 'Enter an API token.' } };
    // 403 means a valid token that may not list pipelines: let it in, pages show what it may not see.
    if (check.status !== 200 && check.status !== 403) {
      res
        .status(401)
        .type('html')
        .send(
          loginPage(
            next,
            check.status === 401
              ? 'That token is not valid. Paste the whole token (it starts with slc_ for generated ones).'
              : explain(check.status, check.body),
          ),
        );
      return;
    }
    setSession(req, res, o.secrets, token);
    res.redirect(303, next);
  });
  r.post('/logout', (req, res) => {
    clearSession(req, res);
    res.redirect(303, '/console/login');
  });

  // Everything below needs a session.
  const page = (h: Handler) => async (req: Request, res: Response, next: NextFunction) => {
    const token = sessionToken(req, o.secrets);
    if (!token) {
      if (req.headers['hx-request']) {
        res.setHeader('HX-Redirect', '/console/login');
        res.status(401).end();
        return;
      }
      res.redirect(303, `/console/login?next=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    try {
      await h(req, res, new ConsoleApi(o.selfUrl(), token, req));
    } catch (e) {
      if (!(e instanceof ApiFailure)) {
        next(e);
        return;
      }
      if (e.status === 401) {
        clearSession(req, res);
        res.redirect(303, `/console/login?next=${encodeURIComponent(req.originalUrl)}`);
        return;
      }
      const msg = explain(e.status, e.problem);
      if (req.headers['hx-request']) res.status(200).type('html').send(errorBlock(msg).text);
      else
        res
          .status(e.status >= 500 ? 502 : e.status)
          .type('html')
          .send(layout('Error', errorBlock(msg), { signedIn: true }));
    }
  };
  const send = (res: Response, title: string, body: Html, active: string, req: Request, charts = false) =>
    res.type('html').send(
      layout(title, body, {
        active,
        charts,
        signedIn: true,
        flash: typeof req.query.msg === 'string' ? req.query.msg.slice(0, 300) : null,
        error: typeof req.query.err === 'string' ? req.query.err.slice(0, 500) : null,
      }),
    );

  // ---- Pipelines ----
  const statusList = async (api: ConsoleApi, req: Request) => {
    const state =
      typeof req.query.state === 'string' && (STATES as readonly string[]).includes(req.query.state)
        ? req.query.state
        : undefined;
    const name = typeof req.query.name === 'string' && req.query.name ? req.query.name.slice(0, 200) : undefined;
    const q = new URLSearchParams({ page_size: '500' });
    if (state) q.set('state', state);
    if (name) q.set('name_contains', name);
    const l = await api.get<{ items: StatusItem[]; total: number; counts: Record<string, number> }>(
      `/v1/pipelines/status?${q}`,
    );
    return { ...l, filter: { state, name } };
  };
  r.get(
    '/',
    page(async (req, res, api) => {
      const l = await statusList(api, req);
      send(res, 'Pipelines', pipelinesPage(l.items, l.filter, l.total, l.counts), '/console', req);
    }),
  );
  r.get(
    '/fragments/pipelines',
    page(async (req, res, api) => {
      const l = await statusList(api, req);
      res.type('html').send(pipelinesLive(l.items, l.filter, l.total, l.counts).text);
    }),
  );

  // ---- Pipeline detail ----
  const pid = (req: Request) => {
    const id = String(req.params.id);
    if (!uuid.test(id)) throw new ApiFailure(404, { detail: `No pipeline with id ${id}.` }, 'pipeline');
    return id;
  };
  r.get(
    '/pipelines/:id',
    page(async (req, res, api) => {
      const id = pid(req);
      const [p, s, snaps, dlq, audit] = await Promise.all([
        api.get(`/v1/pipelines/${id}`),
        api.get(`/v1/pipelines/${id}/status`),
        api.get(`/v1/pipelines/${id}/snapshots`),
        api.get(`/v1/pipelines/${id}/dlq?page_size=100`),
        api.get(`/v1/audit?object_id=${id}&page_size=10`),
      ]);
      send(res, `Pipeline ${p.name}`, detailPage(p, s, snaps.items, dlq, audit.items), '/console', req, true);
    }),
  );
  r.get(
    '/pipelines/:id/fragments/status',
    page(async (req, res, api) => {
      const id = pid(req);
      res.type('html').send(statusPanel(id, await api.get(`/v1/pipelines/${id}/status`)).text);
    }),
  );
  r.get(
    '/pipelines/:id/fragments/snapshots',
    page(async (req, res, api) => {
      const id = pid(req);
      res.type('html').send(snapshotsPanel(id, (await api.get(`/v1/pipelines/${id}/snapshots`)).items).text);
    }),
  );
  r.get(
    '/pipelines/:id/fragments/verify',
    page(async (req, res, api) => {
      const id = pid(req);
      res.type('html').send(verifyPanel(id, await api.get(`/v1/pipelines/${id}/verify`)).text);
    }),
  );
  r.get(
    '/pipelines/:id/metrics.json',
    page(async (req, res, api) => {
      const id = pid(req);
      const since = new Date(Date.now() - 3600_000).toISOString();
      res.json(await api.get(`/v1/pipelines/${id}/metrics?since=${encodeURIComponent(since)}&step=10`));
    }),
  );

  /** Runs an action through /v1 and goes back to the pipeline page with its outcome. */
  const act = (f: (req: Request, api: ConsoleApi, id: string) => Promise<{ status: number; body: any; ok: string }>) =>
    page(async (req, res, api) => {
      const id = pid(req);
      const r2 = await f(req, api, id);
      const back = `/console/pipelines/${id}`;
      if (r2.status >= 200 && r2.status < 300) res.redirect(303, `${back}?msg=${encodeURIComponent(r2.ok)}`);
      else if (r2.status === 401) throw new ApiFailure(401, r2.body, 'action');
      else res.redirect(303, `${back}?err=${encodeURIComponent(explain(r2.status, r2.body))}`);
    });
  for (const op of ['pause', 'resume', 'restart'] as const) {
    r.post(
      `/pipelines/:id/${op}`,
      act(async (_req, api, id) => ({
        ...(await api.call('POST', `/v1/pipelines/${id}/${op}`)),
        ok: `${op[0].toUpperCase()}${op.slice(1)} requested.`,
      })),
    );
  }
  r.post(
    '/pipelines/:id/snapshots',
    act(async (req, api, id) => {
      const tables = String(req.body?.tables ?? '')
        .split(/[,\s]+/)
        .map((t) => t.trim())
        .filter(Boolean);
      const filter = String(req.body?.filter ?? '').trim();
      const body = {
        tables,
        mode: req.body?.mode === 'blocking' ? 'blocking' : 'incremental',
        ...(filter ? { filter } : {}),
      };
      return {
        ...(await api.call('POST', `/v1/pipelines/${id}/snapshots`, body)),
        ok: `Snapshot of ${tables.join(', ')} started.`,
      };
    }),
  );
  r.post(
    '/pipelines/:id/dlq',
    act(async (req, api, id) => {
      const op = String(req.body?.op ?? '');
      const ids = ([] as string[])
        .concat(req.body?.ids ?? [])
        .map(Number)
        .filter(Number.isInteger);
      const all = op.endsWith('-all');
      const verb = op.startsWith('replay') ? 'replay' : 'discard';
      if (!all && !ids.length)
        return { status: 400, body: { detail: 'Select at least one DLQ record, or use "… all".' }, ok: '' };
      const r2 = await api.call('POST', `/v1/pipelines/${id}/dlq/${verb}`, all ? { all: true } : { ids });
      const n = r2.body?.replay_requested ?? r2.body?.discarded ?? 0;
      return { ...r2, ok: verb === 'replay' ? `${n} record(s) queued for replay.` : `${n} record(s) discarded.` };
    }),
  );

  // ---- Kafka, connectors, alerts ----
  r.get(
    '/consumer-groups',
    page(async (req, res, api) => {
      send(
        res,
        'Consumer groups',
        groupsPage((await api.get('/v1/consumer-groups')).items),
        '/console/consumer-groups',
        req,
      );
    }),
  );
  const allPages = async (api: ConsoleApi, path: string) => {
    const out: any[] = [];
    for (let p = 1; ; p++) {
      const l = await api.get(`${path}${path.includes('?') ? '&' : '?'}page=${p}&page_size=500`);
      out.push(...l.items);
      if (out.length >= l.total || !l.items.length) return out;
    }
  };
  for (const [category, collection, title] of [
    ['source', 'sources', 'Sources'],
    ['destination', 'destinations', 'Destinations'],
    ['transform', 'transforms', 'Transforms'],
  ] as const) {
    r.get(
      `/${collection}`,
      page(async (req, res, api) => {
        const [items, pipelines] = await Promise.all([
          allPages(api, `/v1/${collection}`),
          allPages(api, '/v1/pipelines'),
        ]);
        const users = new Map<string, { id: string; name: string }[]>();
        for (const p of pipelines) {
          for (const ref of [p.source_id, p.destination_id, ...p.transform_ids])
            users.set(ref, [...(users.get(ref) ?? []), { id: p.id, name: p.name }]);
        }
        send(res, title, connectorsPage(category, title, items, users), `/console/${collection}`, req);
      }),
    );
  }
  r.get(
    '/alerts',
    page(async (req, res, api) => {
      const [channels, rules, events, pipelines] = await Promise.all([
        allPages(api, '/v1/alert-channels'),
        allPages(api, '/v1/alert-rules'),
        api.get('/v1/alerts?page_size=50'),
        allPages(api, '/v1/pipelines'),
      ]);
      send(
        res,
        'Alerts',
        alertsPage(channels, rules, events.items, new Map(pipelines.map((p: any) => [p.id, p.name]))),
        '/console/alerts',
        req,
      );
    }),
  );
  r.use((_req, res) => {
    res
      .status(404)
      .type('html')
      .send(layout('Not found', errorBlock('No such console page.'), { signedIn: true }));
  });
  return r;
}

/** Only console paths as the place to go after sign-in (no open redirect). */
function safeNext(v: unknown): string {
  const s = typeof v === 'string' ? v : '';
  return /^\/console(\/[^\s]*)?$/.test(s) && !s.startsWith('//') && !s.includes('/login') ? s : '/console';
}
