import { Router } from 'express';
import type { AppContext } from '../context';
import { Problem } from '../problem';
import { allStatuses, STATES } from '../status';
import { pagingOf } from './common';

/**
 * GET /v1/pipelines/status?state=&name_contains=&page=&page_size= : the status of every pipeline in
 * one call (one SQL statement), for dashboards such as the console and `sluice status`. `counts`
 * has the number of pipelines per state after the name filter, before the state filter.
 */
export function statusListRouter(ctx: AppContext): Router {
  const r = Router();
  r.get('/status', async (req, res) => {
    const { page, pageSize } = pagingOf(req.query);
    const state = req.query.state;
    if (state !== undefined && !(STATES as readonly unknown[]).includes(state)) {
      throw new Problem(400, 'Validation failed', `state must be one of ${STATES.join(', ')}`, [
        { field: 'state', message: `must be one of ${STATES.join(', ')}` },
      ]);
    }
    const nameContains = req.query.name_contains;
    if (nameContains !== undefined && (typeof nameContains !== 'string' || nameContains.length > 200)) {
      throw new Problem(400, 'Validation failed', 'name_contains must be text of at most 200 characters', [
        { field: 'name_contains', message: 'at most 200 characters' },
      ]);
    }
    const needle = typeof nameContains === 'string' ? nameContains.toLowerCase() : '';
    const named = (await allStatuses(ctx.ds)).filter((s) => !needle || s.name.toLowerCase().includes(needle));
    const counts = Object.fromEntries(STATES.map((s) => [s, named.filter((x) => x.state === s).length]));
    const matching = state ? named.filter((s) => s.state === state) : named;
    res.json({
      items: matching.slice((page - 1) * pageSize, page * pageSize),
      total: matching.length,
      page,
      page_size: pageSize,
      counts,
    });
  });
  return r;
}
