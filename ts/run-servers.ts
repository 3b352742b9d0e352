// The servers a test runner's global setup started, kept for its teardown (both run in the
// runner's main process; the runner may load the two modules separately, so the handle lives
// on globalThis).
import type { WorkerServers } from './worker-servers';

const KEY = Symbol.for('forkv.runServers');
type Holder = { [KEY]?: WorkerServers };

/** Remembers the servers of this run (a second setup is refused: stop the first). */
export function setRunServers(s: WorkerServers): void {
  const g = globalThis as Holder;
  if (g[KEY]) {
    void s.stop();
    throw new Error('forkv: the global setup ran twice without its teardown');
  }
  g[KEY] = s;
}

/** Stops the servers of this run, if any. */
export async function stopRunServers(): Promise<void> {
  const g = globalThis as Holder;
  const s = g[KEY];
  delete g[KEY];
  await s?.stop();
}
