// Schema changes (the pipeline's schema_changes policy): add, drop, rename, widen and an
// incompatible change under propagate, then ignore_new_columns and fail, rows before, during and
// after each change compared with the source.
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { schemaChanges } from './scenarios';

for (const row of rowsWith('schema')) {
  onRow(row, { tables: [], extraDdl: row.source.schema.table }, (run) => {
    test(
      'schema changes: propagate (add in a transaction, drop, rename, widen, ' +
        'incompatible -> resnapshot), ignore_new_columns, fail -> ack',
      () => schemaChanges(run().s, row.source),
    );
  });
}
