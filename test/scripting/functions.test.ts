// Functions through the real server: FUNCTION LOAD/LIST/DUMP/RESTORE/DELETE/FLUSH/STATS,
// FCALL and FCALL_RO with node-redis and ioredis; the libraries survive a restart from the
// RDB file, from the AOF (RDB preamble or FUNCTION LOAD commands), and DEBUG RELOAD; DUMP
// payloads and RDB files with libraries cross with redis-server 7.0.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { startRedis, startServer, tempDir, type RunningServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';

const t = suite('functions');

const LIB = [
  '#!lua name=mylib',
  "local function key_of(keys) return keys[1] end",
  "server.register_function('myset', function(keys, args) return server.call('SET', key_of(keys), args[1]) end)",
  "server.register_function{function_name='myget', callback=function(keys) return server.call('GET', keys[1]) end,",
  "  flags={'no-writes'}, description='reads a key'}",
].join('\n');

async function io(port: number): Promise<Redis> {
  const c = new Redis({ port, lazyConnect: true });
  await c.connect();
  return c;
}

t('node-redis functionLoad, fCall, fCallRo, functionList, functionStats', async () => {
  const srv = await startServer();
  const client = createClient({ socket: { port: srv.port } });
  await client.connect();
  try {
    assert.is(await client.functionLoad(LIB), 'mylib');
    assert.is(await client.fCall('myset', { keys: ['k'], arguments: ['v1'] }), 'OK');
    assert.is(await client.fCallRo('MYGET', { keys: ['k'], arguments: [] }), 'v1');
    const list = await client.functionList();
    assert.is(list.length, 1);
    assert.is(list[0].library_name, 'mylib');
    assert.is(list[0].engine, 'LUA');
    const fns = list[0].functions.map((f) => [f.name, f.description, [...f.flags]]);
    assert.equal(fns, [['myset', null, []], ['myget', 'reads a key', ['no-writes']]]);
    const withCode = await client.functionListWithCode();
    assert.is(withCode[0].library_code, LIB);
    assert.equal(await client.functionStats(), { running_script: null, engines: { LUA: { libraries_count: 1, functions_count: 2 } } });
    const e = await errorOf(client.fCallRo('myset', { keys: ['k'], arguments: ['x'] }));
    assert.is(e, 'ERR Can not execute a script with write flag using *_ro command.');
    assert.is(await client.functionLoad(LIB.replace("'v1'", "'v2'"), { REPLACE: true }), 'mylib');
    assert.is(await client.functionDelete('mylib'), 'OK');
    assert.equal(await client.functionList(), []);
  } finally {
    await client.quit();
    await srv.stop();
  }
});

t('ioredis: errors name the function and line; DUMP/RESTORE policies; FLUSH; INFO', async () => {
  const srv = await startServer();
  const c = await io(srv.port);
  try {
    await c.call('FUNCTION', 'LOAD', "#!lua name=bad\nserver.register_function('boom', function()\n  error('no')\nend)");
    assert.is(await errorOf(c.call('FCALL', 'boom', '0')), 'ERR user_function:3: no script: boom, on @user_function:3.');
    assert.is(
      await errorOf(c.call('FUNCTION', 'LOAD', "#!lua name=x\nserver.register_function('f', 'not a function')")),
      'ERR Error registering functions: ERR second argument to server.register_function must be a function',
    );
    assert.is(await errorOf(c.call('FUNCTION', 'LOAD', '#!lua name=x\nreturn 1')), 'ERR No functions registered');
    assert.is(await c.call('FUNCTION', 'DELETE', 'bad'), 'OK');
    assert.is(await c.call('FUNCTION', 'LOAD', LIB), 'mylib');
    const payload = (await c.callBuffer('FUNCTION', 'DUMP')) as Buffer;
    assert.is(await errorOf(c.call('FUNCTION', 'RESTORE', payload)), 'ERR Library mylib already exists');
    assert.is(await c.call('FUNCTION', 'RESTORE', payload, 'REPLACE'), 'OK');
    assert.is(await c.call('FUNCTION', 'FLUSH', 'SYNC'), 'OK');
    assert.is(await c.call('FUNCTION', 'RESTORE', payload), 'OK');
    assert.is(await c.call('FCALL', 'myset', '1', 'a', 'b'), 'OK');
    // FLUSHALL leaves the libraries alone.
    await c.flushall();
    const info = await c.info('memory');
    assert.match(info, /\r\nnumber_of_functions:2\r\n/);
    assert.match(info, /\r\nnumber_of_libraries:1\r\n/);
    assert.match(info, /\r\nused_memory_vm_functions:[1-9]\d*\r\n/);
    assert.match(info, /\r\nnumber_of_cached_scripts:0\r\n/);
  } finally {
    c.disconnect();
    await srv.stop();
  }
});

t('libraries survive a restart from the RDB file and DEBUG RELOAD', async () => {
  const dir = tempDir();
  let srv = await startServer({ dir });
  let c = await io(srv.port);
  await c.call('FUNCTION', 'LOAD', LIB);
  await c.set('k', 'v');
  assert.is(await c.call('DEBUG', 'RELOAD'), 'OK');
  assert.is(await c.call('FCALL', 'myget', '1', 'k'), 'v');
  assert.match(await errorOf(c.call('DEBUG', 'RELOAD', 'NOFLUSH')), /Error trying to load the RDB/);
  assert.is(await c.call('DEBUG', 'RELOAD', 'NOFLUSH', 'MERGE'), 'OK');
  assert.is(await c.call('SAVE'), 'OK');
  c.disconnect();
  await srv.stop();
  srv = await startServer({ dir });
  c = await io(srv.port);
  try {
    assert.is(await c.call('FCALL', 'myget', '1', 'k'), 'v');
  } finally {
    c.disconnect();
    await srv.stop();
  }
});

for (const preamble of ['yes', 'no']) {
  t(`libraries survive an AOF restart (aof-use-rdb-preamble ${preamble}), loads and deletes replayed`, async () => {
    const dir = tempDir();
    const args = ['--appendonly', 'yes', '--aof-use-rdb-preamble', preamble];
    let srv = await startServer({ dir, args });
    let c = await io(srv.port);
    await c.call('FUNCTION', 'LOAD', LIB);
    await c.call('FUNCTION', 'LOAD', "#!lua name=gone\nserver.register_function('g', function() return 1 end)");
    await c.call('FCALL', 'myset', '1', 'k', 'v');
    // The rewrite puts the libraries in the base; the delete after it is in the incr file.
    await c.bgrewriteaof();
    await srv.waitFor(/Background AOF rewrite finished successfully/);
    await c.call('FUNCTION', 'DELETE', 'gone');
    c.disconnect();
    await srv.stop();
    srv = await startServer({ dir, args });
    c = await io(srv.port);
    try {
      assert.is(await c.call('FCALL', 'myget', '1', 'k'), 'v');
      assert.is(await errorOf(c.call('FCALL', 'g', '0')), 'ERR Function not found');
    } finally {
      c.disconnect();
      await srv.stop();
    }
  });
}

t('DUMP payloads and RDB files with libraries cross with redis-server 7.0', async () => {
  const lib = "#!lua name=crosslib\nredis.register_function('cross', function(keys, args) return 'hi ' .. args[1] end)";
  const dir = tempDir();
  const redis: RunningServer = await startRedis([], dir);
  const ours = await startServer();
  const r = await io(redis.port);
  const c = await io(ours.port);
  try {
    await r.call('FUNCTION', 'LOAD', lib);
    const theirs = (await r.callBuffer('FUNCTION', 'DUMP')) as Buffer;
    assert.is(await c.call('FUNCTION', 'RESTORE', theirs), 'OK');
    assert.is(await c.call('FCALL', 'cross', '0', 'forkv'), 'hi forkv');
    const mine = (await c.callBuffer('FUNCTION', 'DUMP')) as Buffer;
    await r.call('FUNCTION', 'FLUSH');
    assert.is(await r.call('FUNCTION', 'RESTORE', mine), 'OK');
    assert.is(await r.call('FCALL', 'cross', '0', 'redis'), 'hi redis');
    // redis-server's RDB file with the library loads in forkv.
    await r.call('SAVE');
    r.disconnect();
    await redis.stop();
    const fromRedis = await startServer({ dir, args: ['--dbfilename', 'dump.rdb'] });
    const f = await io(fromRedis.port);
    try {
      assert.is(await f.call('FCALL', 'cross', '0', 'file'), 'hi file');
    } finally {
      f.disconnect();
      await fromRedis.stop();
    }
  } finally {
    c.disconnect();
    await ours.stop();
  }
});

t.run();
