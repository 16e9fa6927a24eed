import { after, before, describe, it } from 'node:test';
import { startTestApi, TestApi } from '../helpers';
import { basicCycle } from './cycle';
import { mirror, tofuBin } from './tf';

/** OpenTofu from the same filesystem mirror: tofu on PATH, else OpenTofu 1.6.3 built by test/setup.d/terraform.sh. */
let api: TestApi;
let bin: string;
before(async () => {
  [bin, api] = await Promise.all([tofuBin(), startTestApi()]);
  mirror();
});
after(async () => {
  await api?.close();
});

describe('OpenTofu', () => {
  it(
    'examples/basic: offline init from the mirror, apply, no-op plan, ' + 'drift, import (command and blocks), destroy',
    () => basicCycle(bin, api, /^1\.\d+\.\d+$/),
  );
});
