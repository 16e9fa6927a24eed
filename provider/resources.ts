import crypto from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ApiClient, ApiError } from './client';
import { conform, UNKNOWN, Value } from './protocol/cty';
import type { AttrDef, ResourceDef } from './schema';
import { isReadOnly, objectType } from './schema';

/**
 * Resource lifecycle on the API, the same code for every connector kind and the pipeline:
 * state <-> API object mapping, planning (defaults, replacement, secret changes), apply, read and
 * import.
 */

export type State = Record<string, Value>;

export interface Mode {
  /** Terraform >= 1.11 (and OpenTofu >= 1.11) accept write-only attributes: secrets stay out of state. */
  writeOnly: boolean;
}

interface PrivateData {
  s?: Record<string, string>;
}

/** Configured secrets (write-only), not the ones the API produces. */
const secretAttrs = (def: ResourceDef) => def.attrs.filter((a) => a.sensitive && !a.produced);

export function decodePrivate(b?: Uint8Array | null): PrivateData {
  if (!b || !b.length) return {};
  try {
    return JSON.parse(Buffer.from(b).toString('utf8')) as PrivateData;
  } catch {
    return {};
  }
}
const encodePrivate = (p: PrivateData) => Buffer.from(JSON.stringify(p));

/** Fingerprints of the secrets last sent (salted by the object id): lets a plan notice a changed secret without storing it. */
function fingerprint(id: string, field: string, value: string): string {
  return crypto.createHash('sha256').update(`sluice\0${id}\0${field}\0${value}`).digest('hex');
}
function fingerprints(def: ResourceDef, id: string, config: State): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of secretAttrs(def)) {
    const v = config[a.name];
    if (typeof v === 'string') out[a.name] = fingerprint(id, a.name, v);
  }
  return out;
}

function withDefault(a: AttrDef, v: Value | undefined): Value {
  if (a.nested) {
    if (v === UNKNOWN) return UNKNOWN;
    if (v === null || v === undefined)
      return a.computed ? Object.fromEntries(a.nested.map((n) => [n.name, withDefault(n, null)])) : null;
    return Object.fromEntries(a.nested.map((n) => [n.name, withDefault(n, (v as State)[n.name])]));
  }
  if (v !== null && v !== undefined) return v;
  return a.computed && a.default !== undefined ? structuredClone(a.default) : null;
}

/** State from an API object. Secrets are never read back: write-only mode keeps them null, otherwise the prior (configured) value is kept. */
export function stateFromApi(def: ResourceDef, obj: Record<string, any>, prior: State | null, mode: Mode): State {
  const state: State = {};
  for (const a of def.attrs) {
    let v: unknown;
    if (a.produced) v = obj[a.name] ?? prior?.[a.name] ?? null;
    else if (a.sensitive) v = mode.writeOnly ? null : (prior?.[a.name] ?? null);
    else if (a.inConfig) v = obj.config?.[a.name];
    else v = obj[a.name];
    state[a.name] = conform(v, a.nested ? objectType(a.nested) : a.type);
  }
  return state;
}

/** The API body for create/replace. Secrets come from the configuration (null clears a stored secret). */
export function apiBody(def: ResourceDef, planned: State, config: State): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const cfg: Record<string, unknown> = {};
  const mine = def.configFields?.(planned);
  for (const a of def.attrs) {
    if (isReadOnly(a)) continue;
    const v = a.sensitive ? (config[a.name] ?? null) : planned[a.name];
    // Another kind's attribute is sent only when set, so the API rejects it by name.
    if (a.inConfig) {
      if (!mine || mine.has(a.name) || (v !== null && v !== undefined)) cfg[a.name] = v;
    } else body[a.name] = v;
  }
  if (def.kind) body.kind = def.kind;
  if (def.attrs.some((a) => a.inConfig)) body.config = cfg;
  return body;
}

/** Pipelines carry their live state (from the status endpoint); null when the API cannot tell. */
export async function withLiveState(
  api: ApiClient,
  def: ResourceDef,
  obj: Record<string, any>,
): Promise<Record<string, any>> {
  if (def.category !== 'pipeline' || !obj?.id) return obj;
  try {
    const st = await api.request('GET', `/v1/pipelines/${obj.id}/status`);
    return { ...obj, state: typeof st.body?.state === 'string' ? st.body.state : null };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { ...obj, state: null };
    throw e;
  }
}

export interface PlanResult {
  planned: State | null;
  requiresReplace: string[][];
  private: Buffer;
}

/**
 * For an adopted (imported) object the provider has no fingerprint of its secrets yet. The API's
 * dry-run import answers, without changing anything, whether sending the configured secrets would
 * change the stored ones; undefined when it cannot tell.
 */
export async function secretsDiffer(
  api: ApiClient,
  def: ResourceDef,
  prior: State,
  config: State,
): Promise<boolean | undefined> {
  if (!['source', 'destination', 'transform'].includes(def.category)) return undefined;
  const cfg: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const a of def.attrs) {
    if (!a.inConfig) continue;
    const v = a.sensitive ? config[a.name] : prior[a.name];
    if (v === UNKNOWN) return true;
    if (a.sensitive) {
      if (typeof v !== 'string') continue;
      secrets[`s_${a.name}`] = v;
      cfg[a.name] = { $secret: `s_${a.name}` };
    } else if (v !== null) cfg[a.name] = v;
  }
  if (!Object.keys(secrets).length) return undefined;
  try {
    const doc = {
      format: 'sluice/v1',
      [def.collection]: [{ name: prior.name, kind: def.kind, config: cfg, tags: prior.tags ?? {} }],
      secrets,
    };
    const res = await api.request('POST', '/v1/import?dry_run=true', doc);
    const entry = (res.body?.changes ?? []).find((c: { name: string }) => c.name === prior.name);
    if (!entry) return undefined;
    return (entry.fields ?? []).some((f: string) => Object.keys(secrets).some((k) => f === `config.${k.slice(2)}`));
  } catch {
    return undefined;
  }
}

export function hasFingerprints(priorPrivate: Uint8Array | null | undefined): boolean {
  return !!decodePrivate(priorPrivate).s;
}

/** Marks a planned update (computed attributes that an update changes become unknown). */
export function markChanged(planned: State): void {
  for (const k of ['version', 'updated_at', 'state']) if (k in planned) planned[k] = UNKNOWN;
}

export function plan(
  def: ResourceDef,
  prior: State | null,
  config: State | null,
  priorPrivate: Uint8Array | null | undefined,
  mode: Mode,
): PlanResult {
  const priv = decodePrivate(priorPrivate);
  if (!config) return { planned: null, requiresReplace: [], private: encodePrivate(priv) };
  const planned: State = {};
  for (const a of def.attrs) {
    if (isReadOnly(a)) planned[a.name] = prior ? prior[a.name] : UNKNOWN;
    else if (a.sensitive) planned[a.name] = mode.writeOnly ? null : (config[a.name] ?? null);
    else planned[a.name] = withDefault(a, config[a.name]);
  }
  const requiresReplace: string[][] = [];
  if (prior) {
    let changed = false;
    for (const a of def.attrs) {
      if (isReadOnly(a)) continue;
      if (!isDeepStrictEqual(prior[a.name], planned[a.name])) {
        changed = true;
        if (a.forcesReplacement) requiresReplace.push([a.name]);
      }
    }
    // A changed secret is only visible through its fingerprint (write-only mode).
    if (mode.writeOnly && priv.s && typeof prior.id === 'string') {
      for (const a of secretAttrs(def)) {
        const v = config[a.name];
        if (v === UNKNOWN || (typeof v === 'string' ? fingerprint(prior.id, a.name, v) : undefined) !== priv.s[a.name])
          changed = true;
      }
    }
    if (changed) markChanged(planned);
  }
  return { planned, requiresReplace, private: encodePrivate(priv) };
}

export interface ApplyResult {
  state: State | null;
  private: Buffer;
}

export async function apply(
  api: ApiClient,
  def: ResourceDef,
  prior: State | null,
  planned: State | null,
  config: State | null,
  mode: Mode,
): Promise<ApplyResult> {
  const base = `/v1/${def.collection}`;
  if (!planned) {
    try {
      await api.request('DELETE', `${base}/${String(prior!.id)}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
    return { state: null, private: Buffer.alloc(0) };
  }
  const body = apiBody(def, planned, config ?? planned);
  const res = prior
    ? await api.request('PUT', `${base}/${String(prior.id)}`, body)
    : await api.request('POST', base, body);
  const state = stateFromApi(def, await withLiveState(api, def, res.body), planned, mode);
  return { state, private: encodePrivate({ s: fingerprints(def, res.body.id, config ?? planned) }) };
}

/** Refresh: the object as the API has it now; null when it was deleted outside Terraform. */
export async function read(api: ApiClient, def: ResourceDef, current: State, mode: Mode): Promise<State | null> {
  try {
    // A pipeline's object and its live state are fetched together.
    const [res, live] = await Promise.all([
      api.request('GET', `/v1/${def.collection}/${String(current.id)}`),
      withLiveState(api, def, { id: current.id }).catch(() => ({ state: null })),
    ]);
    if (def.kind && res.body.kind !== def.kind) return null;
    return stateFromApi(
      def,
      def.category === 'pipeline' ? { ...res.body, state: live.state } : res.body,
      current,
      mode,
    );
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export async function importState(api: ApiClient, def: ResourceDef, id: string, mode: Mode): Promise<State> {
  let res;
  try {
    res = await api.request('GET', `/v1/${def.collection}/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      throw new ApiError(
        404,
        `Cannot import ${def.typeName}`,
        `There is no ${def.category} with id ${JSON.stringify(id)} in Sluice. Import takes the object's id ` +
          `(a UUID), as shown by GET /v1/${def.collection} or \`sluice export --format hcl --import-blocks\`.`,
      );
    }
    throw e;
  }
  if (def.kind && res.body.kind !== def.kind) {
    throw new ApiError(
      400,
      `Cannot import ${def.typeName}`,
      `${def.category} ${id} is of kind ${res.body.kind}, not ${def.kind}: import it as sluice_${def.category}_${res.body.kind}.`,
    );
  }
  return stateFromApi(def, await withLiveState(api, def, res.body), null, mode);
}

/** Old state JSON (any earlier schema) shaped to the current schema. */
export function upgrade(def: ResourceDef, raw: unknown, mode: Mode): State {
  const s = conform(raw, objectType(def.attrs)) as State;
  if (mode.writeOnly) for (const a of secretAttrs(def)) s[a.name] = null;
  return s;
}
