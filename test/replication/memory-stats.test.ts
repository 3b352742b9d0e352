// MEMORY STATS and INFO memory with replication, with Valkey 8.0's meaning
// (getMemoryOverheadData): the backlog is `replication.backlog`, replicas' buffers are
// `clients.slaves` and not `clients.normal`, both are part of `overhead.total`, and
// MEMORY STATS agrees with INFO's mem_replication_backlog / mem_clients_*.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { startServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { infoFields } from '../helpers/info';
import { info, infoNum, waitUntil } from '../persistence/util';

const t = suite('replication-memory-stats');
const fleet = useFleet(t);
const MB = 1024 * 1024;
/** How far apart the two may see the calling client (its EXEC's replies so far). */
const OWN_SLACK = 16 * 1024;

function near(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= OWN_SLACK, `${what}: ${a} vs ${b}`);
}

/**
 * MEMORY STATS and INFO memory taken in one transaction: the same state but for the
 * calling client's own, whose transaction holds the first reply while INFO runs.
 */
async function statsAndInfo(io: Redis): Promise<{ stats: Map<string, unknown>; info: Map<string, string> }> {
  const res = await io.multi().call('MEMORY', 'STATS').info('memory').exec();
  assert.ok(res !== null && res.every(([err]) => err === null), 'MULTI ran');
  const flat = res[0]?.[1] as unknown[];
  const stats = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) stats.set(String(flat[i]), flat[i + 1]);
  return { stats, info: infoFields(String(res[1]?.[1])) };
}

/** `overhead.total` as Valkey adds it up: start-up, backlog, client buffers, AOF and script caches, table overheads. */
function overheadParts(stats: Map<string, unknown>): number {
  const num = (k: string): number => Number(stats.get(k));
  let total = ['startup.allocated', 'replication.backlog', 'clients.slaves', 'clients.normal', 'cluster.links', 'aof.buffer', 'lua.caches', 'functions.caches'].reduce((s, k) => s + num(k), 0);
  for (const [k, v] of stats) {
    if (!/^db\.\d+$/.test(k)) continue;
    const db = v as unknown[];
    total += Number(db[1]) + Number(db[3]);
  }
  return total;
}

async function linked(primary: Redis, replica: Redis): Promise<void> {
  await waitUntil('the replica in sync', async () => {
    const [p, r] = await Promise.all([info(primary, 'replication'), info(replica, 'replication')]);
    return (p.get('slave0') ?? '').includes('state=online') && r.get('master_link_status') === 'up' && r.get('master_repl_offset') === p.get('master_repl_offset');
  }, 20000, 50);
}

t('a replica reports its backlog in replication.backlog and overhead.total, and no replica buffers', async () => {
  const p = fleet.track(await startServer({ args: ['--repl-diskless-sync-delay', '0'] }));
  const r = fleet.track(await startServer({ args: ['--replicaof', '127.0.0.1', String(p.port)] }));
  const pio = fleet.connect(p.port);
  const rio = fleet.connect(r.port);
  await linked(pio, rio);
  for (let i = 0; i < 200; i++) await pio.set(`k${i}`, 'v'.repeat(1000));
  await linked(pio, rio);
  const { stats, info: mem } = await statsAndInfo(rio);
  const num = (k: string): number => Number(stats.get(k));
  // The replica keeps the primary's stream in its own backlog (200 SETs of 1000 bytes).
  assert.ok(num('replication.backlog') > 200 * 1000, `replication.backlog=${num('replication.backlog')}`);
  assert.is(num('replication.backlog'), Number(mem.get('mem_replication_backlog')));
  assert.is(num('clients.slaves'), 0);
  assert.is(num('clients.slaves'), Number(mem.get('mem_clients_slaves')));
  near(num('clients.normal'), Number(mem.get('mem_clients_normal')), 'clients.normal');
  assert.is(num('overhead.total'), overheadParts(stats));
  near(num('overhead.total'), Number(mem.get('used_memory_overhead')), 'overhead.total');
  assert.is(num('dataset.bytes'), num('total.allocated') - num('overhead.total'));
});

t("a primary counts a stalled replica's buffers in clients.slaves, not clients.normal, and DOCTOR names them", async () => {
  const p = fleet.track(await startServer({ args: ['--repl-diskless-sync-delay', '0', '--repl-backlog-size', '1mb'] }));
  const r = fleet.track(await startServer({ args: ['--replicaof', '127.0.0.1', String(p.port)] }));
  const io = fleet.connect(p.port);
  await linked(io, fleet.connect(r.port));
  // A stopped replica reads nothing: the stream piles up in its output on the primary.
  process.kill(r.pid, 'SIGSTOP');
  try {
    const value = 'v'.repeat(100_000);
    for (let i = 0; i < 250; i++) await io.set(`k${i % 10}`, value);
    await waitUntil('the replica output to pile up', async () => (await infoNum(io, 'mem_clients_slaves', 'memory')) > 11 * MB, 10000, 50);
    const { stats, info: mem } = await statsAndInfo(io);
    const num = (k: string): number => Number(stats.get(k));
    assert.ok(num('clients.slaves') > 11 * MB, `clients.slaves=${num('clients.slaves')}`);
    assert.is(num('clients.slaves'), Number(mem.get('mem_clients_slaves')));
    // The normal clients (this one) hold next to nothing.
    assert.ok(num('clients.normal') < MB, `clients.normal=${num('clients.normal')}`);
    near(num('clients.normal'), Number(mem.get('mem_clients_normal')), 'clients.normal');
    // The backlog is kept at its size; what the replica has yet to read is its own.
    assert.is(num('replication.backlog'), MB);
    assert.is(num('replication.backlog'), Number(mem.get('mem_replication_backlog')));
    assert.is(num('overhead.total'), overheadParts(stats));
    assert.is(num('dataset.bytes'), num('total.allocated') - num('overhead.total'));
    // Over 10 MB per replica, as Valkey's DOCTOR rates it.
    assert.match(String(await io.call('MEMORY', 'DOCTOR')), / \* Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica \(on average\)\./);
  } finally {
    process.kill(r.pid, 'SIGCONT');
  }
});

t.run();
