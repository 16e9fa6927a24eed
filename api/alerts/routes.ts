import { Router } from 'express';
import type { EntityManager } from 'typeorm';
import type { AppContext } from '../context';
import { audit } from '../audit';
import { isUniqueViolation } from '../objects';
import { Problem } from '../problem';
import { checkIfMatch, idParam, paging, pagingOf, sendObject } from '../routes/common';
import { UUID_RE } from '../../core/patterns';
import {
  applyChannel,
  returned,
  ChannelRow,
  changedRuleFields,
  parseChannel,
  parseRule,
  publicChannel,
  publicRule,
  RULE_COLUMNS,
  RuleRow,
  ruleValues,
} from './objects';

const conflict = (what: string, name: string) =>
  new Problem(
    409,
    'Conflict',
    `An ${what} named ${JSON.stringify(name)} already exists: names are unique; pick another name or update that one.`,
    [{ field: 'name', message: 'already in use' }],
  );

async function lockRow<T>(m: EntityManager, table: string, id: string, what: string): Promise<T> {
  const rows = await m.query(`SELECT * FROM ${table} WHERE id = $1 FOR UPDATE`, [id]);
  if (!rows.length) throw new Problem(404, 'Not found', `No ${what} with id ${id}.`);
  return rows[0];
}

/** List query: paging plus an exact `name` filter (the Terraform data sources look up by name). */
async function list<T>(ctx: AppContext, table: string, q: Record<string, unknown>, map: (r: T) => unknown) {
  const { page, pageSize } = pagingOf(q);
  const byName = typeof q.name === 'string';
  const where = byName ? 'WHERE name = $1' : '';
  const args = byName ? [q.name] : [];
  const rows = await ctx.ds.query(
    `SELECT * FROM ${table} ${where} ORDER BY created_at, id LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    args,
  );
  const [{ n }] = await ctx.ds.query(`SELECT count(*)::int AS n FROM ${table} ${where}`, args);
  return { items: rows.map(map), total: n, page, page_size: pageSize };
}

/** /v1/alert-channels */
export function alertChannelRouter(ctx: AppContext): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    res.json(await list<ChannelRow>(ctx, 'alert_channels', req.query, publicChannel));
  });
  r.get('/:id', async (req, res) => {
    const id = idParam(req, 'alert channel');
    const rows = await ctx.ds.query(`SELECT * FROM alert_channels WHERE id = $1`, [id]);
    if (!rows.length) throw new Problem(404, 'Not found', `No alert channel with id ${id}.`);
    sendObject(res, 200, publicChannel(rows[0]));
  });
  r.post('/', async (req, res) => {
    const input = parseChannel(req.body, 'create');
    try {
      const saved = await ctx.ds.transaction(async (m) => {
        const row: Partial<ChannelRow> = {};
        const changed = applyChannel(row, input, ctx.secrets);
        const [s] = await m.query(
          `INSERT INTO alert_channels (name, kind, config, secrets, tags) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
          [row.name, row.kind, JSON.stringify(row.config), JSON.stringify(row.secrets), JSON.stringify(row.tags)],
        );
        await audit(m, req, 'create', 'alert_channel', s, changed);
        return s;
      });
      ctx.log.info({ alert_channel_id: saved.id, kind: saved.kind }, 'alert channel created');
      res.setHeader('Location', `/v1/alert-channels/${saved.id}`);
      sendObject(res, 201, publicChannel(saved));
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('alert channel', input.name);
      throw e;
    }
  });
  for (const [method, mode] of [
    ['put', 'replace'],
    ['patch', 'patch'],
  ] as const) {
    r[method]('/:id', async (req, res) => {
      const id = idParam(req, 'alert channel');
      let name = '';
      try {
        const saved = await ctx.ds.transaction(async (m) => {
          const row = await lockRow<ChannelRow>(m, 'alert_channels', id, 'alert channel');
          checkIfMatch(req, row.version, `alert channel ${row.name}`);
          const input = parseChannel(req.body, mode, row);
          name = input.name;
          const changed = applyChannel(row, input, ctx.secrets);
          if (!changed.length) return row;
          const s = returned<any>(
            await m.query(
              'UPDATE alert_channels SET name = $2, config = $3, secrets = $4, tags ' +
                '= $5, version = version + 1, updated_at = now() WHERE id = $1 ' +
                'RETURNING *',
              [id, row.name, JSON.stringify(row.config), JSON.stringify(row.secrets), JSON.stringify(row.tags)],
            ),
          );
          await audit(m, req, 'update', 'alert_channel', s, changed);
          return s;
        });
        sendObject(res, 200, publicChannel(saved));
      } catch (e) {
        if (isUniqueViolation(e)) throw conflict('alert channel', name);
        throw e;
      }
    });
  }
  r.delete('/:id', async (req, res) => {
    const id = idParam(req, 'alert channel');
    await ctx.ds.transaction(async (m) => {
      const row = await lockRow<ChannelRow>(m, 'alert_channels', id, 'alert channel');
      checkIfMatch(req, row.version, `alert channel ${row.name}`);
      const users: { name: string }[] = await m.query(
        `SELECT name FROM alert_rules WHERE channel_ids @> $1::jsonb ORDER BY name`,
        [JSON.stringify([id])],
      );
      if (users.length)
        throw new Problem(
          409,
          'Conflict',
          `alert channel ${JSON.stringify(row.name)} is used by alert ` +
            `rule(s) ${users.map((u) => JSON.stringify(u.name)).join(', ')}: remove it from those rules first.`,
          undefined,
          { rules: users.map((u) => u.name) },
        );
      await m.query(`DELETE FROM alert_channels WHERE id = $1`, [id]);
      await audit(m, req, 'delete', 'alert_channel', row);
    });
    res.status(204).end();
  });
  return r;
}

/** Pipelines each rule is firing for now (read-only, from the evaluator's state). */
async function firing(ctx: AppContext, ruleIds: string[]) {
  const rows: { rule_id: string; pipeline_id: string; pipeline: string; changed_at: Date }[] = ruleIds.length
    ? await ctx.ds.query(
        'SELECT s.rule_id, s.pipeline_id, p.name AS pipeline, s.changed_at ' +
          'FROM alert_states s JOIN pipelines p ON p.id = s.pipeline_id WHERE ' +
          's.firing AND s.rule_id = ANY($1) ORDER BY p.name',
        [ruleIds],
      )
    : [];
  return (id: string) =>
    rows
      .filter((x) => x.rule_id === id)
      .map((x) => ({ pipeline_id: x.pipeline_id, pipeline: x.pipeline, since: new Date(x.changed_at).toISOString() }));
}

/** /v1/alert-rules */
export function alertRuleRouter(ctx: AppContext): Router {
  const r = Router();
  const withFiring = async (rows: RuleRow[]) => {
    const f = await firing(
      ctx,
      rows.map((x) => x.id),
    );
    return rows.map((x) => ({ ...publicRule(x), firing: f(x.id) }));
  };
  r.get('/', async (req, res) => {
    const l = await list<RuleRow>(ctx, 'alert_rules', req.query, (x) => x);
    res.json({ ...l, items: await withFiring(l.items as RuleRow[]) });
  });
  r.get('/:id', async (req, res) => {
    const id = idParam(req, 'alert rule');
    const rows = await ctx.ds.query(`SELECT * FROM alert_rules WHERE id = $1`, [id]);
    if (!rows.length) throw new Problem(404, 'Not found', `No alert rule with id ${id}.`);
    sendObject(res, 200, (await withFiring(rows))[0]);
  });
  const cols = RULE_COLUMNS.join(', ');
  r.post('/', async (req, res) => {
    let name = '';
    try {
      const saved = await ctx.ds.transaction(async (m) => {
        const input = await parseRule(m, req.body, 'create');
        name = input.name;
        const [s] = await m.query(
          `INSERT INTO alert_rules (${cols}) VALUES (${RULE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`,
          ruleValues(input),
        );
        await audit(m, req, 'create', 'alert_rule', s, changedRuleFields(undefined, input));
        return s;
      });
      res.setHeader('Location', `/v1/alert-rules/${saved.id}`);
      sendObject(res, 201, (await withFiring([saved]))[0]);
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('alert rule', name);
      throw e;
    }
  });
  for (const [method, mode] of [
    ['put', 'replace'],
    ['patch', 'patch'],
  ] as const) {
    r[method]('/:id', async (req, res) => {
      const id = idParam(req, 'alert rule');
      let name = '';
      try {
        const saved = await ctx.ds.transaction(async (m) => {
          const row = await lockRow<RuleRow>(m, 'alert_rules', id, 'alert rule');
          checkIfMatch(req, row.version, `alert rule ${row.name}`);
          const input = await parseRule(m, req.body, mode, row);
          name = input.name;
          const changed = changedRuleFields(row, input);
          if (!changed.length) return row;
          const s = returned<any>(
            await m.query(
              `UPDATE alert_rules SET ${RULE_COLUMNS.map((c, i) => `${c} = $${i + 2}`).join(', ')}, ` +
                `version = version + 1, updated_at = now() WHERE id = $1 RETURNING *`,
              [id, ...ruleValues(input)],
            ),
          );
          await audit(m, req, 'update', 'alert_rule', s, changed);
          return s;
        });
        sendObject(res, 200, (await withFiring([saved]))[0]);
      } catch (e) {
        if (isUniqueViolation(e)) throw conflict('alert rule', name);
        throw e;
      }
    });
  }
  r.delete('/:id', async (req, res) => {
    const id = idParam(req, 'alert rule');
    await ctx.ds.transaction(async (m) => {
      const row = await lockRow<RuleRow>(m, 'alert_rules', id, 'alert rule');
      checkIfMatch(req, row.version, `alert rule ${row.name}`);
      await m.query(`DELETE FROM alert_rules WHERE id = $1`, [id]);
      await audit(m, req, 'delete', 'alert_rule', row);
    });
    res.status(204).end();
  });
  return r;
}

const EVENTS = ['firing', 'resolved'];

/** /v1/alerts: the notifications, newest first, each with its delivery per channel. */
export function alertHistoryRouter(ctx: AppContext): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const { page, pageSize } = paging(req);
    const where: string[] = [];
    const args: unknown[] = [];
    for (const f of ['rule_id', 'pipeline_id'] as const) {
      const v = req.query[f];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !UUID_RE.test(v))
        throw new Problem(400, 'Validation failed', `${f} must be a uuid`, [{ field: f, message: 'must be a uuid' }]);
      args.push(v);
      where.push(`e.${f} = $${args.length}`);
    }
    if (req.query.event !== undefined) {
      if (!EVENTS.includes(String(req.query.event)))
        throw new Problem(400, 'Validation failed', 'event must be firing or resolved', [
          { field: 'event', message: 'must be firing or resolved' },
        ]);
      args.push(req.query.event);
      where.push(`e.event = $${args.length}`);
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const rows = await ctx.ds.query(
      `
      SELECT e.*, coalesce((SELECT json_agg(json_build_object('channel_id', d.channel_id, 'channel', d.channel_name, 'status', d.status, 'attempts', d.attempts,
               'last_error', d.last_error, 'delivered_at', d.delivered_at, 'next_attempt_at', CASE WHEN d.status =
               'pending' THEN d.next_attempt_at END) ORDER BY d.id)
             FROM alert_deliveries d WHERE d.event_id = e.id), '[]') AS deliveries
      FROM alert_events e ${w} ORDER BY e.id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
      args,
    );
    const [{ n }] = await ctx.ds.query(`SELECT count(*)::int AS n FROM alert_events e ${w}`, args);
    res.json({
      items: rows.map((e: any) => ({
        id: Number(e.id),
        event: e.event,
        rule_id: e.rule_id,
        rule: e.rule_name,
        pipeline_id: e.pipeline_id,
        pipeline: e.pipeline_name,
        condition: e.condition,
        value: e.value,
        reason: e.reason,
        transition: e.seq,
        at: new Date(e.at).toISOString(),
        deliveries: e.deliveries.map((d: any) => ({
          ...d,
          delivered_at: d.delivered_at && new Date(d.delivered_at).toISOString(),
          next_attempt_at: d.next_attempt_at && new Date(d.next_attempt_at).toISOString(),
        })),
      })),
      total: n,
      page,
      page_size: pageSize,
    });
  });
  return r;
}
