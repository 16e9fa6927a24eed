import { Router } from 'express';
import { ApiTokenEntity } from '../entities/api-token.entity';
import { hashToken, newToken, res_locals } from '../auth';
import { audit } from '../audit';
import { validateFields } from '../validation';
import { invalid, Problem } from '../problem';
import { isUniqueViolation } from '../objects';
import { tokenSpec } from '../../core/token-spec';
import type { Role } from '../../core/roles';
import type { AppContext } from '../context';
import { idParam, paging } from './common';

export function publicToken(t: ApiTokenEntity) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    created_at: t.created_at.toISOString(),
    // Both timestamps come from the same now() (see the INSERT), so this is the lifetime asked for.
    expires_in: t.expires_at ? Math.round((t.expires_at.getTime() - t.created_at.getTime()) / 1000) : null,
    expires_at: t.expires_at?.toISOString() ?? null,
    last_used_at: t.last_used_at?.toISOString() ?? null,
  };
}

/** /v1/tokens: create (the secret is in that response only), list, get, revoke. */
export function tokenRouter(ctx: AppContext): Router {
  const r = Router();
  const repo = ctx.ds.getRepository(ApiTokenEntity);

  r.get('/', async (req, res) => {
    const { page, pageSize } = paging(req);
    const [rows, total] = await repo.findAndCount({
      order: { created_at: 'ASC', id: 'ASC' },
      skip: (page - 1) * pageSize,
      take: pageSize,
    });
    res.json({ items: rows.map(publicToken), total, page, page_size: pageSize });
  });

  r.post('/', async (req, res) => {
    const errors = validateFields(tokenSpec.fields, req.body, '', 'TokenInput', { requireAll: true });
    if (errors.length) throw invalid(errors);
    const b = req.body as { name: string; role: Role; expires_in?: number | null };
    const secret = newToken();
    let saved: ApiTokenEntity;
    try {
      saved = await ctx.ds.transaction(async (m) => {
        // The database's clock, not this process's: expiry is checked against what it stores.
        const [s]: ApiTokenEntity[] = await m.query(
          'INSERT INTO api_tokens (name, token_hash, role, expires_at) VALUES ' +
            '($1, $2, $3, now() + make_interval(secs => $4::int)) RETURNING *',
          [b.name, hashToken(secret), b.role, b.expires_in ?? null],
        );
        await audit(m, req, 'create', 'token', s, ['name', 'role', ...(b.expires_in ? ['expires_at'] : [])]);
        return s;
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new Problem(
          409,
          'Conflict',
          `A token named ${JSON.stringify(b.name)} already exists: token names are unique (the ` +
            `audit log tells callers apart by them); pick another name or revoke that token first.`,
          [{ field: 'name', message: 'already in use' }],
        );
      }
      throw e;
    }
    ctx.log.info({ token_id: saved.id, role: saved.role }, 'api token created');
    res.status(201).setHeader('Location', `/v1/tokens/${saved.id}`);
    res.json({ ...publicToken(saved), token: secret });
  });

  r.get('/:id', async (req, res) => {
    const id = idParam(req, 'token');
    const t = await repo.findOneBy({ id });
    if (!t) throw new Problem(404, 'Not found', `No token with id ${id}.`);
    res.json(publicToken(t));
  });

  r.delete('/:id', async (req, res) => {
    const id = idParam(req, 'token');
    await ctx.ds.transaction(async (m) => {
      const t = await m.findOne(ApiTokenEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!t) throw new Problem(404, 'Not found', `No token with id ${id}.`);
      // Revoking the token in hand would lock the caller out mid-task (and the last admin out for good).
      if (res_locals(req).principal?.tokenId === id) {
        throw new Problem(
          409,
          'Conflict',
          `Token ${JSON.stringify(t.name)} is the one this request is made with: revoke it with another admin token.`,
        );
      }
      await m.delete(ApiTokenEntity, { id });
      await audit(m, req, 'delete', 'token', t);
    });
    // This process drops its cached verdict now; the others when the NOTIFY arrives.
    ctx.changes.announce('api_tokens', id);
    ctx.log.info({ token_id: id }, 'api token revoked');
    res.status(204).end();
  });

  return r;
}
