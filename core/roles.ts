/**
 * Roles of API tokens, weakest first: each role may do everything the ones before it may.
 * viewer reads; operator also runs the data plane (pause/resume/restart, snapshots, DLQ, verify);
 * admin also changes configuration and tokens.
 */
export const roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

/** The OpenAPI operation extension that declares the role an operation needs. */
export const ROLE_EXTENSION = 'x-sluice-role';

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (roles as readonly string[]).includes(v);

export function allows(have: Role, need: Role): boolean {
  return roles.indexOf(have) >= roles.indexOf(need);
}

/** What an operation needs when it declares nothing: reading is for viewers, changing is for admins. */
export function defaultRole(method: string): Role {
  return method === 'GET' || method === 'HEAD' ? 'viewer' : 'admin';
}
