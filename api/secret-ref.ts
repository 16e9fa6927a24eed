/**
 * The variable of a {"$secret": "<variable>"} placeholder of a topology document (exactly that
 * shape, as the OpenAPI document's SecretRef says), else undefined: anything else in a secret field
 * is validated as the field's own value, and refused there.
 */
export function secretRef(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  const name = (v as { $secret?: unknown }).$secret;
  return keys.length === 1 && typeof name === 'string' && name.length > 0 ? name : undefined;
}
