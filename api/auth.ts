import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { DataSource } from 'typeorm';
import { ApiTokenEntity } from './entities/api-token.entity';
import { Problem } from './problem';

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

/** Bearer-token check for /v1. A cache keeps the hot path off the DB; revocation shows within its TTL. */
export function requireToken(ds: DataSource) {
  const cache = new Map<string, { p: Principal; until: number }>();
  const repo = ds.getRepository(ApiTokenEntity);
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new Problem(401, 'Unauthorized', header ? 'Authorization header must be "Bearer <token>".' : 'Missing Authorization: Bearer <token> header. The bootstrap token is in .sluice/token or SLUICE_BOOTSTRAP_TOKEN.');
    const h = hashToken(m[1]);
    const hit = cache.get(h);
    if (hit && hit.until > Date.now()) {
      res_locals(req).principal = hit.p;
      return next();
    }
    const row = await repo.findOneBy({ token_hash: h });
    if (!row) throw new Problem(401, 'Unauthorized', 'The bearer token is not valid.');
    const p = { tokenId: row.id, name: row.name };
    cache.set(h, { p, until: Date.now() + 5000 });
    if (cache.size > 1000) cache.clear();
    res_locals(req).principal = p;
    next();
  };
}

export function res_locals(req: Request): { principal?: Principal } {
  return (req as unknown as { sluice: { principal?: Principal } }).sluice ??= {};
}
