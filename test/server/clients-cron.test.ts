// The clients cron as Valkey's clientsCron (issue 14): each tick visits numclients / hz
// clients (at least 5), so that its work stays bounded however many clients are connected,
// and every client is still visited about once a second. With hundreds of idle clients
// connected, what the cron does per client still happens within the time Valkey's own
// tests allow: the idle timeout, the query buffer given back, the soft output limit, and
// client eviction.
import * as net from 'node:net';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { startServer, type RunningServer } from '../helpers/server';
import { clientFields as clientFieldsOf, infoNumber, waitFor } from '../helpers/introspect';
import { CLIENTS_CRON_MIN_ITERATIONS, ClientsRotation, clientsCronIterations } from '../../ts/net/clients-cron';
import type { Connection } from '../../ts/net/connection';

const t = suite('clients-cron');
let srv: RunningServer;
let io: Redis;
/** Idle connections that make the client table big. */
const crowd: net.Socket[] = [];
const CROWD = 400;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function connect(): Promise<net.Socket> {
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.resume();
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  return sock;
}

const info = (field: string): Promise<number> => infoNumber(io, field);
const clientFields = (name: string): Promise<Record<string, string> | null> => clientFieldsOf(io, name);

t.before(async () => {
  srv = await startServer();
  io = new Redis({ port: srv.port });
  await io.client('SETNAME', 'control');
  await io.client('NO-EVICT', 'ON');
  for (let i = 0; i < CROWD; i++) crowd.push(await connect());
  await waitFor(async () => (await info('connected_clients')) >= CROWD + 1, 'the crowd to connect', 10000);
});
t.after(async () => {
  for (const s of crowd) s.destroy();
  io.disconnect();
  await srv.stop();
});

t('a tick visits numclients / hz clients, at least 5 (Valkey\'s clientsCron)', () => {
  assert.is(CLIENTS_CRON_MIN_ITERATIONS, 5);
  assert.is(clientsCronIterations(0, 10), 0);
  assert.is(clientsCronIterations(3, 10), 3);
  assert.is(clientsCronIterations(30, 10), 5);
  assert.is(clientsCronIterations(400, 10), 40);
  assert.is(clientsCronIterations(10000, 100), 100);
  assert.is(clientsCronIterations(10000, 1), 10000);
});

t('the rotation resumes where it stopped, never repeats a client in a batch, and follows the table', () => {
  const table = new Map<number, Connection>();
  const conn = (id: number): Connection => ({ id }) as unknown as Connection;
  for (let id = 1; id <= 7; id++) table.set(id, conn(id));
  const r = new ClientsRotation();
  const ids = (batch: Connection[]): number[] => batch.map((c) => c.id);
  assert.equal(ids(r.next(table, 3)), [1, 2, 3]);
  assert.equal(ids(r.next(table, 3)), [4, 5, 6]);
  // A client that leaves before its turn is skipped; a new one is visited in this round.
  table.delete(7);
  table.set(8, conn(8));
  assert.equal(ids(r.next(table, 3)), [8, 1, 2]);
  // Never more than the table, never one twice.
  assert.equal(ids(r.next(table, 50)).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 8]);
});

t('an idle client\'s query buffer is given back within seconds among hundreds of clients', async () => {
  const sock = await connect();
  sock.write('CLIENT SETNAME bigquery\r\n');
  await waitFor(async () => (await clientFields('bigquery')) !== null, 'the name', 5000);
  // A 1 MB argument read in parts leaves a big private query buffer behind.
  sock.write(`*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$${1024 * 1024}\r\n`);
  sock.write('x'.repeat(1024 * 1024));
  await sleep(50);
  sock.write('\r\n');
  await waitFor(async () => (await io.exists('qb')) === 1, 'the SET', 5000);
  // Valkey gives the buffer of a client idle for more than 2 s back; its querybuf unit
  // waits up to 10 s.
  await waitFor(async () => {
    const f = await clientFields('bigquery');
    return f !== null && Number(f.qbuf) + Number(f['qbuf-free']) === 0;
  }, 'the query buffer to be freed', 10000);
  sock.destroy();
  await io.del('qb');
});

t('a client over its soft output limit for longer than its seconds is closed by the cron', async () => {
  await io.set('big', 'v'.repeat(512 * 1024));
  await io.config('SET', 'client-output-buffer-limit', 'normal 0 256kb 1');
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.pause(); // never reads: its output stays in the server (and it never sees the close)
  const before = await info('client_output_buffer_limit_disconnections');
  const start = Date.now();
  // Enough output to stay over 256 KB once the kernel's buffers are full; then nothing
  // more is written, so only the cron can find it over the soft limit for too long.
  sock.write('GET big\r\n'.repeat(40));
  // Valkey's obuf-limits unit allows the soft limit's seconds plus a few.
  await waitFor(async () => (await info('client_output_buffer_limit_disconnections')) === before + 1, 'the close', 6000);
  const took = Date.now() - start;
  assert.ok(took >= 1000, `closed after ${took} ms: the soft limit allows 1 s`);
  assert.match(srv.output(), /scheduled to be closed ASAP for overcoming of output buffer limits/);
  sock.destroy();
  await io.config('SET', 'client-output-buffer-limit', 'normal 0 0 0');
  await io.del('big');
});

t('client eviction still finds the biggest client among hundreds', async () => {
  await io.config('SET', 'maxmemory-clients', `${2 * 1024 * 1024}`);
  const sock = await connect();
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.write('CLIENT SETNAME hog\r\n');
  await waitFor(async () => (await clientFields('hog')) !== null, 'the name', 5000);
  const before = await info('evicted_clients');
  sock.write(`*2\r\n$3\r\nGET\r\n$${4 * 1024 * 1024}\r\n${'h'.repeat(3 * 1024 * 1024)}`);
  await closed;
  assert.is(await info('evicted_clients'), before + 1);
  assert.is(await info('connected_clients'), CROWD + 1, 'only the hog went');
  await io.config('SET', 'maxmemory-clients', '0');
});

t('idle clients time out about a second after their timeout, however many there are', async () => {
  await io.config('SET', 'timeout', '1');
  let left = crowd.length;
  for (const s of crowd) s.once('close', () => left--);
  const start = Date.now();
  // The control client keeps talking, so that it is never idle itself.
  while (left > 0 && Date.now() - start < 10000) {
    await io.ping();
    await sleep(100);
  }
  const took = Date.now() - start;
  assert.is(left, 0, 'every idle client was closed');
  // Each client is visited once a second: idle for 1 s, closed within about 2 more.
  assert.ok(took < 5000, `the last idle client went after ${took} ms`);
  await io.config('SET', 'timeout', '0');
});

t.run();
