import { freshMysqlDatabase } from '../../mysql-helpers';
import { SourceKit, stackMariadb } from '.';

export const sourceMysql: SourceKit = {
  kind: 'mysql',
  ddl: {
    events: 'CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, v int NOT NULL, note varchar(100));',
    big: 'CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note varchar(100));',
  },
  database: async (stoppable) => ({ url: await freshMysqlDatabase('src'), outage: stoppable ? stackMariadb : undefined, destroy: async () => { await stackMariadb.start().catch(() => undefined); } }),
  schemaOf: (url) => new URL(url).pathname.slice(1),
};
