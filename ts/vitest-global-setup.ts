// Vitest's globalSetup (vitest.config: test.globalSetup: ['forkv/vitest-global-setup']): one
// in-memory forkv server per worker, URLs in process.env (see ./worker-servers); Vitest calls
// teardown() after the run. Tests read their server with workerUrl().
import * as os from 'node:os';

import { startWorkerServers } from './worker-servers';
import { setRunServers, stopRunServers } from './run-servers';

/** The part of Vitest's resolved config read here (Vitest 2 and 3). */
export interface VitestConfig {
  maxWorkers?: number;
  watch?: boolean;
  fileParallelism?: boolean;
  pool?: string;
  poolOptions?: { forks?: { maxForks?: number; singleFork?: boolean }; threads?: { maxThreads?: number; singleThread?: boolean } };
}

/** The part of Vitest's TestProject read here. */
export interface VitestProject {
  config?: VitestConfig;
}

/**
 * How many workers Vitest will run (VITEST_POOL_ID goes from 1 to this), reckoned as Vitest's
 * pools do: the pool's own limit, else maxWorkers, else all CPUs but one (half in watch mode).
 */
export function vitestWorkerCount(c: VitestConfig = {}): number {
  if (c.fileParallelism === false) return 1;
  const forks = c.pool === undefined || c.pool === 'forks';
  if (forks ? c.poolOptions?.forks?.singleFork : c.poolOptions?.threads?.singleThread) return 1;
  const own = forks ? c.poolOptions?.forks?.maxForks : c.poolOptions?.threads?.maxThreads;
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const fallback = c.watch ? Math.max(Math.floor(cpus / 2), 1) : Math.max(cpus - 1, 1);
  return Math.max(1, Math.floor(own ?? c.maxWorkers ?? fallback));
}

export async function setup(project: VitestProject = {}): Promise<void> {
  setRunServers(await startWorkerServers({ workers: vitestWorkerCount(project.config) }));
}

export async function teardown(): Promise<void> {
  await stopRunServers();
}
