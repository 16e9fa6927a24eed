import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { label, quote, uniqueLabels, value, Expr } from '../api/hcl';

describe('hcl writer', () => {
  it('escapes quotes, backslashes, control characters and template sequences', () => {
    assert.equal(quote('a"b\\c\nd\te'), '"a\\"b\\\\c\\nd\\te"');
    assert.equal(quote('${x} %{y}'), '"$${x} %%{y}"');
    assert.equal(quote('\u0001'), '"\\u0001"');
    assert.equal(quote('Zürich 🚀'), '"Zürich 🚀"');
  });
  it('labels are identifiers and unique', () => {
    assert.equal(label('Orders "DB" (prod)'), 'orders_db_prod');
    assert.equal(label('日本'), 'object');
    assert.equal(label('1st'), '_1st');
    assert.deepEqual([...uniqueLabels(['a-b', 'a_b', 'A B']).values()], ['a_b', 'a_b_2', 'a_b_3']);
  });
  it('renders nested values', () => {
    assert.equal(value({ max_retries: 5, 'odd key': 'v' }, ''), '{\n  max_retries = 5\n  "odd key"   = "v"\n}');
    assert.equal(value([new Expr('a.b.id'), 'x'], ''), '[a.b.id, "x"]');
  });
});
