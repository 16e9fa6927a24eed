import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { FieldError, textProblem } from './validation';
import { Problem } from './problem';
import { res_locals } from './auth';
import { allows, defaultRole, isRole, Role, ROLE_EXTENSION } from '../core/roles';
import { UUID_RE as uuid } from '../core/patterns';

/**
 * The request handling every route shares, driven by the OpenAPI document (openapi.ts) rather than
 * by each route: which methods a path has (405 with Allow otherwise), which role an operation needs
 * (403), which query parameters it takes and their bounds (400), whether it reads a JSON body, and
 * that no text anywhere in the input holds NUL or an unpaired surrogate (400 naming the field).
 * A route the document does not describe gets the default role of its method (GET viewer, writes
 * admin) and its query strings and body are still checked for text Postgres cannot store.
 */

type Schema = Record<string, unknown>;
interface Param {
  name: string;
  schema: Schema;
  pattern?: RegExp;
}
export interface OperationInfo {
  method: string;
  path: string;
  role: Role;
  query: Param[];
  body: boolean;
}
interface Route {
  path: string;
  regex: RegExp;
  literals: number;
  ops: Map<string, OperationInfo>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
/** The schema keywords a query parameter may use: parseQuery implements exactly these. */
const PARAM_KEYWORDS = new Set([
  'type',
  'minimum',
  'maximum',
  'enum',
  'pattern',
  'maxLength',
  'minLength',
  'format',
  'default',
  'description',
  'const',
]);

export class OperationIndex {
  private readonly routes: Route[] = [];

  constructor(doc: { paths: Record<string, Record<string, any>> }) {
    for (const [path, item] of Object.entries(doc.paths)) {
      // Express routes ignore case and one trailing slash; so does the index.
      const regex = new RegExp(
        '^' +
          path
            .split('/')
            .map((seg) => (/^\{\w+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')))
            .join('/') +
          '/?$',
        'i',
      );
      const ops = new Map<string, OperationInfo>();
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        const method = m.toUpperCase();
        const declared = op[ROLE_EXTENSION];
        if (declared !== undefined && !isRole(declared))
          throw new Error(`${method} ${path}: ${ROLE_EXTENSION} must be a role, not ${JSON.stringify(declared)}`);
        const query: Param[] = [...(item.parameters ?? []), ...(op.parameters ?? [])]
          .filter((p: any) => p.in === 'query')
          .map((p: any) => {
            const schema: Schema = p.schema ?? {};
            const unknown = Object.keys(schema).filter((k) => !PARAM_KEYWORDS.has(k));
            if (unknown.length || !['integer', 'boolean', 'string', undefined].includes(schema.type as string)) {
              throw new Error(
                `${method} ${path}: query parameter ${p.name} uses ${unknown.join(', ') || `type ${schema.type}`}, which the request guard does not check`,
              );
            }
            return {
              name: p.name,
              schema,
              pattern: schema.pattern ? new RegExp(schema.pattern as string, 'u') : undefined,
            };
          });
        ops.set(method, { method, path, role: declared ?? defaultRole(method), query, body: !!op.requestBody });
      }
      this.routes.push({ path, regex, literals: path.split('/').filter((s) => s && !s.startsWith('{')).length, ops });
    }
    // A literal segment beats a parameter: /v1/pipelines/status before /v1/pipelines/{id}.
    this.routes.sort((a, b) => b.literals - a.literals);
  }

  route(pathname: string): Route | undefined {
    return this.routes.find((r) => r.regex.test(pathname));
  }

  /** The documented operation, HEAD answering as GET. */
  operation(method: string, pathname: string): OperationInfo | undefined {
    return this.route(pathname)?.ops.get(method === 'HEAD' ? 'GET' : method);
  }

  roleFor(method: string, pathname: string): Role {
    return this.operation(method, pathname)?.role ?? defaultRole(method);
  }
}

const allowOf = (r: Route) => [...r.ops.keys(), ...(r.ops.has('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');

/** App level, before authentication: 405 for a method a documented path lacks, and OPTIONS. */
export function methodGuard(index: OperationIndex) {
  return (req: Request, res: Response, next: NextFunction) => {
    const route = index.route(req.path);
    if (!route) return next();
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', allowOf(route));
      res.status(204).end();
      return;
    }
    if (route.ops.has(req.method === 'HEAD' ? 'GET' : req.method)) return next();
    res.setHeader('Allow', allowOf(route));
    throw new Problem(
      405,
      'Method not allowed',
      `${req.method} is not an operation of ${route.path}; it allows ${allowOf(route)}. See /openapi.json.`,
    );
  };
}

const pathOf = (req: Request) => (req.baseUrl ?? '') + req.path;

/** After authentication: the role check (403), query parameters (400), the JSON body and its text. */
export function accessGuard(index: OperationIndex, bodyLimit: string) {
  const json = express.json({ limit: bodyLimit, strict: false });
  return [
    (req: Request, _res: Response, next: NextFunction) => {
      const op = index.operation(req.method, pathOf(req));
      const need = op?.role ?? defaultRole(req.method);
      const p = res_locals(req).principal;
      if (!p || !allows(p.role, need)) {
        throw new Problem(
          403,
          'Forbidden',
          `${req.method} ${pathOf(req)} needs a token with role ${need} (or higher); ` +
            `token ${JSON.stringify(p?.name)} has role ${p?.role}. Ask an admin for a ${need} token (POST /v1/tokens).`,
          undefined,
          { required_role: need },
        );
      }
      const errors: FieldError[] = [];
      const raw = req.query as Record<string, unknown>;
      if (op) {
        const { values, errors: bad } = parseQuery(op, raw);
        errors.push(...bad);
        res_locals(req).query = values;
      } else {
        for (const [k, v] of Object.entries(raw)) textErrors(v, k, errors);
      }
      if (errors.length) throw invalidInput(errors);
      res_locals(req).hasBody = op ? op.body : ['POST', 'PUT', 'PATCH'].includes(req.method);
      next();
    },
    (req: Request, res: Response, next: NextFunction) => {
      if (!res_locals(req).hasBody) return next();
      const sent = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
      if (sent && !req.is('application/json'))
        throw new Problem(415, 'Unsupported media type', 'Send the body as JSON with Content-Type: application/json.');
      json(req, res, next);
    },
    (req: Request, _res: Response, next: NextFunction) => {
      const errors: FieldError[] = [];
      if (res_locals(req).hasBody) textErrors(req.body, '', errors);
      if (errors.length) throw invalidInput(errors);
      next();
    },
  ];
}

/** The declared query parameters, converted to their types with defaults applied (accessGuard checked them). */
export function queryOf(req: Request): Record<string, any> {
  return res_locals(req).query ?? {};
}

const invalidInput = (errors: FieldError[]) =>
  new Problem(
    400,
    'Validation failed',
    `${errors.length} field(s) invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    errors,
  );

/** Every text (keys too) in a JSON value: NUL and unpaired surrogates are refused, naming where. */
export function textErrors(v: unknown, path: string, out: FieldError[]): void {
  if (out.length >= 20) return;
  if (typeof v === 'string') {
    const p = textProblem(v);
    if (p) out.push({ field: path || '(body)', message: `${path || 'the body'} ${p}` });
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => textErrors(x, `${path}[${i}]`, out));
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = textProblem(k);
      const at = path ? `${path}.${p ? JSON.stringify(k) : k}` : p ? JSON.stringify(k) : k;
      if (p) out.push({ field: at, message: `the key ${JSON.stringify(k)} ${p}` });
      else textErrors(x, at, out);
    }
  }
}

/**
 * Query parameters against their schemas (the keywords in PARAM_KEYWORDS), as strings converted to
 * the declared type. An integer beyond the bounds is refused before it can reach the database.
 */
export function parseQuery(
  op: OperationInfo,
  raw: Record<string, unknown>,
): { values: Record<string, unknown>; errors: FieldError[] } {
  const values: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  for (const { name, schema: s, pattern } of op.query) {
    const bad = (message: string) => errors.push({ field: name, message: `${name} ${message}` });
    const v = raw[name];
    if (v === undefined) {
      if (s.default !== undefined) values[name] = s.default;
      continue;
    }
    if (typeof v !== 'string') {
      bad('must be given once, as a plain value');
      continue;
    }
    const tp = textProblem(v);
    if (tp) {
      bad(tp);
      continue;
    }
    let x: unknown = v;
    if (s.type === 'integer') {
      if (!/^[+-]?\d+$/.test(v)) {
        bad(`must be an integer, not ${JSON.stringify(v)}`);
        continue;
      }
      const n = BigInt(v);
      const min = s.minimum as number | undefined;
      const max = s.maximum as number | undefined;
      if ((min !== undefined && n < BigInt(min)) || (max !== undefined && n > BigInt(max))) {
        bad(`must be from ${min ?? '…'} to ${max ?? '…'}`);
        continue;
      }
      x = Number(n);
    } else if (s.type === 'boolean') {
      if (!['true', 'false', '1', '0'].includes(v)) {
        bad(`must be true or false, not ${JSON.stringify(v)}`);
        continue;
      }
      x = v === 'true' || v === '1';
    } else {
      const len = [...v].length;
      if (s.minLength !== undefined && len < (s.minLength as number)) {
        bad(`must be at least ${s.minLength} characters`);
        continue;
      }
      if (s.maxLength !== undefined && len > (s.maxLength as number)) {
        bad(`must be at most ${s.maxLength} characters`);
        continue;
      }
      if (s.format === 'uuid' && !uuid.test(v)) {
        bad(`must be a UUID, not ${JSON.stringify(v)}`);
        continue;
      }
      if (pattern && !pattern.test(v)) {
        bad(`${JSON.stringify(v)} does not match ${s.pattern}`);
        continue;
      }
    }
    if (Array.isArray(s.enum) && !s.enum.includes(x)) {
      bad(`must be one of ${s.enum.join(', ')}`);
      continue;
    }
    if (s.const !== undefined && x !== s.const) {
      bad(`must be ${JSON.stringify(s.const)}`);
      continue;
    }
    values[name] = x;
  }
  return { values, errors };
}
