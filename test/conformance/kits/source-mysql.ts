import { freshMysqlDatabase } from '../../mysql-helpers';
import { SourceKit, stackMariadb } from '.';

export const sourceMysql: SourceKit = {
  kind: 'mysql',
  ddl: {
    events: 'CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, v int NOT NULL, note varchar(100));',
    big: 'CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note varchar(100));',
  },
  database: async (stoppable) => ({
    url: await freshMysqlDatabase('src'),
    outage: stoppable ? stackMariadb : undefined,
    destroy: async () => {
      await stackMariadb.start().catch(() => undefined);
    },
  }),
  schemaOf: (url) => new URL(url).pathname.slice(1),
  schema: {
    table:
      'CREATE TABLE sc (id int PRIMARY KEY, v int NOT NULL, note ' +
      'varchar(100), note2 varchar(100), price decimal(10,2));',
    add: (c) => `ALTER TABLE sc ADD COLUMN ${c} varchar(100)`,
    drop: (c) => `ALTER TABLE sc DROP COLUMN ${c}`,
    rename: (a, b) => `ALTER TABLE sc RENAME COLUMN ${a} TO ${b}`,
    widen: 'ALTER TABLE sc MODIFY v bigint NOT NULL',
    narrow: 'ALTER TABLE sc MODIFY price decimal(6,1)',
    transaction: (statements) => statements.join('; '),
  },
};
