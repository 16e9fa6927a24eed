// What counts as a widening (applied downstream under schema_changes = propagate) and what is an
// incompatible type change (the table is held), in the envelope's type vocabulary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffColumns, widens } from '../../workers/schema-diff';

test('widenings: larger integers, numeric precision up, longer text, double from real, finer timestamps', () => {
  for (const [from, to] of [
    ['smallint', 'integer'],
    ['integer', 'bigint'],
    ['smallint', 'bigint'],
    ['integer', 'numeric'],
    ['integer', 'numeric(10,0)'],
    ['bigint', 'numeric(25,2)'],
    ['numeric(10,2)', 'numeric(12,2)'],
    ['numeric(10,2)', 'numeric(11,3)'],
    ['numeric(10,2)', 'numeric'],
    ['real', 'double precision'],
    ['character varying(10)', 'character varying(20)'],
    ['character varying(10)', 'text'],
    ['character varying', 'text'],
    ['timestamp(3) without time zone', 'timestamp without time zone'],
    ['time(0) without time zone', 'time(6) without time zone'],
  ]) {
    assert.equal(widens(from, to), true, `${from} -> ${to}`);
  }
});

test('incompatible: narrowing, scale down, another kind of type, time zone changes', () => {
  for (const [from, to] of [
    ['bigint', 'integer'],
    ['integer', 'numeric(9,0)'],
    ['bigint', 'numeric(20,2)'],
    ['numeric(10,2)', 'numeric(6,1)'],
    ['numeric(10,2)', 'numeric(10,3)'],
    ['numeric', 'numeric(30,10)'],
    ['double precision', 'real'],
    ['text', 'character varying(100)'],
    ['character varying(20)', 'character varying(10)'],
    ['integer', 'text'],
    ['text', 'integer'],
    ['timestamp without time zone', 'timestamp with time zone'],
    ['timestamp without time zone', 'timestamp(3) without time zone'],
    ['jsonb', 'text'],
    ['boolean', 'smallint'],
  ]) {
    assert.equal(widens(from, to), false, `${from} -> ${to}`);
  }
});

test(
  'a column list diff: added, dropped, retyped (with whether it widens), ' +
    'key changes; a rename is a drop plus an add',
  () => {
    const c = (name: string, type: string, key = false) => ({ name, type, oid: 0, key });
    assert.deepEqual(
      diffColumns(
        [c('id', 'integer', true), c('a', 'text'), c('n', 'integer')],
        [c('id', 'bigint', true), c('b', 'text'), c('n', 'integer')],
      ),
      [
        { kind: 'retyped', column: 'id', old_type: 'integer', new_type: 'bigint', widening: true },
        { kind: 'added', column: 'b', new_type: 'text' },
        { kind: 'dropped', column: 'a', old_type: 'text' },
      ],
    );
    assert.deepEqual(
      diffColumns([c('id', 'integer', true), c('x', 'integer')], [c('id', 'integer', true), c('x', 'integer', true)]),
      [{ kind: 'key_changed', column: 'x', old_type: 'integer', new_type: 'integer' }],
    );
    assert.deepEqual(diffColumns([c('id', 'integer', true)], [c('id', 'integer', true)]), []);
  },
);
