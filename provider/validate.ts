import type { FieldSpec } from '../connectors';
import { UNKNOWN, Value } from './protocol/cty';
import { Diagnostic, error, PathStep } from './diagnostics';
import type { AttrDef } from './schema';

/**
 * Plan-time checks from the same declarations the API validates with (enum, range, pattern,
 * length, references), so `terraform validate`/`plan` point at the attribute before anything is
 * sent. The API remains the authority; its errors at apply are mapped to attributes too.
 */
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkScalar(f: FieldSpec, v: Value, path: PathStep[], out: Diagnostic[]): void {
  if (v === null || v === UNKNOWN) return;
  const name = String(path[path.length - 1]);
  const bad = (message: string) =>
    out.push(
      error(`Invalid value for ${path.join('.')}`, f.sensitive ? message.replace(/; got .*$/s, '.') : message, path),
    );
  if (typeof v === 'number') {
    if (f.type === 'integer' && !Number.isInteger(v)) bad(`${name} must be a whole number, got ${v}.`);
    if (f.min !== undefined && v < f.min) bad(`${name} must be at least ${f.min}, got ${v}.`);
    if (f.max !== undefined && v > f.max) bad(`${name} must be at most ${f.max}, got ${v}.`);
  }
  if (typeof v === 'string') {
    // A sensitive value is never echoed back in a diagnostic (see `bad`).
    if (f.enum && !f.enum.includes(v)) bad(`${name} must be one of ${f.enum.join(', ')}; got ${JSON.stringify(v)}.`);
    if (f.maxLength !== undefined && [...v].length > f.maxLength)
      bad(`${name} must be at most ${f.maxLength} characters.`);
    if (f.pattern && !f.pattern.test(v))
      bad(`${name} must be ${f.patternHint ?? `like ${f.pattern}`}; got ${JSON.stringify(v)}.`);
    if (f.references && !uuid.test(v))
      bad(
        `${name} must be the id of a ${f.references} (a UUID, e.g. sluice_${f.references}_<kind>.<label>.id); got ${JSON.stringify(v)}.`,
      );
    if (f.required && v === '') bad(`${name} must not be empty.`);
  }
}

export function validateConfig(
  attrs: AttrDef[],
  config: Record<string, Value> | null,
  prefix: PathStep[] = [],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!config) return out;
  for (const a of attrs) {
    const v = config[a.name];
    const path = [...prefix, a.name];
    if (!a.spec || v === null || v === undefined || v === UNKNOWN) continue;
    if (a.nested) {
      if (typeof v === 'object' && !Array.isArray(v))
        out.push(...validateConfig(a.nested, v as Record<string, Value>, path));
      continue;
    }
    if (Array.isArray(v)) v.forEach((x, i) => checkScalar(a.spec!, x, [...path, i], out));
    else checkScalar(a.spec, v, path, out);
  }
  return out;
}
