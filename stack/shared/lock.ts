// start/stop from two processes at once (two test files, CLI + API) must not both initdb or both
// launch Kafka. An O_EXCL lock file holding the owner's pid; a dead owner's lock is stale.
import * as fs from 'fs';
import * as path from 'path';
import { pidAlive, readPidFile, sleep } from './proc';

const LOCK_TIMEOUT_MS = 300_000; // a first start may be fetching jars or running apt-get

export async function withLock<T>(home: string, log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(home, { recursive: true });
  const lock = path.join(home, 'stack.lock');
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readPidFile(lock);
    if (owner === undefined || !pidAlive(owner)) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another stack operation (pid ${owner}) holds ${lock} for too long`);
    if (!announced) log(`waiting for another stack operation to finish (pid ${owner}, lock ${lock})`);
    announced = true;
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
