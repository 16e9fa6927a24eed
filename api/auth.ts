import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { DataSource } from 'typeorm';
import { ApiTokenEntity } from './entities/api-token.entity';
import { Problem } from './problem';
import { ChangeFeed } from './change-feed';
import { CoherentCache } from './coherent-cache';

export const hashToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

export function newToken(): string {
  return 'slc_' + crypto.randomBytes(32).toString('base64url');
}

/**
 * Makes sure an admin token exists. SLUICE_BOOTSTRAP_TOKEN wins; otherwise the token in
 * <home>/token is (re)registered, or a new one is generated there (0600) on first start.
 * Tokens are random 256-bit strings, so a plain SHA-256 is a sound at-rest hash (no slow KDF needed).
 */
export async function ensureBootstrapToken(ds: DataSource, home: string, configured?: string): Promise<{ tokenFile?: string }> {
  const repo = ds.getRepository(ApiTokenEntity);
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
  await repo.createQueryBuilder().insert().values({ name: 'bootstrap', token_hash: hashToken(token) }).orIgnore().execute();
  return { tokenFile };
}

export interface Principal { tokenId: string; name: string }

const MALFORMED = 'Authorization header must be "Bearer <token>".';
const MISSING = 'Missing Authorization: Bearer <token> header. The bootstrap token is in .sluice/token or SLUICE_BOOTSTRAP_TOKEN.';
const bearer = (header: string) => /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];

/**
 * Bearer-token check for /v1. Verified tokens are cached per process so the hot path skips the
 * lookup; the cache is dropped on any change to api_tokens (ChangeFeed), so a revoked or deleted
 * token stops working as soon as its NOTIFY arrives, and nothing is cached while the feed is down.
 */
export class TokenVerifier {
  private readonly repo;
  private readonly cache: CoherentCache<Principal>;

  constructor(ds: DataSource, changes: ChangeFeed) {
    this.repo = ds.getRepository(ApiTokenEntity);
    this.cache = new CoherentCache<Principal>(changes, 'api_tokens', 'table', { maxBytes: 1024 * 1024, sizeOf: () => 200 });
  }

  async verify(header: string): Promise<Principal> {
    const token = bearer(header);
    if (!token) throw new Problem(401, 'Unauthorized', header ? MALFORMED : MISSING);
    const h = hashToken(token);
    const p = await this.cache.get(h, async () => {
      const row = await this.repo.findOneBy({ token_hash: h });
      return row ? { tokenId: row.id, name: row.name } : undefined;
    });
    if (!p) throw new Problem(401, 'Unauthorized', 'The bearer token is not valid.');
    return p;
  }

  /** The principal if the token is valid and cached; undefined means "ask verify()". */
  peek(header: string | undefined): Principal | undefined {
    const token = header && bearer(header);
    return token ? this.cache.peek(hashToken(token)) : undefined;
  }

  middleware() {
    return async (req: Request, _res: Response, next: NextFunction) => {
      res_locals(req).principal = await this.verify(req.headers.authorization ?? '');
      next();
    };
  }
}

export function res_locals(req: Request): { principal?: Principal } {
  return (req as unknown as { sluice: { principal?: Principal } }).sluice ??= {};
}
