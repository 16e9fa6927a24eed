/** Minimal HCL writer for the export: exactly the value shapes Sluice objects have. */

/** A reference expression such as sluice_source_postgresql.orders.id, written without quotes. */
export class Expr {
  constructor(readonly text: string) {}
}

export type HclValue = string | number | boolean | null | Expr | HclValue[] | { [k: string]: HclValue };

export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  // Template sequences must be escaped or Terraform would interpolate them.
  return out.replace(/\$\{/g, '$$$${').replace(/%\{/g, '%%{') + '"';
}

const bareKey = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function value(v: HclValue, indent: string): string {
  if (v === null) return 'null';
  if (v instanceof Expr) return v.text;
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length ? `[${v.map((x) => value(x, indent)).join(', ')}]` : '[]';
  const entries = Object.entries(v);
  if (!entries.length) return '{}';
  const inner = indent + '  ';
  const w = Math.max(...entries.map(([k]) => (bareKey.test(k) ? k : quote(k)).length));
  return `{\n${entries.map(([k, x]) => `${inner}${(bareKey.test(k) ? k : quote(k)).padEnd(w)} = ${value(x, inner)}`).join('\n')}\n${indent}}`;
}

export function block(header: string, attrs: Record<string, HclValue | undefined>): string {
  const entries = Object.entries(attrs).filter(([, v]) => v !== undefined && v !== null) as [string, HclValue][];
  if (!entries.length) return `${header} {}\n`;
  const w = Math.max(...entries.map(([k]) => k.length));
  return `${header} {\n${entries.map(([k, v]) => `  ${k.padEnd(w)} = ${value(v, '  ')}`).join('\n')}\n}\n`;
}

/** A Terraform identifier from any name: lower-case [a-z0-9_], starting with a letter or "_". */
export function label(name: string): string {
  let s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!s) s = 'object';
  if (/^[0-9]/.test(s)) s = '_' + s;
  return s;
}

/** Assigns distinct labels in a stable order (sorted input gives a stable result). */
export function uniqueLabels(names: string[], taken = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of names) {
    const base = label(n);
    let l = base;
    for (let i = 2; taken.has(l); i++) l = `${base}_${i}`;
    taken.add(l);
    out.set(n, l);
  }
  return out;
}
