// The multi-part AOF through the real server process and real files: the BGREWRITEAOF seed
// example (key3 written during the rewrite is in the new incr file, not the new base),
// truncated and corrupt files at start-up, every intermediate state of the manifest switch,
// automatic rewrites, BGREWRITEAOF scheduled behind BGSAVE, CONFIG SET appendonly, INFO
// aof_* fields and the rewrite's log lines.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { cmd, RawClient } from '../helpers/client';
import { redisCli } from '../helpers/cli';
import { startServer, tempDir } from '../helpers/server';
import { type Fleet, useFleet } from '../helpers/fixture';
import { checkAof, checkRdb, count, drained, fill, info, infoNum, nthChildPid, sleep, tempFiles, waitNoChild, waitUntil } from './util';

const t = suite('aof');
const fleet = useFleet(t);

const forkv = (args: string[] = [], dir?: string): ReturnType<Fleet['forkv']> => fleet.forkv({ args: ['--appendonly', 'yes', ...args], dir });

interface ManifestEntry {
  name: string;
  seq: number;
  type: string;
}

function manifest(dir: string): ManifestEntry[] {
  const text = fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const m = /^file (\S+) seq (\d+) type ([bhi])$/.exec(l);
      if (!m) throw new Error(`bad manifest line ${JSON.stringify(l)}`);
      return { name: m[1] as string, seq: Number(m[2]), type: m[3] as string };
    });
}

const aofFile = (dir: string, name: string): Buffer => fs.readFileSync(path.join(dir, 'appendonlydir', name));
/** A command as RESP, the way the AOF records it (ioredis sends lowercase names). */
const resp = (...args: string[]): string => cmd(...args).toString();

/** A copy of `dir` (appendonlydir included) in a fresh temp dir. */
function copyDir(dir: string, prefix: string): string {
  const to = tempDir(prefix);
  fs.cpSync(dir, to, { recursive: true });
  return to;
}

/** Keys (db 0) a fresh forkv with appendonly yes loads from `dir`. */
async function loadedKeys(dir: string, args: string[] = []): Promise<string[]> {
  const { srv, io } = await forkv(args, dir);
  const keys = (await io.keys('*')).sort();
  io.disconnect();
  await srv.stop('SIGKILL');
  return keys;
}

t('seed: key3 written during BGREWRITEAOF is in the new incr file, not in the new base; a restart has all three', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '600000']);
  assert.equal(manifest(srv.dir), [
    { name: 'appendonly.aof.1.base.rdb', seq: 1, type: 'b' },
    { name: 'appendonly.aof.1.incr.aof', seq: 1, type: 'i' },
  ]);
  await io.set('key1', 'value1');
  await io.set('key2', 'value2');
  assert.is(await io.bgrewriteaof(), 'Background append only file rewriting started');
  assert.is((await info(io, 'persistence')).get('aof_rewrite_in_progress'), '1');
  // The new incr file exists before the child finishes, and the manifest lists it.
  assert.equal(
    manifest(srv.dir).map((e) => `${e.name}/${e.type}`),
    ['appendonly.aof.1.base.rdb/b', 'appendonly.aof.1.incr.aof/i', 'appendonly.aof.2.incr.aof/i'],
  );
  assert.is(await io.set('key3', 'value3'), 'OK');
  const during = await info(io, 'persistence');
  assert.is(during.get('aof_rewrite_in_progress'), '1', 'the rewrite ended before key3 was written');
  await waitNoChild(io);

  const m = manifest(srv.dir);
  assert.equal(m, [
    { name: 'appendonly.aof.2.base.rdb', seq: 2, type: 'b' },
    { name: 'appendonly.aof.2.incr.aof', seq: 2, type: 'i' },
  ]);
  // History files are gone.
  const expected = ['appendonly.aof.2.base.rdb', 'appendonly.aof.2.incr.aof', 'appendonly.aof.manifest'].join();
  const files = (): string => fs.readdirSync(path.join(srv.dir, 'appendonlydir')).sort().join();
  await waitUntil('history files deleted', () => files() === expected, 3000);
  assert.equal(tempFiles(srv.dir), []);

  // The base: an RDB preamble with key1 and key2 only.
  const base = aofFile(srv.dir, 'appendonly.aof.2.base.rdb');
  assert.is(base.subarray(0, 5).toString(), 'REDIS');
  assert.ok(base.includes('key1') && base.includes('key2'));
  assert.not.ok(base.includes('key3'), 'key3 leaked into the new base');
  const chk = await checkRdb(path.join(srv.dir, 'appendonlydir', 'appendonly.aof.2.base.rdb'));
  assert.is(chk.code, 0, chk.stdout);
  assert.match(chk.stdout, /\b2 keys read\b/);
  // Parsed by a fresh forkv as a plain dump (appendonly no, dbfilename -> the base).
  const plain = tempDir('aof-base-as-rdb-');
  fs.copyFileSync(path.join(srv.dir, 'appendonlydir', 'appendonly.aof.2.base.rdb'), path.join(plain, 'base.rdb'));
  const reader = await startServer({ dir: plain, args: ['--dbfilename', 'base.rdb'] });
  fleet.track(reader);
  const rio = fleet.connect(reader.port);
  assert.equal((await rio.keys('*')).sort(), ['key1', 'key2']);

  // The incr file: key3's SET and nothing about key1/key2.
  const incr = aofFile(srv.dir, 'appendonly.aof.2.incr.aof').toString('latin1');
  assert.ok(incr.includes(resp('set', 'key3', 'value3')), JSON.stringify(incr));
  assert.not.ok(incr.includes('key1') || incr.includes('key2'));
  assert.is(incr, resp('SELECT', '0') + resp('set', 'key3', 'value3'));

  // INFO after the rewrite.
  const i = await info(io, 'persistence');
  assert.is(i.get('aof_rewrites'), '1');
  assert.is(i.get('aof_last_bgrewrite_status'), 'ok');
  assert.is(i.get('aof_rewrite_in_progress'), '0');
  assert.is(i.get('aof_current_rewrite_time_sec'), '-1');
  assert.ok(Number(i.get('aof_last_rewrite_time_sec')) >= 1);
  // Valkey: after a rewrite aof_base_size = aof_current_size = new base + current incr.
  assert.is(i.get('aof_current_size'), String(base.length + Buffer.byteLength(incr)));
  assert.is(i.get('aof_base_size'), i.get('aof_current_size'));
  assert.ok(Number(i.get('aof_last_cow_size')) >= 0);
  // Log lines of a rewrite.
  await srv.waitFor(/Background AOF rewrite finished successfully/);
  const pid = await nthChildPid(srv, 1, 'Background append only file rewriting');
  const out = srv.output();
  for (const re of [
    new RegExp(`^${srv.pid}:M .* \\* Background append only file rewriting started by pid ${pid}$`, 'm'),
    new RegExp(`^${pid}:C .* \\* Successfully created the temporary AOF base file$`, 'm'),
    new RegExp(`^${pid}:C .* \\* Fork CoW for AOF rewrite: current \\d+ MB, peak \\d+ MB, average \\d+ MB$`, 'm'),
    /\* Background AOF rewrite terminated with success$/m,
    new RegExp(`\\* Successfully renamed the temporary AOF base file temp-rewriteaof-bg-${pid}\\.aof into appendonly\\.aof\\.2\\.base\\.rdb$`, 'm'),
    /\* Background AOF rewrite finished successfully$/m,
  ]) {
    assert.match(out, re);
  }
  // The manifest passes redis-check-aof.
  const ca = await checkAof(path.join(srv.dir, 'appendonlydir', 'appendonly.aof.manifest'));
  assert.is(ca.code, 0, ca.stdout + ca.stderr);
  assert.match(ca.stdout, /All AOF files and manifest are valid/);

  // Restart: all three keys.
  fleet.untrack(srv);
  io.disconnect();
  assert.is((await srv.stop('SIGKILL')).signal, 'SIGKILL');
  assert.equal(await loadedKeys(srv.dir), ['key1', 'key2', 'key3']);
});

t('a truncated tail loads with aof-load-truncated yes (warning), is refused with no; corruption in the middle is refused with file and offset', async () => {
  const { srv, io } = await forkv();
  for (let i = 0; i < 20; i++) await io.set(`key:${i}`, `value-${i}`);
  io.disconnect();
  fleet.untrack(srv);
  await srv.stop('SIGKILL');
  const incrName = 'appendonly.aof.1.incr.aof';
  const full = aofFile(srv.dir, incrName);
  const lastCmd = full.lastIndexOf(resp('set', 'key:19', 'value-19'));
  assert.ok(lastCmd > 0);

  // Cut the last command in the middle.
  const cut = copyDir(srv.dir, 'aof-trunc-');
  fs.writeFileSync(path.join(cut, 'appendonlydir', incrName), full.subarray(0, full.length - 7));
  const refused = copyDir(cut, 'aof-trunc-no-');
  {
    const { srv: s2, io: c2 } = await forkv(['--aof-load-truncated', 'yes'], cut);
    assert.is(await c2.dbsize(), 19);
    assert.is(await c2.get('key:18'), 'value-18');
    assert.is(await c2.exists('key:19'), 0);
    assert.match(s2.output(), new RegExp(`# !!! Warning: short read while loading the AOF file ${incrName.replace(/\./g, '\\.')}!!!`));
    assert.match(s2.output(), /# AOF appendonly\.aof\.1\.incr\.aof loaded anyway because aof-load-truncated is enabled/);
    // The torn tail was cut off the file: appending continues from a clean end.
    assert.is(fs.statSync(path.join(cut, 'appendonlydir', incrName)).size, lastCmd);
    assert.is(await c2.set('later', '1'), 'OK');
    await c2.quit();
    await s2.stop('SIGTERM');
    assert.equal((await loadedKeys(cut)).length, 20);
    const ca = await checkAof(path.join(cut, 'appendonlydir', 'appendonly.aof.manifest'));
    assert.is(ca.code, 0, ca.stdout);
  }
  {
    const s3 = await startServer({ dir: refused, args: ['--appendonly', 'yes', '--aof-load-truncated', 'no'], waitReady: false });
    const r = await s3.exited;
    const out = await drained(s3);
    assert.is(r.code, 1, out);
    assert.match(out, new RegExp(`# Fatal error loading the DB: Unexpected end of file reading the append only file appendonly\\.aof\\.1\\.incr\\.aof \\(last complete command ends at offset ${lastCmd}\\)`));
    assert.match(out, /set the 'aof-load-truncated' configuration option to yes and restart the server\. Exiting\.$/m);
    assert.not.match(out, /panicked|Ready to accept/);
  }
  // Corruption in the middle: refused even with aof-load-truncated yes.
  {
    const bad = copyDir(srv.dir, 'aof-corrupt-');
    const at = full.indexOf(resp('set', 'key:10', 'value-10'));
    const broken = Buffer.from(full);
    broken[at] = 0x58; // 'X' where '*' belongs
    fs.writeFileSync(path.join(bad, 'appendonlydir', incrName), broken);
    const s4 = await startServer({ dir: bad, args: ['--appendonly', 'yes', '--aof-load-truncated', 'yes'], waitReady: false });
    const r = await s4.exited;
    const out = await drained(s4);
    assert.is(r.code, 1, out);
    assert.match(out, new RegExp(`# Fatal error loading the DB: Bad file format reading the append only file appendonly\\.aof\\.1\\.incr\\.aof at offset ${at}`));
    assert.not.match(out, /panicked|Ready to accept/);
  }
  // A damaged manifest and a missing base are refused too.
  {
    const bad = copyDir(srv.dir, 'aof-badmanifest-');
    fs.appendFileSync(path.join(bad, 'appendonlydir', 'appendonly.aof.manifest'), 'file x seq\n');
    const s5 = await startServer({ dir: bad, args: ['--appendonly', 'yes'], waitReady: false });
    assert.is((await s5.exited).code, 1);
    assert.match(await drained(s5), /Invalid AOF manifest file format.*line 3/);
    const nobase = copyDir(srv.dir, 'aof-nobase-');
    fs.rmSync(path.join(nobase, 'appendonlydir', 'appendonly.aof.1.base.rdb'));
    const s6 = await startServer({ dir: nobase, args: ['--appendonly', 'yes'], waitReady: false });
    assert.is((await s6.exited).code, 1);
    assert.match(await drained(s6), /appendonly\.aof\.1\.base\.rdb doesn't exist/);
  }
});

t('the manifest switch interrupted at each step leaves a loadable directory with every write', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '300000']);
  await io.set('a', '1');
  await io.set('b', '2');
  const before = copyDir(srv.dir, 'aof-switch-before-');
  assert.is(await io.bgrewriteaof(), 'Background append only file rewriting started');
  await io.set('c', '3');
  // Step 1: new incr opened and manifest persisted, child still writing the base.
  const during = copyDir(srv.dir, 'aof-switch-during-');
  await waitNoChild(io);
  await io.set('d', '4');
  io.disconnect();
  fleet.untrack(srv);
  await srv.stop('SIGKILL');
  const after = srv.dir;
  const newManifest = fs.readFileSync(path.join(after, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  const newBase = fs.readFileSync(path.join(after, 'appendonlydir', 'appendonly.aof.2.base.rdb'));

  // 1. The child's temp base was written but never renamed.
  const s1 = copyDir(during, 'aof-state1-');
  fs.writeFileSync(path.join(s1, 'temp-rewriteaof-bg-4242.aof'), newBase);
  assert.equal(await loadedKeys(s1), ['a', 'b', 'c']);
  // 2. The new base renamed into the directory, the manifest not switched yet.
  const s2 = copyDir(during, 'aof-state2-');
  fs.writeFileSync(path.join(s2, 'appendonlydir', 'appendonly.aof.2.base.rdb'), newBase);
  assert.equal(await loadedKeys(s2), ['a', 'b', 'c']);
  // 3. The new manifest written to its temp name, not renamed over the old one.
  const s3 = copyDir(during, 'aof-state3-');
  fs.writeFileSync(path.join(s3, 'appendonlydir', 'appendonly.aof.2.base.rdb'), newBase);
  fs.writeFileSync(path.join(s3, 'appendonlydir', 'temp-appendonly.aof.manifest'), newManifest);
  assert.equal(await loadedKeys(s3), ['a', 'b', 'c']);
  // 4. Manifest switched, history files not deleted yet (listed as type h).
  const s4 = copyDir(after, 'aof-state4-');
  for (const f of ['appendonly.aof.1.base.rdb', 'appendonly.aof.1.incr.aof']) {
    fs.copyFileSync(path.join(during, 'appendonlydir', f), path.join(s4, 'appendonlydir', f));
  }
  fs.writeFileSync(
    path.join(s4, 'appendonlydir', 'appendonly.aof.manifest'),
    'file appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.1.incr.aof seq 1 type h\n' + newManifest,
  );
  assert.equal(await loadedKeys(s4), ['a', 'b', 'c', 'd']);
  // The state before the rewrite and the final one load too.
  assert.equal(await loadedKeys(before), ['a', 'b']);
  assert.equal(await loadedKeys(after), ['a', 'b', 'c', 'd']);
  // A start-up on state 4 deletes the history files (Valkey's aofDelHistoryFiles).
  assert.equal(manifest(s4).filter((e) => e.type === 'h'), []);
  await waitUntil('history files unlinked', () => !fs.existsSync(path.join(s4, 'appendonlydir', 'appendonly.aof.1.incr.aof')), 2000);
});

t('a rewrite child killed with SIGKILL or by SHUTDOWN leaves no temp file and loses nothing', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '300000']);
  await io.mset('a', '1', 'b', '2', 'c', '3');
  assert.is(await io.bgrewriteaof(), 'Background append only file rewriting started');
  const pid = await nthChildPid(srv, 1, 'Background append only file rewriting');
  await waitUntil('the temp base', () => fs.existsSync(path.join(srv.dir, `temp-rewriteaof-bg-${pid}.aof`)), 3000, 5);
  await io.set('d', '4');
  process.kill(pid, 'SIGKILL');
  await waitNoChild(io);
  await srv.waitFor(/Background AOF rewrite terminated by signal 9/);
  const i = await info(io, 'persistence');
  assert.is(i.get('aof_last_bgrewrite_status'), 'err');
  assert.is(i.get('aof_rewrites'), '0');
  assert.is(i.get('aof_rewrites_consecutive_failures'), '1');
  assert.equal(tempFiles(srv.dir), []);
  // The incr file opened for the rewrite stays in force.
  assert.equal(manifest(srv.dir).map((e) => e.name), ['appendonly.aof.1.base.rdb', 'appendonly.aof.1.incr.aof', 'appendonly.aof.2.incr.aof']);
  await io.set('e', '5');
  await sleep(50);
  assert.equal(await loadedKeys(copyDir(srv.dir, 'aof-killed-rewrite-')), ['a', 'b', 'c', 'd', 'e']);

  // SHUTDOWN while a rewrite runs: the child is killed and its temp file removed.
  assert.is(await io.bgrewriteaof(), 'Background append only file rewriting started');
  const pid2 = await nthChildPid(srv, 2, 'Background append only file rewriting');
  await waitUntil('the temp base', () => fs.existsSync(path.join(srv.dir, `temp-rewriteaof-bg-${pid2}.aof`)), 3000, 5);
  await io.set('f', '6');
  io.disconnect();
  assert.is((await redisCli(srv.port, ['SHUTDOWN'])).code, 0);
  assert.is((await srv.exited).code, 0);
  assert.match(await drained(srv), /There is a child rewriting the AOF\. Killing it!/);
  assert.equal(tempFiles(srv.dir), []);
  assert.equal(await loadedKeys(srv.dir), ['a', 'b', 'c', 'd', 'e', 'f']);
});

t('automatic rewrites fire on growth (auto-aof-rewrite-min-size, percentage 100) and aof_rewrites counts them', async () => {
  const { srv, io } = await forkv(['--auto-aof-rewrite-min-size', '64kb', '--auto-aof-rewrite-percentage', '100', '--hz', '50']);
  // Overwriting the same keys: the AOF grows, the dataset does not.
  for (let round = 0; round < 6; round++) {
    await fill(io, 200, 400, 'auto:');
    await sleep(150);
  }
  // Stop further automatic rewrites before reading the directory: one firing while it
  // is copied would replace the files under the copy.
  assert.is(await io.config('SET', 'auto-aof-rewrite-percentage', '0'), 'OK');
  await waitNoChild(io);
  const i = await info(io, 'persistence');
  const rewrites = Number(i.get('aof_rewrites'));
  assert.ok(rewrites >= 2, `aof_rewrites ${rewrites}`);
  await srv.waitFor(/\* Starting automatic rewriting of AOF on \d+% growth/);
  await waitUntil('one log line per automatic rewrite', () => count(srv.output(), /Starting automatic rewriting of AOF on/) === rewrites, 2000);
  assert.ok(Number(i.get('aof_current_size')) < 2 * Math.max(65536, Number(i.get('aof_base_size'))) + 100000);
  assert.equal((await loadedKeys(copyDir(srv.dir, 'aof-auto-'))).length, 200);
  // With percentage 0 nothing fires.
  await fill(io, 200, 800, 'auto:');
  await sleep(300);
  assert.is(await infoNum(io, 'aof_rewrites'), rewrites);
});

t('BGREWRITEAOF while BGSAVE runs is scheduled and runs after it', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '2000']);
  await fill(io, 300, 10);
  assert.is(await io.bgsave(), 'Background saving started');
  assert.is(await io.bgrewriteaof(), 'Background append only file rewriting scheduled');
  const i = await info(io, 'persistence');
  assert.is(i.get('aof_rewrite_scheduled'), '1');
  assert.is(i.get('aof_pending_rewrite'), '1');
  assert.is(i.get('aof_rewrite_in_progress'), '0');
  await srv.waitFor(/Background append only file rewriting started by pid/, 5000);
  await waitNoChild(io);
  const out = srv.output();
  assert.ok(out.indexOf('Background saving terminated with success') < out.indexOf('Background append only file rewriting started by pid'));
  assert.is(await infoNum(io, 'aof_rewrites'), 1);
  assert.is(await infoNum(io, 'rdb_saves'), 1);
  assert.is(await infoNum(io, 'aof_rewrite_scheduled'), 0);
  // And a second BGREWRITEAOF while one runs is refused.
  assert.is(await io.bgrewriteaof(), 'Background append only file rewriting started');
  let msg = '';
  await io.bgrewriteaof().catch((e: Error) => (msg = e.message));
  assert.is(msg, 'ERR Background append only file rewriting already in progress');
  await waitNoChild(io);
});

t('CONFIG SET appendonly yes writes a base with the current data; appendonly no stops logging', async () => {
  const srv = await startServer();
  fleet.track(srv);
  const io = fleet.connect(srv.port);
  await fill(io, 500, 20, 'pre:');
  assert.is(await infoNum(io, 'aof_enabled'), 0);
  assert.not.ok(fs.existsSync(path.join(srv.dir, 'appendonlydir')));
  assert.is(await io.config('SET', 'appendonly', 'yes'), 'OK');
  await waitNoChild(io);
  assert.is(await infoNum(io, 'aof_enabled'), 1);
  const m = manifest(srv.dir);
  const base = m.find((e) => e.type === 'b');
  assert.ok(base, JSON.stringify(m));
  const chk = await checkRdb(path.join(srv.dir, 'appendonlydir', (base as ManifestEntry).name));
  assert.match(chk.stdout, /\b500 keys read\b/);
  await io.set('post', 'enable');
  await sleep(50);
  const incr = m.filter((e) => e.type === 'i').pop() as ManifestEntry;
  assert.ok(aofFile(srv.dir, incr.name).includes(resp('set', 'post', 'enable')));
  assert.equal((await loadedKeys(copyDir(srv.dir, 'aof-enabled-'))).length, 501);

  assert.is(await io.config('SET', 'appendonly', 'no'), 'OK');
  assert.is(await infoNum(io, 'aof_enabled'), 0);
  const size = aofFile(srv.dir, incr.name).length;
  await io.set('after-disable', '1');
  await sleep(100);
  assert.is(aofFile(srv.dir, incr.name).length, size);
  assert.equal((await loadedKeys(copyDir(srv.dir, 'aof-disabled-'))).length, 501);
});

t('INFO aof_* fields follow the files', async () => {
  const { srv, io } = await forkv(['--appendfsync', 'everysec']);
  const i = await info(io, 'persistence');
  for (const f of ['aof_enabled', 'aof_rewrite_in_progress', 'aof_rewrite_scheduled', 'aof_last_rewrite_time_sec', 'aof_current_rewrite_time_sec', 'aof_last_bgrewrite_status', 'aof_rewrites', 'aof_rewrites_consecutive_failures', 'aof_last_write_status', 'aof_last_cow_size', 'aof_current_size', 'aof_base_size', 'aof_pending_rewrite', 'aof_buffer_length', 'aof_pending_bio_fsync', 'aof_delayed_fsync']) {
    assert.ok(i.has(f), `missing ${f}`);
  }
  assert.is(i.get('aof_enabled'), '1');
  assert.is(i.get('aof_last_write_status'), 'ok');
  assert.is(i.get('aof_rewrites'), '0');
  await fill(io, 100, 100);
  await sleep(50);
  const j = await info(io, 'persistence');
  const files = manifest(srv.dir);
  const total = files.reduce((n, e) => n + aofFile(srv.dir, e.name).length, 0);
  assert.is(j.get('aof_current_size'), String(total));
  assert.is(j.get('aof_buffer_length'), '0');
});

t('replies held for the AOF write are not lost when the connection closes (SET then QUIT, every policy)', async () => {
  for (const policy of ['always', 'everysec', 'no']) {
    const { srv } = await forkv(['--appendfsync', policy]);
    const c = await RawClient.connect(srv.port);
    c.write(cmd('SET', 'q', policy));
    c.write(Buffer.concat([cmd('SET', 'q2', policy), cmd('QUIT')]));
    assert.is(await c.readToClose(2000), '+OK\r\n+OK\r\n+OK\r\n', policy);
    const incr = aofFile(srv.dir, 'appendonly.aof.1.incr.aof').toString('latin1');
    assert.ok(incr.includes(`${resp('SET', 'q', policy)}${resp('SET', 'q2', policy)}`), policy);
  }
});

t.run();
