// Jest's globalSetup (jest.config: globalSetup: 'forkv/jest-global-setup'): one in-memory
// forkv server per worker, URLs in process.env (see ./worker-servers). Pair it with
// 'forkv/jest-global-teardown'. Tests read their server with workerUrl().
import { startWorkerServers } from './worker-servers';
import { setRunServers } from './run-servers';

/** The part of Jest's global config read here. */
export interface JestGlobalConfig {
  maxWorkers?: number;
}

export default async function globalSetup(globalConfig: JestGlobalConfig = {}): Promise<void> {
  setRunServers(await startWorkerServers({ workers: Math.max(1, globalConfig.maxWorkers ?? 1) }));
}
