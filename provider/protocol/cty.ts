import { decode, encode, ExtData } from '@msgpack/msgpack';

/**
 * Terraform values (cty) as they cross the wire: DynamicValue.msgpack. An unknown value ("known
 * after apply") is a msgpack extension; any extension decodes to UNKNOWN and UNKNOWN encodes as
 * cty's own fixext1 type 0.
 */
export const UNKNOWN: unique symbol = Symbol('unknown');
export type Value = null | string | number | boolean | typeof UNKNOWN | Value[] | { [k: string]: Value };

/** cty type expressions as in the provider schema: "string", ["list","string"], ["object",{...}] */
export type CtyType =
  | 'string'
  | 'number'
  | 'bool'
  | 'dynamic'
  | ['list' | 'map' | 'set', CtyType]
  | ['object', Record<string, CtyType>];

function fromWire(v: unknown): Value {
  if (v instanceof ExtData) return UNKNOWN;
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.map(fromWire);
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object') {
    const out: Record<string, Value> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = fromWire(x);
    return out;
  }
  return v as Value;
}

function toWire(v: Value): unknown {
  if (v === UNKNOWN) return new ExtData(0, new Uint8Array([0]));
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(toWire);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toWire(x);
    return out;
  }
  return v;
}

export function decodeValue(dv: { msgpack?: Uint8Array; json?: Uint8Array } | null | undefined): Value {
  if (!dv) return null;
  if (dv.msgpack && dv.msgpack.length) return fromWire(decode(dv.msgpack, { useBigInt64: false }));
  if (dv.json && dv.json.length) return JSON.parse(Buffer.from(dv.json).toString('utf8')) as Value;
  return null;
}

export function encodeValue(v: Value): { msgpack: Buffer } {
  return { msgpack: Buffer.from(encode(toWire(v), { forceFloat32: false, ignoreUndefined: false })) };
}

export function isKnown(v: Value): boolean {
  if (v === UNKNOWN) return false;
  if (Array.isArray(v)) return v.every(isKnown);
  if (v && typeof v === 'object') return Object.values(v).every(isKnown);
  return true;
}

/** Shapes a JSON value (old state, API data) to exactly the given type: missing attributes null, extra ones dropped. */
export function conform(v: unknown, t: CtyType): Value {
  if (v === undefined || v === null) return null;
  if (v === UNKNOWN) return UNKNOWN;
  if (t === 'string') return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (t === 'number') return typeof v === 'number' ? v : Number(v);
  if (t === 'bool') return typeof v === 'boolean' ? v : v === 'true';
  if (t === 'dynamic') return v as Value;
  const [kind, inner] = t;
  if (kind === 'list' || kind === 'set') return Array.isArray(v) ? v.map((x) => conform(x, inner as CtyType)) : null;
  if (kind === 'map') {
    if (typeof v !== 'object' || Array.isArray(v)) return null;
    return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, conform(x, inner as CtyType)]));
  }
  const attrs = inner as Record<string, CtyType>;
  if (typeof v !== 'object' || Array.isArray(v)) return null;
  return Object.fromEntries(
    Object.entries(attrs).map(([k, at]) => [k, conform((v as Record<string, unknown>)[k], at)]),
  );
}
