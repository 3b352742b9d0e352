// Directives that change how the server runs, each through a real server and client:
// active-expire-effort, oom-score-adj(-values), hide-user-data-from-log, repl-backlog-ttl,
// replica-ignore-maxmemory, replica-lazy-flush, repl-disable-tcp-nodelay, locale-collate and the refused
// rdb-version-check (io-threads is in startup.test.ts; lazyfree-lazy-* in lazyfree.test.ts). Each test fails when the directive is accepted and ignored.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { expireBudgetMs } from '../../ts/cron';
import { createServer } from '../../ts/embedded';
import { useFleet } from '../helpers/fixture';
import { startServer, type RunningServer } from '../helpers/server';
import { errOf, info, waitUntil } from '../persistence/util';
import { linkUp } from '../replication/sync-check';

const t = suite('directives');
const fleet = useFleet(t);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function start(args: string[] = []): Promise<RunningServer> {
  return fleet.track(await startServer({ args }));
}

function oomScore(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'latin1').trim());
}

function childPid(pid: number): number | null {
  try {
    const out = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'latin1' }).trim();
    return out === '' ? null : Number(out.split('\n')[0]);
  } catch {
    return null;
  }
}

t('active-expire-effort: the cycle budget grows with the effort, and CONFIG SET takes it without a warning', async () => {
  assert.is(expireBudgetMs(10, 1), 25);
  assert.is(expireBudgetMs(10, 10), 43);
  const s = await start();
  const io = fleet.connect(s.port);
  assert.is(await io.config('SET', 'active-expire-effort', '10'), 'OK');
  assert.equal(await io.config('GET', 'active-expire-effort'), ['active-expire-effort', '10']);
  // Keys past their TTL still go without being read.
  for (let i = 0; i < 50; i++) await io.set(`k${i}`, 'v', 'PX', 50);
  await waitUntil('the keys expired actively', async () => (await io.dbsize()) === 0, 5000, 20);
  assert.not.match(s.output(), /active-expire-effort' is not implemented/);
});

t('oom-score-adj: the server, a replica and a fork child get their class of oom-score-adj-values', async () => {
  const s = await start();
  const io = fleet.connect(s.port);
  const base = oomScore(s.pid);
  await io.config('SET', 'oom-score-adj-values', '10 20 30');
  assert.is(oomScore(s.pid), base, 'nothing is written while oom-score-adj is no');
  await io.config('SET', 'oom-score-adj', 'yes');
  assert.is(oomScore(s.pid), base + 10);
  await io.config('SET', 'oom-score-adj-values', '15 20 30');
  assert.is(oomScore(s.pid), base + 15);
  await io.call('REPLICAOF', '127.0.0.1', '1');
  await waitUntil('the replica class', () => oomScore(s.pid) === base + 20, 5000, 20);
  await io.call('REPLICAOF', 'NO', 'ONE');
  await waitUntil('the primary class', () => oomScore(s.pid) === base + 15, 5000, 20);
  // A BGSAVE child writes the background-child class for itself.
  await io.set('k', 'v');
  await io.config('SET', 'rdb-key-save-delay', '1000000');
  await io.bgsave();
  let child: number | null = null;
  await waitUntil('the child runs', () => (child = childPid(s.pid)) !== null, 5000, 10);
  await waitUntil('the child adjusted itself', () => oomScore(child!) === base + 30, 5000, 10);
  process.kill(child!, 'SIGKILL');
  // absolute: the values as given; no: the original score is back.
  await io.config('SET', 'oom-score-adj-values', `${base + 7} ${base + 7} ${base + 7}`, 'oom-score-adj', 'absolute');
  assert.is(oomScore(s.pid), base + 7);
  await io.config('SET', 'oom-score-adj', 'no');
  assert.is(oomScore(s.pid), base);
  assert.not.match(s.output(), /oom-score-adj' is not implemented/);
});

t('hide-user-data-from-log: a client closed for its output shows no name or user unless turned off', async () => {
  const s = await start(['--client-output-buffer-limit', 'normal 1kb 0 0']);
  const admin = fleet.connect(s.port);
  await admin.set('big', 'x'.repeat(64 * 1024));
  const closedAs = async (name: string): Promise<string> => {
    const c = fleet.connect(s.port);
    await c.client('SETNAME', name);
    await c.get('big').catch(() => null);
    await s.waitFor(new RegExp(`Client id=\\d+ .*scheduled to be closed ASAP`), 5000);
    await sleep(50);
    const lines = s.output().split('\n').filter((l) => l.includes('scheduled to be closed ASAP'));
    return lines[lines.length - 1]!;
  };
  const hidden = await closedAs('secret-name');
  assert.match(hidden, / name=\*redacted\* /);
  assert.match(hidden, / user=\*redacted\* /);
  assert.not.match(hidden, /secret-name/);
  await admin.config('SET', 'hide-user-data-from-log', 'no');
  const before = s.output().split('scheduled to be closed ASAP').length;
  const c = fleet.connect(s.port);
  await c.client('SETNAME', 'shown-name');
  await c.get('big').catch(() => null);
  await waitUntil('a second line', () => s.output().split('scheduled to be closed ASAP').length > before, 5000, 20);
  assert.match(s.output(), / name=shown-name .* user=default /);
});

t('repl-backlog-ttl: a primary alone for longer frees its backlog and takes a new replication ID', async () => {
  const p = await start(['--repl-backlog-ttl', '1', '--repl-diskless-sync-delay', '0']);
  const pio = fleet.connect(p.port);
  const r = await start(['--replicaof', '127.0.0.1', String(p.port)]);
  await linkUp(fleet.connect(r.port));
  const before = await info(pio, 'replication');
  assert.is(before.get('repl_backlog_active'), '1');
  await r.stop('SIGKILL');
  fleet.untrack(r);
  await waitUntil('the backlog freed', async () => (await info(pio, 'replication')).get('repl_backlog_active') === '0', 8000, 100);
  const after = await info(pio, 'replication');
  assert.is.not(after.get('master_replid'), before.get('master_replid'));
  assert.is(after.get('master_replid2'), '0000000000000000000000000000000000000000');
  assert.match(p.output(), /Replication backlog freed after 1 seconds without connected replicas\./);
});

t('replica-ignore-maxmemory: a replica over its maxmemory keeps every key by default, evicts with no', async () => {
  const p = await start(['--repl-diskless-sync-delay', '0']);
  const pio = fleet.connect(p.port);
  const r = await start(['--replicaof', '127.0.0.1', String(p.port), '--maxmemory-policy', 'allkeys-random']);
  const rio = fleet.connect(r.port);
  await linkUp(rio);
  const used = Number((await info(rio, 'memory')).get('used_memory'));
  await rio.config('SET', 'maxmemory', String(used + 256 * 1024));
  const value = 'v'.repeat(1024);
  const pipeline = pio.pipeline();
  for (let i = 0; i < 1000; i++) pipeline.set(`k${i}`, value);
  await pipeline.exec();
  await waitUntil('the keys arrived', async () => (await rio.dbsize()) === 1000, 10000, 50);
  await sleep(300);
  assert.is(await rio.dbsize(), 1000);
  assert.is((await info(rio, 'stats')).get('evicted_keys'), '0');
  await rio.config('SET', 'replica-ignore-maxmemory', 'no');
  await pio.set('one-more', value);
  await waitUntil('the replica evicted', async () => Number((await info(rio, 'stats')).get('evicted_keys')) > 0, 10000, 50);
  assert.ok((await rio.dbsize()) < 1001);
});

t('replica-lazy-flush: the old data of a replica is freed in the background on a full sync', async () => {
  const p = await start(['--repl-diskless-sync-delay', '0']);
  for (const lazy of ['yes', 'no']) {
    const r = await start(['--replica-lazy-flush', lazy]);
    const rio = fleet.connect(r.port);
    await rio.call('DEBUG', 'POPULATE', '1000');
    await rio.call('REPLICAOF', '127.0.0.1', String(p.port));
    await linkUp(rio);
    assert.is(await rio.dbsize(), 0);
    const want = lazy === 'yes' ? '1000' : '0';
    await waitUntil(`lazyfreed_objects ${want}`, async () => (await info(rio, 'memory')).get('lazyfreed_objects') === want, 5000, 20);
    assert.is((await info(rio, 'memory')).get('lazyfree_pending_objects'), '0');
  }
});

t('repl-disable-tcp-nodelay: the socket of a replica in full sync gets Nagle back', async () => {
  for (const disable of [true, false]) {
    const es = await createServer({ config: { save: '', 'repl-diskless-sync': 'no', 'repl-disable-tcp-nodelay': disable ? 'yes' : 'no' } });
    try {
      const sock = net.connect(es.port, '127.0.0.1');
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      let received = '';
      sock.on('data', (b: Buffer) => (received += b.toString('latin1')));
      sock.write('CLIENT ID\r\n');
      await waitUntil('CLIENT ID', () => /^:\d+\r\n/.test(received), 5000, 5);
      const id = Number(/^:(\d+)/.exec(received)![1]);
      const conn = es.server.clients.get(id)!;
      const calls: boolean[] = [];
      const socket = conn.socket as net.Socket;
      const original = socket.setNoDelay.bind(socket);
      socket.setNoDelay = (noDelay?: boolean): net.Socket => {
        calls.push(noDelay ?? true);
        return original(noDelay);
      };
      sock.write('SYNC\r\n');
      await waitUntil('the full sync began', () => received.includes('$'), 5000, 5);
      assert.equal(calls, disable ? [false] : [], `repl-disable-tcp-nodelay ${disable ? 'yes' : 'no'}`);
      sock.destroy();
    } finally {
      await es.close({ save: false });
    }
  }
});

t('locale-collate: SORT ALPHA compares in the locale set; an unknown locale is refused at CONFIG SET and at start', async () => {
  const s = await start(['--locale-collate', 'C']);
  const io = fleet.connect(s.port);
  await io.rpush('l', 'b', 'B', 'a', 'A', 'a');
  assert.equal(await io.sort('l', 'ALPHA'), ['A', 'B', 'a', 'a', 'b']);
  assert.equal(await io.call('SORT_RO', 'l', 'ALPHA', 'DESC'), ['b', 'a', 'a', 'B', 'A']);
  assert.match(await errOf(io.config('SET', 'locale-collate', 'xx_NOWHERE.UTF-8')), /Invalid locale name/);
  assert.equal(await io.config('GET', 'locale-collate'), ['locale-collate', 'C']);
  assert.is(await io.config('SET', 'locale-collate', 'POSIX'), 'OK');
  assert.not.match(s.output(), /locale-collate' is not implemented/);
  assert.match(await errOf(startServer({ args: ['--locale-collate', 'xx_NOWHERE.UTF-8'] })), /Invalid locale name/);
});

t('rdb-version-check is not a Valkey 8.0 directive: refused as an unknown one', async () => {
  const io = fleet.connect((await start()).port);
  assert.match(await errOf(io.config('SET', 'rdb-version-check', 'relaxed')), /Unknown option or number of arguments for CONFIG SET - 'rdb-version-check'/);
  assert.equal(await io.config('GET', 'rdb-version-check'), []);
  assert.match(await errOf(startServer({ args: ['--rdb-version-check', 'relaxed'] })), /Bad directive or wrong number of arguments/);
});

t.run();
