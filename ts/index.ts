// Public API: run forkv inside a Node process.
//
//   const { createServer } = require('forkv');        // CommonJS
//   import { createServer } from 'forkv';             // ESM (dist/index.mjs wraps this file)
//
// Keep scripts/build-esm.cjs's list of names in step with the value exports below (a test
// compares them).
export {
  createServer, parseInfo,
  type CreateServerOptions, type CloseOptions, type EmbeddedServer, type ConfigValue,
} from './embedded';
export {
  ForkvServer,
  type ForkvServerOptions, type StopServerOptions, type InstanceInfo, type ServerMode,
} from './fixture';
export {
  startWorkerServers, workerUrl,
  type WorkerServers, type WorkerServersOptions,
} from './worker-servers';
export { Server, ListenError, type ServerOptions, type ShutdownOptions } from './server';
export { ConfigStore, ConfigError, loadServerConfig } from './config';
export { Logger, type LogLevel } from './log';
export { VERSION } from './version';
