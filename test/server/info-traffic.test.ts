// INFO's measured traffic and event-loop fields (total_reads/writes_processed, the
// instantaneous rates, eventloop_*, the replication byte counts, the reply buffer
// counters), the build facts, and CLIENT LIST's reply-buffer fields, through ioredis and
// raw sockets against real servers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import Redis from 'ioredis';

import { useFleet, useServer } from '../helpers/fixture';
import { infoFields as fields } from '../helpers/info';
import { startServer } from '../helpers/server';

const t = suite('info-traffic');
const fx = useServer(t, {}, false);
const fleet = useFleet(t);


const stats = async (io: Redis): Promise<Map<string, string>> => fields(await io.info('stats'));
const num = (f: Map<string, string>, name: string): number => {
  const v = f.get(name);
  assert.ok(v !== undefined, `${name} missing`);
  return Number(v);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The CLIENT LIST line of the client named `name`, as a field map. */
const clientFields = async (io: Redis, name: string): Promise<Map<string, string>> => {
  const lines = ((await io.client('LIST')) as string).split('\n');
  const line = lines.find((l) => l.includes(` name=${name} `)) ?? '';
  return new Map(line.split(' ').map((kv) => kv.split('=', 2) as [string, string]));
};

t('reads, writes, commands time and loop counters grow with the work done; RESETSTAT zeroes them', async () => {
  await fx.io.config('RESETSTAT');
  const before = await stats(fx.io);
  assert.ok(num(before, 'total_reads_processed') <= 2, 'reset');
  for (let i = 0; i < 20; i++) await fx.io.set(`tk${i}`, 'x'.repeat(100));
  await sleep(120);
  const after = await stats(fx.io);
  // Each awaited command is a read of its own and a write of its own.
  assert.ok(num(after, 'total_reads_processed') - num(before, 'total_reads_processed') >= 20);
  assert.ok(num(after, 'total_writes_processed') - num(before, 'total_writes_processed') >= 20);
  assert.ok(num(after, 'eventloop_cycles') > num(before, 'eventloop_cycles'));
  assert.ok(num(after, 'eventloop_duration_sum') > num(before, 'eventloop_duration_sum'));
  assert.ok(num(after, 'eventloop_duration_cmd_sum') > num(before, 'eventloop_duration_cmd_sum'));
  // The loop's working time includes the commands' time.
  assert.ok(num(after, 'eventloop_duration_sum') >= num(after, 'eventloop_duration_cmd_sum'));
  assert.is(num(after, 'total_net_repl_input_bytes'), 0);
  assert.is(num(after, 'total_net_repl_output_bytes'), 0);
  // Idle, the loop turns for the cron and little else (Valkey's test allows < 10 per 110 ms).
  const idle1 = num(await stats(fx.io), 'eventloop_cycles');
  await sleep(110);
  const idle2 = num(await stats(fx.io), 'eventloop_cycles');
  assert.ok(idle2 > idle1 && idle2 < idle1 + 10, `${idle1} -> ${idle2}`);
});

t('INFO debug: per-turn loop timings, only when named, measured (commands per turn, longest turn, cron and AOF time), RESETSTAT zeroes them', async () => {
  const debug = async (io: Redis): Promise<Map<string, string>> => fields(await io.info('debug'));
  // Only `INFO debug` prints the section, last, with Valkey 8.0's four fields in order.
  const text = await fx.io.info('debug');
  assert.equal(text.split('\r\n').filter((l) => l !== '').map((l) => l.split(':')[0]), [
    '# Debug', 'eventloop_duration_aof_sum', 'eventloop_duration_cron_sum', 'eventloop_duration_max', 'eventloop_cmd_per_cycle_max',
  ]);
  for (const section of ['all', 'everything', 'default']) {
    assert.not.ok((await fx.io.info(section)).includes('# Debug'), section);
  }
  const both = (await fx.io.call('INFO', 'debug', 'server')) as string;
  assert.ok(both.startsWith('# Server') && both.includes('\r\n\r\n# Debug\r\n'));

  await fx.io.config('RESETSTAT');
  const reset = await debug(fx.io);
  assert.ok(num(reset, 'eventloop_cmd_per_cycle_max') <= 1, reset.get('eventloop_cmd_per_cycle_max'));
  // 40 commands in one write are read and run in one turn of the loop.
  const sock = net.connect(fx.srv.port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  let got = '';
  const done = new Promise<void>((r) => sock.on('data', (d) => { got += d.toString(); if (got.split('+PONG').length > 40) r(); }));
  sock.write('PING\r\n'.repeat(40));
  await done;
  sock.destroy();
  await sleep(250);
  const d1 = await debug(fx.io);
  assert.ok(num(d1, 'eventloop_cmd_per_cycle_max') >= 40, d1.get('eventloop_cmd_per_cycle_max'));
  assert.ok(num(d1, 'eventloop_duration_cron_sum') > 0);
  assert.ok(num(d1, 'eventloop_duration_max') > 0);
  assert.is(num(d1, 'eventloop_duration_aof_sum'), 0, 'no AOF, no AOF time');
  // A turn that runs a 200 ms command is the longest turn.
  await fx.io.call('DEBUG', 'SLEEP', '0.2');
  await sleep(120);
  const d2 = await debug(fx.io);
  assert.ok(num(d2, 'eventloop_duration_max') >= 200_000, d2.get('eventloop_duration_max'));
  assert.ok(num(d2, 'eventloop_duration_cron_sum') > num(d1, 'eventloop_duration_cron_sum'));
  await fx.io.config('RESETSTAT');
  const d3 = await debug(fx.io);
  assert.ok(num(d3, 'eventloop_duration_max') < 200_000, d3.get('eventloop_duration_max'));
  assert.ok(num(d3, 'eventloop_cmd_per_cycle_max') < 40);

  // With the AOF on (fsync always), the end-of-turn AOF writes take time.
  const aofSrv = fleet.track(await startServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] }));
  const aio = fleet.connect(aofSrv.port);
  for (let i = 0; i < 20; i++) await aio.set(`aof${i}`, 'v');
  assert.ok(num(await debug(aio), 'eventloop_duration_aof_sum') > 0);
});

t('instantaneous rates: input and output kbps under traffic, loop cycles per second', async () => {
  await fx.io.config('RESETSTAT');
  const value = 'v'.repeat(64 * 1024);
  const until = Date.now() + 1700;
  while (Date.now() < until) {
    await fx.io.set('rate-key', value);
    await fx.io.get('rate-key');
  }
  const f = await stats(fx.io);
  assert.ok(num(f, 'instantaneous_input_kbps') > 0, f.get('instantaneous_input_kbps'));
  assert.ok(num(f, 'instantaneous_output_kbps') > 0, f.get('instantaneous_output_kbps'));
  assert.match(f.get('instantaneous_input_kbps') ?? '', /^\d+\.\d\d$/);
  assert.is(f.get('instantaneous_input_repl_kbps'), '0.00');
  assert.ok(num(f, 'instantaneous_eventloop_cycles_per_sec') > 0);
  assert.ok(num(f, 'instantaneous_eventloop_duration_usec') > 0);
});

t('reply buffer counters, RESTORE sanitizations and the build facts', async () => {
  await fx.io.config('RESETSTAT');
  await fx.io.set('big-reply', 'b'.repeat(200 * 1024));
  await fx.io.get('big-reply');
  const dump = await fx.io.dumpBuffer('big-reply');
  await fx.io.restore('restored', 0, dump, 'REPLACE');
  const f = await stats(fx.io);
  assert.ok(num(f, 'reply_buffer_expands') >= 1);
  assert.ok(num(f, 'reply_buffer_shrinks') >= 1);
  assert.is(num(f, 'dump_payload_sanitizations'), 1);
  const server = fields(await fx.io.info('server'));
  assert.match(server.get('redis_git_sha1') ?? '', /^[0-9a-f]{8}$/);
  assert.match(server.get('redis_git_dirty') ?? '', /^[01]$/);
  assert.match(server.get('redis_build_id') ?? '', /^[0-9a-f]{16}$/);
  assert.is(server.get('gcc_version'), '0.0.0');
});

t('CLIENT LIST: rbs, rbp, and obl/oll/omem of a client that does not read its replies', async () => {
  const big = 'o'.repeat(4 * 1024 * 1024);
  await fx.io.set('out-key', big);
  const sock = net.connect(fx.srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  try {
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.write('*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$6\r\nstuck1\r\n');
    await sleep(50);
    // The client stops reading: what the kernel does not take waits in the socket's queue.
    sock.pause();
    for (let i = 0; i < 8; i++) sock.write('*2\r\n$3\r\nGET\r\n$7\r\nout-key\r\n');
    let f = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      await sleep(50);
      f = await clientFields(fx.io, 'stuck1');
      if (Number(f.get('oll')) > 0) break;
    }
    assert.ok(Number(f.get('rbs')) > 0, `rbs ${f.get('rbs')}`);
    assert.ok(Number(f.get('rbp')) >= big.length, `rbp ${f.get('rbp')}`);
    assert.ok(Number(f.get('oll')) > 0, `oll ${f.get('oll')}`);
    // The first 16 KB pending are Valkey's reply buffer (obl), the rest its reply list (omem).
    assert.is(f.get('obl'), String(16 * 1024));
    assert.ok(Number(f.get('omem')) > 0);
    assert.ok(Number(f.get('tot-mem')) >= Number(f.get('obl')) + Number(f.get('omem')));
  } finally {
    sock.destroy();
  }
  // The asking client's own line: nothing queued.
  const own = new Map(((await fx.io.client('INFO')) as string).trim().split(' ').map((kv) => kv.split('=', 2) as [string, string]));
  assert.is(own.get('obl'), '0');
  assert.is(own.get('oll'), '0');
  assert.is(own.get('omem'), '0');
});

t('replication bytes: the primary counts what it sent to replicas, the replica what it read from the primary', async () => {
  const replica = fleet.track(await startServer());
  const rio = fleet.connect(replica.port);
  await fx.io.set('repl-key', 'r'.repeat(10000));
  await rio.replicaof('127.0.0.1', String(fx.srv.port));
  for (let i = 0; i < 100; i++) {
    if (fields(await rio.info('replication')).get('master_link_status') === 'up') break;
    await sleep(100);
  }
  await fx.io.set('repl-key2', 'w'.repeat(5000));
  for (let i = 0; i < 50 && (await rio.get('repl-key2')) === null; i++) await sleep(100);
  const p = await stats(fx.io);
  const r = await stats(rio);
  assert.ok(num(p, 'total_net_repl_output_bytes') >= 15000, p.get('total_net_repl_output_bytes'));
  assert.ok(num(p, 'total_net_output_bytes') >= num(p, 'total_net_repl_output_bytes'));
  assert.ok(num(r, 'total_net_repl_input_bytes') >= 15000, r.get('total_net_repl_input_bytes'));
  assert.ok(num(r, 'total_net_input_bytes') >= num(r, 'total_net_repl_input_bytes'));
  await rio.replicaof('NO', 'ONE');
});

t('UNSUBSCRIBE, PUNSUBSCRIBE and SUNSUBSCRIBE outside subscribed mode: NOSUB, counted as rejected', async () => {
  await fx.io.config('RESETSTAT');
  for (const cmd of ['UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE']) {
    const err = await fx.io.call(cmd, 'nochan').then(
      () => '',
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    assert.is(err, `NOSUB '${cmd.toLowerCase()}' command executed not in subscribed mode`);
  }
  const f = fields(await fx.io.info('errorstats'));
  assert.is(f.get('errorstat_NOSUB'), 'count=3');
  const sub = new Redis({ port: fx.srv.port, lazyConnect: true });
  try {
    await sub.connect();
    await sub.subscribe('c1');
    // Subscribed: an unknown channel is answered, not refused.
    assert.equal(await sub.unsubscribe('nochan'), 1);
  } finally {
    sub.disconnect();
  }
});

t.run();
