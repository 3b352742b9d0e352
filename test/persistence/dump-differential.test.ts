// DUMP payloads and DEBUG OBJECT `serializedlength` against valkey-server 8.0.1: seeded
// random values of every type and encoding are built by the same commands on both servers,
// then compared.
//
// - The serialized length (Valkey's rdbSavedObjectLen: the value as Valkey 8 writes it to
//   an RDB file) must be equal for every value.
// - The DUMP payload after the type byte, up to the footer, must be Valkey's byte for byte
//   wherever forkv writes the form Valkey does: strings, quicklist-2 lists (small and
//   many-node, with and without a compress depth), listpack hashes and sorted sets,
//   intsets, skiplist sorted sets. Not compared byte for byte: hashtable hashes and sets
//   (the order of a hash table is its own: Valkey's is seeded per process), and the two
//   forms forkv's DUMP writes the Redis 7.0 way so that Redis 7.0 can RESTORE them
//   (listpack sets as plain sets, streams as type 19); their lengths above are compared.
//   The footer says 10 (Redis 7.0's version) where Valkey says 11.
// - Each payload RESTOREs on the other server with the same contents.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { int, pick, rng, type Rand } from '../helpers/rng';
import { startServer, tempDir, VALKEY_SERVER, type RunningServer } from '../helpers/server';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonical, contents, quiet, sameContents } from './util';

const t = suite('dump-differential');
const fx = {} as { forkv: RunningServer; valkey: RunningServer; f: Redis; v: Redis };

t.before(async () => {
  [fx.forkv, fx.valkey] = await Promise.all([
    startServer(),
    startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1'] }),
  ]);
  fx.f = quiet(fx.forkv.port);
  fx.v = quiet(fx.valkey.port);
});
t.after(async () => {
  fx.f?.disconnect();
  fx.v?.disconnect();
  await Promise.all([fx.forkv?.stop(), fx.valkey?.stop()]);
});

type Cmd = Array<string | Buffer>;

/** An element: every listpack integer width, text of each string header size, binary. */
function element(r: Rand): string | Buffer {
  switch (int(r, 0, 9)) {
    case 0: return String(int(r, 0, 127));
    case 1: return String(int(r, -4096, 4095));
    case 2: return String(int(r, -32768, 32767));
    case 3: return String(int(r, -(2 ** 23), 2 ** 23 - 1));
    case 4: return String(int(r, -(2 ** 31), 2 ** 31 - 1));
    case 5: return (BigInt(int(r, -(2 ** 30), 2 ** 30)) * 9_000_000_001n).toString();
    case 6: return `s${int(r, 0, 1e6)}${'x'.repeat(int(r, 0, 3))}`;
    case 7: return 'ab'.repeat(int(r, 20, 200)) + String(int(r, 0, 99)); // 64..4095 bytes, compressible
    case 8: return Buffer.from(Array.from({ length: int(r, 1, 40) }, () => int(r, 0, 255)));
    default: return `0${int(r, 0, 99)}`; // not canonical: stays text
  }
}

/** Commands building one value of `kind` at `key`. */
function build(r: Rand, kind: string, key: string): Cmd[] {
  const cmds: Cmd[] = [];
  const n = (lo: number, hi: number): number => int(r, lo, hi);
  switch (kind) {
    case 'string':
      cmds.push(['SET', key, pick(r, [element(r), 'q'.repeat(n(21, 5000)), String(n(-1e9, 1e9)), ''] as const)]);
      if (r() < 0.3) cmds.push(['APPEND', key, element(r)]);
      break;
    case 'list-small':
    case 'list-big': {
      const big = kind === 'list-big';
      const count = big ? n(150, 1500) : n(1, 100);
      for (let i = 0; i < count; i += 20) {
        const items = Array.from({ length: Math.min(20, count - i) }, () => element(r));
        cmds.push([r() < 0.5 ? 'RPUSH' : 'LPUSH', key, ...items]);
      }
      for (let i = 0; i < n(0, 5); i++) {
        const op = pick(r, ['LPOP', 'RPOP', 'LSET', 'LINSERT', 'LREM'] as const);
        if (op === 'LSET') cmds.push(['LSET', key, String(n(0, 10)), element(r)]);
        else if (op === 'LINSERT') cmds.push(['LINSERT', key, 'BEFORE', '0', element(r)]);
        else if (op === 'LREM') cmds.push(['LREM', key, '1', '1']);
        else cmds.push([op, key]);
      }
      break;
    }
    case 'hash-small':
    case 'hash-big': {
      const count = kind === 'hash-big' ? n(130, 600) : n(1, 120);
      const args: Array<string | Buffer> = [];
      for (let i = 0; i < count; i++) args.push(`f${n(0, count * 2)}`, element(r));
      cmds.push(['HSET', key, ...args]);
      for (let i = 0; i < n(0, 4); i++) cmds.push(['HDEL', key, `f${n(0, count * 2)}`]);
      if (r() < 0.5) cmds.push(['HINCRBY', key, 'counter', String(n(-100000, 100000))]);
      if (r() < 0.3) cmds.push(['HINCRBYFLOAT', key, 'flt', '1.25']);
      break;
    }
    case 'set-int':
    case 'set-small':
    case 'set-big': {
      const count = kind === 'set-big' ? n(130, 700) : n(1, 120);
      const members: Array<string | Buffer> = [];
      for (let i = 0; i < count; i++) {
        members.push(kind === 'set-int' ? String(pick(r, [n(-100, 100), n(-40000, 40000), n(-3e9, 3e9)])) : element(r));
      }
      cmds.push(['SADD', key, ...members]);
      if (r() < 0.5) cmds.push(['SREM', key, members[0] as string | Buffer]);
      break;
    }
    case 'zset-small':
    case 'zset-big': {
      const count = kind === 'zset-big' ? n(130, 600) : n(1, 120);
      const args: string[] = [];
      for (let i = 0; i < count; i++) {
        const score = pick(r, [String(n(-1000, 1000)), (r() * 2000 - 1000).toFixed(n(0, 6)), String(r() * 1e20), '-inf', 'inf', String(n(-5, 5) * 2 ** 62)]);
        args.push(score, `m${n(0, count * 3)}`);
      }
      cmds.push(['ZADD', key, ...args]);
      if (r() < 0.4) cmds.push(['ZINCRBY', key, '0.5', 'm1']);
      if (r() < 0.3) cmds.push(['ZREM', key, 'm2']);
      break;
    }
    case 'stream': {
      for (let i = 1; i <= n(1, 250); i++) {
        cmds.push(r() < 0.8 ? ['XADD', key, `${i}-1`, 'a', element(r), 'b', element(r)] : ['XADD', key, `${i}-1`, `f${n(0, 3)}`, element(r)]);
      }
      if (r() < 0.5) cmds.push(['XDEL', key, '1-1', '3-1']);
      break;
    }
  }
  return cmds;
}

const KINDS = ['string', 'list-small', 'list-big', 'hash-small', 'hash-big', 'set-int', 'set-small', 'set-big', 'zset-small', 'zset-big', 'stream'];

async function run(c: Redis, cmds: Cmd[]): Promise<unknown[]> {
  const p = c.pipeline();
  for (const [name, ...args] of cmds) p.callBuffer(String(name), ...args);
  const res = (await p.exec()) ?? [];
  return res.map(([e, v]) => (e ? `ERR ${e.message}` : v instanceof Buffer ? v.toString('hex') : v));
}

async function serializedLength(c: Redis, key: string): Promise<number> {
  const text = (await c.call('DEBUG', 'OBJECT', key)) as string;
  const m = /serializedlength:(\d+)/.exec(text);
  if (!m) throw new Error(`no serializedlength in ${text}`);
  return Number(m[1]);
}

/** True where forkv's DUMP writes the form Valkey 8 writes. */
function sameForm(encoding: string, type: string): boolean {
  if (encoding === 'hashtable') return false;
  if (type === 'set' && encoding === 'listpack') return false;
  return type !== 'stream';
}

t('DUMP and serializedlength equal valkey-server 8.0.1; payloads RESTORE both ways', async () => {
  const { f, v } = fx;
  let compared = 0;
  let bytewise = 0;
  // Node layouts depend on these: cover the defaults and a compress depth / small nodes.
  const setups: string[][] = [
    ['list-compress-depth', '0', 'list-max-listpack-size', '-2'],
    ['list-compress-depth', '1', 'list-max-listpack-size', '-2'],
    ['list-compress-depth', '2', 'list-max-listpack-size', '16'],
  ];
  for (const [si, setup] of setups.entries()) {
    await Promise.all([f.call('CONFIG', 'SET', ...setup), v.call('CONFIG', 'SET', ...setup)]);
    const r = rng(1200 + si);
    for (let i = 0; i < 60; i++) {
      const kind = KINDS[i % KINDS.length] as string;
      const key = `k:${si}:${i}:${kind}`;
      const cmds = build(r, kind, key);
      const [fr, vr] = await Promise.all([run(f, cmds), run(v, cmds)]);
      assert.equal(fr, vr, `replies building ${key}`);
      if ((await v.exists(key)) === 0) continue;
      const [fe, ve, type] = await Promise.all([f.object('ENCODING', key), v.object('ENCODING', key), v.type(key)]);
      assert.is(fe, ve, `encoding of ${key}`);
      const [fl, vl] = [await serializedLength(f, key), await serializedLength(v, key)];
      if (fl !== vl) {
        const obj = async (c: Redis): Promise<string> => String(await c.call('DEBUG', 'OBJECT', key)).replace(/^Value at:\S+ /, '');
        assert.is(fl, vl, `serializedlength of ${key}: forkv ${await obj(f)} / valkey ${await obj(v)}, built by ${JSON.stringify(cmds).slice(0, 200)}`);
      }
      const [fd, vd] = (await Promise.all([f.dumpBuffer(key), v.dumpBuffer(key)])) as [Buffer, Buffer];
      assert.is(fd.readUInt16LE(fd.length - 10), 10, `footer version of ${key}`);
      if (sameForm(String(ve), type)) {
        assert.is(fd.subarray(0, -10).toString('hex'), vd.subarray(0, -10).toString('hex'), `DUMP of ${key} (${ve})`);
        bytewise++;
      }
      // Each payload restores on the other server with the same contents.
      const back = `${key}:back`;
      await f.call('RESTORE', back, '0', vd);
      await v.call('RESTORE', back, '0', fd);
      const want = await canonical(v, Buffer.from(key));
      assert.is(await canonical(f, Buffer.from(back)), want, `forkv RESTORE of Valkey's ${key}`);
      assert.is(await canonical(v, Buffer.from(back)), want, `Valkey RESTORE of forkv's ${key}`);
      compared++;
    }
  }
  assert.ok(compared >= 170, `compared ${compared}`);
  assert.ok(bytewise >= 100, `byte-compared ${bytewise}`);
});

t('plain quicklist nodes (DEBUG QUICKLIST-PACKED-THRESHOLD) dump as Valkey dumps them', async () => {
  const { f, v } = fx;
  for (const c of [f, v]) {
    await c.call('CONFIG', 'SET', 'list-compress-depth', '1');
    await c.call('DEBUG', 'QUICKLIST-PACKED-THRESHOLD', '100');
  }
  try {
    const cmds: Cmd[] = [['RPUSH', 'plain', 'a', 'b', 'x'.repeat(300), 'c', 'y'.repeat(150) + 'z'.repeat(150), 'd', 'e', '1', 'w'.repeat(101)]];
    await Promise.all([run(f, cmds), run(v, cmds)]);
    assert.is(await serializedLength(f, 'plain'), await serializedLength(v, 'plain'));
    const [fd, vd] = (await Promise.all([f.dumpBuffer('plain'), v.dumpBuffer('plain')])) as [Buffer, Buffer];
    assert.is(fd.subarray(0, -10).toString('hex'), vd.subarray(0, -10).toString('hex'));
  } finally {
    for (const c of [f, v]) await c.call('DEBUG', 'QUICKLIST-PACKED-THRESHOLD', String(2 ** 30));
  }
});

t('rdbcompression no: DUMP and serializedlength leave strings uncompressed, as Valkey does', async () => {
  const { f, v } = fx;
  const cmds: Cmd[] = [
    ['SET', 'zs', 'ab'.repeat(500)],
    ['RPUSH', 'zl', 'cd'.repeat(300), 'x', 'ef'.repeat(40)],
    ['HSET', 'zh', 'f', 'gh'.repeat(30)],
  ];
  await Promise.all([run(f, cmds), run(v, cmds)]);
  try {
    for (const c of [f, v]) await c.call('CONFIG', 'SET', 'rdbcompression', 'no');
    for (const key of ['zs', 'zl', 'zh']) {
      assert.is(await serializedLength(f, key), await serializedLength(v, key), `serializedlength of ${key}`);
      const [fd, vd] = (await Promise.all([f.dumpBuffer(key), v.dumpBuffer(key)])) as [Buffer, Buffer];
      assert.is(fd.subarray(0, -10).toString('hex'), vd.subarray(0, -10).toString('hex'), `DUMP of ${key}`);
    }
    const plain = (await f.dumpBuffer('zs')) as Buffer;
    await f.call('CONFIG', 'SET', 'rdbcompression', 'yes');
    assert.ok(((await f.dumpBuffer('zs')) as Buffer).length < plain.length / 4, 'compressed again with rdbcompression yes');
    await f.call('RESTORE', 'zs:back', '0', plain);
    assert.is(await f.get('zs:back'), 'ab'.repeat(500));
  } finally {
    for (const c of [f, v]) {
      await c.call('CONFIG', 'SET', 'rdbcompression', 'yes');
      await c.del('zs', 'zl', 'zh', 'zs:back');
    }
  }
});

t('an intset keeps its width after its wide member is removed, in DUMP and across DEBUG RELOAD, as in Valkey', async () => {
  const { f, v } = fx;
  const cmds: Cmd[] = [['SADD', 'iw', '1', '2', '5000000000'], ['SREM', 'iw', '5000000000'], ['SADD', 'iw16', '1', '70000'], ['SREM', 'iw16', '70000']];
  await Promise.all([run(f, cmds), run(v, cmds)]);
  try {
    for (const key of ['iw', 'iw16']) {
      const [fd, vd] = (await Promise.all([f.dumpBuffer(key), v.dumpBuffer(key)])) as [Buffer, Buffer];
      assert.is(fd.subarray(0, -10).toString('hex'), vd.subarray(0, -10).toString('hex'), `DUMP of ${key}`);
    }
    await Promise.all([f.call('DEBUG', 'RELOAD'), v.call('DEBUG', 'RELOAD')]);
    for (const key of ['iw', 'iw16']) {
      const [fd, vd] = (await Promise.all([f.dumpBuffer(key), v.dumpBuffer(key)])) as [Buffer, Buffer];
      assert.is(fd.subarray(0, -10).toString('hex'), vd.subarray(0, -10).toString('hex'), `DUMP of ${key} after DEBUG RELOAD`);
    }
  } finally {
    for (const c of [f, v]) await c.del('iw', 'iw16');
  }
});

t('RDB files move both ways: forkv (versions 10 and 11) to valkey-server 8.0.1 and back', async () => {
  // The values the first test built are still in both servers (db 0).
  const { f, v } = fx;
  const want = await contents(fx.valkey.port, [0]);
  sameContents(await contents(fx.forkv.port, [0]), want, 'forkv before saving');
  for (const version of ['10', '11']) {
    await f.call('CONFIG', 'SET', 'rdb-version', version);
    assert.is(await f.call('SAVE'), 'OK');
    const dir = tempDir();
    fs.copyFileSync(path.join(fx.forkv.dir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
    const vk = await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1'], dir });
    try {
      sameContents(await contents(vk.port, [0]), want, `valkey-server loading forkv's version ${version} file`);
    } finally {
      await vk.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  await f.call('CONFIG', 'SET', 'rdb-version', '10');
  assert.is(await v.call('SAVE'), 'OK');
  const dir = tempDir();
  fs.copyFileSync(path.join(fx.valkey.dir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
  const fk = await startServer({ dir });
  try {
    sameContents(await contents(fk.port, [0]), want, "forkv loading valkey-server's file");
  } finally {
    await fk.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('DEBUG OBJECT lru after DEBUG RELOAD reads the load time, as in Valkey', async () => {
  const { f, v } = fx;
  const lru = async (c: Redis): Promise<number> => {
    const m = /lru:(\d+) lru_seconds_idle:(\d+)/.exec((await c.call('DEBUG', 'OBJECT', 'lru-key')) as string);
    if (!m) throw new Error('no lru');
    return Number(m[1]);
  };
  for (const c of [f, v]) {
    await c.set('lru-key', 'x');
    assert.is(await c.call('DEBUG', 'RELOAD'), 'OK');
  }
  const [fl, vl] = await Promise.all([lru(f), lru(v)]);
  assert.ok(fl > 0, `forkv lru ${fl}`);
  // Both are the LRU clock (Unix seconds, 24 bits) of the load.
  assert.ok(Math.abs(fl - vl) <= 2, `forkv lru ${fl}, valkey lru ${vl}`);
});

t.run();
