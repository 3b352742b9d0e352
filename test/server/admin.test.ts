// Connection and server commands: HELLO/AUTH/RESET/CLIENT, INFO, CONFIG, COMMAND, TIME,
// DEBUG, SHUTDOWN, through ioredis, node-redis, redis-cli and raw RESP.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { cmd, RawClient, show } from '../helpers/client';
import { redisCli } from '../helpers/cli';
import { errorOf } from '../helpers/errors';
import { infoFields } from '../helpers/info';
import { startServer, type RunningServer } from '../helpers/server';
import { commandTable } from '../../ts/native/core';
import { hostCommandNames } from '../../ts/commands';

const t = suite('admin');
let srv: RunningServer;
let io: Redis;

t.before(async () => {
  srv = await startServer();
  io = new Redis({ port: srv.port });
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});

const err = errorOf;


t('every host command in the table has a host handler', () => {
  const host = commandTable().filter((c) => c.host).map((c) => c.name);
  const handled = new Set(hostCommandNames());
  for (const name of host) assert.ok(handled.has(name), `no host handler for ${name}`);
});

t('INFO sections use Valkey field names and real values', async () => {
  await io.set('i1', 'v');
  await io.set('i2', 'v', 'EX', 100);
  const all = infoFields(await io.info());
  for (const f of ['redis_version', 'process_id', 'tcp_port', 'uptime_in_seconds', 'connected_clients', 'used_memory', 'used_memory_rss', 'maxmemory_policy', 'total_commands_processed', 'instantaneous_ops_per_sec', 'keyspace_hits', 'expired_keys', 'loading', 'rdb_changes_since_last_save', 'rdb_last_bgsave_status']) {
    assert.ok(all.has(f), `missing ${f}`);
  }
  assert.is(all.get('tcp_port'), String(srv.port));
  assert.is(all.get('process_id'), String(srv.pid));
  assert.is(all.get('db0'), 'keys=2,expires=1');
  // The keyspace's allocator (crates/forkv-napi, "The allocator"), counted by used_memory,
  // named with its version as Valkey 8.0.1 names its own ("jemalloc-5.3.0").
  assert.is(all.get('mem_allocator'), 'jemalloc-5.3.0');
  const server = await io.info('server');
  assert.ok(server.startsWith('# Server\r\n'));
  assert.not.match(server, /# Clients/);
  const two = await io.info('clients', 'keyspace');
  assert.match(two, /# Clients/);
  assert.match(two, /# Keyspace/);
  assert.not.match(two, /# Memory/);
  await io.del('i1', 'i2');
});

t('CONFIG GET with globs and several patterns; CONFIG SET several at once, atomically', async () => {
  const r = (await io.call('CONFIG', 'GET', 'maxmemory*', 'port')) as string[];
  const m = new Map<string, string>();
  for (let i = 0; i < r.length; i += 2) m.set(r[i] ?? '', r[i + 1] ?? '');
  assert.is(m.get('port'), String(srv.port));
  assert.is(m.get('maxmemory'), '0');
  assert.is(m.get('maxmemory-policy'), 'noeviction');
  assert.is(await io.call('CONFIG', 'SET', 'hz', '20', 'timeout', '300'), 'OK');
  assert.equal(await io.call('CONFIG', 'GET', 'hz'), ['hz', '20']);
  assert.is(
    await err(io.call('CONFIG', 'SET', 'timeout', '5', 'hz', 'fast')),
    "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer",
  );
  assert.equal(await io.call('CONFIG', 'GET', 'timeout'), ['timeout', '300']);
  assert.match(await err(io.call('CONFIG', 'SET', 'databases', '3')), /can't set immutable config/);
  assert.match(await err(io.call('CONFIG', 'SET', 'nosuch', '3')), /Unknown option or number of arguments for CONFIG SET - 'nosuch'/);
  await io.call('CONFIG', 'SET', 'hz', '10', 'timeout', '0');
  assert.is(await err(io.call('CONFIG', 'REWRITE')), 'ERR The server is running without a config file');
});

t('CONFIG SET proto-max-bulk-len is enforced by the core at once', async () => {
  await io.call('CONFIG', 'SET', 'proto-max-bulk-len', '1mb');
  const c = await RawClient.connect(srv.port);
  c.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n');
  assert.is(await c.readToClose(), '-ERR Protocol error: invalid bulk length\r\n');
  assert.is(await io.append('big', 'x'.repeat(600_000)), 600_000);
  assert.is(await err(io.append('big', 'x'.repeat(600_000))), 'ERR string exceeds maximum allowed size (proto-max-bulk-len)');
  await io.call('CONFIG', 'SET', 'proto-max-bulk-len', '512mb');
  await io.del('big');
});

t('CONFIG RESETSTAT clears counters', async () => {
  await io.get('nope');
  assert.is(await io.call('CONFIG', 'RESETSTAT'), 'OK');
  const s = infoFields(await io.info('stats'));
  assert.is(s.get('keyspace_misses'), '0');
});

t('COMMAND COUNT/INFO/DOCS/LIST/GETKEYS come from the table', async () => {
  const count = (await io.call('COMMAND', 'COUNT')) as number;
  assert.is(count, commandTable().length);
  const info = (await io.call('COMMAND', 'INFO', 'get', 'nosuchcmd')) as unknown[];
  const get = info[0] as unknown[];
  assert.is(get[0], 'get');
  assert.is(get[1], 2);
  assert.equal(get[2], ['readonly', 'fast']);
  assert.equal(get.slice(3, 6), [1, 1, 1]);
  assert.is(info[1], null);
  const list = (await io.call('COMMAND', 'LIST')) as string[];
  assert.ok(list.includes('config|get'));
  assert.ok(list.includes('set'));
  const docs = (await io.call('COMMAND', 'DOCS', 'set')) as unknown[];
  assert.is(docs[0], 'set');
  assert.equal(await io.call('COMMAND', 'GETKEYS', 'MSET', 'a', '1', 'b', '2'), ['a', 'b']);
  const all = (await io.call('COMMAND')) as unknown[];
  assert.is(all.length, count);
});

t('redis-cli works interactively against the command table (hints need COMMAND DOCS)', async () => {
  const r = await redisCli(srv.port, [], 'set cli1 v\nget cli1\nconfig get port\n');
  assert.is(r.stdout.trim(), `OK\nv\nport\n${srv.port}`);
});

t('CLIENT ID/SETNAME/GETNAME/SETINFO/INFO/LIST/KILL', async () => {
  const c = new Redis({ port: srv.port, connectionName: 'worker-1' });
  const id = (await c.call('CLIENT', 'ID')) as number;
  assert.is(await c.call('CLIENT', 'GETNAME'), 'worker-1');
  assert.is(await c.call('CLIENT', 'SETINFO', 'LIB-NAME', 'mylib'), 'OK');
  assert.is(await err(c.call('CLIENT', 'SETNAME', 'has space')), 'ERR Client names cannot contain spaces, newlines or special characters.');
  assert.is(await err(c.call('CLIENT', 'SETINFO', 'BAD', 'x')), "ERR Unrecognized option 'BAD'");
  await c.select(2);
  const me = (await c.call('CLIENT', 'INFO')) as string;
  assert.match(me, new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${srv.port} fd=\\d+ name=worker-1 `));
  assert.match(me, / db=2 /);
  assert.match(me, / lib-name=mylib /);
  assert.match(me, / cmd=client\|info /);
  const list = (await io.call('CLIENT', 'LIST')) as string;
  assert.match(list, /name=worker-1/);
  const only = (await io.call('CLIENT', 'LIST', 'ID', String(id))) as string;
  assert.is(only.trim().split('\n').length, 1);
  const closed = new Promise<void>((r) => c.once('end', () => r()));
  c.options.retryStrategy = () => null;
  assert.is(await io.call('CLIENT', 'KILL', 'ID', String(id)), 1);
  await closed;
  assert.is(await io.call('CLIENT', 'KILL', 'ID', '999999'), 0);
  assert.is(await err(io.call('CLIENT', 'KILL', '1.2.3.4:5')), 'ERR No such client');
});

t('AUTH with requirepass, HELLO AUTH/SETNAME, RESET deauthenticates', async () => {
  const s = await startServer({ args: ['--requirepass', 'pw'] });
  const c = await RawClient.connect(s.port);
  c.write(cmd('GET', 'x'));
  assert.is(await c.readUntil('\r\n'), '-NOAUTH Authentication required.\r\n');
  c.write(cmd('AUTH', 'wrong'));
  assert.is(await c.readUntil('\r\n'), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  c.write(cmd('HELLO', '3'));
  assert.match(await c.readUntil('\r\n'), /^-NOAUTH HELLO must be called with the client already authenticated/);
  c.write(cmd('HELLO', '3', 'AUTH', 'default', 'pw', 'SETNAME', 'h3'));
  assert.match(await c.readUntil('modules\r\n*0\r\n'), /^%7/);
  c.write(cmd('CLIENT', 'GETNAME'));
  assert.is(await c.readUntil('h3\r\n'), '$2\r\nh3\r\n');
  c.write(cmd('RESET'));
  assert.is(await c.readUntil('\r\n'), '+RESET\r\n');
  c.write(cmd('GET', 'x'));
  assert.is(await c.readUntil('\r\n'), '-NOAUTH Authentication required.\r\n');
  c.write(cmd('AUTH', 'default', 'pw'));
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  c.write(cmd('QUIT'));
  assert.is(await c.readToClose(), '+OK\r\n');
  const nr = createClient({ socket: { port: s.port, host: '127.0.0.1' }, password: 'pw', RESP: 3 });
  await nr.connect();
  assert.is(await nr.ping(), 'PONG');
  await nr.close();
  await s.stop();
  assert.is(await err(io.call('AUTH', 'x')), 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
});

t('TIME, ECHO, PING, DEBUG SLEEP/LOG and DEBUG gated by enable-debug-command', async () => {
  const [secs, micros] = (await io.call('TIME')) as string[];
  assert.ok(Math.abs(Number(secs) - Date.now() / 1000) < 5);
  assert.ok(Number(micros) < 1_000_000);
  assert.is(await io.echo('hi'), 'hi');
  assert.is(await io.ping('msg'), 'msg');
  const t0 = Date.now();
  assert.is(await io.call('DEBUG', 'SLEEP', '0.2'), 'OK');
  assert.ok(Date.now() - t0 >= 190);
  assert.is(await io.call('DEBUG', 'LOG', 'hello-from-test'), 'OK');
  await srv.waitFor(/DEBUG LOG: hello-from-test/);
  const s = await startServer({ args: ['--enable-debug-command', 'no'] });
  // Every subcommand is refused, HELP, the host's and unknown ones included (as Valkey 8.0.1).
  for (const argv of [['debug', 'digest'], ['debug', 'help'], ['debug', 'pause-cron', '0'], ['debug', 'nosuch']]) {
    const r = await redisCli(s.port, argv);
    assert.match(r.stdout, /^ERR DEBUG command not allowed\. If the enable-debug-command option is set to "local"/, argv.join(' '));
  }
  await s.stop();
});

t('DEBUG CONFIG-REWRITE-FORCE-ALL writes every directive into the config file, and the server starts again from it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkv-forceall-'));
  const conf = path.join(dir, 'forkv.conf');
  fs.writeFileSync(conf, 'hz 15\n');
  const s = await startServer({ configFile: conf, dir });
  const c = new Redis({ port: s.port });
  try {
    assert.is(await c.call('DEBUG', 'CONFIG-REWRITE-FORCE-ALL'), 'OK');
    const text = fs.readFileSync(conf, 'utf8');
    assert.match(text, /^hz 15$/m);
    assert.match(text, /^timeout 0$/m);
    assert.match(text, /^maxmemory-policy noeviction$/m);
    const before = (await c.config('GET', '*')) as string[];
    await s.stop();
    const again = await startServer({ configFile: conf, dir, port: s.port });
    const c2 = new Redis({ port: again.port });
    try {
      assert.equal(await c2.config('GET', '*'), before);
    } finally {
      c2.disconnect();
      await again.stop();
    }
  } finally {
    c.disconnect();
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const noFile = await errorOf(io.call('DEBUG', 'CONFIG-REWRITE-FORCE-ALL'));
  assert.is(noFile, 'ERR CONFIG-REWRITE-FORCE-ALL failed: The server is running without a config file');
});

t('CONFIG SET while the dataset loads: deny-loading directives answer LOADING, others apply', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkv-loading-'));
  const s = await startServer({ dir });
  const c = new Redis({ port: s.port });
  await c.call('DEBUG', 'POPULATE', '3000', 'key', '100');
  await c.save();
  c.disconnect();
  await s.stop();
  // 1 ms per key: the load takes about 3 s, serving clients meanwhile.
  const slow = await startServer({ dir, args: ['--key-load-delay', '1000', '--loading-process-events-interval-bytes', '1024', '--enable-protected-configs', 'yes'], waitReady: false });
  // Listening before the load starts, as Valkey.
  await slow.waitFor(/Server initialized/);
  const raw = await RawClient.connect(slow.port);
  try {
    assert.match(show(await raw.call('INFO', 'persistence')), /loading:1/);
    assert.is(show(await raw.call('CONFIG', 'SET', 'loglevel', 'debug')), '+OK');
    assert.is(show(await raw.call('CONFIG', 'GET', 'loglevel')), '*["loglevel", "debug"]');
    assert.is(show(await raw.call('CONFIG', 'SET', 'dir', dir)), '(error LOADING Valkey is loading the dataset in memory)');
    assert.match(show(await raw.call('INFO', 'persistence')), /loading:1/);
  } finally {
    raw.close();
    await slow.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('loading-process-events-interval-bytes: a load shorter than the interval answers commands after it, not with LOADING', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkv-loading-'));
  const s = await startServer({ dir });
  const c = new Redis({ port: s.port });
  await c.call('DEBUG', 'POPULATE', '1000', 'key');
  await c.save();
  c.disconnect();
  await s.stop();
  const size = fs.statSync(path.join(dir, 'dump.rdb')).size;
  assert.ok(size < 2 * 1024 * 1024, `${size} bytes: shorter than the default interval`);
  // 1 ms per key: about a second of loading with no event point (Valkey serves none either).
  const slow = await startServer({ dir, args: ['--key-load-delay', '1000'], waitReady: false });
  await slow.waitFor(/Server initialized/);
  const raw = await RawClient.connect(slow.port);
  try {
    const started = Date.now();
    assert.is(show(await raw.call('GET', 'key:999')), '"value:999"');
    assert.ok(Date.now() - started >= 300, 'answered once the load was done');
    assert.match(show(await raw.call('INFO', 'persistence')), /loading:0/);
  } finally {
    raw.close();
    await slow.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('always-show-logo: the ASCII logo with port and PID in the log; without it (and no TTY) one line', async () => {
  const logo = await startServer({ args: ['--always-show-logo', 'yes'] });
  try {
    const out = logo.output();
    assert.match(out, /Running in standalone mode/);
    assert.match(out, new RegExp(`^ +'-+' +PID: ${logo.pid}$`, 'm'));
    assert.match(out, new RegExp(`Port: ${logo.port}$`, 'm'));
    assert.not.match(out, /standalone mode, port/);
  } finally {
    await logo.stop();
  }
  const plain = await startServer();
  try {
    assert.match(plain.output(), new RegExp(`\\* forkv .*, 64 bit, standalone mode, port ${plain.port}, PID: ${plain.pid}$`, 'm'));
    assert.not.match(plain.output(), /Running in standalone mode/);
  } finally {
    await plain.stop();
  }
});

t('SHUTDOWN NOSAVE stops the process with exit code 0', async () => {
  const s = await startServer();
  const r = await redisCli(s.port, ['shutdown', 'nosave']);
  assert.is(r.stdout.trim(), '');
  const e = await s.exited;
  assert.is(e.code, 0);
});

t.run();
