/**
 * The one declaration of a connector kind. Validation (class-validator), the OpenAPI document,
 * export/import, the Terraform schema and the docs are all derived from a ConnectorSpec, so a
 * field is added or changed in exactly one place.
 */
export type Category = 'source' | 'destination' | 'transform';

export type FieldType = 'string' | 'integer' | 'boolean' | 'list' | 'map' | 'object';

export interface FieldSpec {
  type: FieldType;
  description: string;
  required?: boolean;
  /** Applied on create and whenever the field is unset; shown in docs, OpenAPI and Terraform. */
  default?: string | number | boolean | string[] | Record<string, string>;
  /** Write-only: encrypted at rest, never returned, exported as a variable. */
  sensitive?: boolean;
  /** Changing it means a new object (e.g. a replication slot name): Terraform plans a replacement. */
  forcesReplacement?: boolean;
  enum?: readonly string[];
  min?: number;
  max?: number;
  /** For strings (and each list item): a regular expression the value must match. */
  pattern?: RegExp;
  patternHint?: string;
  /** In characters (code points), like JSON Schema; for lists each item, for maps each value. */
  maxLength?: number;
  /** For lists: the fewest items, and whether an item may appear twice. */
  minItems?: number;
  uniqueItems?: boolean;
  /** For maps: the longest key (keys are never empty). */
  keyMaxLength?: number;
  /** Hint for renderers: a multi-line program text. */
  multiline?: boolean;
  /** For type object: its attributes. */
  fields?: Record<string, FieldSpec>;
  /** The value (or each list item) is the id of an object of this category. */
  references?: Category;
}

export interface ConnectorSpec {
  category: Category;
  kind: string;
  title: string;
  description: string;
  fields: Record<string, FieldSpec>;
}

/** Terraform resource type of a connector kind, e.g. sluice_source_postgresql. */
export function resourceType(spec: Pick<ConnectorSpec, 'category' | 'kind'>): string {
  return `sluice_${spec.category}_${spec.kind}`;
}

export function secretFields(spec: ConnectorSpec): string[] {
  return Object.entries(spec.fields)
    .filter(([, f]) => f.sensitive)
    .map(([name]) => name);
}
