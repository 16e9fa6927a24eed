import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { DataSource } from 'typeorm';
import { ApiTokenEntity } from './entities/api-token.entity';
import { Problem } from './problem';
import { ChangeFeed } from './change-feed';
import { CoherentCache } from './coherent-cache';
import { AuthFailures } from './auth-failures';
import type { Role } from '../core/roles';

export const hashToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

export function newToken(): string {
  return 'slc_' + crypto.randomBytes(32).toString('base64url');
}

export const BOOTSTRAP_TOKEN_NAME = 'bootstrap';

/**
 * Makes sure the admin token named "bootstrap" exists. SLUICE_BOOTSTRAP_TOKEN wins; otherwise the
 * token in <home>/token is (re)registered, or a new one is generated there (0600) on first start.
 * A changed SLUICE_BOOTSTRAP_TOKEN replaces the old one. Tokens are random 256-bit strings, so a
 * plain SHA-256 is a sound at-rest hash (no slow KDF needed).
 */
export async function ensureBootstrapToken(
  ds: DataSource,
  home: string,
  configured?: string,
): Promise<{ tokenFile?: string }> {
  let token = configured;
  let tokenFile: string | undefined;
  if (!token) {
    tokenFile = path.join(home, 'token');
    if (fs.existsSync(tokenFile)) {
      token = fs.readFileSync(tokenFile, 'utf8').trim();
    } else {
      token = newToken();
      fs.mkdirSync(home, { recursive: true });
      try {
        fs.writeFileSync(tokenFile, token + '\n', { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        token = fs.readFileSync(tokenFile, 'utf8').trim();
      }
    }
  }
  await ds.query(
    `INSERT INTO api_tokens (name, token_hash, role) VALUES ($1, $2, 'admin')
     ON CONFLICT (name) DO UPDATE SET token_hash = EXCLUDED.token_hash, role = 'admin', expires_at = NULL
     WHERE api_tokens.token_hash IS DISTINCT FROM EXCLUDED.token_hash OR api_tokens.role <> 'admin' OR api_tokens.expires_at IS NOT NULL`,
    [BOOTSTRAP_TOKEN_NAME, hashToken(token)],
  );
  return { tokenFile };
}

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  expiresAt: number | null;
}

const MALFORMED = 'Authorization header must be "Bearer <token>".';
const MISSING =
  'Missing Authorization: Bearer <token> header. The bootstrap token is in .sluice/token or SLUICE_BOOTSTRAP_TOKEN.';
const bearer = (header: string) => /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
const live = (p: Principal | undefined) => (p && (p.expiresAt === null || p.expiresAt > Date.now()) ? p : undefined);
/** last_used_at is recorded at most this often per token and process (it is informational). */
const TOUCH_MS = 60_000;

/**
 * Bearer-token check for /v1. Verified tokens are cached per process so the hot path skips the
 * lookup; the cache is dropped on any change to api_tokens (ChangeFeed), so a revoked or deleted
 * token stops working as soon as its NOTIFY arrives, and nothing is cached while the feed is down.
 * An expired token is refused even while cached. Failed attempts count per client address
 * (AuthFailures): past the limit the address gets 429 until its window ends.
 */
export class TokenVerifier {
  private readonly repo;
  private readonly cache: CoherentCache<Principal>;
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly ds: DataSource,
    changes: ChangeFeed,
    readonly failures: AuthFailures,
  ) {
    this.repo = ds.getRepository(ApiTokenEntity);
    this.cache = new CoherentCache<Principal>(changes, 'api_tokens', 'table', {
      maxBytes: 1024 * 1024,
      sizeOf: () => 200,
    });
  }

  async verify(header: string): Promise<Principal> {
    const token = bearer(header);
    if (!token) throw new Problem(401, 'Unauthorized', header ? MALFORMED : MISSING);
    const h = hashToken(token);
    const p = await this.cache.get(h, async () => {
      const row = await this.repo.findOneBy({ token_hash: h });
      return row
        ? { tokenId: row.id, name: row.name, role: row.role, expiresAt: row.expires_at?.getTime() ?? null }
        : undefined;
    });
    if (!p) throw new Problem(401, 'Unauthorized', 'The bearer token is not valid.');
    if (!live(p))
      throw new Problem(
        401,
        'Unauthorized',
        `The bearer token ${JSON.stringify(p.name)} expired at ${new Date(p.expiresAt!).toISOString()}: ` +
          `create a new one (POST /v1/tokens, sluice token create).`,
      );
    this.touch(p);
    return p;
  }

  /** The principal if the token is valid, unexpired and cached; undefined means "ask verify()". */
  peek(header: string | undefined): Principal | undefined {
    const token = header && bearer(header);
    const p = token ? live(this.cache.peek(hashToken(token))) : undefined;
    if (p) this.touch(p);
    return p;
  }

  private touch(p: Principal): void {
    const now = Date.now();
    if (now - (this.touched.get(p.tokenId) ?? 0) < TOUCH_MS) return;
    this.touched.set(p.tokenId, now);
    this.ds
      .query(`UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, [p.tokenId])
      .catch(() => this.touched.delete(p.tokenId));
  }

  middleware() {
    return async (req: Request, res: Response, next: NextFunction) => {
      const addr = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const wait = this.failures.retryAfterMs(addr);
      if (wait > 0) {
        res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
        throw new Problem(
          429,
          'Too many failed authentications',
          `${this.failures.max} requests from ${addr} failed authentication within ${this.failures.windowMs / 1000} s: try ` +
            `again in ${Math.ceil(wait / 1000)} s with a valid token (SLUICE_AUTH_FAILURES_MAX, SLUICE_AUTH_FAILURES_WINDOW_MS).`,
        );
      }
      try {
        res_locals(req).principal = await this.verify(req.headers.authorization ?? '');
      } catch (e) {
        if (e instanceof Problem && e.status === 401) this.failures.fail(addr);
        throw e;
      }
      next();
    };
  }
}

/** What Sluice's middleware learned about a request: who makes it (auth) and its checked input (request-guard). */
export interface RequestState {
  principal?: Principal;
  query?: Record<string, unknown>;
  hasBody?: boolean;
}

export function res_locals(req: Request): RequestState {
  return ((req as unknown as { sluice: RequestState }).sluice ??= {});
}
