// MEMORY STATS/DOCTOR/MALLOC-STATS with Valkey 8's reply shapes (RESP2 flat array through
// ioredis, RESP3 map with doubles through a raw connection), and the DEBUG subcommands
// OBJECT [fast], LISTPACK, QUICKLIST and STRINGMATCH-TEST.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { startServer, type RunningServer } from '../helpers/server';
import { RawClient, text, type Resp } from '../helpers/client';

let srv: RunningServer | undefined;
let io: Redis;

test.before(async () => {
  srv = await startServer();
  io = new Redis({ port: srv.port });
});

test.after(async () => {
  io.disconnect();
  await srv?.stop();
});

/** Valkey 8.0's MEMORY STATS fields, in order (db.N entries go after functions.caches). */
const FIELDS = [
  'peak.allocated', 'total.allocated', 'startup.allocated', 'replication.backlog', 'clients.slaves', 'clients.normal',
  'cluster.links', 'aof.buffer', 'lua.caches', 'functions.caches', 'overhead.db.hashtable.lut',
  'overhead.db.hashtable.rehashing', 'overhead.total', 'db.dict.rehashing.count', 'keys.count', 'keys.bytes-per-key',
  'dataset.bytes', 'dataset.percentage', 'peak.percentage', 'allocator.allocated', 'allocator.active',
  'allocator.resident', 'allocator.muzzy', 'allocator-fragmentation.ratio', 'allocator-fragmentation.bytes',
  'allocator-rss.ratio', 'allocator-rss.bytes', 'rss-overhead.ratio', 'rss-overhead.bytes', 'fragmentation',
  'fragmentation.bytes',
];
const DOUBLES = ['dataset.percentage', 'peak.percentage', 'allocator-fragmentation.ratio', 'allocator-rss.ratio', 'rss-overhead.ratio', 'fragmentation'];

test('MEMORY STATS lists Valkey 8 fields with figures forkv measures', async () => {
  await io.flushall();
  await io.select(3);
  for (let i = 0; i < 200; i++) await io.set(`k${i}`, 'v'.repeat(50));
  await io.expire('k1', 1000);
  await io.select(0);
  await io.set('a', '1');
  // Let a cron tick sample RSS and peak.
  await new Promise((r) => setTimeout(r, 250));
  const flat = (await io.call('MEMORY', 'STATS')) as unknown[];
  const m = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  const names = [...m.keys()].filter((k) => !/^db\.\d+$/.test(k));
  assert.equal(names, FIELDS);
  assert.equal([...m.keys()].filter((k) => /^db\.\d+$/.test(k)), ['db.0', 'db.3']);
  assert.is([...m.keys()].indexOf('db.0'), FIELDS.indexOf('functions.caches') + 1);
  const num = (k: string): number => Number(m.get(k));
  assert.is(num('keys.count'), 201);
  assert.ok(num('total.allocated') > num('startup.allocated'), 'data adds to the allocation');
  assert.ok(num('startup.allocated') > 0);
  assert.ok(num('peak.allocated') >= num('total.allocated'));
  for (const k of ['replication.backlog', 'clients.slaves', 'cluster.links', 'functions.caches', 'db.dict.rehashing.count']) assert.is(num(k), 0, k);
  assert.ok(num('overhead.db.hashtable.lut') > 0);
  const db3 = m.get('db.3') as unknown[];
  assert.is(db3[0], 'overhead.hashtable.main');
  assert.ok(Number(db3[1]) > 200 * 8, 'an entry per key');
  assert.is(db3[2], 'overhead.hashtable.expires');
  assert.ok(Number(db3[3]) > 0);
  // The overhead adds up as Valkey adds it, and the dataset is the rest.
  assert.is(num('dataset.bytes'), num('total.allocated') - num('overhead.total'));
  assert.is(num('keys.bytes-per-key'), Math.floor(num('dataset.bytes') / 201));
  // jemalloc's own figures (not the RSS-based ones of a libc-malloc Valkey, where active =
  // resident = RSS less Lua), and the ratios from them.
  assert.ok(num('allocator.allocated') <= num('allocator.active'));
  assert.ok(num('allocator.active') < num('allocator.resident'));
  assert.is(num('allocator-rss.bytes'), num('allocator.resident') - num('allocator.active'));
  assert.is(num('allocator-fragmentation.bytes'), num('allocator.active') - num('allocator.allocated'));
  assert.ok(num('allocator.muzzy') >= 0);
  for (const k of DOUBLES) assert.ok(Number.isFinite(Number(m.get(k))), k);
  assert.ok(num('fragmentation') > 0);
});

test('MEMORY STATS is a map with doubles in RESP3', async () => {
  assert.ok(srv);
  const c = await RawClient.connect(srv.port);
  try {
    await c.call('HELLO', '3');
    const r = await c.call('MEMORY', 'STATS');
    assert.is(r.type, '%');
    const pairs = r.type === '%' ? r.value : [];
    const byName = new Map<string, Resp>(pairs.map(([k, v]) => [text(k) ?? '', v]));
    for (const k of DOUBLES) assert.is(byName.get(k)?.type, ',', k);
    assert.is(byName.get('keys.count')?.type, ':');
    assert.is(byName.get('db.0')?.type, '%');
    const doctor = await c.call('MEMORY', 'DOCTOR');
    assert.is(doctor.type, '=');
  } finally {
    c.close();
  }
});

test("MEMORY DOCTOR, HELP, and MALLOC-STATS/PURGE reaching forkv's jemalloc as Valkey's reach theirs", async () => {
  assert.match(String(await io.call('MEMORY', 'DOCTOR')), /^Hi Sam, /);
  assert.match(String(await io.info('memory')), /\r\nmem_allocator:jemalloc/);
  assert.match(String(await io.call('MEMORY', 'MALLOC-STATS')), /^___ Begin jemalloc statistics ___\n[\s\S]*--- End jemalloc statistics ---\n$/);
  assert.is(await io.call('MEMORY', 'PURGE'), 'OK');
  const help = (await io.call('MEMORY', 'HELP')) as string[];
  assert.ok(help.includes('DOCTOR') && help.includes('STATS') && help.includes('MALLOC-STATS'));
  let err = '';
  try {
    await io.call('MEMORY', 'STATS', 'extra');
  } catch (e) {
    err = String(e);
  }
  assert.match(err, /wrong number of arguments for 'memory\|stats' command/);
});

/** INFO memory's fields as numbers. */
async function memoryInfo(): Promise<Map<string, string>> {
  const lines = String(await io.info('memory')).split('\r\n').filter((l) => l.includes(':'));
  return new Map(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]));
}

test("INFO's allocator_* and MALLOC-STATS are jemalloc's own figures, named as valkey-server 8.0.1 names them", async () => {
  const stats = String(await io.call('MEMORY', 'MALLOC-STATS'));
  // jemalloc built with its statistics, as Valkey's is: the report has its totals.
  assert.match(stats, /\n {2}config\.stats: true\n/);
  assert.match(stats, /\nAllocated: \d+, active: \d+, metadata: \d+/);
  await io.call('DEBUG', 'POPULATE', '20000', 'alloc', '100');
  // The figures are sampled on the cron tick (Valkey's cronUpdateMemoryStats).
  await new Promise((r) => setTimeout(r, 300));
  const m = await memoryInfo();
  assert.is(m.get('mem_allocator'), 'jemalloc-5.3.0');
  const [allocated, active, resident, rss] = ['allocator_allocated', 'allocator_active', 'allocator_resident', 'used_memory_rss'].map((f) => Number(m.get(f)));
  // Pages hold the allocations, the resident memory holds the pages and jemalloc's
  // metadata, and Node's heap is outside jemalloc: none of them is the RSS-based estimate a
  // libc-malloc Valkey gives (active = resident = RSS).
  assert.ok(allocated! > 20000 * 100, `allocated ${allocated}`);
  assert.ok(allocated! <= active!, `allocated ${allocated} active ${active}`);
  assert.ok(active! < resident!, `active ${active} resident ${resident}`);
  assert.ok(resident! < rss!, `resident ${resident} rss ${rss}`);
  assert.is(active! % 4096, 0, 'active is whole pages');
  assert.is(m.get('allocator_frag_bytes'), String(active! - allocated!));
  assert.is(m.get('allocator_rss_bytes'), String(resident! - active!));
  await io.flushall();
});

test('DEBUG OBJECT has Valkey 8 fields; fast leaves out the slow ones', async () => {
  await io.config('SET', 'list-max-listpack-size', '2');
  await io.del('ql');
  await io.rpush('ql', 'a', 'b', 'c', 'd', 'e');
  const full = String(await io.call('DEBUG', 'OBJECT', 'ql'));
  assert.match(full, /^Value at:\S+ refcount:1 encoding:quicklist serializedlength:\d+ lru:\d+ lru_seconds_idle:\d+ lfu_freq:\d+ lfu_access_time_minutes:\d+ ql_nodes:3 ql_avg_node:1\.67 ql_listpack_max:2 ql_compressed:0 ql_uncompressed_size:\d+$/);
  const fast = String(await io.call('DEBUG', 'OBJECT', 'ql', 'fast'));
  assert.match(fast, /^Value at:\S+ refcount:1 encoding:quicklist lru:\d+ lru_seconds_idle:\d+ lfu_freq:\d+ lfu_access_time_minutes:\d+ ql_nodes:3 ql_avg_node:1\.67 ql_listpack_max:2 ql_compressed:0$/);
  const lru = Number(/ lru:(\d+)/.exec(full)?.[1]);
  assert.is(Number(/lfu_access_time_minutes:(\d+)/.exec(full)?.[1]), lru >> 8);
  // Any other fourth word is ignored, as in Valkey.
  assert.match(String(await io.call('DEBUG', 'OBJECT', 'ql', 'other')), /serializedlength:/);
  await io.config('SET', 'list-max-listpack-size', '-2');
});

test('DEBUG LISTPACK and QUICKLIST print the layout to the log', async () => {
  assert.ok(srv);
  await io.del('lp', 'ql2', 's');
  await io.hset('lp', 'field', 'value');
  assert.is(await io.call('DEBUG', 'LISTPACK', 'lp'), 'Listpack structure printed on stdout');
  await srv.waitFor(/\{total bytes \d+\} \{num entries 2\}[\s\S]*\[str\]field[\s\S]*\[str\]value[\s\S]*\{end\}/);
  await io.set('s', 'x');
  let err = '';
  await io.call('DEBUG', 'LISTPACK', 's').catch((e: unknown) => (err = String(e)));
  assert.match(err, /Not a listpack encoded object/);
  await io.call('DEBUG', 'QUICKLIST', 's').catch((e: unknown) => (err = String(e)));
  assert.match(err, /Not a quicklist encoded object/);
  await io.call('DEBUG', 'LISTPACK', 'nokey').catch((e: unknown) => (err = String(e)));
  assert.match(err, /no such key/);
  await io.config('SET', 'list-max-listpack-size', '2');
  await io.rpush('ql2', 'x1', 'x2', 'x3');
  assert.is(await io.call('DEBUG', 'QUICKLIST', 'ql2', '1'), 'Quicklist structure printed on stdout');
  await srv.waitFor(/\{count : 3\}\s+\{len : 2\}\s+\{fill : 2\}[\s\S]*quicklist node\(1\)[\s\S]*\[str\]x3/);
  await io.config('SET', 'list-max-listpack-size', '-2');
});

test('MEMORY USAGE sizes quicklist nodes as stored: a compressed node counts its LZF block', async () => {
  await io.flushall();
  await io.config('SET', 'list-compress-depth', '1');
  try {
    // 9 nodes of ~7.7 KB, very compressible: 7 interior nodes get compressed.
    for (let i = 0; i < 20; i++) await io.rpush('l', ...Array.from({ length: 60 }, (_, j) => `${'a'.repeat(54)}${j}`));
    assert.match(String(await io.call('DEBUG', 'OBJECT', 'l')), /ql_nodes:9 .*ql_compressed:1/);
    const compressed = Number(await io.call('MEMORY', 'USAGE', 'l', 'SAMPLES', '0'));
    await io.config('SET', 'list-compress-depth', '0');
    await io.call('DEBUG', 'RELOAD');
    assert.match(String(await io.call('DEBUG', 'OBJECT', 'l')), /ql_nodes:9 .*ql_compressed:0/);
    const raw = Number(await io.call('MEMORY', 'USAGE', 'l', 'SAMPLES', '0'));
    // valkey-server 8.0.1 on the same list: 16888 compressed, 71096 not.
    assert.is(compressed, 16888);
    assert.is(raw, 71096);
    assert.ok(compressed < raw / 4, `${compressed} vs ${raw}`);
  } finally {
    await io.config('SET', 'list-compress-depth', '0');
  }
});

test('MEMORY USAGE of an intset counts int16, int32 or int64 slots, never narrowed', async () => {
  await io.flushall();
  const small = Array.from({ length: 19 }, (_, i) => String(i + 1));
  await io.sadd('s', '1', '2', '3');
  await io.sadd('s32', '1', '2', '40000');
  await io.sadd('s64', '1', '2', '5000000000');
  await io.sadd('b', ...small, '40000');
  await io.sadd('c', ...small, '-5000000000');
  await io.sadd('e', '1', '2', '3', '100000');
  await io.srem('e', '100000');
  const usage = async (k: string): Promise<number> => Number(await io.call('MEMORY', 'USAGE', k));
  for (const k of ['s', 's32', 's64', 'b', 'c', 'e']) assert.is(await io.call('OBJECT', 'ENCODING', k), 'intset', k);
  // valkey-server 8.0.1 on the same commands.
  assert.equal(
    [await usage('s'), await usage('s32'), await usage('s64'), await usage('b'), await usage('c'), await usage('e')],
    [56, 64, 72, 136, 232, 64],
  );
});

test('DEBUG STRINGMATCH-TEST fuzzes the glob matcher', async () => {
  assert.is(await io.call('DEBUG', 'STRINGMATCH-TEST'), 'Apparently Valkey did not crash: test passed');
  assert.is(await io.ping(), 'PONG');
});

test.run();
