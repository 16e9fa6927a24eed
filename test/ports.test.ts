import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_SOAK_PORT_BASE, soakPorts } from '../bench/soak/ports';

// The stacks that can run at once on one machine must not share a port, and a server restarted by a
// fault test must not find its port taken by a client's local end (Linux hands those out from 32768).
// CI once failed the soak because its Redis (27379) was the exclusive lane's (26379 + 1000).
const root = path.resolve(__dirname, '..', '..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const EPHEMERAL_FROM = 32768;

/** `sluice dev`'s defaults: every `envPort('NAME', port)` under stack/. */
function devPorts(): Map<string, number> {
  const ports = new Map<string, number>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (f.endsWith('.ts'))
        for (const m of read(f).matchAll(/envPort\('(\w+)', (\d+)\)/g)) ports.set(m[1], Number(m[2]));
    }
  };
  walk('stack');
  return ports;
}

/** The test stack's defaults, from test/stack-env.sh (`SLUICE_X_PORT="${SLUICE_TEST_X_PORT:-N}"`). */
function testPorts(): Map<string, number> {
  const ports = new Map<string, number>();
  for (const m of read('test/stack-env.sh').matchAll(/export (SLUICE_\w+_PORT)="\$\{SLUICE_TEST_\w+:-(\d+)\}"/g))
    ports.set(m[1], Number(m[2]));
  return ports;
}

test('sluice dev, the test stack, the exclusive lane and the soak use distinct ports below the ephemeral range', () => {
  const dev = devPorts();
  const tests = testPorts();
  const offset = /export "SLUICE_TEST_\$\{v\}_PORT=\$\(\(\$\{!port\} \+ (\d+)\)\)"/.exec(read('test/run.sh'));
  assert.ok(offset, "test/run.sh: the exclusive lane's port offset (+ N) was not found; update this test");
  assert.ok(dev.size >= 10 && tests.size >= 10, `found ${dev.size} dev and ${tests.size} test ports`);
  const stacks: Record<string, Map<string, number>> = {
    'sluice dev': dev,
    'test stack': tests,
    'exclusive lane': new Map([...tests].map(([k, p]) => [k, p + Number(offset[1])])),
    soak: new Map(Object.entries(soakPorts(DEFAULT_SOAK_PORT_BASE)).map(([k, p]) => [k, Number(p)])),
  };
  const owner = new Map<number, string>();
  for (const [stack, ports] of Object.entries(stacks))
    for (const [name, port] of ports) {
      const who = `${stack} ${name}`;
      assert.ok(port >= 1024 && port < EPHEMERAL_FROM, `${who} = ${port}: keep it within 1024..${EPHEMERAL_FROM - 1}`);
      assert.equal(owner.get(port), undefined, `${who} = ${port} is also ${owner.get(port)}`);
      owner.set(port, who);
    }
});
