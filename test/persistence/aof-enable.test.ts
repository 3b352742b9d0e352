// CONFIG SET appendonly yes at runtime, as Valkey's AOF_WAIT_REWRITE: a forked rewrite
// writes the first base; writes made meanwhile accumulate in the temp incr file, which
// becomes incr seq N when the rewrite succeeds (base + manifest appear only then); behind a
// BGSAVE the rewrite is scheduled; a failed first rewrite drops the temp incr and is
// retried; SHUTDOWN refuses to exit while the first rewrite runs (FORCE exits anyway);
// repeated rewrite failures log the back-off limit. Real server processes, real files.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type Fleet, useFleet } from '../helpers/fixture';
import { count, errOf, fill, infoNum, nthChildPid, waitNoChild, waitUntil } from './util';

const t = suite('aof-enable');
const fleet = useFleet(t);

const forkv = (args: string[] = [], dir?: string): ReturnType<Fleet['forkv']> => fleet.forkv({ args, dir });

const aofDir = (dir: string): string => path.join(dir, 'appendonlydir');
const manifestPath = (dir: string): string => path.join(aofDir(dir), 'appendonly.aof.manifest');
const tempIncr = (dir: string): string => path.join(aofDir(dir), 'temp-appendonly.aof.incr');
const manifestLines = (dir: string): string[] => fs.readFileSync(manifestPath(dir), 'utf8').split('\n').filter((l) => l !== '');

/** The keys a fresh forkv with appendonly yes loads from `dir`. */
async function keysAfterRestart(dir: string): Promise<string[]> {
  const { srv, io } = await forkv(['--appendonly', 'yes'], dir);
  const keys = (await io.keys('*')).sort();
  io.disconnect();
  await srv.stop('SIGKILL');
  return keys;
}

t('CONFIG SET appendonly yes: the rewrite child creates base + manifest, writes made meanwhile survive a restart', async () => {
  const { srv, io } = await forkv();
  await fill(io, 20, 10, 'pre:');
  // 20 keys x 100 ms: the child runs for about two seconds.
  await io.config('SET', 'rdb-key-save-delay', '100000');
  assert.is(await io.config('SET', 'appendonly', 'yes'), 'OK');
  assert.is(await infoNum(io, 'aof_enabled'), 1);
  assert.is(await infoNum(io, 'aof_rewrite_in_progress'), 1);
  // Nothing is listed until the first base exists; the writes go to the temp incr file.
  assert.not.ok(fs.existsSync(manifestPath(srv.dir)));
  await io.set('during', 'rewrite');
  await waitUntil('the write in the temp incr file', () => fs.existsSync(tempIncr(srv.dir)) && fs.readFileSync(tempIncr(srv.dir), 'latin1').includes('during'));
  await io.config('SET', 'rdb-key-save-delay', '0');
  await waitNoChild(io);
  assert.equal(manifestLines(srv.dir), ['file appendonly.aof.1.base.rdb seq 1 type b', 'file appendonly.aof.1.incr.aof seq 1 type i']);
  assert.not.ok(fs.existsSync(tempIncr(srv.dir)));
  assert.ok(fs.readFileSync(path.join(aofDir(srv.dir), 'appendonly.aof.1.incr.aof'), 'latin1').includes('during'));
  assert.match(srv.output(), /Successfully renamed the temporary AOF incr file temp-appendonly\.aof\.incr into appendonly\.aof\.1\.incr\.aof/);
  await io.set('after', 'rewrite');
  await waitUntil('the later write in the incr file', () => fs.readFileSync(path.join(aofDir(srv.dir), 'appendonly.aof.1.incr.aof'), 'latin1').includes('after'));
  const keys = await keysAfterRestart(srv.dir);
  assert.is(keys.length, 22);
  assert.ok(keys.includes('during') && keys.includes('after'));
});

t('CONFIG SET appendonly yes during BGSAVE schedules the rewrite; nothing is written until it runs', async () => {
  const { srv, io } = await forkv();
  await fill(io, 10, 10, 'pre:');
  await io.config('SET', 'rdb-key-save-delay', '100000');
  assert.is(await io.bgsave(), 'Background saving started');
  assert.is(await io.config('SET', 'appendonly', 'yes'), 'OK');
  assert.is(await infoNum(io, 'aof_rewrite_scheduled'), 1);
  assert.is(await infoNum(io, 'aof_rewrite_in_progress'), 0);
  assert.is(await infoNum(io, 'aof_enabled'), 1);
  assert.match(srv.output(), /AOF was enabled but there is already another background operation/);
  await io.set('while', 'scheduled');
  assert.not.ok(fs.existsSync(tempIncr(srv.dir)));
  assert.not.ok(fs.existsSync(manifestPath(srv.dir)));
  await io.config('SET', 'rdb-key-save-delay', '0');
  await waitNoChild(io);
  assert.equal(manifestLines(srv.dir), ['file appendonly.aof.1.base.rdb seq 1 type b', 'file appendonly.aof.1.incr.aof seq 1 type i']);
  const keys = await keysAfterRestart(srv.dir);
  assert.is(keys.length, 11);
  assert.ok(keys.includes('while'));
});

t('a failed first rewrite removes the temp incr and is retried; SHUTDOWN refuses to exit meanwhile, FORCE exits', async () => {
  const { srv, io } = await forkv();
  await fill(io, 20, 10, 'pre:');
  await io.config('SET', 'rdb-key-save-delay', '1000000');
  assert.is(await io.config('SET', 'appendonly', 'yes'), 'OK');
  const first = await nthChildPid(srv, 1, 'Background append only file rewriting');
  process.kill(first, 'SIGKILL');
  await waitUntil('the temp incr removal', () => count(srv.output(), /Removing the temp incr aof file temp-appendonly\.aof\.incr in the background/) === 1);
  assert.not.ok(fs.existsSync(manifestPath(srv.dir)));
  // The cron starts the next attempt.
  await nthChildPid(srv, 2, 'Background append only file rewriting');
  assert.is(await infoNum(io, 'aof_rewrite_in_progress'), 1);
  assert.match(await errOf(io.shutdown()), /Errors trying to SHUTDOWN/);
  await srv.waitFor(/Writing initial AOF, can't exit\./, 2000);
  assert.is(await io.ping(), 'PONG');
  await io.call('SHUTDOWN', 'FORCE').catch(() => undefined);
  const exit = await srv.exited;
  assert.is(exit.code, 0);
  await srv.waitFor(/Writing initial AOF\. Exit anyway\./, 2000);
});

t('three failed rewrites in a row hold back automatic rewrites and log the limit once', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes']);
  await io.set('k', 'v');
  await io.config('SET', 'rdb-key-save-delay', '10000000');
  for (let n = 1; n <= 3; n++) {
    assert.is(await io.bgrewriteaof(), 'Background append only file rewriting started');
    process.kill(await nthChildPid(srv, n, 'Background append only file rewriting'), 'SIGKILL');
    await waitNoChild(io);
  }
  assert.is(await infoNum(io, 'aof_rewrites_consecutive_failures'), 3);
  await io.config('SET', 'auto-aof-rewrite-percentage', '1');
  await io.config('SET', 'auto-aof-rewrite-min-size', '1kb');
  await io.set('x', 'x'.repeat(2048));
  await waitUntil('the limit log line', () => /Background AOF rewrite has repeatedly failed and triggered the limit, will retry in 1 minutes/.test(srv.output()));
  await new Promise((r) => setTimeout(r, 300));
  assert.is(await infoNum(io, 'aof_rewrite_in_progress'), 0);
  assert.is(count(srv.output(), /triggered the limit/), 1);
});

t.run();
