// ACL through real clients: users with passwords, AUTH / HELLO AUTH / RESET, NOPERM for
// commands, keys and channels (also inside MULTI), the ACL command family, the aclfile
// and `user` directives of the config file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { cmd, RawClient } from '../helpers/client';
import { errorOf } from '../helpers/errors';
import { startServer, tempDir, type RunningServer } from '../helpers/server';

const t = suite('acl');
let srv: RunningServer;
let admin: Redis;

t.before(async () => {
  srv = await startServer();
  admin = new Redis({ port: srv.port });
});
t.after(async () => {
  admin.disconnect();
  await srv.stop();
});

const PW_HASH = '30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4'; // sha256("pw")

t('SETUSER / LIST / GETUSER print Valkey canonical rules', async () => {
  assert.is(await admin.call('ACL', 'SETUSER', 'alice', 'on', '>pw', '~foo*', '%R~r*', '&ch*', '+get', '+@hash', '-hset', '+client|id'), 'OK');
  const list = (await admin.call('ACL', 'LIST')) as string[];
  assert.equal(list, [
    `user alice on sanitize-payload #${PW_HASH} ~foo* %R~r* resetchannels &ch* -@all +get +@hash -hset +client|id`,
    'user default on nopass sanitize-payload ~* &* +@all',
  ]);
  const u = (await admin.call('ACL', 'GETUSER', 'alice')) as unknown[];
  assert.equal(u, ['flags', ['on', 'sanitize-payload'], 'passwords', [PW_HASH], 'commands', '-@all +get +@hash -hset +client|id', 'keys', '~foo* %R~r*', 'channels', '&ch*', 'selectors', []]);
  assert.is(await admin.call('ACL', 'GETUSER', 'nobody'), null);
  assert.equal(await admin.call('ACL', 'USERS'), ['alice', 'default']);
  assert.is(await errorOf(admin.call('ACL', 'SETUSER', 'bob', '+nosuch')), "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL");
  assert.equal(await admin.call('ACL', 'USERS'), ['alice', 'default'], 'a failed SETUSER creates nothing');
});

t('AUTH user pass, NOPERM for commands, keys and channels, ACL LOG', async () => {
  await admin.call('ACL', 'LOG', 'RESET');
  const c = new Redis({ port: srv.port, username: 'alice', password: 'pw' });
  assert.is(await c.call('ACL', 'WHOAMI').catch((e: Error) => e.message), "NOPERM User alice has no permissions to run the 'acl|whoami' command");
  assert.is(await errorOf(c.set('foo', '1')), "NOPERM User alice has no permissions to run the 'set' command");
  assert.is(await c.get('foo1'), null);
  assert.is(await errorOf(c.get('zzz')), 'NOPERM No permissions to access a key');
  assert.is(await c.hget('r1', 'f'), null, '%R~ allows reading');
  assert.is(await errorOf(c.hset('r1', 'f', 'v')), "NOPERM User alice has no permissions to run the 'hset' command");
  assert.is(await errorOf(c.hincrby('r1', 'f', 1)), 'NOPERM No permissions to access a key', '%R~ does not allow writing');
  assert.is(await c.hincrby('foo2', 'f', 1), 1);
  await admin.call('ACL', 'SETUSER', 'alice', '+publish');
  assert.is(await c.publish('chan', 'm'), 0);
  assert.is(await errorOf(c.publish('other', 'm')), 'NOPERM No permissions to access a channel');
  // MULTI: a refused command fails the transaction.
  const m = await c.multi().get('foo1').get('zzz').exec().catch((e: Error) => e.message);
  assert.match(String(m), /EXECABORT/);
  const log = (await admin.call('ACL', 'LOG')) as unknown[][];
  // (ioredis' ready check, INFO, was refused too: find the key refusal.)
  const first = log.find((e) => e[3] === 'key' && e[7] === 'zzz') ?? [];
  const entry = new Map<string, unknown>();
  for (let i = 0; i < first.length; i += 2) entry.set(String(first[i]), first[i + 1]);
  assert.is(entry.get('reason'), 'key');
  assert.is(entry.get('object'), 'zzz');
  assert.is(entry.get('username'), 'alice');
  assert.is(entry.get('context'), 'toplevel');
  assert.is(entry.get('count'), 2, 'the same refusal twice is one entry');
  assert.match(String(entry.get('client-info')), /user=alice/);
  const reasons = log.map((e) => e[3]);
  assert.ok(reasons.includes('channel') && reasons.includes('command'));
  c.disconnect();
});

t('AUTH errors, HELLO AUTH, RESET and requirepass as the default password', async () => {
  assert.is(await errorOf(admin.call('AUTH', 'alice', 'bad')), 'WRONGPASS invalid username-password pair or user is disabled.');
  assert.is(await errorOf(admin.call('AUTH', 'x')), 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  await admin.call('ACL', 'SETUSER', 'carol', 'off', '>pw', '+@all', '~*');
  assert.is(await errorOf(admin.call('AUTH', 'carol', 'pw')), 'WRONGPASS invalid username-password pair or user is disabled.', 'a disabled user cannot log in');
  assert.is(await admin.call('ACL', 'WHOAMI'), 'default', 'a failed AUTH keeps the current user');
  const raw = await RawClient.connect(srv.port);
  raw.write(cmd('HELLO', '3', 'AUTH', 'alice', 'pw'));
  assert.match(await raw.readUntil('modules\r\n*0\r\n'), /^%7/);
  raw.write(cmd('CLIENT', 'ID'));
  assert.match(await raw.readUntil('\r\n'), /^:\d+\r\n$/);
  raw.write(cmd('CLIENT', 'LIST'));
  assert.is(await raw.readUntil('\r\n'), "-NOPERM User alice has no permissions to run the 'client|list' command\r\n");
  raw.write(cmd('RESET'));
  assert.is(await raw.readUntil('+RESET\r\n'), '+RESET\r\n');
  raw.write(cmd('ACL', 'WHOAMI'));
  assert.is(await raw.readUntil('default\r\n'), '$7\r\ndefault\r\n');
  raw.write(cmd('QUIT'));
  await raw.readToClose();
  // requirepass is the default user's password.
  assert.is(await admin.config('SET', 'requirepass', 'sec'), 'OK');
  assert.match(((await admin.call('ACL', 'LIST')) as string[]).find((l) => l.startsWith('user default')) ?? '', /^user default on sanitize-payload #[0-9a-f]{64} ~\* &\* \+@all$/);
  const fresh = await RawClient.connect(srv.port);
  fresh.write(cmd('GET', 'x'));
  assert.is(await fresh.readUntil('\r\n'), '-NOAUTH Authentication required.\r\n');
  fresh.write(cmd('AUTH', 'sec'));
  assert.is(await fresh.readUntil('\r\n'), '+OK\r\n');
  fresh.write(cmd('QUIT'));
  await fresh.readToClose();
  const nr = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, username: 'alice', password: 'pw', RESP: 3 });
  await nr.connect();
  assert.is(await nr.get('foo9'), null);
  await nr.close();
  assert.is(await admin.config('SET', 'requirepass', ''), 'OK');
});

t('DRYRUN, CAT, GENPASS, DELUSER', async () => {
  assert.is(await admin.call('ACL', 'DRYRUN', 'alice', 'get', 'foo'), 'OK');
  assert.is(await admin.call('ACL', 'DRYRUN', 'alice', 'set', 'foo', '1'), "User alice has no permissions to run the 'set' command");
  assert.is(await admin.call('ACL', 'DRYRUN', 'alice', 'get', 'bar'), "User alice has no permissions to access the 'bar' key");
  assert.is(await errorOf(admin.call('ACL', 'DRYRUN', 'nobody', 'get', 'x')), "ERR User 'nobody' not found");
  assert.is(await errorOf(admin.call('ACL', 'DRYRUN', 'alice', 'nosuch', 'x')), "ERR Command 'nosuch' not found");
  const cats = (await admin.call('ACL', 'CAT')) as string[];
  assert.is(cats.length, 21);
  assert.ok(((await admin.call('ACL', 'CAT', 'hash')) as string[]).includes('hset'));
  assert.is(await errorOf(admin.call('ACL', 'CAT', 'nosuch')), "ERR Unknown category 'nosuch'");
  assert.match(String(await admin.call('ACL', 'GENPASS')), /^[0-9a-f]{64}$/);
  assert.match(String(await admin.call('ACL', 'GENPASS', '5')), /^[0-9a-f]{2}$/);
  assert.is(await errorOf(admin.call('ACL', 'DELUSER', 'default')), "ERR The 'default' user cannot be removed");
  assert.is(await admin.call('ACL', 'DELUSER', 'carol', 'nobody'), 1);
  assert.ok(((await admin.call('COMMAND', 'INFO', 'get')) as unknown[][])[0]?.[6] instanceof Array);
  assert.equal(((await admin.call('COMMAND', 'INFO', 'get')) as unknown[][])[0]?.[6], ['@read', '@string', '@fast']);
});

/** Resolves when the connection closes (the server dropped it). */
const closed = (c: Redis): Promise<void> => new Promise((resolve) => c.once('end', () => resolve()));

t('revoking a channel (SETUSER) or the user (ACL LOAD without it) closes its subscribers; others stay', async () => {
  await admin.call('ACL', 'SETUSER', 'sub', 'on', 'nopass', '+@all', '~*', 'resetchannels', '&news*', '&keep');
  const quiet = { port: srv.port, username: 'sub', password: 'x', maxRetriesPerRequest: 0, retryStrategy: () => null };
  const news = new Redis(quiet);
  const keep = new Redis(quiet);
  const pat = new Redis(quiet);
  await news.subscribe('news1');
  await keep.subscribe('keep');
  await pat.psubscribe('news*');
  const gone = Promise.all([closed(news), closed(pat)]);
  // &news* is gone: the channel subscriber and the pattern subscriber are closed at once.
  await admin.call('ACL', 'SETUSER', 'sub', 'resetchannels', '&keep');
  await gone;
  assert.is(keep.status, 'ready');
  const got = new Promise<string>((resolve) => keep.once('message', (_ch: string, m: string) => resolve(m)));
  await admin.publish('keep', 'still here');
  assert.is(await got, 'still here');
  // DELUSER closes the user's connections even when they send nothing.
  const keepGone = closed(keep);
  assert.is(await admin.call('ACL', 'DELUSER', 'sub'), 1);
  await keepGone;
});

t('acl-pubsub-default: new users, selectors and reset follow it; existing users keep their channels', async () => {
  await admin.call('ACL', 'SETUSER', 'old-user', 'on');
  await admin.config('SET', 'acl-pubsub-default', 'allchannels');
  try {
    await admin.call('ACL', 'SETUSER', 'new-user', 'on', '(+get)');
    const u = (await admin.call('ACL', 'GETUSER', 'new-user')) as unknown[];
    // GETUSER: flags, passwords, commands, keys, channels (index 9), selectors (11).
    assert.is(u[9], '&*');
    assert.equal(u[11], [['commands', '-@all +get', 'keys', '', 'channels', '&*']]);
    assert.is(((await admin.call('ACL', 'GETUSER', 'old-user')) as unknown[])[9], '');
    assert.match(await errorOf(admin.call('ACL', 'SETUSER', 'one-channel', '&test')), /start with an empty list of channels/);
    await admin.call('ACL', 'SETUSER', 'old-user', 'reset');
    assert.is(((await admin.call('ACL', 'GETUSER', 'old-user')) as unknown[])[9], '&*');
  } finally {
    await admin.config('SET', 'acl-pubsub-default', 'resetchannels');
  }
  await admin.call('ACL', 'DELUSER', 'old-user', 'new-user');
});

t('shard channels are checked as channels; HELLO tries only its last AUTH; INFO acl_access_denied_*', async () => {
  await admin.config('RESETSTAT');
  await admin.call('ACL', 'SETUSER', 'shard', 'on', '>pw', '+@all', 'resetkeys', '&allowed*');
  const c = new Redis({ port: srv.port, username: 'shard', password: 'pw' });
  try {
    assert.is(await c.call('SPUBLISH', 'allowed1', 'm'), 0);
    assert.is(await errorOf(c.call('SPUBLISH', 'other', 'm')), 'NOPERM No permissions to access a channel');
    assert.is(await errorOf(c.get('k')), 'NOPERM No permissions to access a key');
    assert.is(await errorOf(c.call('ACL', 'CAT', 'a', 'b')), "ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.");
    // Only the last AUTH of a HELLO counts, whatever the earlier ones were.
    assert.ok(await c.call('HELLO', '2', 'AUTH', 'shard', 'wrong', 'AUTH', 'default', 'x', 'AUTH', 'shard', 'pw'));
    assert.is(await c.call('ACL', 'WHOAMI'), 'shard');
    assert.match(await errorOf(c.call('HELLO', '2', 'AUTH', 'shard', 'pw', 'AUTH', 'shard', 'wrong')), /^WRONGPASS/);
    assert.is(await c.call('ACL', 'WHOAMI'), 'shard');
    const info = await admin.info('stats');
    assert.match(info, /acl_access_denied_auth:1\r\n/);
    assert.match(info, /acl_access_denied_cmd:0\r\n/);
    assert.match(info, /acl_access_denied_key:1\r\n/);
    assert.match(info, /acl_access_denied_channel:1\r\n/);
  } finally {
    c.disconnect();
    await admin.call('ACL', 'DELUSER', 'shard');
  }
});

t('aclfile: loaded at start, ACL SAVE / ACL LOAD round trip, errors leave users as they were', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'users.acl');
  fs.writeFileSync(file, 'user bob on >pw ~b* +@read\n');
  const s = await startServer({ args: ['--aclfile', file] });
  const r = new Redis({ port: s.port });
  assert.equal(await r.call('ACL', 'USERS'), ['bob', 'default']);
  await r.call('ACL', 'SETUSER', 'dave', 'on', 'nopass', '+ping');
  assert.is(await r.call('ACL', 'SAVE'), 'OK');
  const saved = fs.readFileSync(file, 'utf8');
  assert.is(saved, `user bob on sanitize-payload #${PW_HASH} ~b* resetchannels -@all +@read\nuser dave on nopass sanitize-payload resetchannels -@all +ping\nuser default on nopass sanitize-payload ~* &* +@all\n`);
  fs.writeFileSync(file, `${saved}user eve on nosuch\n`);
  assert.is(await errorOf(r.call('ACL', 'LOAD')), `ERR ${file}:4: Syntax error. WARNING: ACL errors detected, no change to the previously active ACL rules was performed`);
  fs.writeFileSync(file, 'user bob on >pw ~b* +@read\n');
  assert.is(await r.call('ACL', 'LOAD'), 'OK');
  assert.equal(await r.call('ACL', 'USERS'), ['bob', 'default']);
  r.disconnect();
  await s.stop();
  // Without an aclfile.
  assert.match(await errorOf(admin.call('ACL', 'SAVE')), /^ERR This instance is not configured to use an ACL file/);
});

t('user directives in the config file; with an aclfile too the server refuses to start', async () => {
  const dir = tempDir();
  const conf = path.join(dir, 'forkv.conf');
  fs.writeFileSync(conf, 'user default on >sec ~* &* +@all\nuser ro on >ro %R~* +@read\n');
  const s = await startServer({ configFile: conf });
  const ro = new Redis({ port: s.port, username: 'ro', password: 'ro' });
  assert.is(await ro.get('x'), null);
  assert.is(await errorOf(ro.set('x', '1')), "NOPERM User ro has no permissions to run the 'set' command");
  ro.disconnect();
  await s.stop();
  fs.writeFileSync(path.join(dir, 'u.acl'), '');
  const bad = await startServer({ configFile: conf, args: ['--aclfile', path.join(dir, 'u.acl')], waitReady: false });
  const { code } = await bad.exited;
  assert.is(code, 1);
  assert.match(bad.output(), /users defined in valkey.conf and at the same setting an ACL file path is invalid/);
});

t('a user declared twice in the config stops the start, as in Valkey', async () => {
  for (const name of ['foo', 'default']) {
    const bad = await startServer({ args: ['--user', name, '--user', name], waitReady: false });
    const { code } = await bad.exited;
    assert.is(code, 1);
    assert.match(bad.output(), `Error in user declaration '${name}': Duplicate user found. The user can only be defined once in config files`);
  }
});

t.run();
