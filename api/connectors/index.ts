import { Category, ConnectorSpec } from './spec';
import { sourcePostgresql } from './source-postgresql';
import { sourceMysql } from './source-mysql';
import { destinationPostgresql } from './destination-postgresql';
import { destinationMysql } from './destination-mysql';
import { transformRenameFields } from './transform-rename-fields';
import { transformDropFields } from './transform-drop-fields';
import { transformMaskFields } from './transform-mask-fields';
import { transformFilterRows } from './transform-filter-rows';
import { transformMapFilter } from './transform-map-filter';

export * from './spec';

/** Every connector kind Sluice knows. Adding a kind = one file plus one line here (plus its runner). */
export const connectorSpecs: readonly ConnectorSpec[] = [
  sourcePostgresql,
  sourceMysql,
  destinationPostgresql,
  destinationMysql,
  transformRenameFields,
  transformDropFields,
  transformMaskFields,
  transformFilterRows,
  transformMapFilter,
];

export function specsOf(category: Category): ConnectorSpec[] {
  return connectorSpecs.filter((s) => s.category === category);
}

export function findSpec(category: Category, kind: string): ConnectorSpec | undefined {
  return connectorSpecs.find((s) => s.category === category && s.kind === kind);
}

export const collections: Record<Category, string> = { source: 'sources', destination: 'destinations', transform: 'transforms' };
