// A test process that starts a child-process forkv server and then dies (or just ends),
// for test/embedded/fixture.test.ts. Prints "ready <port> <childPid> <dir>" once the server runs.
//
//   node test/embedded/watchdog-case.mjs hang    waits to be killed
//   node test/embedded/watchdog-case.mjs end     returns without stop(): must exit by itself
import { ForkvServer } from 'forkv';

const server = await ForkvServer.create({ mode: 'child-process' });
const info = server.instanceInfo();
console.log(`ready ${info.port} ${info.pid} ${info.dir}`);
if (process.argv[2] === 'hang') setInterval(() => undefined, 1 << 30);
