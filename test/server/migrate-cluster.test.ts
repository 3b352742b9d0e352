// MIGRATE from forkv to a real valkey-server 8.0.1 and to another forkv (single key, COPY,
// REPLACE, KEYS, AUTH/AUTH2, NOKEY, TTLs, the cached connection in INFO, the DEL written to
// the AOF), and the standalone answers of the cluster commands (CLUSTER, ASKING, READONLY,
// READWRITE) and LOLWUT, through ioredis.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { useFleet } from '../helpers/fixture';
import { startServer, VALKEY_SERVER, type RunningServer } from '../helpers/server';
import { errOf, info, waitUntil } from '../persistence/util';

const t = suite('migrate-cluster');
const fleet = useFleet(t);
const connect = fleet.connect;

async function start(kind: 'forkv' | 'valkey', args: string[] = []): Promise<RunningServer> {
  const s = kind === 'forkv' ? await startServer({ args }) : await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...args] });
  return fleet.track(s);
}

for (const kind of ['valkey', 'forkv'] as const) {
  t(`MIGRATE moves, copies and replaces keys on a ${kind} target`, async () => {
    const src = await start('forkv');
    const dst = await start(kind);
    const a = connect(src.port);
    const b = connect(dst.port, 9);
    await a.set('key', 'Some Value');
    await a.rpush('list', 'a', 'b', 'c');
    await a.set('ttl', 'v', 'PX', 100000);
    await a.hset('h', 'f1', 'v1', 'f2', 'v2');

    assert.is((await info(a, 'stats')).get('migrate_cached_sockets'), '0');
    assert.is(await a.migrate('127.0.0.1', dst.port, 'key', 9, 5000), 'OK');
    assert.is((await info(a, 'stats')).get('migrate_cached_sockets'), '1');
    assert.is(await a.exists('key'), 0);
    assert.is(await b.get('key'), 'Some Value');

    // COPY keeps the source; without REPLACE the target's key is not overwritten.
    assert.is(await a.migrate('127.0.0.1', dst.port, '', 9, 5000, 'COPY', 'KEYS', 'list', 'ttl', 'missing'), 'OK');
    assert.equal(await a.lrange('list', 0, -1), ['a', 'b', 'c']);
    assert.equal(await b.lrange('list', 0, -1), ['a', 'b', 'c']);
    const pttl = await b.pttl('ttl');
    assert.ok(pttl > 90000 && pttl <= 100000, `TTL carried over: ${pttl}`);
    await a.rpush('list', 'd');
    assert.match(await errOf(a.migrate('127.0.0.1', dst.port, 'list', 9, 5000, 'COPY')), /^ERR Target instance replied with error: BUSYKEY/);
    assert.is(await a.exists('list'), 1);
    assert.is(await a.migrate('127.0.0.1', dst.port, 'list', 9, 5000, 'REPLACE'), 'OK');
    assert.equal(await b.lrange('list', 0, -1), ['a', 'b', 'c', 'd']);
    assert.is(await a.exists('list'), 0);

    assert.is(await a.migrate('127.0.0.1', dst.port, '', 9, 5000, 'REPLACE', 'KEYS', 'h', 'ttl'), 'OK');
    assert.equal(await b.hgetall('h'), { f1: 'v1', f2: 'v2' });
    assert.is(await a.dbsize(), 0);
    assert.is(await a.migrate('127.0.0.1', dst.port, 'nokey', 9, 5000), 'NOKEY');
  });
}

t('MIGRATE deletes only the keys the target acknowledged', async () => {
  const src = await start('forkv');
  const dst = await start('valkey');
  const a = connect(src.port);
  const b = connect(dst.port, 9);
  await a.mset('a', '1', 'b', '2', 'c', '3', 'd', '4');
  await b.mset('c', '_');
  const e = await errOf(a.migrate('127.0.0.1', dst.port, '', 9, 5000, 'KEYS', 'a', 'b', 'c', 'd'));
  assert.match(e, /BUSYKEY/);
  assert.equal((await a.keys('*')).sort(), ['c']);
  assert.is(await b.dbsize(), 4);
});

t('MIGRATE AUTH and AUTH2 to a valkey-server with a password', async () => {
  const src = await start('forkv');
  const dst = await start('valkey', ['--requirepass', 'foobar']);
  const a = connect(src.port);
  await a.rpush('list', 'a', 'b');
  assert.match(await errOf(a.migrate('127.0.0.1', dst.port, 'list', 9, 5000)), /^ERR Target instance replied with error: NOAUTH/);
  assert.is(await a.migrate('127.0.0.1', dst.port, 'list', 9, 5000, 'AUTH', 'foobar'), 'OK');
  await a.rpush('list', 'c');
  assert.match(await errOf(a.migrate('127.0.0.1', dst.port, 'list', 9, 5000, 'REPLACE', 'AUTH', 'nope')), /WRONGPASS/);
  assert.is(await a.migrate('127.0.0.1', dst.port, 'list', 9, 5000, 'REPLACE', 'AUTH2', 'default', 'foobar'), 'OK');
  const b = new Redis({ port: dst.port, db: 9, password: 'foobar', retryStrategy: () => null });
  try {
    assert.equal(await b.lrange('list', 0, -1), ['c']);
  } finally {
    b.disconnect();
  }
});

t('MIGRATE errors: argument checks, unreachable and silent targets', async () => {
  const src = await start('forkv');
  const a = connect(src.port);
  await a.set('key', 'v');
  assert.is(await errOf(a.migrate('127.0.0.1', 1, 'key', 'x', 5000)), 'ERR value is not an integer or out of range');
  assert.is(await errOf(a.call('MIGRATE', '127.0.0.1', '1', 'key', '0', '5000', 'bogus')), 'ERR syntax error');
  assert.is(
    await errOf(a.migrate('127.0.0.1', 1, 'key', 0, 5000, 'KEYS', 'key')),
    'ERR When using MIGRATE KEYS option, the key argument must be set to the empty string',
  );
  // A refused connection fails on the write, as Valkey's non-blocking connect does.
  const closed = await start('valkey');
  const port = closed.port;
  fleet.untrack(closed);
  await closed.stop('SIGKILL');
  assert.is(await errOf(a.migrate('127.0.0.1', port, 'key', 0, 500)), 'IOERR error or timeout writing to target instance');
  assert.is(await errOf(a.migrate('nosuchhost.invalid', 6379, 'key', 0, 500)), 'IOERR error or timeout connecting to the client');
  // A target that does not answer in time.
  const slow = await start('valkey');
  const s = connect(slow.port);
  void s.call('DEBUG', 'SLEEP', '1').catch(() => undefined);
  await new Promise((r) => setTimeout(r, 100));
  assert.match(await errOf(a.migrate('127.0.0.1', slow.port, 'key', 0, 300)), /^IOERR error or timeout reading to target instance/);
  assert.is(await a.exists('key'), 1);
});

t('MIGRATE is propagated as DEL of the moved keys; cached sockets close after 10 s idle', async () => {
  const src = await start('forkv', ['--appendonly', 'yes']);
  const dst = await start('forkv');
  const a = connect(src.port);
  await a.mset('k1', '1', 'k2', '2');
  assert.is(await a.migrate('127.0.0.1', dst.port, '', 0, 5000, 'KEYS', 'k1', 'k2'), 'OK');
  assert.is(await a.migrate('127.0.0.1', dst.port, 'k1', 0, 5000), 'NOKEY');
  const dir = path.join(src.dir, 'appendonlydir');
  const incr = fs.readdirSync(dir).find((f) => f.endsWith('.incr.aof'));
  assert.ok(incr);
  const aof = fs.readFileSync(path.join(dir, incr as string), 'latin1');
  assert.ok(aof.includes('*3\r\n$3\r\nDEL\r\n$2\r\nk1\r\n$2\r\nk2\r\n'), aof);
  assert.not.ok(/migrate/i.test(aof));
  assert.is((await info(a, 'stats')).get('migrate_cached_sockets'), '1');
  await waitUntil('the idle migrate socket to close', async () => (await info(a, 'stats')).get('migrate_cached_sockets') === '0', 15000, 250);
});

t('cluster commands answer as a standalone Valkey; READONLY sets the client flag', async () => {
  const s = await start('forkv');
  const a = connect(s.port);
  assert.is(await errOf(a.call('CLUSTER', 'INFO')), 'ERR This instance has cluster support disabled');
  assert.is(await errOf(a.call('CLUSTER', 'KEYSLOT', 'a')), 'ERR This instance has cluster support disabled');
  assert.is(await errOf(a.call('CLUSTER', 'nope')), "ERR unknown subcommand 'nope'. Try CLUSTER HELP.");
  assert.is(await errOf(a.call('CLUSTER', 'MYID', 'x')), "ERR wrong number of arguments for 'cluster|myid' command");
  assert.is(await errOf(a.call('ASKING')), 'ERR This instance has cluster support disabled');
  assert.is(await a.call('READONLY'), 'OK');
  assert.match(String(await a.call('CLIENT', 'INFO')), / flags=r /);
  assert.is(await a.call('READWRITE'), 'OK');
  assert.match(String(await a.call('CLIENT', 'INFO')), / flags=N /);
  const docs = (await a.call('COMMAND', 'INFO', 'cluster', 'restore-asking', 'migrate')) as unknown[][];
  assert.is((docs[0]?.[9] as unknown[]).length, 29);
  assert.equal(docs[1]?.[2], ['write', 'denyoom', 'asking']);
  assert.equal(docs[2]?.[2], ['write', 'movablekeys']);
});

t('LOLWUT prints the version line and the art of versions 5 and 6', async () => {
  const s = await start('forkv');
  const a = connect(s.port);
  assert.is(await a.call('LOLWUT'), 'Redis ver. 8.0.1\n');
  assert.is(await a.call('LOLWUT', 'VERSION', '7'), 'Redis ver. 8.0.1\n');
  const five = String(await a.call('LOLWUT', 'VERSION', '5', '10', '2', '2'));
  assert.ok(five.endsWith('\n\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 8.0.1\n'), five);
  // The top two rows are drawn without randomness: Valkey 8.0.1's first line.
  assert.is(five.split('\n')[0], '⠀⡤⠤⠤⠤⡤⠤⠤⠤⡄');
  const six = String(await a.call('LOLWUT', 'VERSION', '6', '30', '8'));
  const lines = six.split('\n');
  assert.is(lines.length, 8 + 3);
  assert.is(lines[0]?.split('\x1b[0m').length, 30 + 1);
  assert.ok(six.endsWith('Original 8 bit image from Plaguemon by hikikomori. Redis ver. 8.0.1\n'));
  assert.is(await errOf(a.call('LOLWUT', 'VERSION', 'x')), 'ERR value is not an integer or out of range');
  assert.is(await errOf(a.call('LOLWUT', 'VERSION', '5', 'x')), 'ERR value is not an integer or out of range');
});

t.run();
