import type { IncomingMessage, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import type { Category } from '../connectors';
import type { TokenVerifier } from './auth';
import type { ReadModel, Rendered } from './read-model';
import { connectorFilters } from './routes/connectors';
import { pipelineFilters } from './routes/pipelines';
import { OperationIndex, parseQuery } from './request-guard';
import { allows } from '../core/roles';

const categories: Record<string, Category | undefined> = {
  sources: 'source',
  destinations: 'destination',
  transforms: 'transform',
};
const path =
  /^\/v1\/(sources|destinations|transforms|pipelines)(?:\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))?\/?$/;

/**
 * GET by id and GET list served straight from the caches, before Express: on this machine Express's
 * routing and middleware cost more CPU than the rest of a cached read (docs/benchmarks.md). Only a
 * request the full route would answer 200 with exactly these bytes is taken — a cached token, a
 * canonical path, valid paging, a cache hit — so it returns false for everything else and Express
 * handles it (loading and caching on the way). The same token check, role (from the OpenAPI
 * document), query parameter check and filter functions as the routes keep the two paths from
 * drifting; while some address is refused for failed authentications everything goes to Express,
 * which knows the client's address. `observe` records the same metric labels.
 */
export function hotReads(
  reads: ReadModel,
  tokens: TokenVerifier,
  operations: OperationIndex,
  observe: (route: string, seconds: number, path: string) => void,
) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const start = process.hrtime.bigint();
    // A GET with a body goes to Express, whose JSON parser would judge that body.
    if (
      req.method !== 'GET' ||
      !req.url ||
      req.headers['transfer-encoding'] ||
      (req.headers['content-length'] ?? '0') !== '0'
    )
      return false;
    const q = req.url.indexOf('?');
    const pathname = q < 0 ? req.url : req.url.slice(0, q);
    const m = path.exec(pathname);
    if (!m || tokens.failures.refusing) return false;
    const principal = tokens.peek(req.headers.authorization);
    const op = operations.operation('GET', pathname);
    if (!principal || !op || !allows(principal.role, op.role)) return false;
    const [, collection, id] = m;
    const category = categories[collection];
    const table = category ? 'connectors' : 'pipelines';
    let found: Rendered | undefined;
    if (id) {
      found = reads.peekGet(table, id, category);
    } else {
      const { values, errors } = parseQuery(op, q < 0 ? {} : querystring.parse(req.url.slice(q + 1)));
      if (errors.length) return false;
      const filters = category ? connectorFilters(category, values) : pipelineFilters(values);
      found = reads.peekList(table, filters, values.page as number, values.page_size as number);
    }
    if (!found) return false;
    // The same headers Express's route sends (sendRendered); writeHead needs the length spelled out.
    res.writeHead(
      200,
      found.etag
        ? { 'content-type': 'application/json; charset=utf-8', etag: found.etag, 'content-length': found.body.length }
        : { 'content-type': 'application/json; charset=utf-8', 'content-length': found.body.length },
    );
    res.end(found.body);
    observe(`/v1/${collection}${id ? '/:id' : '/'}`, Number(process.hrtime.bigint() - start) / 1e9, pathname);
    return true;
  };
}
