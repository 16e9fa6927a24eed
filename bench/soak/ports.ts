/**
 * The soak's own services' ports: N432 (Postgres), N379 (Redis), N092/N093 (Kafka), N306/N307
 * (MariaDB) for a port base N. The default base keeps them clear of `sluice dev`, the test stack and
 * test/run.sh's exclusive lane, which the soak test runs beside (test/ports.test.ts checks it).
 */
export const DEFAULT_SOAK_PORT_BASE = 31;

export function soakPorts(base: number): Record<string, string> {
  return {
    SLUICE_PG_PORT: `${base}432`,
    SLUICE_REDIS_PORT: `${base}379`,
    SLUICE_KAFKA_PORT: `${base}092`,
    SLUICE_KAFKA_CONTROLLER_PORT: `${base}093`,
    SLUICE_MARIADB_PORT: `${base}306`,
    SLUICE_MARIADB_REPLICA_PORT: `${base}307`,
  };
}
