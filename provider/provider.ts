import fs from 'node:fs';
import path from 'node:path';
import { sluiceHome } from '../core/config';
import { ApiClient } from './client';
import { readDataSource } from './data-sources';
import { Diagnostic, error, fromError, warning } from './diagnostics';
import { decodeValue, encodeValue, isKnown, UNKNOWN, Value } from './protocol/cty';
import {
  apply,
  hasFingerprints,
  importState,
  markChanged,
  Mode,
  plan,
  read,
  secretsDiffer,
  State,
  upgrade,
} from './resources';
import { dataSources, protoSchema, providerConfigAttrs, ResourceDef, resources } from './schema';
import { validateConfig } from './validate';

/**
 * The tfplugin6 Provider service: decodes requests, dispatches to schema/resources/data sources,
 * and turns every failure into diagnostics (a failed call never returns a damaged state).
 */

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8080';

/** Like the CLI: without a configured token, the one `sluice dev` wrote to $SLUICE_HOME/token. */
function localToken(): string | undefined {
  try {
    return fs.readFileSync(path.join(sluiceHome(), 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export class SluiceProvider {
  private api?: ApiClient;
  private readonly mode: Mode = { writeOnly: false };
  private schemaCache?: Record<string, unknown>;

  private noteCapabilities(c?: { write_only_attributes_allowed?: boolean } | null): void {
    if (c?.write_only_attributes_allowed) this.mode.writeOnly = true;
  }

  private resource(type: string): ResourceDef {
    const def = resources.get(type);
    if (!def) throw new Error(`unknown resource type ${type}`);
    return def;
  }

  private client(): ApiClient {
    if (!this.api) {
      this.api = new ApiClient(
        process.env.SLUICE_ENDPOINT || DEFAULT_ENDPOINT,
        process.env.SLUICE_TOKEN || localToken(),
      );
    }
    return this.api;
  }

  schema(): Record<string, unknown> {
    this.schemaCache ??= {
      provider: protoSchema({
        attrs: providerConfigAttrs,
        description: 'Sluice: change-data-capture pipelines as code.',
      }),
      resource_schemas: Object.fromEntries([...resources.values()].map((r) => [r.typeName, protoSchema(r)])),
      data_source_schemas: Object.fromEntries([...dataSources.values()].map((r) => [r.typeName, protoSchema(r)])),
      server_capabilities: { plan_destroy: false, get_provider_schema_optional: false },
      diagnostics: [],
    };
    return this.schemaCache;
  }

  handlers(): Record<string, (req: any) => Promise<any> | any> {
    return {
      GetMetadata: () => ({
        server_capabilities: { plan_destroy: false },
        resources: [...resources.keys()].map((type_name) => ({ type_name })),
        data_sources: [...dataSources.keys()].map((type_name) => ({ type_name })),
      }),
      GetProviderSchema: () => this.schema(),
      GetFunctions: () => ({}),
      StopProvider: () => ({}),

      ValidateProviderConfig: (req) => {
        const cfg = decodeValue(req.config) as State | null;
        const diagnostics: Diagnostic[] = [];
        const ep = cfg?.endpoint;
        if (typeof ep === 'string' && !/^https?:\/\/[^/]+/.test(ep))
          diagnostics.push(
            error(
              'Invalid endpoint',
              `endpoint must be an http(s) URL such as ${DEFAULT_ENDPOINT}; got ${JSON.stringify(ep)}.`,
              ['endpoint'],
            ),
          );
        return { diagnostics };
      },

      ConfigureProvider: (req) => {
        this.noteCapabilities(req.client_capabilities);
        const cfg = (decodeValue(req.config) ?? {}) as State;
        const diagnostics: Diagnostic[] = [];
        if (cfg.endpoint === UNKNOWN || cfg.token === UNKNOWN) {
          diagnostics.push(
            error(
              'Provider configuration not known yet',
              'endpoint and token must be known at plan time (do not derive them ' +
                'from resources created in the same run).',
            ),
          );
          return { diagnostics };
        }
        const endpoint = (cfg.endpoint as string | null) || process.env.SLUICE_ENDPOINT || DEFAULT_ENDPOINT;
        const token = (cfg.token as string | null) || process.env.SLUICE_TOKEN || localToken();
        if (!token)
          diagnostics.push(
            warning(
              'No Sluice API token',
              `Set the provider's \`token\` or SLUICE_TOKEN (or run \`sluice dev\`, which ` +
                `writes ${path.join(sluiceHome(), 'token')}); the API answers 401 without one.`,
            ),
          );
        this.api?.close();
        this.api = new ApiClient(endpoint, token);
        return { diagnostics };
      },

      ValidateResourceConfig: (req) => {
        this.noteCapabilities(req.client_capabilities);
        const def = this.resource(req.type_name);
        return { diagnostics: validateConfig(def.attrs, decodeValue(req.config) as State | null) };
      },

      ValidateDataResourceConfig: () => ({ diagnostics: [] }),

      UpgradeResourceState: (req) => {
        const def = this.resource(req.type_name);
        const json = req.raw_state?.json ? JSON.parse(Buffer.from(req.raw_state.json).toString('utf8')) : {};
        return { upgraded_state: encodeValue(upgrade(def, json, this.mode)) };
      },

      ReadResource: async (req) => {
        this.noteCapabilities(req.client_capabilities);
        const def = this.resource(req.type_name);
        const current = decodeValue(req.current_state) as State | null;
        const priv = req.private ?? Buffer.alloc(0);
        if (!current) return { new_state: req.current_state, private: priv };
        try {
          const next = await read(this.client(), def, current, this.mode);
          return { new_state: encodeValue(next), private: priv };
        } catch (e) {
          // The state stays exactly as it was.
          return {
            new_state: req.current_state,
            private: priv,
            diagnostics: fromError(e, def, `Reading ${def.typeName} ${String(current.id)}`),
          };
        }
      },

      PlanResourceChange: async (req) => {
        this.noteCapabilities(req.client_capabilities);
        const def = this.resource(req.type_name);
        const prior = decodeValue(req.prior_state) as State | null;
        const config = decodeValue(req.config) as State | null;
        const proposed = decodeValue(req.proposed_new_state);
        const r = plan(def, prior, proposed === null ? null : config, req.prior_private, this.mode);
        // An adopted object's write-only secrets: ask the API (dry run) whether the configured ones differ.
        if (
          this.mode.writeOnly &&
          prior &&
          config &&
          r.planned &&
          r.planned.version !== UNKNOWN &&
          !hasFingerprints(req.prior_private)
        ) {
          if (await secretsDiffer(this.client(), def, prior, config)) markChanged(r.planned);
        }
        return {
          planned_state: encodeValue(r.planned),
          planned_private: r.private,
          requires_replace: r.requiresReplace.map((p) => ({ steps: p.map((attribute_name) => ({ attribute_name })) })),
        };
      },

      ApplyResourceChange: async (req) => {
        const def = this.resource(req.type_name);
        const prior = decodeValue(req.prior_state) as State | null;
        const planned = decodeValue(req.planned_state) as State | null;
        const config = decodeValue(req.config) as State | null;
        try {
          const r = await apply(this.client(), def, prior, planned, config, this.mode);
          return { new_state: encodeValue(r.state), private: r.private };
        } catch (e) {
          const what = !planned ? 'Deleting' : prior ? 'Updating' : 'Creating';
          return {
            new_state: req.prior_state ?? encodeValue(null),
            private: req.planned_private ?? Buffer.alloc(0),
            diagnostics: fromError(
              e,
              def,
              `${what} ${def.typeName}${planned?.name && isKnown(planned.name) ? ` ${JSON.stringify(planned.name)}` : ''}`,
            ),
          };
        }
      },

      ImportResourceState: async (req) => {
        this.noteCapabilities(req.client_capabilities);
        const def = this.resource(req.type_name);
        try {
          const state = await importState(this.client(), def, String(req.id).trim(), this.mode);
          return {
            imported_resources: [{ type_name: def.typeName, state: encodeValue(state), private: Buffer.alloc(0) }],
          };
        } catch (e) {
          return { diagnostics: fromError(e, def) };
        }
      },

      ReadDataSource: async (req) => {
        this.noteCapabilities(req.client_capabilities);
        const def = dataSources.get(req.type_name);
        if (!def) throw new Error(`unknown data source ${req.type_name}`);
        const config = decodeValue(req.config) as State;
        try {
          return { state: encodeValue(await readDataSource(this.client(), def, config, this.mode)) };
        } catch (e) {
          return { diagnostics: fromError(e, def, `Reading data source ${def.typeName}`) };
        }
      },
    };
  }
}

export type { Value };
