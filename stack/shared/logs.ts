// Reading the end of a service log (for error messages) and of a dump (for its last statement).
import * as fs from 'fs';

export function tailBytes(file: string, bytes: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** The last lines of a log, indented for an error message. */
export function tailFile(file: string, lines = 15): string {
  try {
    return tailBytes(file, 16_384)
      .split('\n')
      .filter(Boolean)
      .slice(-lines)
      .map((l) => `    ${l}`)
      .join('\n');
  } catch {
    return '    (no log yet)';
  }
}

/** The last lines of a log, introduced: what every "did not start" error ends with. */
export function lastLines(file: string): string {
  return `Last lines of ${file}:\n${tailFile(file)}`;
}

/** Appends a tool's output (initdb, storage format, install-db) to the service log. */
export function appendLog(file: string, text: string): void {
  fs.appendFileSync(file, `${text}\n`);
}

/** The last lines of a tool's output, for an error message. */
export function lastOf(out: string, lines = 8): string {
  return out.split('\n').slice(-lines).join('\n');
}
