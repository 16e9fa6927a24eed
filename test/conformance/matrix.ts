// The conformance matrix, declared in one place: which scenarios run for which (source kind,
// destination kind). A new destination kind joins with its kit (kits/destination-<kind>.ts) and its
// row here; a row lists what the pair supports (`g`, the lost replication slot, exists for Postgres
// sources only; a MariaDB source's lost binlog position is test/mysql/source-position-lost.test.ts).
import type { DestinationKit, SourceKit } from './kits';
import { destinationElasticsearch } from './kits/destination-elasticsearch';
import { destinationKafka } from './kits/destination-kafka';
import { destinationMysql } from './kits/destination-mysql';
import { destinationPostgresql } from './kits/destination-postgresql';
import { destinationS3 } from './kits/destination-s3';
import { destinationWebhook } from './kits/destination-webhook';
import { sourceMysql } from './kits/source-mysql';
import { sourcePostgresql } from './kits/source-postgresql';
import { mysqlToMysql, mysqlToPg, pgToMysql, pgToPg, TypeCase } from './type-cases';

/**
 * a destination outage, b source outage, c Kafka outage, d worker kill -9 mid-stream and
 * mid-snapshot, e network cut and stall, f poison records / DLQ / replay / verify, g lost source
 * position, types the type round-trip, storm per-key order under an update storm, schema the
 * schema_changes policies (add, drop, rename, widen, incompatible; ignore_new_columns; fail),
 * new_tables a table created while streaming, captured and backfilled.
 */
export type Scenario = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'types' | 'storm' | 'schema' | 'new_tables';

export interface MatrixRow {
  name: string;
  source: SourceKit;
  destination: DestinationKit;
  scenarios: Scenario[];
  types?: TypeCase;
}

const row = (source: SourceKit, destination: DestinationKit, scenarios: Scenario[], types?: TypeCase): MatrixRow => ({
  name: `${source.kind} -> ${destination.kind}`,
  source,
  destination,
  scenarios,
  types,
});

export const MATRIX: MatrixRow[] = [
  row(
    sourcePostgresql,
    destinationPostgresql,
    ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'types', 'storm', 'schema', 'new_tables'],
    pgToPg,
  ),
  row(sourcePostgresql, destinationMysql, ['a', 'b', 'c', 'd', 'e', 'f', 'types', 'storm', 'schema'], pgToMysql),
  row(
    sourceMysql,
    destinationPostgresql,
    ['a', 'b', 'c', 'd', 'e', 'f', 'types', 'storm', 'schema', 'new_tables'],
    mysqlToPg,
  ),
  row(sourceMysql, destinationMysql, ['types'], mysqlToMysql),
  row(sourcePostgresql, destinationElasticsearch, ['a', 'd', 'f', 'storm']),
  row(sourcePostgresql, destinationWebhook, ['a', 'd', 'f', 'storm']),
  row(sourcePostgresql, destinationS3, ['a', 'd', 'f']),
  row(sourcePostgresql, destinationKafka, ['a', 'd', 'f']),
];

/**
 * SLUICE_CONFORMANCE_ROWS (row names, comma-separated; set by `npm run test:repeat -- --rows`)
 * narrows every conformance file to those rows.
 */
const ONLY_ROWS = process.env.SLUICE_CONFORMANCE_ROWS?.split(',').map((s) => s.trim());

export const rowsWith = (scenario: Scenario) =>
  MATRIX.filter((r) => r.scenarios.includes(scenario) && (!ONLY_ROWS || ONLY_ROWS.includes(r.name)));
