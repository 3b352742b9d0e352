// Commands given an expiry already in the past (SET EXAT/PXAT, EXPIRE, GETEX, RESTORE):
// the key is not stored (or is deleted), and the AOF gets what Valkey 8 propagates: UNLINK
// or DEL by `lazyfree-lazy-expire` (SET, EXPIRE, GETEX) or `lazyfree-lazy-server-del`
// (RESTORE, SPOP of a whole set), nothing when there was no key. Also OBJECT REFCOUNT of
// Valkey's shared integers and ACL GENPASS, through ioredis and node-redis.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startServer, tempDir, type RunningServer } from '../helpers/server';
import { parseResp, text, items } from '../helpers/client';

let srv: RunningServer | undefined;
let io: Redis | undefined;

test.after(async () => {
  io?.disconnect();
  await srv?.stop();
});

/** Every command of the incr AOF files, as space-joined words, SELECTs left out. */
function aofCommands(dir: string): string[] {
  const d = path.join(dir, 'appendonlydir');
  const out: string[] = [];
  for (const f of fs.readdirSync(d).filter((n) => n.endsWith('.incr.aof')).sort()) {
    const buf = fs.readFileSync(path.join(d, f));
    let p = 0;
    while (p < buf.length) {
      const [cmd, q] = parseResp(buf, p);
      p = q;
      const words = items(cmd).map((w) => text(w) ?? '');
      if (words[0]?.toUpperCase() !== 'SELECT') out.push(words.join(' '));
    }
  }
  return out;
}

test('a past expiry deletes instead of storing, and propagates UNLINK/DEL as Valkey', async () => {
  const dir = tempDir('forkv-past-expiry-');
  srv = await startServer({ dir, args: ['--appendonly', 'yes', '--appendfsync', 'always', '--aof-use-rdb-preamble', 'no'] });
  io = new Redis({ port: srv.port, lazyConnect: true });
  await io.connect();
  // SET with a past EXAT/PXAT: nothing stored, nothing logged when there was no key.
  assert.is(await io.set('a', '1', 'EXAT', 100), 'OK');
  assert.is(await io.exists('a'), 0);
  await io.set('b', '1');
  assert.is(await io.set('b', '2', 'PXAT', 100), 'OK');
  assert.is(await io.exists('b'), 0);
  // GET still answers the old value; NX/XX decide first.
  await io.set('c', 'old');
  assert.is(await io.set('c', 'new', 'EXAT', 1, 'GET'), 'old');
  assert.is(await io.exists('c'), 0);
  assert.is(await io.set('d', '1', 'EXAT', 1, 'XX'), null);
  await io.set('e', '1');
  await io.expire('e', -1);
  await io.set('f', '1');
  assert.is(await io.getex('f', 'EXAT', 1), '1');
  assert.is(await io.exists('e', 'f'), 0);
  // With lazyfree-lazy-expire no: DEL.
  await io.config('SET', 'lazyfree-lazy-expire', 'no');
  await io.set('g', '1');
  await io.pexpireat('g', 1);
  await io.set('h', '1');
  await io.set('h', '1', 'EXAT', 1);
  await io.set('i', '1');
  await io.getex('i', 'PXAT', 1);
  // RESTORE follows lazyfree-lazy-server-del (still yes): UNLINK, nothing without a key.
  const payload = await io.dumpBuffer('i2');
  assert.is(payload, null);
  await io.set('src', 'v');
  const dump = await io.dumpBuffer('src');
  assert.ok(dump);
  await io.set('r', 'x');
  assert.is(await io.call('RESTORE', 'r', '1', dump, 'ABSTTL', 'REPLACE'), 'OK');
  assert.is(await io.call('RESTORE', 'r2', '1', dump, 'ABSTTL'), 'OK');
  assert.is(await io.exists('r', 'r2'), 0);
  await io.config('SET', 'lazyfree-lazy-server-del', 'no');
  await io.set('r', 'x');
  await io.call('RESTORE', 'r', '1', dump, 'ABSTTL', 'REPLACE');
  await io.sadd('s', 'a', 'b');
  await io.spop('s', 5);
  await io.config('SET', 'lazyfree-lazy-server-del', 'yes');
  await io.sadd('s', 'a', 'b');
  await io.spop('s', 5);
  assert.equal(aofCommands(dir), [
    'set b 1',
    'UNLINK b',
    'set c old',
    'UNLINK c',
    'set e 1',
    'UNLINK e',
    'set f 1',
    'UNLINK f',
    'set g 1',
    'DEL g',
    'set h 1',
    'DEL h',
    'set i 1',
    'DEL i',
    'set src v',
    'set r x',
    'UNLINK r',
    'set r x',
    'DEL r',
    'sadd s a b',
    'DEL s',
    'sadd s a b',
    'UNLINK s',
  ]);
});

test('RESTORE with a relative TTL is logged as given, the TTL made absolute, ABSTTL appended', async () => {
  assert.ok(io && srv);
  const dump = await io.dumpBuffer('src');
  assert.ok(dump);
  const before = Date.now();
  await io.restore('t1', 100000, dump);
  await io.restore('t2', 100000, dump, 'REPLACE');
  await io.call('RESTORE', 't3', String(before + 100000), dump, 'ABSTTL');
  const tail = aofCommands(srv.dir).slice(-3).map((c) => c.replace(/ \S*\x00[\s\S]*?(?= REPLACE| ABSTTL|$)/i, ' <payload>'));
  const at = (c: string | undefined): number => Number(c?.split(' ')[2]);
  assert.match(tail[0] ?? '', /^restore t1 \d+ <payload> ABSTTL$/);
  assert.match(tail[1] ?? '', /^restore t2 \d+ <payload> REPLACE ABSTTL$/);
  assert.match(tail[2] ?? '', /^restore t3 \d+ <payload> ABSTTL$/i);
  assert.ok(at(tail[0]) >= before + 100000 && at(tail[0]) < before + 105000, tail[0]);
  assert.is(at(tail[2]), before + 100000);
});

test('OBJECT REFCOUNT reports shared integers as Valkey does', async () => {
  assert.ok(io);
  await io.config('SET', 'maxmemory', '0');
  await io.set('n', '-1');
  assert.is(await io.object('REFCOUNT', 'n'), 1);
  await io.incr('n');
  assert.is(await io.object('REFCOUNT', 'n'), 2147483647);
  await io.set('n', '9998');
  await io.incr('n');
  assert.is(await io.object('REFCOUNT', 'n'), 2147483647);
  await io.incr('n');
  assert.is(await io.object('REFCOUNT', 'n'), 1);
  await io.set('n', 'text');
  assert.is(await io.object('REFCOUNT', 'n'), 1);
  await io.rpush('l', '5');
  assert.is(await io.object('REFCOUNT', 'l'), 1);
  // maxmemory with an LRU/LFU policy: no shared integers.
  await io.set('n', '5');
  await io.config('SET', 'maxmemory-policy', 'allkeys-lru');
  await io.config('SET', 'maxmemory', '1gb');
  assert.is(await io.object('REFCOUNT', 'n'), 1);
  await io.config('SET', 'maxmemory-policy', 'noeviction');
  assert.is(await io.object('REFCOUNT', 'n'), 2147483647);
  assert.match(String(await io.call('DEBUG', 'OBJECT', 'n')), / refcount:2147483647 encoding:int /);
  await io.config('SET', 'maxmemory', '0');
});

test('ACL GENPASS gives fresh hex passwords of the asked length (node-redis)', async () => {
  assert.ok(srv);
  const nr = createClient({ socket: { port: srv.port } });
  await nr.connect();
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = await nr.aclGenPass();
      assert.match(p, /^[0-9a-f]{64}$/);
      seen.add(p);
    }
    assert.is(seen.size, 50);
    assert.match(await nr.aclGenPass(5), /^[0-9a-f]{2}$/);
    assert.match(await nr.aclGenPass(4096), /^[0-9a-f]{1024}$/);
  } finally {
    await nr.quit();
  }
});

test.run();
