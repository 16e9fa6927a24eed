import { pgDatabase, SourceKit } from '.';

export const sourcePostgresql: SourceKit = {
  kind: 'postgresql',
  ddl: {
    events: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);',
    big: 'CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note text);',
  },
  database: (stoppable) => pgDatabase('src', stoppable),
  schemaOf: () => 'public',
  schema: {
    table: 'CREATE TABLE sc (id int PRIMARY KEY, v int NOT NULL, note text, note2 text, price numeric(10,2));',
    add: (c) => `ALTER TABLE sc ADD COLUMN ${c} text`,
    drop: (c) => `ALTER TABLE sc DROP COLUMN ${c}`,
    rename: (a, b) => `ALTER TABLE sc RENAME COLUMN ${a} TO ${b}`,
    widen: 'ALTER TABLE sc ALTER COLUMN v TYPE bigint',
    narrow: 'ALTER TABLE sc ALTER COLUMN price TYPE numeric(6,1)',
    transaction: (statements) => `BEGIN; ${statements.join('; ')}; COMMIT`,
  },
};
