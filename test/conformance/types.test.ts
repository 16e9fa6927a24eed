// The type round-trip: every type of the source, with edge values and NULLs, arrives exactly,
// through inserts, updates of every type and a delete (each row's data in type-cases.ts).
import { test } from 'node:test';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { typeRoundTrip } from './scenarios';

for (const row of rowsWith('types')) {
  onRow(row, { tables: [], extraDdl: `${row.types!.ddl}\n${row.types!.insert};` }, (run) => {
    test('types round-trip exactly (edge values, NULLs, updates of every type, a delete)', () =>
      typeRoundTrip(run().s, row.types!));
  });
}
