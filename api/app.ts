import type { RequestListener } from 'node:http';
import express, { NextFunction, Request, Response } from 'express';
import { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource, QueryFailedError } from 'typeorm';
import { AuditEntryEntity } from './entities/audit-entry.entity';
import { TokenVerifier } from './auth';
import { AuthFailures } from './auth-failures';
import { hotReads } from './hot-reads';
import { Problem } from './problem';
import { SecretBox } from '../core/secrets';
import { buildOpenApi } from './openapi';
import { Readiness } from './readiness';
import { ReadModel } from './read-model';
import { ChangeFeed } from './change-feed';
import { connectorRouter } from './routes/connectors';
import { pipelineRouter } from './routes/pipelines';
import { operationsRouter } from './routes/operations';
import { schemaRouter } from './routes/schema';
import { tokenRouter } from './routes/tokens';
import { paging } from './routes/common';
import { accessGuard, methodGuard, OperationIndex, queryOf } from './request-guard';
import { exportDocument, exportHcl, importDocument } from './topology';
import { statusListRouter } from './routes/status';
import { metricsRouter } from './metrics-history';
import { alertChannelRouter, alertHistoryRouter, alertRuleRouter } from './alerts/routes';
import { consoleRouter } from './console/router';

import type { AppContext } from './context';

export type { AppContext } from './context';

/** The API as a request listener: cached reads (hot-reads.ts) first, then Express. */
export function createApp(ctx: AppContext): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_api_' });
  const httpDuration = new Histogram({
    name: 'sluice_http_request_duration_seconds',
    help: 'API request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const httpErrors = new Counter({
    name: 'sluice_http_errors_total',
    help: 'API responses with status >= 400',
    labelNames: ['status'],
    registers: [registry],
  });
  new Gauge({
    name: 'sluice_objects',
    help: 'Objects stored in the control DB',
    labelNames: ['type'],
    registers: [registry],
    async collect() {
      const rows: { type: string; n: string }[] = await ctx.ds.query(
        'SELECT category AS type, count(*) AS n FROM connectors GROUP BY 1 ' +
          "UNION ALL SELECT 'pipeline', count(*) FROM pipelines",
      );
      this.reset();
      for (const r of rows) this.set({ type: r.type }, Number(r.n));
    },
  });

  const openapi = buildOpenApi();
  const operations = new OperationIndex(openapi as { paths: Record<string, Record<string, unknown>> });
  const failures = new AuthFailures(ctx.authFailures?.max ?? 20, ctx.authFailures?.windowMs ?? 60_000);
  const tokens = new TokenVerifier(ctx.ds, ctx.changes, failures);
  const hotTimers = new Map<string, { observe(seconds: number): void }>();
  const hot = hotReads(ctx.reads, tokens, operations, (route, seconds, path) => {
    let timer = hotTimers.get(route);
    if (!timer) hotTimers.set(route, (timer = httpDuration.labels({ method: 'GET', route, status: '200' })));
    timer.observe(seconds);
    if (debug) ctx.log.debug({ method: 'GET', path, status: 200, ms: seconds * 1000 }, 'request');
  });
  const debug = ctx.log.isLevelEnabled('debug');

  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // The matched route pattern (not the URL) keeps label cardinality bounded.
      const route = (req.baseUrl ?? '') + ((req.route?.path as string | undefined) ?? '');
      httpDuration.observe(
        { method: req.method, route: route || 'unmatched', status: String(res.statusCode) },
        seconds,
      );
      if (res.statusCode >= 400) httpErrors.inc({ status: String(res.statusCode) });
      if (res.statusCode >= 500)
        ctx.log.error({ method: req.method, path: req.path, status: res.statusCode }, 'request failed');
      else ctx.log.debug({ method: req.method, path: req.path, status: res.statusCode, ms: seconds * 1000 }, 'request');
    });
    next();
  });
  app.use(methodGuard(operations));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await ctx.readiness.run();
    const down = Object.entries(r.checks)
      .filter(([, c]) => !c.ok)
      .map(([n, c]) => `${n}: ${c.error}`);
    res.status(r.ok ? 200 : 503).json({
      status: r.ok ? 'ready' : 'not ready',
      ...(down.length ? { detail: `not reachable: ${down.join('; ')}` } : {}),
      checks: r.checks,
    });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  const v1 = express.Router();
  v1.use(tokens.middleware());
  v1.use(...accessGuard(operations, ctx.bodyLimit ?? '1mb'));
  v1.use('/sources', connectorRouter(ctx, 'source'));
  v1.use('/destinations', connectorRouter(ctx, 'destination'));
  v1.use('/transforms', connectorRouter(ctx, 'transform'));
  v1.use('/pipelines', statusListRouter(ctx)); // before /pipelines/:id
  v1.use('/pipelines', pipelineRouter(ctx));
  v1.use(operationsRouter(ctx)); // status, restart, snapshots, dlq, verify, consumer-groups
  v1.use(schemaRouter(ctx)); // schema history, acknowledging held schema changes
  v1.use(metricsRouter(ctx));
  v1.use('/alert-channels', alertChannelRouter(ctx));
  v1.use('/alert-rules', alertRuleRouter(ctx));
  v1.use('/alerts', alertHistoryRouter(ctx));
  v1.use('/tokens', tokenRouter(ctx));

  v1.get('/export', async (req, res) => {
    const q = queryOf(req);
    if (q.format === 'hcl')
      res.type('text/plain; charset=utf-8').send(await exportHcl(ctx.ds, { importBlocks: q.import_blocks }));
    else res.json(await exportDocument(ctx.ds));
  });
  v1.post('/import', async (req, res) => {
    const q = queryOf(req);
    const result = await importDocument(ctx.ds, ctx.secrets, req, req.body, { dryRun: q.dry_run, prune: q.prune });
    ctx.reads.written('connectors', '*');
    ctx.reads.written('pipelines', '*');
    res.json(result);
  });
  v1.get('/audit', async (req, res) => {
    const { page, pageSize } = paging(req);
    const objectId = queryOf(req).object_id as string | undefined;
    const where = objectId ? { object_id: objectId } : {};
    const [rows, total] = await ctx.ds
      .getRepository(AuditEntryEntity)
      .findAndCount({ where, order: { id: 'DESC' }, skip: (page - 1) * pageSize, take: pageSize });
    res.json({
      items: rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() })),
      total,
      page,
      page_size: pageSize,
    });
  });
  v1.use((req) => {
    throw new Problem(404, 'Not found', `No route ${req.method} ${req.originalUrl}. See /openapi.json.`);
  });
  app.use('/v1', v1);
  app.get('/', (_req, res) => {
    res.redirect(302, '/console');
  });
  app.use('/console', consoleRouter({ secrets: ctx.secrets, selfUrl: ctx.selfUrl ?? (() => 'http://127.0.0.1:8080') }));
  app.use((req) => {
    throw new Problem(404, 'Not found', `No route ${req.method} ${req.originalUrl}. See /openapi.json.`);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let p: Problem;
    const e = err as { type?: string; status?: number; message?: string };
    if (err instanceof Problem) p = err;
    else if (e?.type === 'entity.parse.failed')
      p = new Problem(400, 'Malformed JSON', `The body is not valid JSON: ${e.message}`, [
        { field: '(body)', message: 'not valid JSON' },
      ]);
    else if (e?.type === 'entity.too.large')
      p = new Problem(
        413,
        'Payload too large',
        `The body exceeds the ${ctx.bodyLimit ?? '1mb'} limit (SLUICE_BODY_LIMIT).`,
      );
    else if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
      p = new Problem(415, 'Unsupported media type', e.message ?? 'unsupported encoding');
    else {
      const refused = databaseRefusal(err);
      if (refused) {
        // A safety net, not the validation: the request guard and the declarations should have refused the input.
        ctx.log.warn(
          { code: (err as { code?: string }).code, method: req.method, path: req.path, status: refused.status },
          'input refused by the database',
        );
        p = refused;
      } else {
        // Unexpected: log the error (never the body) and answer without internals.
        ctx.log.error(
          { err: { message: e?.message, stack: (err as Error)?.stack }, method: req.method, path: req.path },
          'unhandled error',
        );
        p = new Problem(500, 'Internal error', 'The server failed to handle the request; see the API log.');
      }
    }
    res.status(p.status).setHeader('Content-Type', 'application/problem+json');
    res.end(JSON.stringify(p.body()));
  });
  return (req, res) => {
    if (!hot(req, res)) app(req, res);
  };
}

/**
 * Postgres errors that can only come from what the client sent: data exceptions (class 22: a value
 * out of range, text Postgres cannot store) are 400, integrity violations (a name taken, a
 * reference to nothing, an object in use) 409. Never the statement or the values in the answer.
 */
function databaseRefusal(err: unknown): Problem | undefined {
  if (!(err instanceof QueryFailedError)) return undefined;
  const code = String((err as unknown as { code?: string }).code ?? '');
  if (code.startsWith('22'))
    return new Problem(
      400,
      'Validation failed',
      'The database refused a value of the request (out of range, or text it cannot store): check the values you sent.',
    );
  if (code === '23505' || code === '23503')
    return new Problem(
      409,
      'Conflict',
      'The change conflicts with what is stored (a name taken, a reference to nothing, or an object still in use).',
    );
  return undefined;
}
