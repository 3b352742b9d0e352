// Lazy freeing (Valkey's lazyfree.c): UNLINK, FLUSHALL/FLUSHDB ASYNC and the deletions the
// lazyfree-lazy-* directives name hand a big value (free effort above 64) to a background
// thread; INFO's lazyfreed_objects counts what it freed. Each directive is tested both
// ways, so a directive accepted and ignored fails here; and the memory really comes back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { useFleet } from '../helpers/fixture';
import { startServer } from '../helpers/server';
import { errOf, info, waitNoChild, waitUntil } from '../persistence/util';

const t = suite('lazyfree');
const fleet = useFleet(t);

async function server(args: string[] = []): Promise<Redis> {
  const s = fleet.track(await startServer({ args }));
  return fleet.connect(s.port);
}

/** A set of `n` members: a hash table past 128 members, free effort n. */
async function bigSet(io: Redis, key: string, n = 1000): Promise<void> {
  const members: string[] = [];
  for (let i = 0; i < n; i++) members.push(`member:${i}`);
  await io.sadd(key, ...members);
}

async function memory(io: Redis, field: string): Promise<number> {
  return Number((await info(io, 'memory')).get(field));
}

/** Waits until nothing is pending, then returns lazyfreed_objects. */
async function freedInBackground(io: Redis): Promise<number> {
  await waitUntil('the background frees', async () => (await memory(io, 'lazyfree_pending_objects')) === 0, 5000, 10);
  return memory(io, 'lazyfreed_objects');
}

t('UNLINK frees a big value in the background and a small one at once; the memory comes back', async () => {
  const io = await server();
  await io.call('CONFIG', 'RESETSTAT');
  const before = await memory(io, 'used_memory');
  await bigSet(io, 'big', 20000);
  const peak = await memory(io, 'used_memory');
  assert.ok(peak > before + 500_000, `${before} -> ${peak}`);
  assert.is(await io.unlink('big'), 1);
  assert.is(await freedInBackground(io), 1);
  await waitUntil('used_memory back down', async () => (await memory(io, 'used_memory')) < before + 200_000, 5000, 20);
  await io.sadd('small', 'a', 'b', 'c');
  await io.rpush('list', 'a', 'b');
  assert.is(await io.unlink('small', 'list', 'missing'), 2);
  assert.is(await freedInBackground(io), 1);
});

t('lazyfree-lazy-user-del: DEL frees as UNLINK does under yes, at once under no', async () => {
  for (const [lazy, want] of [['yes', 1], ['no', 0]] as const) {
    const io = await server(['--lazyfree-lazy-user-del', lazy]);
    await bigSet(io, 'big');
    assert.is(await io.del('big'), 1);
    assert.is(await freedInBackground(io), want, `lazyfree-lazy-user-del ${lazy}`);
  }
});

t('FLUSHALL/FLUSHDB: ASYNC hands over every key, SYNC none; without either lazyfree-lazy-user-flush decides', async () => {
  const io = await server(['--lazyfree-lazy-user-flush', 'no']);
  const fill = async (): Promise<void> => {
    await io.call('DEBUG', 'POPULATE', '100');
  };
  const flushed = async (cmd: string[]): Promise<number> => {
    await io.call('CONFIG', 'RESETSTAT');
    await fill();
    assert.is(await io.call(cmd[0]!, ...cmd.slice(1)), 'OK');
    assert.is(await io.dbsize(), 0);
    return freedInBackground(io);
  };
  assert.is(await flushed(['FLUSHALL', 'ASYNC']), 100);
  assert.is(await flushed(['FLUSHDB', 'ASYNC']), 100);
  assert.is(await flushed(['FLUSHALL', 'SYNC']), 0);
  assert.is(await flushed(['FLUSHALL']), 0);
  assert.is(await io.config('SET', 'lazyfree-lazy-user-flush', 'yes'), 'OK');
  assert.is(await flushed(['FLUSHALL']), 100);
  assert.is(await flushed(['FLUSHDB']), 100);
  assert.match(await errOf(io.call('FLUSHALL', 'LATER')), /syntax error/);
});

t('lazyfree-lazy-server-del: a big value overwritten by SET is freed in the background under yes only', async () => {
  for (const [lazy, want] of [['yes', 1], ['no', 0]] as const) {
    const io = await server(['--lazyfree-lazy-server-del', lazy]);
    await bigSet(io, 'k');
    assert.is(await io.set('k', 'a string now'), 'OK');
    assert.is(await freedInBackground(io), want, `lazyfree-lazy-server-del ${lazy}`);
  }
});

t('lazyfree-lazy-expire: a big value whose TTL passed is freed in the background under yes only', async () => {
  for (const [lazy, want] of [['yes', 1], ['no', 0]] as const) {
    const io = await server(['--lazyfree-lazy-expire', lazy]);
    await bigSet(io, 'k');
    await io.pexpire('k', 20);
    await waitUntil('the key expired', async () => (await io.exists('k')) === 0, 5000, 20);
    assert.is(await freedInBackground(io), want, `lazyfree-lazy-expire ${lazy}`);
  }
});

t('lazyfree-lazy-eviction: an evicted big value is freed in the background under yes only', async () => {
  for (const [lazy, want] of [['yes', 1], ['no', 0]] as const) {
    const io = await server(['--lazyfree-lazy-eviction', lazy, '--maxmemory-policy', 'allkeys-random']);
    await bigSet(io, 'k', 5000);
    const used = await memory(io, 'used_memory');
    await io.config('SET', 'maxmemory', String(used - 100_000));
    await waitUntil('the key was evicted', async () => (await io.exists('k')) === 0, 5000, 20);
    assert.is(await freedInBackground(io), want, `lazyfree-lazy-eviction ${lazy}`);
  }
});

t('SCRIPT FLUSH / FUNCTION FLUSH count more than 64 scripts or functions as Valkey 8.0.1 does: ASYNC and the default under lazyfree-lazy-user-flush yes', async () => {
  const io = await server();
  const loadScripts = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await io.call('SCRIPT', 'LOAD', `return ${i}`);
  };
  const lib = (n: number): string => ['#!lua name=lib', ...Array.from({ length: n }, (_, i) => `redis.register_function('f${i}', function() return ${i} end)`)].join('\n');
  // Measured on valkey-server 8.0.1: 70 scripts or functions count 70; 64 or fewer, or SYNC, count nothing.
  await loadScripts(70);
  assert.is(await io.call('SCRIPT', 'FLUSH', 'ASYNC'), 'OK');
  assert.is(await freedInBackground(io), 70);
  assert.is((await info(io, 'memory')).get('number_of_cached_scripts'), '0');
  await loadScripts(64);
  await io.call('SCRIPT', 'FLUSH', 'ASYNC');
  await loadScripts(70);
  await io.call('SCRIPT', 'FLUSH', 'SYNC');
  assert.is(await freedInBackground(io), 70);
  await loadScripts(70);
  await io.call('SCRIPT', 'FLUSH');
  assert.is(await freedInBackground(io), 140);
  assert.is(await io.call('FUNCTION', 'LOAD', lib(70)), 'lib');
  assert.is(await io.call('FUNCTION', 'FLUSH', 'ASYNC'), 'OK');
  assert.is(await freedInBackground(io), 210);
  assert.equal(await io.call('FUNCTION', 'LIST'), []);
  await io.call('FUNCTION', 'LOAD', lib(70));
  await io.call('FUNCTION', 'FLUSH', 'SYNC');
  await io.call('FUNCTION', 'LOAD', lib(64));
  await io.call('FUNCTION', 'FLUSH', 'ASYNC');
  assert.is(await freedInBackground(io), 210);
  // lazyfree-lazy-user-flush no: a FLUSH without SYNC or ASYNC frees at once.
  await io.config('SET', 'lazyfree-lazy-user-flush', 'no');
  await loadScripts(70);
  await io.call('SCRIPT', 'FLUSH');
  await io.call('FUNCTION', 'LOAD', lib(70));
  await io.call('FUNCTION', 'FLUSH');
  assert.is(await freedInBackground(io), 210);
});

t('fork safety: BGSAVE after BGSAVE while big values are unlinked, and every save completes', async () => {
  const io = await server();
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 4; i++) await bigSet(io, `k${i}`, 3000);
    assert.match(String(await io.bgsave()), /Background saving started/);
    await io.unlink('k0', 'k1', 'k2', 'k3');
    await waitNoChild(io);
    assert.is((await info(io, 'persistence')).get('rdb_last_bgsave_status'), 'ok', `round ${round}`);
  }
  assert.is(await freedInBackground(io), 32);
  assert.is(await io.ping(), 'PONG');
});

t.run();
