import { ApiError } from './client';
import type { ResourceDef } from './schema';

/** tfplugin6 Diagnostic messages, and API field paths turned into attribute paths. */

export type PathStep = string | number;
export interface Diagnostic {
  severity: 1 | 2;
  summary: string;
  detail: string;
  attribute?: { steps: Record<string, unknown>[] };
}

export function attributePath(steps: PathStep[]): { steps: Record<string, unknown>[] } {
  return {
    steps: steps.map((s, i) =>
      typeof s === 'number'
        ? { element_key_int: s }
        : i > 0 && steps[i - 1] === 'tags'
          ? { element_key_string: s }
          : { attribute_name: s },
    ),
  };
}

export function error(summary: string, detail: string, path?: PathStep[]): Diagnostic {
  return { severity: 1, summary, detail, ...(path?.length ? { attribute: attributePath(path) } : {}) };
}

export function warning(summary: string, detail: string): Diagnostic {
  return { severity: 2, summary, detail };
}

/**
 * `config.port` -> [port] (connector config is flattened into the resource), `delivery.max_retries`
 * -> [delivery, max_retries], `transform_ids[1]` -> [transform_ids, 1], `tags.team` -> [tags, "team"].
 */
export function apiFieldToPath(field: string, def?: ResourceDef): PathStep[] | undefined {
  if (!field || field.startsWith('(')) return undefined;
  const steps: PathStep[] = [];
  for (const part of field.replace(/^config\./, '').split('.')) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      steps.push(part);
      continue;
    }
    steps.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) steps.push(Number(idx[1]));
  }
  if (steps[0] === 'tags' && steps.length > 2) return [steps[0], steps.slice(1).join('.')];
  const attr = def?.attrs.find((a) => a.name === steps[0]);
  if (def && !attr) return undefined;
  // Terraform cannot place a diagnostic inside an object expression (delivery = { ... }): point
  // at the attribute itself; the detail names the nested field.
  if (attr?.nested) return [steps[0]];
  return steps;
}

export function fromError(e: unknown, def?: ResourceDef, context?: string): Diagnostic[] {
  const prefix = context ? `${context}: ` : '';
  if (e instanceof ApiError) {
    if (e.errors.length) {
      return e.errors.map((fe) =>
        error(`${prefix}${e.summary}`, `${fe.field}: ${fe.message}\n\n${e.detail}`, apiFieldToPath(fe.field, def)),
      );
    }
    return [error(`${prefix}${e.summary}`, e.detail)];
  }
  const err = e as Error;
  return [error(`${prefix}provider error`, err?.stack ?? String(e))];
}
