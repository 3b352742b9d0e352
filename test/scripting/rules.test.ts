// The rules a command called from a script obeys (Valkey's scriptCall), through a real
// client: the caller's ACL permissions (refusal text, ACL LOG context `lua`), writes on a
// read-only replica, and MISCONF after a failed background save, for EVAL and FCALL.
import * as fs from 'node:fs';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { startServer, tempDir, type RunningServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';

const t = suite('scripting-rules');

const LIB = `#!lua name=rules
server.register_function('setter', function(keys, args) return server.call('set', keys[1], args[1]) end)
server.register_function('getter', function(keys) return server.call('get', keys[1]) end)
server.register_function{function_name='ro_getter', callback=function(keys) return server.call('get', keys[1]) end, flags={'no-writes'}}`;

/** The INFO field `name` of `section`. */
async function infoField(io: Redis, section: string, name: string): Promise<string | undefined> {
  const text = await io.info(section);
  const line = text.split('\r\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
async function waitUntil(what: string, cond: () => Promise<boolean>, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** ACL LOG entries as objects (field -> value). */
async function aclLog(io: Redis): Promise<Array<Record<string, string>>> {
  const rows = (await io.call('ACL', 'LOG')) as unknown[][];
  return rows.map((row) => {
    const o: Record<string, string> = {};
    for (let i = 0; i + 1 < row.length; i += 2) o[String(row[i])] = String(row[i + 1]);
    return o;
  });
}

t('ACL: a script runs with its caller\'s permissions for commands, keys and channels (EVAL and FCALL)', async () => {
  const srv = await startServer();
  const admin = new Redis({ port: srv.port });
  const bob = new Redis({ port: srv.port, username: 'bob', password: 'pw', lazyConnect: true });
  try {
    await admin.call('ACL', 'SETUSER', 'bob', 'on', '>pw', '~a*', '&ch', '+@all', '-set');
    await admin.call('FUNCTION', 'LOAD', LIB);
    await bob.connect();
    const set = "return redis.call('set', 'a', '1')";
    const sha = (await admin.script('LOAD', set)) as string;
    assert.is(
      await errorOf(bob.eval(set, 0)),
      `ERR ACL failure in script: User bob has no permissions to run the 'set' command script: ${sha}, on @user_script:1.`,
    );
    assert.match(await errorOf(bob.eval("return redis.call('get', 'b')", 0)), /^ERR ACL failure in script: No permissions to access a key script: [0-9a-f]{40}, on @user_script:1\.$/);
    assert.match(await errorOf(bob.eval("return redis.call('publish', 'other', 'm')", 0)), /^ERR ACL failure in script: No permissions to access a channel script: /);
    // pcall returns the refusal as an error table, without the script's suffix.
    assert.is(await bob.eval("return redis.pcall('get', 'b')['err']", 0), 'ERR ACL failure in script: No permissions to access a key');
    assert.is(await bob.eval("return redis.call('get', 'a')", 0), null);
    assert.is(await bob.eval("return redis.call('publish', 'ch', 'm')", 0), 0);
    // Functions run with the caller's permissions too.
    assert.match(await errorOf(bob.call('FCALL', 'setter', '1', 'a', 'v')), /^ERR ACL failure in script: User bob has no permissions to run the 'set' command script: setter, on @user_function:2\.$/);
    // Declared keys are checked with FCALL itself, as a top-level command.
    assert.is(await errorOf(bob.call('FCALL', 'getter', '1', 'b')), 'NOPERM No permissions to access a key');
    // The default user may do all of it.
    assert.is(await admin.call('FCALL', 'setter', '1', 'b', 'v'), 'OK');
    // Newest first; a repeated refusal counts up and moves to the head.
    const log = await aclLog(admin);
    assert.equal(
      log.map((e) => [e.reason, e.context, e.object, e.username, e.count]),
      [
        ['key', 'toplevel', 'b', 'bob', '1'],
        ['command', 'lua', 'set', 'bob', '2'],
        ['key', 'lua', 'b', 'bob', '2'],
        ['channel', 'lua', 'other', 'bob', '1'],
      ],
    );
    assert.match(log[0]?.['client-info'] ?? '', /cmd=fcall/);
    assert.match(log[1]?.['client-info'] ?? '', /cmd=fcall/);
    assert.match(log[2]?.['client-info'] ?? '', /cmd=eval/);
  } finally {
    bob.disconnect();
    admin.disconnect();
    await srv.stop();
  }
});

t('READONLY on a read-only replica: at the write for a script without flags, up front for declared writes', async () => {
  const primary = await startServer({ args: ['--repl-diskless-sync-delay', '0'] });
  const replica = await startServer();
  const p = new Redis({ port: primary.port });
  const r = new Redis({ port: replica.port });
  try {
    await p.set('x', 'from primary');
    await p.call('FUNCTION', 'LOAD', LIB);
    await r.call('REPLICAOF', '127.0.0.1', String(primary.port));
    await waitUntil('the replica link', async () => (await infoField(r, 'replication', 'master_link_status')) === 'up' && (await r.get('x')) === 'from primary');
    assert.is(await r.eval("return redis.call('get', 'x')", 0), 'from primary');
    assert.match(await errorOf(r.eval("return redis.call('set', 'x', 'y')", 0)), /^READONLY You can't write against a read only replica\. script: [0-9a-f]{40}, on @user_script:1\.$/);
    assert.is(await r.eval("return redis.pcall('set', 'x', 'y')['err']", 0), "READONLY You can't write against a read only replica.");
    // A script that declares flags without no-writes is a write command itself.
    assert.is(await errorOf(r.eval("#!lua\nreturn redis.call('get', 'x')", 0)), "READONLY You can't write against a read only replica.");
    assert.is(await r.eval("#!lua flags=no-writes\nreturn redis.call('get', 'x')", 0), 'from primary');
    // Functions: the library arrived by replication; flags decide as for EVAL.
    assert.is(await errorOf(r.call('FCALL', 'getter', '1', 'x')), "READONLY You can't write against a read only replica.");
    assert.is(await r.call('FCALL', 'ro_getter', '1', 'x'), 'from primary');
    assert.is(await r.call('FCALL_RO', 'ro_getter', '1', 'x'), 'from primary');
    // The data is untouched.
    assert.is(await p.get('x'), 'from primary');
  } finally {
    p.disconnect();
    r.disconnect();
    await replica.stop();
    await primary.stop();
  }
});

t('MISCONF after a failed background save: refused at the write, or up front for declared writes', async () => {
  const dir = tempDir();
  const srv: RunningServer = await startServer({ dir, args: ['--save', '3600 1'] });
  const io = new Redis({ port: srv.port });
  try {
    await io.set('k', 'v');
    // The save fails: its directory is gone.
    fs.rmSync(dir, { recursive: true, force: true });
    await io.bgsave();
    await waitUntil('the failed save', async () => (await infoField(io, 'persistence', 'rdb_last_bgsave_status')) === 'err');
    assert.match(await errorOf(io.eval("return redis.call('set', 'k', 'w')", 0)), /^MISCONF .* script: [0-9a-f]{40}, on @user_script:1\.$/);
    assert.match(await errorOf(io.eval("#!lua\nreturn 1", 0)), /^MISCONF Valkey is configured to save RDB snapshots/);
    assert.is(await io.eval("return redis.call('get', 'k')", 0), 'v');
    assert.is(await io.eval("#!lua flags=no-writes\nreturn redis.call('get', 'k')", 0), 'v');
    assert.is(await io.get('k'), 'v');
  } finally {
    io.disconnect();
    fs.mkdirSync(dir, { recursive: true });
    await srv.stop();
  }
});

t.run();
