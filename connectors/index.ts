/**
 * The registry: every connector kind Sluice knows, one line each. Validation, OpenAPI, export and
 * import, the Terraform schema, the docs, the pipeline runner, the sink and `verify` all look kinds up
 * here. Adding a kind = one folder (see docs/architecture.md, "Adding a destination kind") plus one
 * line below. Loading this file loads only the declarations: runtimes load on first use.
 */
import type { Category, ConnectorSpec } from '../core/spec';
import { UnknownConnectorKindError } from '../core/errors';
import type { ConnectorModule, DestinationModule, SourceModule, TransformModule } from './module';
import { sourcePostgresql } from './source-postgresql';
import { sourceMysql } from './source-mysql';
import { destinationPostgresql } from './destination-postgresql';
import { destinationMysql } from './destination-mysql';
import { destinationElasticsearch } from './destination-elasticsearch';
import { destinationWebhook } from './destination-webhook';
import { destinationS3 } from './destination-s3';
import { destinationKafka } from './destination-kafka';
import { transformRenameFields } from './transform-rename-fields';
import { transformDropFields } from './transform-drop-fields';
import { transformMaskFields } from './transform-mask-fields';
import { transformFilterRows } from './transform-filter-rows';
import { transformMapFilter } from './transform-map-filter';

export const connectorModules: readonly ConnectorModule[] = [
  sourcePostgresql,
  sourceMysql,
  destinationPostgresql,
  destinationMysql,
  destinationElasticsearch,
  destinationWebhook,
  destinationS3,
  destinationKafka,
  transformRenameFields,
  transformDropFields,
  transformMaskFields,
  transformFilterRows,
  transformMapFilter,
];

/** Every declaration, in registry order. */
export const connectorSpecs: readonly ConnectorSpec[] = connectorModules.map((m) => m.declaration);

export function specsOf(category: Category): ConnectorSpec[] {
  return connectorSpecs.filter((s) => s.category === category);
}

export function findSpec(category: Category, kind: string): ConnectorSpec | undefined {
  return connectorSpecs.find((s) => s.category === category && s.kind === kind);
}

export const collections: Record<Category, string> = {
  source: 'sources',
  destination: 'destinations',
  transform: 'transforms',
};

function find<M extends ConnectorModule>(category: Category, kind: string): M {
  const m = connectorModules.find((x) => x.declaration.category === category && x.declaration.kind === kind);
  if (!m)
    throw new UnknownConnectorKindError(
      category,
      kind,
      specsOf(category).map((s) => s.kind),
    );
  return m as M;
}

/** The module of a source kind; an unknown kind is an UnknownConnectorKindError, never a fallback. */
export const sourceModule = (kind: string) => find<SourceModule<unknown>>('source', kind);
export const destinationModule = (kind: string) => find<DestinationModule>('destination', kind);
export const transformModule = (kind: string) => find<TransformModule>('transform', kind);

export * from '../core/spec';
