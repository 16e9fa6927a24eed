import { Router } from 'express';
import { collections, Category } from '../../connectors';
import { ConnectorEntity } from '../entities/connector.entity';
import {
  applyConnector,
  conflictOnName,
  isUniqueViolation,
  parseConnector,
  pipelinesUsing,
  publicConnector,
} from '../objects';
import { audit } from '../audit';
import { Problem } from '../problem';
import type { AppContext } from '../context';
import { checkIfMatch, idParam, paging, sendObject, sendRendered } from './common';
import type { Filter } from '../read-model';
import { queryOf } from '../request-guard';

export function connectorFilters(category: Category, query: Record<string, unknown>): Filter[] {
  const filters: Filter[] = [{ column: 'category', value: category }];
  if (typeof query.kind === 'string') filters.push({ column: 'kind', value: query.kind });
  if (typeof query.name === 'string') filters.push({ column: 'name', value: query.name });
  return filters;
}

/** /v1/sources, /v1/destinations and /v1/transforms: one router, parameterised by category. */
export function connectorRouter(ctx: AppContext, category: Category): Router {
  const r = Router();
  const collection = collections[category];

  const load = async (m: typeof ctx.ds.manager, id: string) => {
    const e = await m.findOne(ConnectorEntity, { where: { id, category }, lock: { mode: 'pessimistic_write' } });
    if (!e) throw new Problem(404, 'Not found', `No ${category} with id ${id}.`);
    return e;
  };

  r.get('/', async (req, res) => {
    const { page, pageSize } = paging(req);
    sendRendered(res, await ctx.reads.list('connectors', connectorFilters(category, queryOf(req)), page, pageSize));
  });

  r.post('/', async (req, res) => {
    const { input } = parseConnector(category, req.body, 'create');
    try {
      const saved = await ctx.ds.transaction(async (m) => {
        const e = m.create(ConnectorEntity, { category });
        const changed = applyConnector(e, input, ctx.secrets);
        const s = await m.save(e);
        await audit(m, req, 'create', category, s, changed);
        return s;
      });
      ctx.reads.written('connectors', saved.id);
      ctx.log.info({ [`${category}_id`]: saved.id, kind: saved.kind }, `${category} created`);
      res.setHeader('Location', `/v1/${collection}/${saved.id}`);
      sendObject(res, 201, publicConnector(saved));
    } catch (e) {
      if (isUniqueViolation(e)) throw conflictOnName(collection, input.name);
      throw e;
    }
  });

  r.get('/:id', async (req, res) => {
    const id = idParam(req, category);
    const found = await ctx.reads.get('connectors', id, category);
    if (!found) throw new Problem(404, 'Not found', `No ${category} with id ${id}.`);
    sendRendered(res, found);
  });

  for (const [method, mode] of [
    ['put', 'replace'],
    ['patch', 'patch'],
  ] as const) {
    r[method]('/:id', async (req, res) => {
      const id = idParam(req, category);
      let name = '';
      try {
        const saved = await ctx.ds.transaction(async (m) => {
          const e = await load(m, id);
          const { input } = parseConnector(category, req.body, mode, e);
          checkIfMatch(req, e.version, `${category} ${e.name}`);
          name = input.name;
          const changed = applyConnector(e, input, ctx.secrets);
          if (!changed.length) return e;
          const s = await m.save(e);
          await audit(m, req, 'update', category, s, changed);
          return s;
        });
        ctx.reads.written('connectors', id);
        sendObject(res, 200, publicConnector(saved));
      } catch (e) {
        if (isUniqueViolation(e)) throw conflictOnName(collection, name);
        throw e;
      }
    });
  }

  r.delete('/:id', async (req, res) => {
    const id = idParam(req, category);
    await ctx.ds.transaction(async (m) => {
      const e = await load(m, id);
      checkIfMatch(req, e.version, `${category} ${e.name}`);
      const users = await pipelinesUsing(m, id);
      if (users.length) {
        throw new Problem(
          409,
          'Conflict',
          `${category} ${JSON.stringify(e.name)} is used by pipeline(s) ${users.map((u) => JSON.stringify(u)).join(', ')}: ` +
            `delete those pipelines or point them elsewhere first.`,
          undefined,
          { pipelines: users },
        );
      }
      await m.delete(ConnectorEntity, { id });
      await audit(m, req, 'delete', category, e);
    });
    ctx.reads.written('connectors', id);
    res.status(204).end();
  });

  return r;
}
