// The persistence knobs Valkey's own suite drives: DEBUG LOADAOF, DEBUG RELOAD's options,
// DEBUG AOF-FLUSH-SLEEP, aof-timestamp-enabled (#TS: annotations), aof-disable-auto-gc,
// turning AOF off while a rewrite runs, and shutdown by signal (DEBUG PAUSE-CRON, SHUTDOWN
// ABORT, shutdown-on-sigterm), through the real server process and its files.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { cmd } from '../helpers/client';
import { type RunningServer } from '../helpers/server';
import { type Fleet, useFleet } from '../helpers/fixture';
import { errOf, infoNum, nthChildPid, sleep, waitNoChild, waitUntil } from './util';

const t = suite('debug-persistence');
const fleet = useFleet(t);

const forkv = (args: string[] = []): ReturnType<Fleet['forkv']> => fleet.forkv({ args });

const aofDir = (srv: RunningServer): string => path.join(srv.dir, 'appendonlydir');
const manifestLines = (srv: RunningServer): string[] =>
  fs.readFileSync(path.join(aofDir(srv), 'appendonly.aof.manifest'), 'utf8').split('\n').filter((l) => l !== '');
/** The current incr file (the last `type i` line of the manifest). */
function incrFile(srv: RunningServer): string {
  const last = manifestLines(srv).filter((l) => l.endsWith('type i')).pop() ?? '';
  return path.join(aofDir(srv), last.split(' ')[1] ?? '');
}
const resp = (...args: string[]): string => cmd(...args).toString();

t('DEBUG LOADAOF replaces the dataset with what the AOF files hold', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes']);
  await io.set('a', '1');
  await io.rpush('l', 'x', 'y');
  const before = await io.call('DEBUG', 'DIGEST');
  assert.is(await io.call('DEBUG', 'LOADAOF'), 'OK');
  assert.is(await io.call('DEBUG', 'DIGEST'), before);
  // Written behind the server's back: only a reload from the files can know it.
  fs.appendFileSync(incrFile(srv), resp('SET', 'outside', 'yes'));
  assert.is(await io.call('DEBUG', 'LOADAOF'), 'OK');
  assert.is(await io.get('outside'), 'yes');
  assert.is(await io.get('a'), '1');
  assert.match(srv.output(), /Append Only File loaded by DEBUG LOADAOF/);
  // Appending goes on into the same incr file.
  await io.set('after', '2');
  assert.is(await io.call('DEBUG', 'LOADAOF'), 'OK');
  assert.is(await io.get('after'), '2');
});

t('DEBUG LOADAOF loads while other clients get -LOADING; a slow replayed script is logged and completes', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes', '--lua-time-limit', '1']);
  const other = fleet.connect(srv.port);
  await io.set('before', '1');
  // A script that takes a while to replay (Valkey's "EVAL timeout with slow verbatim Lua
  // script from AOF").
  const script = "redis.call('set',KEYS[1],'y'); for i=1,3000000 do redis.call('ping') end return 'ok'";
  fs.appendFileSync(incrFile(srv), resp('SELECT', '9') + resp('EVAL', script, '1', 'x'));
  const loading = io.call('DEBUG', 'LOADAOF');
  await waitUntil('other clients get -LOADING', async () => /^LOADING /.test(await errOf(other.ping()).catch(() => '')));
  assert.is(await infoNum(other, 'loading'), 1);
  assert.is(await loading, 'OK');
  assert.is(await infoNum(other, 'loading'), 0);
  await other.select(9);
  assert.is(await other.get('x'), 'y');
  assert.is(await io.get('before'), '1');
  assert.match(srv.output(), /Slow script detected: still in execution after \d+ milliseconds\. You can try killing the script using the SCRIPT KILL command\./);
  // Appending goes on into the loaded incr file.
  await io.set('after', '2');
  assert.is(await io.call('DEBUG', 'LOADAOF'), 'OK');
  assert.is(await io.get('after'), '2');
});

t('DEBUG RELOAD: MERGE, NOFLUSH and NOSAVE', async () => {
  const { io } = await forkv(['--save', '']);
  await io.set('a', 'file');
  await io.save();
  await io.set('a', 'memory');
  await io.set('b', 'memory');
  // NOSAVE: the file is loaded as it is; NOFLUSH MERGE: added to memory, the file wins.
  assert.is(await io.call('DEBUG', 'RELOAD', 'NOSAVE', 'NOFLUSH', 'MERGE'), 'OK');
  assert.is(await io.get('a'), 'file');
  assert.is(await io.get('b'), 'memory');
  // NOFLUSH without MERGE: a key in both is an error.
  assert.match(await errOf(io.call('DEBUG', 'RELOAD', 'NOSAVE', 'NOFLUSH')), /Error trying to load the RDB dump/);
  // NOSAVE alone: memory is replaced by the file.
  assert.is(await io.call('DEBUG', 'RELOAD', 'NOSAVE'), 'OK');
  assert.is(await io.get('b'), null);
  assert.is(await errOf(io.call('DEBUG', 'RELOAD', 'FAST')), 'ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.');
  // Default: save, then load.
  await io.set('b', 'saved');
  assert.is(await io.call('DEBUG', 'RELOAD'), 'OK');
  assert.is(await io.get('b'), 'saved');
});

t('aof-timestamp-enabled writes #TS: annotations, in incr files and AOF-format bases', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no']);
  await io.config('SET', 'aof-timestamp-enabled', 'yes');
  await io.set('foo', 'bar');
  const incr = fs.readFileSync(incrFile(srv), 'utf8');
  // The annotation comes first, then the SELECT and the command it dates.
  const ts = /^#TS:(\d+)\r\n\*2\r\n\$6\r\nSELECT\r\n\$1\r\n0\r\n\*3\r\n\$3\r\nset\r\n/.exec(incr);
  assert.ok(ts, incr);
  assert.ok(Math.abs(Number(ts[1]) - Date.now() / 1000) < 5);
  await io.bgrewriteaof();
  await waitNoChild(io);
  const base = manifestLines(srv).find((l) => l.endsWith('type b'))?.split(' ')[1] ?? '';
  assert.match(fs.readFileSync(path.join(aofDir(srv), base), 'utf8'), /^#TS:\d+\r\n/);
  // The files load (annotations are skipped), and valkey-check-aof-style readers see them.
  assert.is(await io.call('DEBUG', 'LOADAOF'), 'OK');
  assert.is(await io.get('foo'), 'bar');
  await io.config('SET', 'aof-timestamp-enabled', 'no');
  await sleep(1100);
  await io.set('plain', '1');
  assert.not.match(fs.readFileSync(incrFile(srv), 'utf8'), /#TS:\d+\r\n\*3\r\n\$3\r\nset\r\n\$5\r\nplain/);
});

t('aof-disable-auto-gc keeps history files until it is turned off', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes']);
  await io.config('SET', 'aof-disable-auto-gc', 'yes');
  for (let i = 0; i < 2; i++) {
    await io.set(`k${i}`, 'v');
    await io.bgrewriteaof();
    await waitNoChild(io);
    await waitUntil('rewrite done', async () => (await infoNum(io, 'aof_rewrites')) === i + 1);
  }
  const history = manifestLines(srv).filter((l) => l.endsWith('type h'));
  assert.is(history.length, 4, manifestLines(srv).join('\n'));
  await io.config('SET', 'aof-disable-auto-gc', 'no');
  assert.is(manifestLines(srv).filter((l) => l.endsWith('type h')).length, 0);
  await waitUntil('history deleted', () => history.every((l) => !fs.existsSync(path.join(aofDir(srv), l.split(' ')[1] ?? ''))));
});

t('a rewrite forked with aof-use-rdb-preamble no makes a .base.aof even if it is changed meanwhile', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no']);
  await io.set('foo', 'bar');
  await io.config('SET', 'rdb-key-save-delay', '300000');
  await io.bgrewriteaof();
  await waitUntil('rewrite running', async () => (await infoNum(io, 'aof_rewrite_in_progress')) === 1);
  await io.config('SET', 'aof-use-rdb-preamble', 'yes');
  await io.config('SET', 'rdb-key-save-delay', '0');
  await waitNoChild(io);
  await waitUntil('rewrite done', async () => (await infoNum(io, 'aof_rewrites')) === 1);
  assert.ok(manifestLines(srv).includes('file appendonly.aof.2.base.aof seq 2 type b'), manifestLines(srv).join('\n'));
});

t('turning AOF off kills a running rewrite and removes its temp file', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no']);
  await io.set('k', 'v');
  await io.config('SET', 'rdb-key-save-delay', '10000000');
  await io.bgrewriteaof();
  await waitUntil('rewrite running', async () => (await infoNum(io, 'aof_rewrite_in_progress')) === 1);
  await io.config('SET', 'appendonly', 'no');
  assert.is(await infoNum(io, 'aof_rewrite_in_progress'), 0);
  assert.match(srv.output(), /Killing running AOF rewrite child: \d+/);
  assert.equal(fs.readdirSync(srv.dir).filter((f) => f.startsWith('temp-rewriteaof')), []);
});

t('a signal shuts down from the cron: DEBUG PAUSE-CRON holds it, SHUTDOWN ABORT cancels it', async () => {
  const { srv, io } = await forkv(['--save', '900 1']);
  assert.is(await errOf(io.shutdown('ABORT')), 'ERR No shutdown in progress.');
  assert.is(await io.call('DEBUG', 'PAUSE-CRON', '1'), 'OK');
  process.kill(srv.pid, 'SIGTERM');
  await srv.waitFor(/Received SIGTERM scheduling shutdown/);
  assert.is(await io.shutdown('ABORT'), 'OK');
  assert.match(srv.output(), /Shutdown manually aborted\./);
  assert.is(await io.call('DEBUG', 'PAUSE-CRON', '0'), 'OK');
  await sleep(300);
  assert.is(await io.ping(), 'PONG');
  // shutdown-on-sigterm nosave: no final save despite the save rule.
  await io.config('SET', 'shutdown-on-sigterm', 'nosave');
  await io.set('k', 'v');
  process.kill(srv.pid, 'SIGTERM');
  const r = await srv.exited;
  assert.is(r.code, 0);
  assert.not.match(srv.output(), /Saving the final RDB snapshot/);
  assert.not.ok(fs.existsSync(path.join(srv.dir, 'dump.rdb')));
});

t('a second SIGINT during the shutdown save removes its temp file and exits', async () => {
  const { srv, io } = await forkv(['--save', '900 1']);
  for (let i = 0; i < 20; i++) await io.set(`k${i}`, 'v');
  await io.config('SET', 'rdb-key-save-delay', '100000');
  const temp = path.join(srv.dir, `temp-${srv.pid}.rdb`);
  process.kill(srv.pid, 'SIGINT');
  await waitUntil('shutdown save started', () => fs.existsSync(temp));
  process.kill(srv.pid, 'SIGINT');
  const r = await srv.exited;
  assert.is(r.code, 1);
  assert.not.ok(fs.existsSync(temp));
  assert.not.ok(fs.existsSync(path.join(srv.dir, 'dump.rdb')));
});

t('DEBUG AOF-FLUSH-SLEEP delays the AOF write, and the reply waits for it', async () => {
  const { srv, io } = await forkv(['--appendonly', 'yes']);
  assert.is(await io.call('DEBUG', 'AOF-FLUSH-SLEEP', '300000'), 'OK');
  const size = fs.statSync(incrFile(srv)).size;
  const started = Date.now();
  await io.incr('n');
  assert.ok(Date.now() - started >= 250, 'the reply left before the AOF write');
  assert.ok(fs.statSync(incrFile(srv)).size > size);
  assert.is(await io.call('DEBUG', 'AOF-FLUSH-SLEEP', '0'), 'OK');
});

t('DEBUG HTSTATS: the key table does not grow while a BGSAVE child runs, and grows from the cron after', async () => {
  const { srv, io } = await forkv(['--save', '']);
  await io.select(9);
  assert.is(await io.call('DEBUG', 'HTSTATS', '9'), '[Dictionary HT]\n[Expires HT]\n');
  assert.is(await errOf(io.call('DEBUG', 'HTSTATS', '16')), 'ERR Out of range database');
  assert.is(await io.call('DEBUG', 'POPULATE', '4095', '', '1'), 'OK');
  await io.config('SET', 'rdb-key-save-delay', '1000000');
  assert.is(await io.bgsave(), 'Background saving started');
  await waitUntil('the BGSAVE child', async () => (await infoNum(io, 'rdb_bgsave_in_progress')) === 1);
  await io.mset('k1', 'v1', 'k2', 'v2');
  const during = String(await io.call('DEBUG', 'HTSTATS', '9'));
  assert.match(during, /^\[Dictionary HT\]\nHash table 0 stats \(main hash table\):\n table size: 4096\n number of elements: 4097\n\[Expires HT\]\n$/);
  process.kill(await nthChildPid(srv, 1), 'SIGKILL');
  await waitNoChild(io);
  await waitUntil('the table to grow to 8192', async () => /table size: 8192/.test(String(await io.call('DEBUG', 'HTSTATS', '9'))));
  const full = String(await io.call('DEBUG', 'HTSTATS', '9', 'FULL'));
  assert.match(full, / different slots: \d+\n max chain length: \d+\n avg chain length \(counted\): \d+\.\d\d\n/);
});

t.run();
