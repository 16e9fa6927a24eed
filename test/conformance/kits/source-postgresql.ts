import { pgDatabase, SourceKit } from '.';

export const sourcePostgresql: SourceKit = {
  kind: 'postgresql',
  ddl: {
    events: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);',
    big: 'CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note text);',
  },
  database: (stoppable) => pgDatabase('src', stoppable),
  schemaOf: () => 'public',
};
