import type { Request } from 'express';
import { EntityManager } from 'typeorm';
import { AuditEntryEntity } from './entities/audit-entry.entity';
import { res_locals } from './auth';

const origins = new Set(['api', 'terraform', 'import', 'cli', 'console']);

/** Where a change came from: the X-Sluice-Origin header (set by the provider, CLI and console), else api. */
export function originOf(req: Request): string {
  const h = String(req.headers['x-sluice-origin'] ?? '').toLowerCase();
  return origins.has(h) ? h : 'api';
}

export async function audit(
  m: EntityManager,
  req: Request,
  action: string,
  objectType: string,
  obj: { id?: string | null; name?: string | null },
  changedFields: string[] = [],
  origin?: string,
): Promise<void> {
  await m.insert(AuditEntryEntity, {
    actor: res_locals(req).principal?.name ?? 'anonymous',
    origin: origin ?? originOf(req),
    // req.ip honours X-Forwarded-For from loopback only (trust proxy): the console's calls carry the browser's address.
    remote_addr: req.ip ?? req.socket.remoteAddress ?? null,
    action,
    object_type: objectType,
    object_id: obj.id ?? null,
    object_name: obj.name ?? null,
    changed_fields: changedFields,
  });
}
