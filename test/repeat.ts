/**
 * Repeatability of the fault scenarios: runs each scenario test (a–g: destination, source, Kafka,
 * worker, network, poison, slot; Postgres and MariaDB sources and destinations) N times in a row
 * against the one test stack that test/run.sh started, and prints pass counts per scenario.
 *   npm run test:repeat -- [-n 10] [--only a,c,d] [--files mysql/source-network,...] [--markdown table.md] [--json results.json]
 * Each round runs every file once, in the suite's order, so consecutive runs of a scenario see the
 * stack as the suite leaves it. The TAP output of every failed run is kept in
 * $SLUICE_HOME/repeat/ (the path is printed with the failure).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The files with the lettered scenarios; the path label says which source and destination kinds they pair. */
export const SCENARIO_FILES = [
  'dataplane/fault-destination', 'dataplane/fault-source', 'dataplane/fault-kafka', 'dataplane/fault-worker',
  'dataplane/fault-network', 'dataplane/poison', 'dataplane/fault-slot',
  'mysql/dest-fault-destination', 'mysql/dest-fault-source', 'mysql/dest-fault-kafka', 'mysql/dest-fault-worker',
  'mysql/dest-poison',
  'mysql/source-faults', 'mysql/source-recovery', 'mysql/source-network', 'mysql/source-position-lost',
];
/** The scenario tests are named `a. ...` to `g. ...` (d1./d2. for the two worker kills). */
const SCENARIO_NAME = /^([a-g]\d?)\. /;

function pathOf(file: string): string {
  if (file.startsWith('dataplane/')) return 'Postgres -> Postgres';
  return file.startsWith('mysql/source-') ? 'MariaDB -> Postgres' : 'Postgres -> MariaDB';
}

interface Tally {
  scenario: string; file: string; path: string; test: string; passed: number; runs: number; failedRounds: number[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** `ok` / `not ok` lines of node's TAP reporter, at any nesting depth (describe blocks nest). */
function parseTap(tap: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const m of tap.matchAll(/^\s*(not )?ok \d+ - (.*?)(\s+# SKIP.*)?$/gm)) {
    if (m[3] || !SCENARIO_NAME.test(m[2])) continue;
    out.set(m[2], !m[1] && (out.get(m[2]) ?? true));
  }
  return out;
}

function runFile(file: string, logFile: string): Promise<{ code: number | null; tap: string; ms: number }> {
  const started = Date.now();
  const args = [
    '--test', '--test-reporter=tap', '--test-concurrency=1', '--test-timeout=600000',
    `--test-name-pattern=${SCENARIO_NAME.source}`, `dist/test/${file}.test.js`,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tap = '';
    child.stdout.on('data', (d) => { tap += d; });
    child.stderr.on('data', (d) => { tap += d; });
    child.on('close', (code) => {
      fs.writeFileSync(logFile, tap);
      resolve({ code, tap, ms: Date.now() - started });
    });
  });
}

/** The first assertion or error message of a failed run, for the progress line. */
function firstError(tap: string): string {
  const m = /^\s*error: (.*)$/m.exec(tap);
  return m ? m[1].replace(/^['|-]\s*/, '').slice(0, 200) : '(no error line; see the log)';
}

async function main() {
  const n = Number(arg('-n') ?? 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`-n ${arg('-n')}: expected a positive integer`);
  const only = arg('--only')?.split(',').map((s) => s.trim());
  const files = arg('--files')?.split(',').map((s) => s.trim().replace(/\.test\.ts$/, '').replace(/^test\//, '')) ?? SCENARIO_FILES;
  const unknown = files.filter((f) => !SCENARIO_FILES.includes(f));
  if (unknown.length) throw new Error(`--files ${unknown.join(',')}: not a scenario file; known: ${SCENARIO_FILES.join(', ')}`);
  const logDir = path.join(process.env.SLUICE_HOME ?? '.sluice-test', 'repeat');
  fs.mkdirSync(logDir, { recursive: true });
  const tallies = new Map<string, Tally>();
  const started = Date.now();
  for (let round = 1; round <= n; round++) {
    for (const file of files) {
      const logFile = path.join(logDir, `${round}-${file.replace('/', '-')}.tap`);
      const r = await runFile(file, logFile);
      const results = parseTap(r.tap);
      // A test of this file seen in an earlier round but missing now (the file crashed or timed out) failed.
      for (const t of tallies.values()) if (t.file === file && !results.has(t.test)) results.set(t.test, false);
      if (!results.size) results.set(`${file} (no scenario reported; exit ${r.code})`, false);
      for (const [test, ok] of results) {
        const scenario = SCENARIO_NAME.exec(test)?.[1] ?? '?';
        if (only && !only.includes(scenario.charAt(0))) continue;
        const key = `${file}\t${test}`;
        const t = tallies.get(key) ?? { scenario, file, path: pathOf(file), test, passed: 0, runs: 0, failedRounds: [] };
        t.runs++;
        if (ok) t.passed++; else t.failedRounds.push(round);
        tallies.set(key, t);
        const outcome = ok ? 'ok' : `FAILED: ${firstError(r.tap)} (log ${logFile})`;
        console.log(`[round ${round}/${n} +${Math.round((Date.now() - started) / 60000)} min] ${file}: ${test.slice(0, 90)} ${outcome}`);
      }
      if (results.size && [...results.values()].every(Boolean)) fs.rmSync(logFile);
    }
  }
  const rows = [...tallies.values()].sort((a, b) => a.scenario.localeCompare(b.scenario) || a.path.localeCompare(b.path));
  const table = [
    `| scenario | source -> destination | test file | passed | failed in rounds |`,
    `|---|---|---|---|---|`,
    ...rows.map((t) => `| ${t.test.slice(0, 80)} | ${t.path} | ${t.file}.test.ts | ${t.passed}/${t.runs} | `
      + `${t.failedRounds.join(', ') || '-'} |`),
  ].join('\n');
  const total = rows.reduce((a, t) => a + t.runs, 0);
  const passed = rows.reduce((a, t) => a + t.passed, 0);
  const minutes = Math.round((Date.now() - started) / 60000);
  console.log(`\n${n} rounds in ${minutes} min: ${passed} passed, ${total - passed} failed\n\n${table}`);
  const md = arg('--markdown');
  if (md) fs.writeFileSync(md, table + '\n');
  const json = arg('--json');
  if (json) fs.writeFileSync(json, JSON.stringify(rows, null, 2) + '\n');
  process.exit(passed === total ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(2); });
