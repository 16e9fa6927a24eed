import type { Request, Response } from 'express';
import { Problem } from '../problem';
import type { Rendered } from '../read-model';
import { queryOf } from '../request-guard';
import { UUID_RE } from '../../core/patterns';

export function idParam(req: Request, what: string): string {
  const id = String(req.params.id);
  if (!UUID_RE.test(id)) throw new Problem(404, 'Not found', `No ${what} with id ${id} (ids are UUIDs).`);
  return id;
}

/** page and page_size, as the request guard checked them against the operation's parameters. */
export function paging(req: Request): { page: number; pageSize: number } {
  const q = queryOf(req);
  return { page: q.page ?? 1, pageSize: q.page_size ?? 50 };
}

/**
 * page and page_size from a query object: for routes whose parameters the request guard converted
 * (numbers) and for raw ones (strings) alike; bounded like the document's page parameters.
 */
export function pagingOf(query: Record<string, unknown>): { page: number; pageSize: number } {
  const page = query.page === undefined ? 1 : Number(query.page);
  const pageSize = query.page_size === undefined ? 50 : Number(query.page_size);
  const errors = [];
  if (!Number.isInteger(page) || page < 1 || page > 1_000_000)
    errors.push({ field: 'page', message: 'page must be an integer from 1 to 1000000' });
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500)
    errors.push({ field: 'page_size', message: 'page_size must be an integer from 1 to 500' });
  if (errors.length) throw new Problem(400, 'Validation failed', errors.map((e) => e.message).join('; '), errors);
  return { page, pageSize };
}

/** `*`, or versions as ETags ("3", W/"3") or bare (3), separated by commas. */
export const IF_MATCH = new RegExp('^ *([*]|(W/)?"?[0-9]{1,10}"?( *, *(W/)?"?[0-9]{1,10}"?)*) *$');

/** If-Match carries the version we last saw (as an ETag, "3" or 3); a mismatch is 412. */
export function checkIfMatch(req: Request, version: number, what: string): void {
  const h = req.headers['if-match'];
  if (h === undefined) return;
  if (!IF_MATCH.test(String(h))) {
    throw new Problem(
      400,
      'Validation failed',
      `If-Match must be the version you read, as its ETag ("${version}" for ${what} now), or *; got ${JSON.stringify(h)}.`,
      [{ field: 'If-Match', message: 'must be a version such as "3", or *' }],
    );
  }
  if (String(h).trim() === '*') return;
  const wanted = String(h)
    .split(',')
    .map((s) => s.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
  if (!wanted.includes(String(version))) {
    throw new Problem(
      412,
      'Precondition failed',
      `${what} is at version ${version}, not ${wanted.join(' or ')}: someone changed it since ` +
        `you read it. GET it again, re-apply your change and retry with If-Match: "${version}".`,
      undefined,
      { current_version: version },
    );
  }
}

export function sendObject(res: Response, status: number, body: { version: number }): void {
  res.status(status).setHeader('ETag', `"${body.version}"`);
  res.json(body);
}

/** Sends a body the read model rendered (see read-model.ts). */
export function sendRendered(res: Response, r: Rendered): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  if (r.etag) res.setHeader('ETag', r.etag);
  res.end(r.body);
}

/** 404 unless the pipeline exists (routes under /v1/pipelines/:id whose rows go with it). */
export async function requirePipeline(ds: { query(sql: string, args?: unknown[]): Promise<unknown[]> }, id: string) {
  if (!(await ds.query(`SELECT 1 FROM pipelines WHERE id = $1`, [id])).length) {
    throw new Problem(404, 'Not found', `No pipeline with id ${id}.`);
  }
}
