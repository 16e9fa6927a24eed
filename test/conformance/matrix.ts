// The conformance matrix, declared in one place: which scenarios run for which (source kind,
// destination kind). A new destination kind joins by adding a DestinationKit (kits.ts) and its row
// here; a row lists what the kind supports (e.g. `e`, the network scenario, proxies Postgres only,
// and `g`, the lost replication slot, exists for Postgres sources only).
import { DestinationKit, destinations, SourceKit, sources } from './kits';
import { mysqlToMysql, mysqlToPg, pgToMysql, pgToPg, TypeCase } from './type-cases';

/**
 * a destination outage, b source outage, c Kafka outage, d worker kill -9 mid-stream and
 * mid-snapshot, e network cut and stall, f poison records / DLQ / replay, g lost source position,
 * types the type round-trip, storm per-key order under an update storm.
 */
export type Scenario = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'types' | 'storm';

export interface MatrixRow { name: string; source: SourceKit; destination: DestinationKit; scenarios: Scenario[]; types?: TypeCase }

const row = (source: SourceKit, destination: DestinationKit, scenarios: Scenario[], types?: TypeCase): MatrixRow =>
  ({ name: `${source.kind} -> ${destination.kind}`, source, destination, scenarios, types });

export const MATRIX: MatrixRow[] = [
  row(sources.postgresql, destinations.postgresql, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'types', 'storm'], pgToPg),
  row(sources.postgresql, destinations.mysql, ['a', 'b', 'c', 'd', 'f', 'types', 'storm'], pgToMysql),
  row(sources.mysql, destinations.postgresql, ['a', 'b', 'c', 'd', 'f', 'types', 'storm'], mysqlToPg),
  row(sources.mysql, destinations.mysql, ['types'], mysqlToMysql),
];

export const rowsWith = (scenario: Scenario) => MATRIX.filter((r) => r.scenarios.includes(scenario));
