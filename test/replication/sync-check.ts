// Shared checks of the replication suites: the link is up, both sides hold the same data,
// and the write loads the suites replay on a primary (dbs 0 and 3, every kind of write the
// stream must carry).
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import type { Fleet } from '../helpers/fixture';
import { contents, info, sameContents, waitUntil } from '../persistence/util';

/** The dbs the write loads touch and the comparisons read. */
export const DBS = [0, 3];

/** Waits until the replica behind `io` reports `master_link_status:up`. */
export async function linkUp(io: Redis): Promise<void> {
  await waitUntil('replica link up', async () => (await info(io, 'replication')).get('master_link_status') === 'up', 20000, 50);
}

/**
 * Waits for equal `master_repl_offset` on both sides, then compares every key (values and
 * TTLs) of dbs 0 and 3; with `digest`, also DEBUG DIGEST (only when both sides are forkv:
 * forkv's digest is its own, not Valkey's algorithm).
 */
export async function sameOnBoth(fleet: Fleet, primaryPort: number, replicaPort: number, what: string, digest = false): Promise<void> {
  const p = fleet.connect(primaryPort);
  const r = fleet.connect(replicaPort);
  await waitUntil(`${what}: offsets match`, async () => {
    const po = (await info(p, 'replication')).get('master_repl_offset');
    const ro = (await info(r, 'replication')).get('master_repl_offset');
    return po !== undefined && po === ro;
  }, 15000, 50);
  sameContents(await contents(replicaPort, DBS), await contents(primaryPort, DBS), what);
  if (digest) assert.is(await r.call('DEBUG', 'DIGEST'), await p.call('DEBUG', 'DIGEST'), `${what}: DEBUG DIGEST`);
}

/**
 * Writes of several kinds in dbs 0 and 3 (strings, list, hash, counter, TTL, zset, set,
 * MULTI/EXEC), then `bulk` strings of growing size (to make a transfer take some time).
 */
export async function writeSome(fleet: Fleet, port: number, tag: string, bulk = 0): Promise<void> {
  const a = fleet.connect(port);
  const b = fleet.connect(port, 3);
  await a.set(`s:${tag}`, `v-${tag}`);
  await a.rpush(`l:${tag}`, 'a', 'b', 'c');
  await a.hset(`h:${tag}`, 'f', '1', 'g', '2');
  await a.incrby(`n:${tag}`, 5);
  await a.expire(`s:${tag}`, 1000);
  await b.zadd(`z:${tag}`, 1, 'one', 2, 'two');
  await a.multi().set(`m1:${tag}`, '1').set(`m2:${tag}`, '2').exec();
  await b.sadd(`set:${tag}`, 'x', 'y');
  for (let i = 0; i < bulk; i++) await a.set(`bulk:${tag}:${i}`, 'v'.repeat(i));
}

/**
 * Writes of every type, with a TTL, in dbs 0 and 3. `groupRead` adds an XREADGROUP:
 * redis 7.0 propagates it without the group's entries_read (fixed in Valkey), so its
 * replicas (Valkey's too) differ from it there: only the full sync carries that one.
 */
export async function writeAll(fleet: Fleet, port: number, tag: string, groupRead = true): Promise<void> {
  const a = fleet.connect(port);
  const b = fleet.connect(port, 3);
  await a.set(`s:${tag}`, `v-${tag}`, 'EX', 1000);
  await a.set(`n:${tag}`, '12345');
  await a.rpush(`l:${tag}`, 'a', 'b', 'c');
  await a.hset(`h:${tag}`, 'f', '1', 'g', '2');
  await a.sadd(`set:${tag}`, 'x', 'y', '3');
  await a.sadd(`iset:${tag}`, '1', '2', '3');
  await b.zadd(`z:${tag}`, 1.5, 'one', 2, 'two');
  await a.xadd(`st:${tag}`, '1-1', 'k', 'v');
  await a.xgroup('CREATE', `st:${tag}`, 'g', '0');
  if (groupRead) await a.call('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '1', 'STREAMS', `st:${tag}`, '>');
  await a.multi().incr(`n:${tag}`).lpush(`l:${tag}`, 'z').exec();
  await b.set(`big:${tag}`, 'x'.repeat(5000));
}
