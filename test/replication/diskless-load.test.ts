// forkv as a replica with `repl-diskless-load` (Valkey's replicaLoadPrimaryRDBFromSocket):
// the snapshot is parsed as it arrives from the primary's socket, framed `$EOF:<mark>`
// (diskless primaries) or `$<len>` (disk-based ones), without a temporary file. `swapdb`
// keeps the old data until the load succeeded (and serves it meanwhile, async_loading,
// when the primary's history is the one the replica had); `on-empty-db` loads from the
// socket only into an empty dataset; a load cut short leaves the data as the mode says.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { startRedis, startServer, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info, waitUntil } from '../persistence/util';
import { linkUp, sameOnBoth, writeSome } from './sync-check';

const t = suite('replication-diskless-load');
const fleet = useFleet(t);

async function primaryOf(kind: 'redis' | 'valkey' | 'forkv'): Promise<RunningServer> {
  if (kind === 'redis') return fleet.track(await startRedis(['--save', '', '--repl-diskless-sync', 'no']));
  const diskless = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
  if (kind === 'valkey') return fleet.track(await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', '--save', '', ...diskless] }));
  return fleet.track(await startServer({ args: diskless }));
}

async function forkvReplica(mode: string): Promise<RunningServer> {
  return fleet.track(await startServer({ args: ['--repl-diskless-load', mode, '--replica-read-only', 'no'] }));
}

async function field(io: Redis, name: string): Promise<string | undefined> {
  return (await info(io, 'replication')).get(name) ?? (await info(io, 'persistence')).get(name);
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return 'no error';
}

for (const kind of ['valkey', 'redis', 'forkv'] as const) {
  t(`swapdb from a ${kind} primary (${kind === 'redis' ? '$<len>' : '$EOF:<mark>'}): parsed from the socket, the old data replaced`, async () => {
    const p = await primaryOf(kind);
    await writeSome(fleet, p.port, 'x', 300);
    const r = await forkvReplica('swapdb');
    const rio = fleet.connect(r.port);
    await rio.set('mine', 'old');
    assert.is(await rio.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK');
    await linkUp(rio);
    await sameOnBoth(fleet, p.port, r.port, `${kind} primary`);
    assert.is(await rio.get('mine'), null, 'the old data is gone');
    const out = r.output();
    assert.match(out, kind === 'redis' ? /receiving \d+ bytes from primary to parser/ : /receiving streamed RDB from primary with EOF to parser/);
    assert.match(out, /Swapping active DB with loaded DB/);
    assert.not.match(out, /to disk/);
    // The stream goes on after the load.
    await writeSome(fleet, p.port, 'after', 20);
    await sameOnBoth(fleet, p.port, r.port, `${kind} primary, then the stream`);
  });
}

t('on-empty-db: from the socket into an empty dataset, through a file otherwise', async () => {
  const p = await primaryOf('forkv');
  await writeSome(fleet, p.port, 'x', 50);
  const empty = await forkvReplica('on-empty-db');
  const full = await forkvReplica('on-empty-db');
  const eio = fleet.connect(empty.port);
  const fio = fleet.connect(full.port);
  await fio.set('mine', 'old');
  await eio.call('REPLICAOF', '127.0.0.1', String(p.port));
  await fio.call('REPLICAOF', '127.0.0.1', String(p.port));
  await linkUp(eio);
  await linkUp(fio);
  await sameOnBoth(fleet, p.port, empty.port, 'empty replica');
  await sameOnBoth(fleet, p.port, full.port, 'replica with data');
  assert.match(empty.output(), /EOF to parser/);
  assert.match(full.output(), /EOF to disk/);
  assert.is(await fio.get('mine'), null);
});

/** A primary whose snapshot takes seconds (rdb-key-save-delay), with a replica in swapdb mode holding data of its own. */
async function slowPrimaryAndReplica(): Promise<{ p: RunningServer; pio: Redis; r: RunningServer; rio: Redis }> {
  const p = await primaryOf('forkv');
  const pio = fleet.connect(p.port);
  await pio.call('DEBUG', 'POPULATE', '400', 'big', '1000');
  // Uncompressed, the snapshot arrives in several pieces while the child writes it.
  await pio.config('SET', 'rdbcompression', 'no');
  const r = await forkvReplica('swapdb');
  const rio = fleet.connect(r.port);
  // While loading, clients are served at event points only: one per KB here.
  await rio.config('SET', 'loading-process-events-interval-bytes', '1024');
  await rio.call('DEBUG', 'POPULATE', '20', 'small', '10');
  await rio.set('mine', 'old');
  return { p, pio, r, rio };
}

t('swapdb, another history: -LOADING during the load; a load cut short keeps the old data', async () => {
  const { p, pio, r, rio } = await slowPrimaryAndReplica();
  await pio.config('SET', 'rdb-key-save-delay', '10000');
  await rio.call('REPLICAOF', '127.0.0.1', String(p.port));
  await waitUntil('replica loading', async () => (await field(rio, 'loading')) === '1', 10000, 10);
  assert.is(await field(rio, 'async_loading'), '0');
  assert.match(await errorOf(rio.get('mine')), /^LOADING/);
  // The next sync waits: the replica is caught between two.
  await pio.config('SET', 'repl-diskless-sync-delay', '5');
  await pio.call('CLIENT', 'KILL', 'TYPE', 'replica');
  await waitUntil('load failed', async () => (await field(rio, 'loading')) === '0', 10000, 10);
  assert.is(await rio.get('mine'), 'old');
  assert.is(await rio.dbsize(), 21);
  await r.waitFor(/Internal error in RDB reading offset \d+, function at forkv-rdb -> .*Failure loading rdb format from socket, assuming connection error, resuming operation\./);
  assert.match(r.output(), /Failed trying to load the PRIMARY synchronization DB from socket, check server logs\./);
  assert.match(r.output(), /Discarding temporary DB in background/);
  // Then a sync that succeeds replaces it.
  await pio.config('SET', 'rdb-key-save-delay', '0', 'repl-diskless-sync-delay', '0');
  await linkUp(rio);
  await sameOnBoth(fleet, p.port, r.port, 'after the retry');
  assert.is(await rio.get('mine'), null);
});

t('swapdb, the same history (async_loading): the old data is served during the load; REPLICAOF and deny-loading configs get -LOADING', async () => {
  const { p, pio, r, rio } = await slowPrimaryAndReplica();
  await rio.call('REPLICAOF', '127.0.0.1', String(p.port));
  await linkUp(rio);
  await rio.set('mine', 'old');
  const before = await rio.dbsize();
  // A full sync of the same history: the backlog no longer holds the replica's offset.
  await pio.config('SET', 'rdb-key-save-delay', '10000');
  const m = pio.multi();
  m.call('CLIENT', 'KILL', 'TYPE', 'replica');
  m.call('CONFIG', 'SET', 'repl-backlog-size', '16384');
  for (let i = 0; i < 10; i++) m.set(`fill:${i}`, 'A'.repeat(16384));
  await m.exec();
  await waitUntil('replica async_loading', async () => (await field(rio, 'async_loading')) === '1', 10000, 10);
  assert.is(await field(rio, 'loading'), '0');
  assert.is(await rio.get('mine'), 'old');
  assert.is(await rio.dbsize(), before);
  assert.match(await errorOf(rio.call('REPLICAOF', 'NO', 'ONE')), /^LOADING/);
  assert.match(await errorOf(rio.config('SET', 'appendonly', 'no')), /^LOADING/);
  // Cut short: the old data stays.
  await pio.config('SET', 'repl-diskless-sync-delay', '5');
  await pio.call('CLIENT', 'KILL', 'TYPE', 'replica');
  await waitUntil('load failed', async () => (await field(rio, 'async_loading')) === '0', 10000, 10);
  assert.is(await rio.get('mine'), 'old');
  assert.is(await rio.dbsize(), before);
  // Then the load succeeds and the new data replaces it.
  await pio.config('SET', 'rdb-key-save-delay', '0', 'repl-diskless-sync-delay', '0');
  await waitUntil('synced again', async () => (await rio.get('mine')) === null && (await field(rio, 'master_link_status')) === 'up', 20000, 50);
  await sameOnBoth(fleet, p.port, r.port, 'after the async load');
});

t.run();
