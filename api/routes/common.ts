import type { Request, Response } from 'express';
import { Problem } from '../problem';
import type { Rendered } from '../read-model';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function idParam(req: Request, what: string): string {
  const id = String(req.params.id);
  if (!uuid.test(id)) throw new Problem(404, 'Not found', `No ${what} with id ${id} (ids are UUIDs).`);
  return id;
}

export function paging(req: Request): { page: number; pageSize: number } {
  return pagingOf(req.query);
}

export function pagingOf(query: Record<string, unknown>): { page: number; pageSize: number } {
  const page = query.page === undefined ? 1 : Number(query.page);
  const pageSize = query.page_size === undefined ? 50 : Number(query.page_size);
  const errors = [];
  if (!Number.isInteger(page) || page < 1) errors.push({ field: 'page', message: 'page must be an integer >= 1' });
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500) errors.push({ field: 'page_size', message: 'page_size must be an integer from 1 to 500' });
  if (errors.length) throw new Problem(400, 'Validation failed', errors.map((e) => e.message).join('; '), errors);
  return { page, pageSize };
}

/** If-Match carries the version we last saw (as an ETag, "3" or 3); a mismatch is 412. */
export function checkIfMatch(req: Request, version: number, what: string): void {
  const h = req.headers['if-match'];
  if (h === undefined || h === '*') return;
  const wanted = String(h).split(',').map((s) => s.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
  if (!wanted.includes(String(version))) {
    throw new Problem(412, 'Precondition failed', `${what} is at version ${version}, not ${wanted.join(' or ')}: someone changed it since you read it. GET it again, re-apply your change and retry with If-Match: "${version}".`, undefined, { current_version: version });
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
