// rename-command (valkey.conf / --rename-command) through real clients: the old name is an
// unknown command for clients, MULTI and scripts; the new name runs the command; "" removes it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { errorOf } from '../helpers/errors';
import { CLI, startServer, tempDir, type RunningServer } from '../helpers/server';

const t = suite('rename-command');
let srv: RunningServer;
let io: Redis;

t.before(async () => {
  // From a config file and from the command line, as valkey-server takes both.
  const dir = tempDir();
  const conf = path.join(dir, 'valkey.conf');
  fs.writeFileSync(conf, 'rename-command FLUSHALL wipe-all\nrename-command config cfg\n');
  srv = await startServer({ dir, configFile: conf, args: ['--rename-command', 'flushdb', ''] });
  io = new Redis({ port: srv.port });
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

t('the new name runs the command, the old one is unknown', async () => {
  await io.set('k', 'v');
  assert.is(await errorOf(io.call('flushall')), "ERR unknown command 'flushall', with args beginning with: ");
  assert.is(await io.get('k'), 'v');
  assert.is(await io.call('WIPE-ALL'), 'OK');
  assert.is(await io.get('k'), null);
});

t('an empty new name removes the command', async () => {
  assert.is(await errorOf(io.call('flushdb')), "ERR unknown command 'flushdb', with args beginning with: ");
});

t('a renamed host command runs under its new name (CONFIG as cfg)', async () => {
  assert.equal(await io.call('cfg', 'get', 'maxmemory'), ['maxmemory', '0']);
  assert.match(await errorOf(io.call('config', 'get', 'maxmemory')), /^ERR unknown command 'config'/);
});

t('MULTI queues neither the old name nor a removed command', async () => {
  const raw = new Redis({ port: srv.port });
  try {
    await raw.call('multi');
    assert.match(await errorOf(raw.call('flushall')), /^ERR unknown command 'flushall'/);
    assert.match(await errorOf(raw.call('exec')), /^EXECABORT/);
  } finally {
    raw.disconnect();
  }
});

t('scripts: redis.call of the old name fails as in Valkey, the new name works', async () => {
  await io.set('k', 'v');
  assert.match(await errorOf(io.eval("return redis.call('flushall')", 0)), /^ERR Unknown command called from script/);
  assert.match(await errorOf(io.eval("return redis.call('flushdb')", 0)), /^ERR Unknown command called from script/);
  assert.is(await io.get('k'), 'v');
  assert.is(await io.eval("return redis.call('wipe-all')", 0), 'OK');
  assert.is(await io.get('k'), null);
});

t('COMMAND counts a removed command out; ACL rules use the own name', async () => {
  const info = (await io.call('command', 'info', 'wipe-all', 'flushall')) as unknown[];
  assert.is((info[0] as unknown[])[0], 'flushall');
  assert.is(info[1], null);
  assert.is(await io.call('acl', 'setuser', 'u1', '+flushall'), 'OK');
  assert.match(await errorOf(io.call('acl', 'setuser', 'u2', '+wipe-all')), /Unknown command or category name in ACL/);
});

t('the AOF holds what clients sent and loads under the same renaming', async () => {
  const dir = tempDir();
  const args = ['--appendonly', 'yes', '--rename-command', 'set', 'put'];
  const first = await startServer({ dir, args });
  const c1 = new Redis({ port: first.port });
  assert.match(await errorOf(c1.call('set', 'k', 'v')), /^ERR unknown command 'set'/);
  assert.is(await c1.call('put', 'k', 'v'), 'OK');
  c1.disconnect();
  await first.stop();
  const again = await startServer({ dir, args });
  const c2 = new Redis({ port: again.port });
  try {
    assert.is(await c2.get('k'), 'v');
  } finally {
    c2.disconnect();
    await again.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('startup refuses an unknown command or a taken name with Valkey\'s message', () => {
  const run = (...args: string[]): string => {
    const r = spawnSync(process.execPath, [CLI, '--port', '0', ...args], { encoding: 'utf8', timeout: 20000 });
    assert.is(r.status, 1);
    return r.stderr;
  };
  assert.match(run('--rename-command', 'nosuch', 'x'), /No such command in rename-command/);
  assert.match(run('--rename-command', 'get', 'set'), /Target command name already exists/);
});

t.run();
