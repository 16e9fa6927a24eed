import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every committed change to the objects the API caches (connectors, pipelines, api_tokens) is
 * announced on the `sluice_changes` channel as `<table>:<id>` (`<table>:*` for TRUNCATE). A trigger
 * rather than a NOTIFY in each route, so writers outside the API (import, SQL by an operator revoking
 * a token) invalidate the caches too. Postgres delivers NOTIFY only at commit, in commit order.
 */
export class ChangeNotify1764500000000 implements MigrationInterface {
  name = 'ChangeNotify1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION sluice_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_LEVEL = 'STATEMENT' THEN
          PERFORM pg_notify('sluice_changes', TG_TABLE_NAME || ':*');
        ELSIF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('sluice_changes', TG_TABLE_NAME || ':' || OLD.id);
        ELSE
          PERFORM pg_notify('sluice_changes', TG_TABLE_NAME || ':' || NEW.id);
          IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
            PERFORM pg_notify('sluice_changes', TG_TABLE_NAME || ':' || OLD.id);
          END IF;
        END IF;
        RETURN NULL;
      END $$`);
    for (const table of ['connectors', 'pipelines', 'api_tokens']) {
      await q.query(
        `CREATE TRIGGER ${table}_notify_change AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION sluice_notify_change()`,
      );
      await q.query(
        `CREATE TRIGGER ${table}_notify_truncate AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION sluice_notify_change()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['connectors', 'pipelines', 'api_tokens']) {
      await q.query(`DROP TRIGGER ${table}_notify_truncate ON ${table}`);
      await q.query(`DROP TRIGGER ${table}_notify_change ON ${table}`);
    }
    await q.query(`DROP FUNCTION sluice_notify_change()`);
  }
}
