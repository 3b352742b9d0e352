// Geo, SORT, MEMORY, OBJECT IDLETIME/FREQ and DEBUG PROTOCOL through real clients:
// ioredis and node-redis' typed geo APIs, raw RESP for exact shapes (RESP3 doubles, big
// numbers, verbatim strings). AOF replay of these writes: aof-replay.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from 'redis';
import { useServer } from '../helpers/fixture';
import { show } from '../helpers/client';

const t = suite('geo-sort');
const fx = useServer(t, {}, false);
t.before.each(async () => {
  await fx.io.flushall();
  await fx.io.config('SET', 'maxmemory-policy', 'noeviction');
});

const r = async (...args: string[]): Promise<string> => show(await fx.raw.call(...args));

t('GEOADD/GEOPOS/GEODIST/GEOHASH give Valkey\'s numbers', async () => {
  assert.is(await fx.io.geoadd('Sicily', 13.361389, 38.115556, 'Palermo', 15.087269, 37.502669, 'Catania'), 2);
  assert.is(await fx.io.zscore('Sicily', 'Palermo'), '3479099956230698');
  assert.equal(await fx.io.geopos('Sicily', 'Palermo', 'nope'), [['13.36138933897018433', '38.11555639549629859'], null]);
  assert.is(await fx.io.geodist('Sicily', 'Palermo', 'Catania'), '166274.1516');
  assert.is(await fx.io.geodist('Sicily', 'Palermo', 'Catania', 'KM'), '166.2742');
  assert.is(await fx.io.geodist('Sicily', 'Palermo', 'nope'), null);
  assert.equal(await fx.io.geohash('Sicily', 'Palermo', 'Catania', 'x'), ['sqc8b49rny0', 'sqdtr74hyu0', null]);
  assert.is(await r('GEOADD', 'Sicily', '200', '10', 'x'), '(error ERR invalid longitude,latitude pair 200.000000,10.000000)');
  assert.is(await r('GEOADD', 'Sicily', 'NX', 'XX', '1', '1', 'x'), '(error ERR syntax error)');
  assert.is(await r('GEOADD', 'Sicily', 'CH', 'XX', '13.5', '38', 'Palermo', '1', '1', 'new'), '(int 1)');
  assert.is(await fx.io.zscore('Sicily', 'new'), null);
  assert.is(await r('GEODIST', 'Sicily', 'Palermo', 'Catania', 'parsec'), '(error ERR unsupported unit provided. please use M, KM, FT, MI)');
  await fx.io.set('str', 'v');
  assert.is(await r('GEOPOS', 'str', 'a'), '(error WRONGTYPE Operation against a key holding the wrong kind of value)');
  // RESP3: coordinates are doubles, distances stay bulk strings.
  await fx.raw.call('HELLO', '3');
  try {
    assert.is(await r('GEOPOS', 'Sicily', 'Catania'), '*[*[,15.08726745843887329, ,37.50266842333162032]]');
    assert.is(await r('GEOSEARCH', 'Sicily', 'FROMMEMBER', 'Catania', 'BYRADIUS', '1', 'km', 'WITHDIST'), '*[*["Catania", "0.0000"]]');
  } finally {
    await fx.raw.call('HELLO', '2');
  }
});

t('GEOSEARCH/GEORADIUS options, errors and STORE', async () => {
  await fx.io.geoadd('Sicily', 13.361389, 38.115556, 'Palermo', 15.087269, 37.502669, 'Catania', 12.758489, 38.788135, 'edge1', 17.241510, 38.788135, 'edge2');
  assert.equal(await fx.io.call('GEOSEARCH', 'Sicily', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'ASC'), ['Catania', 'Palermo']);
  assert.equal(await fx.io.call('GEOSEARCH', 'Sicily', 'FROMLONLAT', '15', '37', 'BYBOX', '400', '400', 'km', 'DESC', 'WITHDIST', 'COUNT', '1'), [['edge1', '279.7405']]);
  assert.equal(await fx.io.call('GEORADIUS', 'Sicily', '15', '37', '200', 'km', 'WITHCOORD', 'WITHHASH', 'COUNT', '1'), [
    ['Catania', 3479447370796909, ['15.08726745843887329', '37.50266842333162032']],
  ]);
  assert.equal(await fx.io.call('GEORADIUSBYMEMBER_RO', 'Sicily', 'Palermo', '100', 'km'), ['Palermo', 'edge1']);
  assert.is(await r('GEOSEARCH', 'Sicily', 'BYRADIUS', '1', 'km', 'ASC', 'WITHDIST'), '(error ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH)');
  assert.is(await r('GEOSEARCH', 'Sicily', 'FROMMEMBER', 'Palermo', 'ASC', 'WITHDIST', 'WITHHASH'), '(error ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH)');
  assert.is(await r('GEOSEARCH', 'Sicily', 'FROMMEMBER', 'nobody', 'BYRADIUS', '1', 'km'), '(error ERR could not decode requested zset member)');
  assert.is(await r('GEOSEARCH', 'Sicily', 'FROMMEMBER', 'Palermo', 'BYRADIUS', '1', 'km', 'ANY'), '(error ERR the ANY argument requires COUNT argument)');
  assert.is(await r('GEOSEARCH', 'Sicily', 'FROMMEMBER', 'Palermo', 'BYRADIUS', '-1', 'km'), '(error ERR radius cannot be negative)');
  assert.is(await r('GEORADIUS_RO', 'Sicily', '15', '37', '200', 'km', 'STORE', 'x'), '(error ERR syntax error)');
  assert.is(await r('GEORADIUS', 'Sicily', '15', '37', '200', 'km', 'STORE', 'x', 'WITHDIST'), '(error ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options)');
  assert.is(await r('GEOSEARCHSTORE', 'dst', 'Sicily', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'STOREDIST'), '(int 2)');
  // The distances redis-server 7.0 stores (it prints 17 digits, Valkey 8 the shortest form).
  const stored = (await fx.io.zrange('dst', '0', '-1', 'WITHSCORES')).map((x, i) => (i % 2 ? Number(x) : x));
  assert.equal(stored, ['Catania', 56.441257870158204, 'Palermo', 190.44242984775784]);
  assert.is(await r('GEORADIUS', 'Sicily', '15', '37', '200', 'km', 'STORE', 'dst2'), '(int 2)');
  assert.is(await fx.io.zscore('dst2', 'Catania'), '3479447370796909');
  // An empty result deletes the destination; a missing source gives 0 / empty.
  assert.is(await r('GEOSEARCHSTORE', 'dst', 'Sicily', 'FROMLONLAT', '0', '0', 'BYRADIUS', '1', 'km'), '(int 0)');
  assert.is(await fx.io.exists('dst'), 0);
  assert.is(await r('GEOSEARCH', 'none', 'FROMMEMBER', 'x', 'BYRADIUS', '1', 'km'), '*[]');
  assert.equal(await fx.io.call('COMMAND', 'GETKEYS', 'GEORADIUS', 'src', '1', '1', '1', 'km', 'STORE', 'dst'), ['src', 'dst']);
});

t('node-redis geo API', async () => {
  const c = createClient({ socket: { port: fx.srv.port } });
  await c.connect();
  try {
    await c.geoAdd('pts', [
      { longitude: 13.361389, latitude: 38.115556, member: 'Palermo' },
      { longitude: 15.087269, latitude: 37.502669, member: 'Catania' },
    ]);
    const near = await c.geoSearchWith('pts', { longitude: 15, latitude: 37 }, { radius: 200, unit: 'km' }, ['WITHDIST'], { SORT: 'ASC' });
    assert.equal(near.map((x) => [x.member, x.distance]), [
      ['Catania', 56.4413],
      ['Palermo', 190.4424],
    ]);
  } finally {
    await c.quit();
  }
});

t('SORT and SORT_RO: BY, GET, LIMIT, ALPHA, STORE', async () => {
  await fx.io.rpush('l', '3', '1', '2', '10');
  await fx.io.mset('w_1', '30', 'w_2', '20', 'w_3', '10', 'w_10', '5');
  await fx.io.hset('h_1', 'n', 'one');
  await fx.io.hset('h_2', 'n', 'two');
  assert.equal(await fx.io.call('SORT', 'l'), ['1', '2', '3', '10']);
  assert.equal(await fx.io.call('SORT', 'l', 'ALPHA', 'DESC'), ['3', '2', '10', '1']);
  assert.equal(await fx.io.call('SORT', 'l', 'BY', 'w_*'), ['10', '3', '2', '1']);
  assert.equal(await fx.io.call('SORT', 'l', 'BY', 'w_*', 'LIMIT', '1', '2', 'GET', '#', 'GET', 'h_*->n'), ['3', null, '2', 'two']);
  assert.equal(await fx.io.call('SORT', 'l', 'BY', 'nosort', 'DESC'), ['10', '2', '1', '3']);
  assert.equal(await fx.io.call('SORT_RO', 'l', 'GET', 'nokey'), [null, null, null, null]);
  assert.is(await fx.io.call('SORT', 'l', 'BY', 'w_*', 'STORE', 'out'), 4);
  assert.equal(await fx.io.lrange('out', 0, -1), ['10', '3', '2', '1']);
  await fx.io.rpush('bad', '1', 'x');
  assert.is(await r('SORT', 'bad'), "(error ERR One or more scores can't be converted into double)");
  assert.is(await r('SORT_RO', 'l', 'STORE', 'x'), '(error ERR syntax error)');
  assert.is(await r('SORT', 'l', 'LIMIT', '0'), '(error ERR syntax error)');
  await fx.io.set('s', 'v');
  assert.is(await r('SORT', 's'), '(error WRONGTYPE Operation against a key holding the wrong kind of value)');
  // A set BY a constant is sorted by bytes when stored (a stable result for replicas).
  await fx.io.sadd('set', 'b', 'c', 'a');
  assert.is(await fx.io.call('SORT', 'set', 'BY', 'x', 'STORE', 'sorted'), 3);
  assert.equal(await fx.io.lrange('sorted', 0, -1), ['a', 'b', 'c']);
  assert.equal(await fx.io.call('COMMAND', 'GETKEYS', 'SORT', 'abc', 'STORE', 'bad', 'GET', 'store', 'STORE', 'def'), ['abc', 'def']);
});

t('MEMORY USAGE estimates, MEMORY HELP/PURGE/MALLOC-STATS', async () => {
  await fx.io.set('small', 'v');
  await fx.io.set('big', 'x'.repeat(10000));
  await fx.io.rpush('list', ...Array.from({ length: 1000 }, (_, i) => `item${i}`));
  const small = Number(await fx.io.call('MEMORY', 'USAGE', 'small'));
  const big = Number(await fx.io.call('MEMORY', 'USAGE', 'big'));
  const list = Number(await fx.io.call('MEMORY', 'USAGE', 'list', 'SAMPLES', '0'));
  // valkey-server 8.0.1's figures for the same keys and values.
  assert.is(small, 56);
  assert.is(big, 10280);
  assert.is(list, 9128);
  assert.is(await fx.io.call('MEMORY', 'USAGE', 'missing'), null);
  assert.is(await r('MEMORY', 'USAGE', 'small', 'SAMPLES', '-1'), '(error ERR syntax error)');
  assert.is(await r('MEMORY', 'USAGE', 'small', 'BOGUS'), '(error ERR syntax error)');
  assert.is(await fx.io.call('MEMORY', 'PURGE'), 'OK');
  assert.match(String(await fx.io.call('MEMORY', 'MALLOC-STATS')), /^___ Begin jemalloc statistics ___/);
  assert.match(JSON.stringify(await fx.io.call('MEMORY', 'HELP')), /USAGE <key> \[SAMPLES <count>\]/);
});

t('OBJECT IDLETIME and FREQ follow maxmemory-policy; RESTORE IDLETIME/FREQ set them', async () => {
  await fx.io.set('k', 'v');
  assert.is(await fx.io.object('IDLETIME', 'k'), 0);
  assert.is(await r('OBJECT', 'FREQ', 'k'), '(error ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.)');
  const dump = await fx.io.dumpBuffer('k');
  await fx.io.del('k');
  await fx.io.call('RESTORE', 'k', '0', dump, 'IDLETIME', '1000');
  const idle = Number(await fx.io.object('IDLETIME', 'k'));
  assert.ok(idle >= 1000 && idle <= 1002, `idle ${idle}`);
  // OBJECT does not count as an access; GET does.
  assert.ok(Number(await fx.io.object('IDLETIME', 'k')) >= 1000);
  await fx.io.get('k');
  assert.is(await fx.io.object('IDLETIME', 'k'), 0);
  await fx.io.config('SET', 'maxmemory-policy', 'allkeys-lfu');
  await fx.io.del('k');
  await fx.io.call('RESTORE', 'k', '0', dump, 'FREQ', '100');
  assert.is(await fx.io.object('FREQ', 'k'), 100);
  await fx.io.set('fresh', 'v');
  assert.is(await fx.io.object('FREQ', 'fresh'), 5);
  assert.match(await r('OBJECT', 'IDLETIME', 'k'), /An LFU maxmemory policy is selected, idle time not tracked/);
  assert.is(await fx.io.object('FREQ', 'missing'), null);
  assert.match(JSON.stringify(await fx.io.call('OBJECT', 'HELP')), /IDLETIME <key>/);
});

t('DEBUG PROTOCOL replies with each RESP type', async () => {
  assert.is(await r('DEBUG', 'PROTOCOL', 'bignum'), '"1234567999999999999999999999999999999"');
  assert.is(await r('DEBUG', 'PROTOCOL', 'map'), '*[(int 0), (int 0), (int 1), (int 1), (int 2), (int 0)]');
  assert.is(await r('DEBUG', 'PROTOCOL', 'attrib'), '"Some real reply following the attribute"');
  assert.is(await r('DEBUG', 'PROTOCOL', 'push'), '(error ERR RESP2 is not supported by this command)');
  await fx.raw.call('HELLO', '3');
  try {
    assert.is(await r('DEBUG', 'PROTOCOL', 'true'), '#true');
    assert.is(await r('DEBUG', 'PROTOCOL', 'double'), ',3.141');
    assert.is(await r('DEBUG', 'PROTOCOL', 'set'), '~[(int 0), (int 1), (int 2)]');
    assert.is(await r('DEBUG', 'PROTOCOL', 'verbatim'), '=txt:This is a verbatim\nstring');
  } finally {
    await fx.raw.call('HELLO', '2');
  }
  assert.match(await r('DEBUG', 'PROTOCOL', 'nope'), /Wrong protocol type name/);
});

t.run();
