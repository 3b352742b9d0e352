// MODULE through a real client: forkv loads no C modules, so LIST is empty and
// LOAD/LOADEX/UNLOAD answer Valkey 8.0's errors, behind `enable-module-command` as in Valkey.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { useServer } from '../helpers/fixture';
import { startServer, type RunningServer } from '../helpers/server';
import Redis from 'ioredis';

const NOT_ALLOWED =
  'ERR MODULE command not allowed. If the enable-module-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.';
const LOAD_FAILED = 'ERR Error loading the extension. Please check the server logs.';

const err = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error reply');
};

const t = suite('module');
const fx = useServer(t, {}, false);

t('default enable-module-command no: LIST and HELP answer, LOAD/LOADEX/UNLOAD are refused', async () => {
  assert.equal(await fx.io.call('MODULE', 'LIST'), []);
  const help = (await fx.io.call('MODULE', 'HELP')) as string[];
  assert.is(help[0], 'MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
  assert.is(help.length, 11);
  assert.is(await err(fx.io.call('MODULE', 'LOAD', '/tmp/x.so')), NOT_ALLOWED);
  assert.is(await err(fx.io.call('MODULE', 'LOADEX', '/tmp/x.so')), NOT_ALLOWED);
  assert.is(await err(fx.io.call('MODULE', 'UNLOAD', 'x')), NOT_ALLOWED);
  assert.is(await err(fx.io.call('MODULE', 'FOO')), "ERR unknown subcommand 'FOO'. Try MODULE HELP.");
  assert.is(await err(fx.io.call('MODULE', 'LIST', 'x')), "ERR wrong number of arguments for 'module|list' command");
});

const allowed = suite('module allowed');
let srv: RunningServer;
let io: Redis;
allowed.before(async () => {
  srv = await startServer({ args: ['--enable-module-command', 'yes'] });
  io = new Redis({ port: srv.port });
});
allowed.after(async () => {
  io.disconnect();
  await srv.stop();
});

allowed('a path is never a loadable module; no name is loaded', async () => {
  assert.is(await err(io.call('MODULE', 'LOAD', '/etc/passwd', 'a')), LOAD_FAILED);
  assert.is(await err(io.call('MODULE', 'LOADEX', '/tmp/x.so', 'CONFIG', 'a', 'b', 'ARGS', 'c')), LOAD_FAILED);
  assert.is(await err(io.call('MODULE', 'LOADEX', '/tmp/x.so', 'bogus')), LOAD_FAILED);
  assert.is(await err(io.call('MODULE', 'UNLOAD', 'foo')), 'ERR Error unloading module: no such module with that name');
  assert.equal(await io.call('MODULE', 'LIST'), []);
});

t.run();
allowed.run();
