import { ApiClient, ApiError } from './client';
import { conform, Value } from './protocol/cty';
import { stateFromApi, State, Mode, withLiveState } from './resources';
import { pipelineStatusSource, ResourceDef, resources } from './schema';

/**
 * Data sources: every object kind looked up by name (sluice_source_postgresql, sluice_pipeline,
 * ...) and sluice_pipeline_status.
 */
export async function readDataSource(api: ApiClient, def: ResourceDef, config: State, mode: Mode): Promise<State> {
  if (def === pipelineStatusSource) {
    const id = String(config.pipeline_id);
    const s = (await api.request('GET', `/v1/pipelines/${encodeURIComponent(id)}/status`)).body ?? {};
    const out: Record<string, unknown> = {
      pipeline_id: id,
      state: s.state,
      reason: s.reason,
      since: s.since,
      source_state: s.source?.state,
      source_position: s.source?.position == null ? null : String(s.source.position),
      sink_state: s.sink?.state,
      sink_lag: typeof s.sink?.lag === 'number' ? s.sink.lag : null,
      dlq_count: typeof s.dlq?.count === 'number' ? s.dlq.count : null,
      status_json: JSON.stringify(s),
    };
    return Object.fromEntries(def.attrs.map((a) => [a.name, conform(out[a.name], a.type)])) as State;
  }
  const name = String(config.name);
  const q = new URLSearchParams({ name, page_size: '1' });
  if (def.kind) q.set('kind', def.kind);
  const list = (await api.request('GET', `/v1/${def.collection}?${q}`)).body;
  const found = list?.items?.[0];
  if (!found) {
    throw new ApiError(
      404,
      `No ${def.category} named ${JSON.stringify(name)}`,
      `Sluice has no ${def.kind ? `${def.kind} ` : ''}${def.category} with that name (names are exact and case-sensitive).`,
      [{ field: 'name', message: 'not found' }],
    );
  }
  const full = resources.get(def.typeName)!;
  const state = stateFromApi(full, await withLiveState(api, full, found), null, mode);
  return Object.fromEntries(def.attrs.map((a) => [a.name, state[a.name] as Value])) as State;
}
