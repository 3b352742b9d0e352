// Client eviction (`maxmemory-clients`, CLIENT NO-EVICT) through real clients (issue 14).
import * as net from 'node:net';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { startServer, type RunningServer } from '../helpers/server';
import { clientFields as clientFieldsOf, infoNumber, waitFor } from '../helpers/introspect';
import { evictionLimit, memoryBucket } from '../../ts/net/client-eviction';

const t = suite('client-eviction');
let srv: RunningServer;
let io: Redis;

const info = (field: string): Promise<number> => infoNumber(io, field);
const clientFields = (name: string): Promise<Record<string, string> | null> => clientFieldsOf(io, name);

t.before(async () => {
  // The log lines checked below name their client (the default, yes, redacts names).
  srv = await startServer({ args: ['--hide-user-data-from-log', 'no'] });
  io = new Redis({ port: srv.port });
  await io.client('SETNAME', 'control');
  await io.client('NO-EVICT', 'ON');
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});
t.before.each(async () => {
  await io.config('SET', 'maxmemory-clients', '0');
  await io.config('SET', 'maxmemory', '0');
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

/** A raw client named `name` that sends `bytes` bytes of an incomplete bulk argument. */
async function holdQueryBuffer(name: string, bytes: number): Promise<{ sock: net.Socket; closed: Promise<void> }> {
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.resume(); // reads (and drops) its replies, so that it sees the server close it
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write(`CLIENT SETNAME ${name}\r\n`);
  await waitFor(async () => (await clientFields(name)) !== null, `${name} to connect`);
  sock.write(`*1\r\n$${bytes + 1}\r\n${'v'.repeat(bytes)}`);
  await waitFor(async () => Number((await clientFields(name))?.qbuf ?? -1) >= bytes, `${name}'s query buffer`).catch(() => undefined);
  return { sock, closed };
}

t('the limit and the size buckets are Valkey\'s', () => {
  assert.is(evictionLimit(0, 100 * MB), 0);
  assert.is(evictionLimit(3 * MB, 0), 3 * MB);
  // A percentage of maxmemory (stored negative); off without maxmemory.
  assert.is(evictionLimit(-7, 6 * MB), Math.floor((6 * MB * 7) / 100));
  assert.is(evictionLimit(-7, 0), 0);
  // Never below 128 KB.
  assert.is(evictionLimit(1, 0), 128 * 1024);
  // Everything under 32 KB shares bucket 0; then one bucket per power of two, up to 8 GB.
  assert.is(memoryBucket(0), 0);
  assert.is(memoryBucket(32 * 1024 - 1), 0);
  assert.is(memoryBucket(32 * 1024), 1);
  assert.is(memoryBucket(64 * 1024 - 1), 1);
  assert.is(memoryBucket(64 * 1024), 2);
  assert.is(memoryBucket(3 * MB), 7);
  assert.is(memoryBucket(2 ** 40), 18);
});

t('an incomplete command shows in qbuf and tot-mem, and evicts its client past maxmemory-clients', async () => {
  await io.config('SET', 'maxmemory-clients', `${3 * MB}`);
  const half = await holdQueryBuffer('half', 1 * MB);
  const f = await clientFields('half');
  assert.ok(f !== null);
  const qbuf = Number(f.qbuf);
  assert.is(qbuf, MB, 'qbuf: the argument read so far (its headers are parsed)');
  // The query buffer is sized to the argument being read, not doubled past it.
  assert.ok(Number(f['qbuf-free']) < 1024, `qbuf-free=${f['qbuf-free']}`);
  assert.ok(Number(f['tot-mem']) >= MB && Number(f['tot-mem']) < 3 * MB, `tot-mem=${f['tot-mem']}`);
  assert.ok((await info('mem_clients_normal')) >= MB);

  const before = await info('evicted_clients');
  const big = await holdQueryBuffer('big', 3 * MB);
  await big.closed;
  assert.is(await clientFields('big'), null);
  assert.is(await info('evicted_clients'), before + 1);
  assert.match(srv.output(), /Evicting client: id=\d+ .*name=big /);
  // Only the biggest client went: the total is below the limit again.
  assert.ok((await clientFields('half')) !== null);
  half.sock.destroy();
});

t('qbuf is what is read and not yet parsed; the complete arguments of a partial command are argv-mem', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.resume();
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write('CLIENT SETNAME partial\r\n');
  await waitFor(async () => (await clientFields('partial')) !== null, 'the client');
  assert.is((await clientFields('partial'))?.qbuf, '0');
  sock.write('*3\r\n$3\r\nset\r\n$2\r\na');
  await waitFor(async () => (await clientFields('partial'))?.qbuf === '1', 'qbuf=1');
  const f = await clientFields('partial');
  assert.is(f?.['argv-mem'], '3');
  sock.write('a\r\n$1\r\nb\r\n');
  await waitFor(async () => (await clientFields('partial'))?.qbuf === '0', 'qbuf=0');
  assert.is(await io.get('aa'), 'b');
  await io.del('aa');
  sock.destroy();
});

t('the biggest clients go first, until the total is under the limit', async () => {
  const small = await holdQueryBuffer('small', 100 * 1024);
  const large = await holdQueryBuffer('large', 2 * MB);
  const medium = await holdQueryBuffer('medium', 600 * 1024);
  // Lowering the limit evicts at once (Valkey re-checks on CONFIG SET).
  await io.config('SET', 'maxmemory-clients', `${1 * MB}`);
  await large.closed;
  assert.is(await clientFields('large'), null);
  assert.ok((await clientFields('medium')) !== null);
  assert.ok((await clientFields('small')) !== null);
  small.sock.destroy();
  medium.sock.destroy();
});

t('CLIENT NO-EVICT on keeps a client over the limit; turning it off gets it evicted', async () => {
  await io.set('k', 'v'.repeat(MB));
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.pause(); // never reads its replies: its output piles up in the server
  sock.write('CLIENT SETNAME keeper\r\nCLIENT NO-EVICT on\r\n');
  await waitFor(async () => (await clientFields('keeper'))?.flags === 'e', 'the no-evict flag');
  await io.config('SET', 'maxmemory-clients', '1');
  await waitFor(async () => {
    sock.write('GET k\r\n');
    await sleep(10);
    return Number((await clientFields('keeper'))?.['tot-mem'] ?? 0) > 10 * MB;
  }, 'the output to pile up', 10000);
  assert.match(srv.output(), /Over client maxmemory after evicting all evictable clients/);
  sock.write('CLIENT NO-EVICT off\r\n');
  await waitFor(async () => (await clientFields('keeper')) === null, 'the eviction');
  sock.destroy();
  await closed;
  await io.del('k');
});

t('maxmemory-clients as a percentage of maxmemory', async () => {
  await io.config('SET', 'maxmemory', `${20 * MB}`);
  await io.config('SET', 'maxmemory-clients', '10%');
  const under = await holdQueryBuffer('under', 1 * MB);
  assert.ok((await clientFields('under')) !== null);
  const over = await holdQueryBuffer('over', 2 * MB);
  await over.closed;
  assert.is(await clientFields('over'), null);
  under.sock.destroy();
  await io.config('SET', 'maxmemory', '0');
});

t('a client that never reads its replies is evicted once its output passes the limit', async () => {
  await io.set('k', 'v'.repeat(200 * 1024));
  await io.config('SET', 'maxmemory-clients', `${3 * MB}`);
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.pause();
  sock.write('CLIENT SETNAME reader\r\n');
  // The name comes over another connection than CLIENT LIST: wait until it is set, or the
  // loop below would read "no such client" as the eviction.
  await waitFor(async () => (await clientFields('reader')) !== null, 'the name');
  let done = false;
  void closed.then(() => {
    done = true;
  });
  let evicted = false;
  for (let i = 0; i < 2000 && !done; i++) {
    sock.write('GET k\r\n');
    const f = await clientFields('reader');
    if (f === null) {
      evicted = true;
      break;
    }
    assert.ok(Number(f['tot-mem']) < 3 * MB + 256 * 1024, `tot-mem=${f['tot-mem']}`);
    await sleep(2);
  }
  assert.ok(evicted || done, 'evicted while it did not read');
  sock.resume();
  await waitFor(async () => (await clientFields('reader')) === null, 'the eviction', 10000);
  sock.destroy();
  await closed;
  await io.del('k');
});

t('INFO evicted_clients resets with CONFIG RESETSTAT', async () => {
  assert.ok((await info('evicted_clients')) > 0);
  await io.config('RESETSTAT');
  assert.is(await info('evicted_clients'), 0);
});

t.run();
