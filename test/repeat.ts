/**
 * Repeatability of the fault scenarios: runs each scenario test (a–g: destination, source, Kafka,
 * worker, network, poison, lost position) of the conformance suite, over every (source, destination)
 * row of test/conformance/matrix.ts, plus the MariaDB source's lost binlog position, N times in a row
 * against the one test stack that test/run.sh started, and prints pass counts per scenario and row.
 *   npm run test:repeat -- [-n 10] [--only a,c,d] [--files conformance/e-network,...]
 *     [--rows 'postgresql -> postgresql,mysql -> postgresql'] [--markdown table.md] [--json results.json]
 * `--rows` narrows the conformance files to those matrix rows (SLUICE_CONFORMANCE_ROWS, read by
 * matrix.ts's rowsWith) and keeps the MariaDB source's own file only with `mysql -> postgresql`.
 * Each round runs every file once, in the suite's order, so consecutive runs of a scenario see the
 * stack as the suite leaves it. The TAP output of every failed run is kept in $SLUICE_HOME/repeat/
 * (the path is printed with the failure).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MATRIX } from './conformance/matrix';

/** The files with the lettered scenarios (conformance files run every matrix row that has the scenario). */
export const SCENARIO_FILES = [
  'conformance/a-destination-outage',
  'conformance/b-source-outage',
  'conformance/c-kafka-outage',
  'conformance/d-worker-kill',
  'conformance/e-network',
  'conformance/f-poison',
  'conformance/g-slot-loss',
  'mysql/source-position-lost',
];
/** The MariaDB source's lost binlog position runs outside the matrix, as this row. */
const MARIADB_FILE = 'mysql/source-position-lost';
const MARIADB_FILE_ROW = 'mysql -> postgresql';
/** The scenario tests are named `a. ...` to `g. ...` (d1./d2. for the two worker kills). */
const SCENARIO_NAME = /^([a-g]\d?)\. /;
/** A conformance row's describe(): `<source kind> -> <destination kind>`. */
const ROW_NAME = /^\w+ -> \w+$/;

interface Tally {
  scenario: string;
  file: string;
  row: string;
  test: string;
  passed: number;
  runs: number;
  failedRounds: number[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/**
 * `ok` / `not ok` lines of node's TAP reporter with the conformance row they ran in: the enclosing
 * `# Subtest:` one level up (4 spaces less indentation). Key: `<row>\t<test name>`.
 */
function parseTap(tap: string, fallbackRow: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  const open = new Map<number, string>();
  for (const line of tap.split('\n')) {
    const sub = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (sub) {
      open.set(sub[1].length, sub[2]);
      continue;
    }
    const m = /^(\s*)(not )?ok \d+ - (.*?)(\s+# SKIP.*)?$/.exec(line);
    if (!m || m[4] || !SCENARIO_NAME.test(m[3])) continue;
    const parent = open.get(m[1].length - 4);
    const key = `${parent && ROW_NAME.test(parent) ? parent : fallbackRow}\t${m[3]}`;
    out.set(key, !m[2] && (out.get(key) ?? true));
  }
  return out;
}

function runFile(file: string, logFile: string): Promise<{ code: number | null; tap: string; ms: number }> {
  const started = Date.now();
  const args = [
    '--test',
    '--test-reporter=tap',
    '--test-concurrency=1',
    '--test-timeout=600000',
    `--test-name-pattern=${SCENARIO_NAME.source}`,
    `dist/test/${file}.test.js`,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tap = '';
    child.stdout.on('data', (d) => {
      tap += d;
    });
    child.stderr.on('data', (d) => {
      tap += d;
    });
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
  const only = arg('--only')
    ?.split(',')
    .map((s) => s.trim());
  const files =
    arg('--files')
      ?.split(',')
      .map((s) =>
        s
          .trim()
          .replace(/\.test\.ts$/, '')
          .replace(/^test\//, ''),
      ) ?? SCENARIO_FILES;
  const unknown = files.filter((f) => !SCENARIO_FILES.includes(f));
  if (unknown.length)
    throw new Error(`--files ${unknown.join(',')}: not a scenario file; known: ${SCENARIO_FILES.join(', ')}`);
  const rowNames = arg('--rows')
    ?.split(',')
    .map((s) => s.trim());
  const unknownRows = rowNames?.filter((r) => !MATRIX.some((m) => m.name === r)) ?? [];
  if (unknownRows.length)
    throw new Error(
      `--rows ${unknownRows.join(',')}: not a matrix row; known: ${MATRIX.map((m) => m.name).join(', ')}`,
    );
  // Child test processes inherit it: matrix.ts's rowsWith keeps only these rows.
  if (rowNames) process.env.SLUICE_CONFORMANCE_ROWS = rowNames.join(',');
  const runFiles = rowNames && !rowNames.includes(MARIADB_FILE_ROW) ? files.filter((f) => f !== MARIADB_FILE) : files;
  const logDir = path.join(process.env.SLUICE_HOME ?? '.sluice-test', 'repeat');
  fs.mkdirSync(logDir, { recursive: true });
  const tallies = new Map<string, Tally>();
  const started = Date.now();
  for (let round = 1; round <= n; round++) {
    for (const file of runFiles) {
      const logFile = path.join(logDir, `${round}-${file.replace('/', '-')}.tap`);
      const r = await runFile(file, logFile);
      const results = parseTap(r.tap, file === MARIADB_FILE ? MARIADB_FILE_ROW : file);
      // A test of this file seen in an earlier round but missing now (the file crashed or timed out) failed.
      for (const t of tallies.values())
        if (t.file === file && !results.has(`${t.row}\t${t.test}`)) results.set(`${t.row}\t${t.test}`, false);
      if (!results.size) results.set(`${file}\t${file} (no scenario reported; exit ${r.code})`, false);
      for (const [rowAndTest, ok] of results) {
        const [row, test] = rowAndTest.split('\t');
        const scenario = SCENARIO_NAME.exec(test)?.[1] ?? '?';
        if (only && !only.includes(scenario.charAt(0))) continue;
        const key = `${file}\t${rowAndTest}`;
        const t = tallies.get(key) ?? { scenario, file, row, test, passed: 0, runs: 0, failedRounds: [] };
        t.runs++;
        if (ok) t.passed++;
        else t.failedRounds.push(round);
        tallies.set(key, t);
        const outcome = ok ? 'ok' : `FAILED: ${firstError(r.tap)} (log ${logFile})`;
        console.log(
          `[round ${round}/${n} +${Math.round((Date.now() - started) / 60000)} min] ${row}: ${test.slice(0, 90)} ${outcome}`,
        );
      }
      if (results.size && [...results.values()].every(Boolean)) fs.rmSync(logFile);
    }
  }
  const rows = [...tallies.values()].sort((a, b) => a.scenario.localeCompare(b.scenario) || a.row.localeCompare(b.row));
  const table = [
    `| scenario | source -> destination | test file | passed | failed in rounds |`,
    `|---|---|---|---|---|`,
    ...rows.map(
      (t) =>
        `| ${t.test.slice(0, 80)} | ${t.row} | ${t.file}.test.ts | ${t.passed}/${t.runs} | ` +
        `${t.failedRounds.join(', ') || '-'} |`,
    ),
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

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
