// One forkv server per test worker, for test runners' global setup (Jest, Vitest): the setup
// starts them before the workers exist and publishes their URLs in process.env, which the
// workers inherit; a test reads its own with workerUrl().
//
//   FORKV_URL      the first server's URL (all a single-worker run needs)
//   FORKV_URL_<n>  worker n's server (n = JEST_WORKER_ID or VITEST_POOL_ID, from 1)
import { ForkvServer, type ForkvServerOptions } from './fixture';

/** What startWorkerServers takes: ForkvServer's options (shared by every server), and how many. */
export interface WorkerServersOptions extends Omit<ForkvServerOptions, 'autoStart' | 'port'> {
  /** How many servers (the runner's worker count). Default 1. */
  workers?: number;
}

/** The servers of a run. */
export interface WorkerServers {
  readonly servers: readonly ForkvServer[];
  /** Their URLs, worker 1 first. */
  readonly urls: readonly string[];
  /** Stops every server and removes the temp dirs they made; removes the env entries. */
  stop(): Promise<void>;
}

/** The environment variable that holds worker `n`'s URL. */
export function workerEnvName(n: number): string {
  return `FORKV_URL_${n}`;
}

/**
 * Starts one server per worker (in parallel), each with its own port and directory, and sets
 * FORKV_URL and FORKV_URL_1..n in process.env.
 */
export async function startWorkerServers(opts: WorkerServersOptions = {}): Promise<WorkerServers> {
  const { workers = 1, ...serverOpts } = opts;
  if (!Number.isInteger(workers) || workers < 1 || workers > 1024) {
    throw new Error(`workers must be an integer from 1 to 1024, not ${String(workers)}`);
  }
  const started = await Promise.allSettled(
    Array.from({ length: workers }, () => ForkvServer.create({ config: { save: '' }, ...serverOpts })),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop({ save: false, force: true, cleanup: true })));
    throw failed.reason;
  }
  const urls = servers.map((s) => s.url);
  urls.forEach((u, i) => {
    process.env[workerEnvName(i + 1)] = u;
  });
  process.env.FORKV_URL = urls[0];
  return {
    servers,
    urls,
    async stop() {
      await Promise.all(servers.map((s) => s.stop({ cleanup: true })));
      urls.forEach((_, i) => delete process.env[workerEnvName(i + 1)]);
      delete process.env.FORKV_URL;
    },
  };
}

/**
 * This worker's server URL: FORKV_URL_<JEST_WORKER_ID or VITEST_POOL_ID>, else FORKV_URL.
 * Throws when the global setup did not run.
 */
export function workerUrl(): string {
  const id = process.env.JEST_WORKER_ID ?? process.env.VITEST_POOL_ID;
  const url = (id !== undefined ? process.env[workerEnvName(Number(id))] : undefined) ?? process.env.FORKV_URL;
  if (url === undefined) {
    throw new Error('no forkv server for this worker: add forkv\'s global setup to the test runner\'s config (see the README, "As a test fixture")');
  }
  return url;
}
