// AOF durability through the real process: kill -9 under a write load loses no
// acknowledged write (appendfsync always, and everysec too on a process crash since the
// AOF is written before replies), and a full disk (a small tmpfs) refuses writes with
// MISCONF until space returns, then recovers by itself with a loadable AOF.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import type Redis from 'ioredis';

import { tempDir, type RunningServer } from '../helpers/server';
import { type Fleet, useFleet } from '../helpers/fixture';
import { checkAof, errOf, info, mountTmpfs, sleep, waitUntil } from './util';

const t = suite('aof-durability');
const fleet = useFleet(t);
const cleanups: Array<() => Promise<void>> = [];

const forkv = (args: string[], dir?: string): ReturnType<Fleet['forkv']> => fleet.forkv({ args: ['--appendonly', 'yes', ...args], dir });

// After the fleet's servers stopped (hooks run in the order they were registered).
t.after.each(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Acked {
  /** counter key -> last acknowledged INCR result */
  counters: Map<string, number>;
  /** SET key -> ms timestamp of its acknowledgement */
  sets: Map<string, number>;
}

/** Writers on `n` connections until the server dies; records every acknowledged write. */
async function writeUntilKilled(port: number, n: number, killAfterMs: number, kill: () => void): Promise<Acked> {
  const acked: Acked = { counters: new Map(), sets: new Map() };
  const writer = async (w: number): Promise<void> => {
    const c = fleet.connect(port);
    for (let i = 0; ; i++) {
      try {
        const v = await c.incr(`counter:${w}`);
        acked.counters.set(`counter:${w}`, v);
        const key = `set:${w}:${i}`;
        await c.set(key, String(Date.now()));
        acked.sets.set(key, Date.now());
      } catch {
        return;
      }
    }
  };
  const all = Promise.all(Array.from({ length: n }, (_, w) => writer(w)));
  await sleep(killAfterMs);
  kill();
  await all;
  return acked;
}

async function checkAcked(dir: string, acked: Acked, args: string[]): Promise<{ lost: string[]; io: Redis; srv: RunningServer }> {
  const { srv, io } = await forkv(args, dir);
  const lost: string[] = [];
  for (const [k, v] of acked.counters) {
    const got = Number(await io.get(k));
    if (!(got >= v)) lost.push(`${k}: ${got} < acknowledged ${v}`);
  }
  const keys = [...acked.sets.keys()];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const vals = await io.mget(...batch);
    vals.forEach((v, j) => {
      if (v === null) lost.push(batch[j] as string);
    });
  }
  return { lost, io, srv };
}

t('appendfsync always: kill -9 under a write load loses no acknowledged write', async () => {
  const { srv } = await forkv(['--appendfsync', 'always']);
  const acked = await writeUntilKilled(srv.port, 4, 1500, () => srv.proc.kill('SIGKILL'));
  assert.is((await srv.exited).signal, 'SIGKILL');
  assert.ok(acked.sets.size > 50, `only ${acked.sets.size} acknowledged writes`);
  const { lost, srv: again } = await checkAcked(srv.dir, acked, ['--appendfsync', 'always']);
  assert.equal(lost, []);
  assert.match(again.output(), /DB loaded from append only file/);
  const chk = await checkAof(path.join(srv.dir, 'appendonlydir', 'appendonly.aof.manifest'));
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
});

t('appendfsync everysec: kill -9 loses at most ~2 s of writes (here: none, the AOF is written before replies)', async () => {
  const { srv } = await forkv(['--appendfsync', 'everysec']);
  let killedAt = 0;
  const acked = await writeUntilKilled(srv.port, 4, 1500, () => {
    killedAt = Date.now();
    srv.proc.kill('SIGKILL');
  });
  await srv.exited;
  assert.ok(acked.sets.size > 50, `only ${acked.sets.size} acknowledged writes`);
  const { lost } = await checkAcked(srv.dir, acked, ['--appendfsync', 'everysec']);
  const lostSets = lost.filter((k) => acked.sets.has(k));
  const oldestLost = Math.min(...lostSets.map((k) => acked.sets.get(k) ?? Infinity));
  assert.ok(lostSets.length === 0 || killedAt - oldestLost <= 2000, `lost writes acknowledged ${killedAt - oldestLost} ms before the kill`);
  // A process crash (not an OS crash) loses nothing acknowledged: write(2) came first.
  assert.equal(lost, []);
});

t('full disk: MISCONF "Errors writing to the AOF file" until space returns, then it recovers by itself', async () => {
  const disk = await mountTmpfs(tempDir('aof-enospc-'), '2m');
  cleanups.push(() => disk.unmount());
  const { srv, io } = await forkv(['--appendfsync', 'always', '--hz', '20'], disk.dir);
  const acked = new Map<string, string>();
  for (let i = 0; i < 50; i++) {
    await io.set(`before:${i}`, 'x'.repeat(100));
    acked.set(`before:${i}`, 'x'.repeat(100));
  }
  disk.fill();
  // Write on a second connection until a SET is not acknowledged: under `always` the reply
  // of a write whose AOF record cannot be written waits for the disk (it is not an ack).
  // (The file's last page may still take a few bytes on tmpfs.)
  const w = fleet.connect(srv.port);
  let pending: Promise<string> | null = null;
  let pendingKey = '';
  for (let i = 0; i < 50 && pending === null; i++) {
    const k = `during:${i}`;
    const p = w.set(k, 'y'.repeat(1000));
    const r = await Promise.race([p, sleep(400).then(() => 'waiting')]);
    if (r === 'waiting') {
      pending = p;
      pendingKey = k;
    } else acked.set(k, 'y'.repeat(1000));
  }
  assert.ok(pending, 'every write was acknowledged on a full disk');
  // From then on writes (and PING, as in Valkey) are refused; reads and other clients are served.
  const MISCONF = 'MISCONF Errors writing to the AOF file: No space left on device';
  assert.is(await errOf(io.set('w', '1')), MISCONF);
  assert.is(await errOf(io.incr('n')), MISCONF);
  const i1 = await info(io, 'persistence');
  assert.is(i1.get('aof_last_write_status'), 'err');
  assert.is(await io.get('before:0'), 'x'.repeat(100));
  assert.is(await errOf(io.ping()), MISCONF);
  await srv.waitFor(/# Error writing to the AOF file: No space left on device/);
  let settled = false;
  void (pending as Promise<string>).finally(() => (settled = true));
  await sleep(300);
  assert.not.ok(settled, 'the write was acknowledged before it reached the AOF');

  disk.release();
  await srv.waitFor(/AOF write error looks solved\. The server can write again\./, 5000);
  // The held acknowledgement arrives once the record is on disk.
  assert.is(await pending, 'OK');
  acked.set(pendingKey, 'y'.repeat(1000));
  assert.is((await info(io, 'persistence')).get('aof_last_write_status'), 'ok');
  assert.is(await io.set('after', 'z'), 'OK');
  acked.set('after', 'z');

  // everysec is refused the same way (Valkey denies writes on any AOF write error).
  assert.is(await io.config('SET', 'appendfsync', 'everysec'), 'OK');
  disk.fill();
  await waitUntil(
    'MISCONF under everysec',
    async () => {
      try {
        const k = `es:${Date.now()}`;
        await io.set(k, 'w'.repeat(200));
        acked.set(k, 'w'.repeat(200));
        await sleep(60);
        return false;
      } catch (e) {
        return (e as Error).message.startsWith('MISCONF Errors writing to the AOF file');
      }
    },
    5000,
    10,
  );
  disk.release();
  await waitUntil('recovery under everysec', async () => (await info(io, 'persistence')).get('aof_last_write_status') === 'ok', 5000, 50);
  assert.is(await io.set('after2', 'z'), 'OK');
  acked.set('after2', 'z');

  // Everything acknowledged is in a loadable AOF: no torn command from the failed writes.
  io.disconnect();
  assert.is((await srv.stop('SIGTERM')).code, 0);
  const chk = await checkAof(path.join(disk.dir, 'appendonlydir', 'appendonly.aof.manifest'));
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
  const { io: io2 } = await forkv(['--aof-load-truncated', 'no'], disk.dir);
  for (const [k, v] of acked) assert.is(await io2.get(k), v, k);
});

t.run();
