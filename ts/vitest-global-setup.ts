// Vitest's globalSetup (vitest.config: test.globalSetup: ['forkv/vitest-global-setup']): one
// in-memory forkv server per worker, URLs in process.env (see ./worker-servers); Vitest calls
// teardown() after the run. Tests read their server with workerUrl().
import { startWorkerServers } from './worker-servers';
import { setRunServers, stopRunServers } from './run-servers';

/** The part of Vitest's TestProject read here. */
export interface VitestProject {
  config?: { maxWorkers?: number };
}

export async function setup(project: VitestProject = {}): Promise<void> {
  setRunServers(await startWorkerServers({ workers: Math.max(1, project.config?.maxWorkers ?? 1) }));
}

export async function teardown(): Promise<void> {
  await stopRunServers();
}
