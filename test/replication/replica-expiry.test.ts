// Expiry on a forkv replica, as Valkey's: a key past its TTL reads as missing but stays
// stored until the primary's DEL arrives (the replica never expires the primary's keys
// itself, lazily or actively); TTLs set by clients of a writable replica are the
// replica's own to expire (Valkey's replicaKeysWithExpire), and DEBUG SET-ACTIVE-EXPIRE 0
// stops that too. Primaries: forkv and Valkey 8.0.1.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info, waitUntil } from '../persistence/util';
import { linkUp, sameOnBoth } from './sync-check';

const t = suite('replication-replica-expiry');
const fleet = useFleet(t);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function startPrimary(kind: 'forkv' | 'valkey'): Promise<RunningServer> {
  const args = ['--repl-diskless-sync-delay', '0'];
  const s = kind === 'forkv'
    ? await startServer({ args: ['--repl-ping-replica-period', '1', ...args] })
    : await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', '--enable-debug-command', 'yes', ...args] });
  return fleet.track(s);
}

async function startReplica(primaryPort: number, extra: string[] = []): Promise<RunningServer> {
  return fleet.track(await startServer({ args: ['--replicaof', '127.0.0.1', String(primaryPort), ...extra] }));
}

async function expiredKeys(port: number): Promise<string | undefined> {
  return (await info(fleet.connect(port), 'stats')).get('expired_keys');
}

for (const kind of ['forkv', 'valkey'] as const) {
  t(`${kind} primary: a replica hides keys past their TTL and deletes them only on the primary's DEL`, async () => {
    const p = await startPrimary(kind);
    const pio = fleet.connect(p.port);
    // The primary must not expire the keys before the test looks at the replica.
    await pio.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    // Keys in the full sync's RDB and keys from the stream (stored on the replica even
    // when they arrive past their TTL, as a loaded machine may make them).
    await pio.set('synced', 'v', 'PX', 300);
    const rep = await startReplica(p.port);
    const rio = fleet.connect(rep.port);
    await linkUp(rio);
    await pio.set('streamed', 'v', 'PX', 300);
    await pio.set('plain', 'v');
    const setAt = Date.now();
    await waitUntil('the keys arrived', async () => (await rio.dbsize()) === 3, 5000, 20);
    await sleep(Math.max(0, setAt + 450 - Date.now()));
    for (const key of ['synced', 'streamed']) {
      assert.is(await rio.get(key), null, `${key} reads as missing`);
      assert.is(await rio.exists(key), 0);
      assert.is(await rio.pttl(key), -2);
    }
    assert.equal((await rio.keys('*')).sort(), ['plain']);
    // Still stored (DBSIZE counts them, as in Valkey), and nothing expired on the replica,
    // not even by its active cycle.
    await sleep(250);
    assert.is(await rio.dbsize(), 3);
    assert.is(await expiredKeys(rep.port), '0');
    // A read on the primary expires them there: its DELs reach the replica.
    assert.is(await pio.get('synced'), null);
    assert.is(await pio.get('streamed'), null);
    await waitUntil('the primary DELs arrived', async () => (await rio.dbsize()) === 1, 5000, 20);
    assert.is(await expiredKeys(rep.port), '0');
    await sameOnBoth(fleet, p.port, rep.port, `${kind}: after the DELs`);
  });
}

t('writable replica: TTLs its own clients set expire on the replica (active cycle, DEBUG SET-ACTIVE-EXPIRE)', async () => {
  const p = await startPrimary('forkv');
  const pio = fleet.connect(p.port);
  await pio.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  const rep = await startReplica(p.port, ['--replica-read-only', 'no']);
  const rio = fleet.connect(rep.port);
  await linkUp(rio);
  await pio.set('theirs', 'v', 'PX', 200);
  await waitUntil('the primary key arrived', async () => (await rio.dbsize()) === 1, 5000, 20);
  // The replica's active expiry is off: its own volatile key stays stored.
  await rio.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  await rio.set('mine', 'v', 'PX', 200);
  await sleep(400);
  assert.is(await rio.get('mine'), null);
  assert.is(await rio.dbsize(), 2);
  assert.is(await expiredKeys(rep.port), '0');
  // On again: the replica's own key goes, the primary's stays until its DEL.
  await rio.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
  await waitUntil('the replica expired its own key', async () => (await expiredKeys(rep.port)) === '1', 5000, 50);
  assert.is(await rio.dbsize(), 1);
  assert.is(await rio.get('theirs'), null);
  // A client's write on a key past its TTL replaces it (Valkey deletes it first).
  await rio.set('w', '1', 'PX', 100);
  await sleep(200);
  assert.is(await rio.incr('w'), 1);
  assert.is(await pio.get('theirs'), null);
  await waitUntil('the primary DEL arrived', async () => (await rio.exists('theirs')) === 0 && (await rio.dbsize()) === 1, 5000, 20);
});

t('promoted with REPLICAOF NO ONE: the former replica expires keys itself', async () => {
  const p = await startPrimary('forkv');
  const pio = fleet.connect(p.port);
  await pio.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  const rep = await startReplica(p.port);
  const rio = fleet.connect(rep.port);
  await linkUp(rio);
  await pio.set('k', 'v', 'PX', 200);
  await waitUntil('the key arrived', async () => (await rio.dbsize()) === 1, 5000, 20);
  await sleep(300);
  assert.is(await rio.dbsize(), 1);
  assert.is(await rio.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  await waitUntil('the active cycle expired it', async () => (await rio.dbsize()) === 0, 5000, 50);
  assert.is(await expiredKeys(rep.port), '1');
});

t.run();
