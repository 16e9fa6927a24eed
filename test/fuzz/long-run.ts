import { startTestApi } from '../helpers';
import { fuzz } from './fuzz';

/**
 * The long fuzzing run docs/hardening.md records (the suite runs two minutes of the same):
 *   source test/stack-env.sh && node dist/stack/cli.js start   # the test stack (or DATABASE_URL & co)
 *   npm run fuzz -- --seconds 900 --seed 7
 * Prints schemathesis' output as it goes; exits 1 on any finding.
 */
async function main() {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const seconds = arg('seconds', 900);
  const seed = arg('seed', 7);
  const api = await startTestApi({ config: { authFailuresMax: 1_000_000 } });
  try {
    const r = await fuzz(api, { seconds, seed, log: (s) => process.stdout.write(s) });
    const errors = api.logLines.filter((l) => /"level":50/.test(l));
    process.stdout.write(`\ncommand: ${r.command}\nAPI error log lines: ${errors.length}\n`);
    process.exitCode = r.code === 0 && !errors.length ? 0 : 1;
  } finally {
    await api.close();
  }
}
main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
