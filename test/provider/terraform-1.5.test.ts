import { after, before, describe, it } from 'node:test';
import { startTestApi, TestApi } from '../helpers';
import { basicCycle } from './cycle';
import { builtTool, mirror } from './tf';

/**
 * Terraform 1.5.7, the lowest version docs/provider.md claims, built once per machine by
 * test/setup.d/terraform.sh (whatever terraform is on PATH runs the other provider tests).
 */
let api: TestApi;
let bin: string;
before(async () => {
  [bin, api] = await Promise.all([builtTool('terraform'), startTestApi()]);
  mirror();
});
after(async () => {
  await api?.close();
});

describe('Terraform 1.5.7', () => {
  it(
    'examples/basic: offline init from the mirror, apply, no-op plan, ' + 'drift, import (command and blocks), destroy',
    () => basicCycle(bin, api, /^1\.5\.7$/),
  );
});
