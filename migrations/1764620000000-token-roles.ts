import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API tokens get a role (viewer < operator < admin) and an optional expiry; names become unique so
 * the audit log's actor (the token's name) tells callers apart. Tokens that existed before were all
 * full-access bootstrap tokens, so they become admin. Earlier versions added a second "bootstrap"
 * row whenever SLUICE_BOOTSTRAP_TOKEN changed; all but the newest are renamed (and keep working), so
 * from now on the bootstrap row is replaced in place when the configured token changes.
 *
 * The change trigger is narrowed to the columns a token check reads: recording `last_used_at`
 * must not drop every API process's token cache.
 */
export class TokenRoles1764620000000 implements MigrationInterface {
  name = 'TokenRoles1764620000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      "ALTER TABLE api_tokens ADD COLUMN role text NOT NULL DEFAULT 'admin' " +
        "CHECK (role IN ('viewer','operator','admin'))",
    );
    await q.query(`ALTER TABLE api_tokens ALTER COLUMN role DROP DEFAULT`);
    await q.query(`ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz NULL`);
    await q.query(`
      UPDATE api_tokens t SET name = t.name || ' (' || d.n || ')'
      FROM (SELECT id, row_number() OVER (PARTITION BY name ORDER BY created_at DESC, id) AS n FROM api_tokens) d
      WHERE d.id = t.id AND d.n > 1`);
    await q.query(`ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_name_key UNIQUE (name)`);
    await q.query(`DROP TRIGGER api_tokens_notify_change ON api_tokens`);
    await q.query(
      'CREATE TRIGGER api_tokens_notify_change AFTER INSERT OR DELETE OR ' +
        'UPDATE OF name, token_hash, role, expires_at ON api_tokens FOR EACH ' +
        'ROW EXECUTE FUNCTION sluice_notify_change()',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER api_tokens_notify_change ON api_tokens`);
    await q.query(
      'CREATE TRIGGER api_tokens_notify_change AFTER INSERT OR UPDATE OR ' +
        'DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION ' +
        'sluice_notify_change()',
    );
    await q.query(`ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_name_key`);
    await q.query(`ALTER TABLE api_tokens DROP COLUMN expires_at`);
    await q.query(`ALTER TABLE api_tokens DROP COLUMN role`);
  }
}
