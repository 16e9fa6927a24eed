import { Router } from 'express';
import { PipelineEntity } from '../entities/pipeline.entity';
import { applyPipeline, conflictOnName, isUniqueViolation, parsePipeline, publicPipeline } from '../objects';
import { audit } from '../audit';
import { Problem } from '../problem';
import type { AppContext } from '../context';
import { checkIfMatch, idParam, paging, sendObject, sendRendered } from './common';
import type { Filter } from '../read-model';
import { queryOf } from '../request-guard';

export function pipelineFilters(query: Record<string, unknown>): Filter[] {
  return typeof query.name === 'string' ? [{ column: 'name', value: query.name }] : [];
}

export function pipelineRouter(ctx: AppContext): Router {
  const r = Router();

  const load = async (m: typeof ctx.ds.manager, id: string) => {
    const p = await m.findOne(PipelineEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!p) throw new Problem(404, 'Not found', `No pipeline with id ${id}.`);
    return p;
  };

  r.get('/', async (req, res) => {
    const { page, pageSize } = paging(req);
    sendRendered(res, await ctx.reads.list('pipelines', pipelineFilters(queryOf(req)), page, pageSize));
  });

  r.post('/', async (req, res) => {
    let name = '';
    try {
      const saved = await ctx.ds.transaction(async (m) => {
        const input = await parsePipeline(m, req.body, 'create');
        name = input.name;
        const p = m.create(PipelineEntity, {});
        const changed = applyPipeline(p, input);
        const s = await m.save(p);
        await audit(m, req, 'create', 'pipeline', s, changed);
        return s;
      });
      ctx.reads.written('pipelines', saved.id);
      ctx.log.info({ pipeline_id: saved.id }, 'pipeline created');
      res.setHeader('Location', `/v1/pipelines/${saved.id}`);
      sendObject(res, 201, publicPipeline(saved));
    } catch (e) {
      if (isUniqueViolation(e)) throw conflictOnName('pipelines', name);
      throw e;
    }
  });

  r.get('/:id', async (req, res) => {
    const id = idParam(req, 'pipeline');
    const found = await ctx.reads.get('pipelines', id);
    if (!found) throw new Problem(404, 'Not found', `No pipeline with id ${id}.`);
    sendRendered(res, found);
  });

  for (const [method, mode] of [
    ['put', 'replace'],
    ['patch', 'patch'],
  ] as const) {
    r[method]('/:id', async (req, res) => {
      const id = idParam(req, 'pipeline');
      let name = '';
      try {
        const saved = await ctx.ds.transaction(async (m) => {
          const p = await load(m, id);
          const input = await parsePipeline(m, req.body, mode, p);
          checkIfMatch(req, p.version, `pipeline ${p.name}`);
          name = input.name;
          if (input.source_id !== p.source_id) {
            throw new Problem(
              409,
              'Conflict',
              "source_id cannot change in place: a pipeline's offsets belong to its " +
                'source. Create a new pipeline (Terraform plans a replacement).',
              [{ field: 'source_id', message: 'forces a new pipeline' }],
            );
          }
          const changed = applyPipeline(p, input);
          if (!changed.length) return p;
          const s = await m.save(p);
          await audit(m, req, 'update', 'pipeline', s, changed);
          return s;
        });
        ctx.reads.written('pipelines', id);
        sendObject(res, 200, publicPipeline(saved));
      } catch (e) {
        if (isUniqueViolation(e)) throw conflictOnName('pipelines', name);
        throw e;
      }
    });
  }

  r.delete('/:id', async (req, res) => {
    const id = idParam(req, 'pipeline');
    await ctx.ds.transaction(async (m) => {
      const p = await load(m, id);
      checkIfMatch(req, p.version, `pipeline ${p.name}`);
      await m.delete(PipelineEntity, { id });
      await audit(m, req, 'delete', 'pipeline', p);
    });
    ctx.reads.written('pipelines', id);
    res.status(204).end();
  });

  // pause/resume change the desired state; the worker supervisor reconciles runners to it.
  for (const [op, state] of [
    ['pause', 'paused'],
    ['resume', 'running'],
  ] as const) {
    r.post(`/:id/${op}`, async (req, res) => {
      const id = idParam(req, 'pipeline');
      const saved = await ctx.ds.transaction(async (m) => {
        const p = await load(m, id);
        checkIfMatch(req, p.version, `pipeline ${p.name}`);
        if (p.desired_state === state) return p;
        p.desired_state = state;
        const s = await m.save(p);
        await audit(m, req, op, 'pipeline', s, ['desired_state']);
        return s;
      });
      ctx.reads.written('pipelines', id);
      sendObject(res, 200, publicPipeline(saved));
    });
  }

  return r;
}
