// RDB failures through the real process and real files: a BGSAVE child or the server
// killed with SIGKILL mid-save, a full disk (a small tmpfs), a directory that vanished,
// MISCONF and its recovery, and corrupt, truncated or badly checksummed dumps at start-up.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Redis from 'ioredis';

import { startServer, tempDir } from '../helpers/server';
import { type Fleet, useFleet } from '../helpers/fixture';
import { checkRdb, drained, errOf, fill, info, mountTmpfs, nthChildPid, run, tempFiles, waitNoChild, waitUntil } from './util';

const t = suite('rdb-failures');
const fleet = useFleet(t);
const cleanups: Array<() => Promise<void>> = [];

const forkv = (args: string[] = [], dir?: string): ReturnType<Fleet['forkv']> => fleet.forkv({ args, dir });

// After the fleet's servers stopped (hooks run in the order they were registered).
t.after.each(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const MISCONF =
  "MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Valkey logs for details about the RDB error.";

/** True once `pid` is gone or a zombie (an orphan's parent may be slow to reap it). */
function gone(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

t('kill -9 of the BGSAVE child: status err, "terminated by signal 9", no temp file, old dump intact', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '2000']);
  await fill(io, 50, 10, 'old:');
  assert.is(await io.save(), 'OK');
  const dump = path.join(srv.dir, 'dump.rdb');
  const old = fs.readFileSync(dump);
  await fill(io, 1000, 10, 'new:');
  assert.is(await io.bgsave(), 'Background saving started');
  const pid = await nthChildPid(srv, 1);
  await waitUntil('the temp file', () => fs.existsSync(path.join(srv.dir, `temp-${pid}.rdb`)), 3000, 5);
  process.kill(pid, 'SIGKILL');
  await waitNoChild(io);
  await srv.waitFor(/Background saving terminated by signal 9/);
  const i = await info(io, 'persistence');
  assert.is(i.get('rdb_last_bgsave_status'), 'err');
  assert.is(i.get('rdb_saves'), '1');
  assert.equal(tempFiles(srv.dir), []);
  assert.ok(fs.readFileSync(dump).equals(old), 'the old dump changed');
  // Still serving, reads and writes (no save rules: no MISCONF).
  assert.is(await io.ping(), 'PONG');
  assert.is(await io.set('after', '1'), 'OK');
  assert.is(await io.dbsize(), 1051);
  // The next BGSAVE works and clears the status.
  assert.is(await io.config('SET', 'rdb-key-save-delay', '0'), 'OK');
  assert.is(await io.bgsave(), 'Background saving started');
  await waitNoChild(io);
  assert.is((await info(io, 'persistence')).get('rdb_last_bgsave_status'), 'ok');
  assert.match((await checkRdb(dump)).stdout, /\b1051 keys read\b/);
});

t('kill -9 of the server mid-save: the old dump stays intact and loadable', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '2000']);
  await fill(io, 30, 10, 'old:');
  assert.is(await io.save(), 'OK');
  const dump = path.join(srv.dir, 'dump.rdb');
  const old = fs.readFileSync(dump);
  await fill(io, 3000, 10, 'new:');
  assert.is(await io.bgsave(), 'Background saving started');
  const child = await nthChildPid(srv, 1);
  await waitUntil('the temp file', () => fs.existsSync(path.join(srv.dir, `temp-${child}.rdb`)), 3000, 5);
  await srv.stop('SIGKILL');
  // The orphaned child notices its parent is gone and stops without renaming.
  await waitUntil('the orphaned child to exit', () => gone(child), 10000, 50);
  assert.ok(fs.readFileSync(dump).equals(old), 'the dump was replaced after the server died');
  const chk = await checkRdb(dump);
  assert.is(chk.code, 0, chk.stdout);
  const again = await startServer({ dir: srv.dir });
  fleet.track(again);
  const io2 = fleet.connect(again.port);
  assert.is(await io2.dbsize(), 30);
  assert.match(again.output(), /Done loading RDB, keys loaded: 30, keys expired: 0\./);
});

t('full disk (1 MB tmpfs): BGSAVE and SAVE fail, MISCONF stops writes, reads work, space back -> BGSAVE lifts it', async () => {
  const parent = tempDir('rdb-enospc-');
  const disk = await mountTmpfs(parent, '1m');
  cleanups.push(() => disk.unmount());
  const { srv, io } = await forkv(['--save', '3600 1', '--rdbcompression', 'no'], disk.dir);
  // About 2 MB of incompressible data: cannot fit on a 1 MB disk.
  for (let b = 0; b < 4; b++) {
    const p = io.pipeline();
    for (let i = 0; i < 500; i++) p.set(`r:${b}:${i}`, crypto.randomBytes(512).toString('base64'));
    await p.exec();
  }
  assert.is(await io.get('missing'), null);
  assert.is(await io.bgsave(), 'Background saving started');
  await waitNoChild(io);
  await srv.waitFor(/Background saving error: .*No space left on device/);
  assert.is((await info(io, 'persistence')).get('rdb_last_bgsave_status'), 'err');
  assert.equal(tempFiles(disk.dir), []);
  assert.ok(!fs.existsSync(path.join(disk.dir, 'dump.rdb')));
  // MISCONF for writes, word for word, and for PING (Valkey's processCommand refuses it
  // too, as valkey-server 8.0.1 does); reads still work.
  assert.is(await errOf(io.set('w', '1')), MISCONF);
  assert.is(await errOf(io.incr('counter')), MISCONF);
  assert.is(await errOf(io.ping()), MISCONF);
  assert.is((await io.get('r:0:0'))?.length, 684);
  assert.is(await io.dbsize(), 2000);
  // SAVE in the foreground fails the same way.
  assert.is(await errOf(io.save()), 'ERR');
  await srv.waitFor(/Error saving DB on disk: .*No space left on device/);
  assert.equal(tempFiles(disk.dir), []);

  // Space comes back: a successful BGSAVE lifts MISCONF.
  const r = await run('/bin/mount', ['-o', 'remount,size=16m', disk.dir]);
  assert.is(r.code, 0, r.stderr);
  assert.is(await io.bgsave(), 'Background saving started');
  await waitNoChild(io);
  assert.is((await info(io, 'persistence')).get('rdb_last_bgsave_status'), 'ok');
  assert.is(await io.set('w', '1'), 'OK');
  const chk = await checkRdb(path.join(disk.dir, 'dump.rdb'));
  assert.match(chk.stdout, /\b2000 keys read\b/);
  // stop-writes-on-bgsave-error no: a failure is logged but writes go on.
  assert.is(await io.config('SET', 'stop-writes-on-bgsave-error', 'no'), 'OK');
  disk.fill();
  assert.is(await io.bgsave(), 'Background saving started');
  await waitNoChild(io);
  assert.is((await info(io, 'persistence')).get('rdb_last_bgsave_status'), 'err');
  assert.is(await io.set('w2', '1'), 'OK');
  disk.release();
});

t('a directory that disappeared (a regular file in its place): the error names the reason', async () => {
  const { srv, io } = await forkv(['--save', '3600 1']);
  await io.set('k', 'v');
  const dir = srv.dir;
  fs.rmSync(dir, { recursive: true });
  fs.writeFileSync(dir, 'not a directory');
  cleanups.push(async () => fs.rmSync(dir, { force: true, recursive: true }));
  assert.is(await io.bgsave(), 'Background saving started');
  await waitNoChild(io);
  await srv.waitFor(/Background saving error: Failed opening the temp file temp-\d+\.rdb \(in directory .*\) for saving: Not a directory/);
  assert.is(await errOf(io.set('x', '1')), MISCONF);
  fs.rmSync(dir);
  fs.mkdirSync(dir);
  assert.is(await io.bgsave(), 'Background saving started');
  await waitNoChild(io);
  assert.is(await io.set('x', '1'), 'OK');
});

/** Starts forkv on `file` as dump.rdb and expects a refusal naming the file. */
async function refuses(bytes: Buffer, why: RegExp): Promise<string> {
  const dir = tempDir('rdb-bad-');
  fs.writeFileSync(path.join(dir, 'dump.rdb'), bytes);
  const srv = await startServer({ dir, waitReady: false });
  const r = await srv.exited;
  const out = await drained(srv);
  assert.is(r.code, 1, out);
  assert.is(r.signal, null);
  assert.match(out, new RegExp(`# Fatal error loading the DB: ${dir}/dump\\.rdb: `));
  assert.match(out, why);
  assert.not.match(out, /panicked|RUST_BACKTRACE|Ready to accept connections|\n\s+at /);
  return out;
}

t('corrupt, truncated, garbage and bad-checksum dumps: exit 1 with file and offset, never a crash', async () => {
  const dumps: Buffer[] = [];
  let io: Redis | null = null;
  for (const sum of ['yes', 'no']) {
    const f = await forkv(['--rdbchecksum', sum]);
    io = f.io;
    for (let i = 0; i < 40; i++) await io.set(`key:${i}`, `value-${i}-${'x'.repeat(i * 3)}`);
    assert.is(await io.save(), 'OK');
    dumps.push(fs.readFileSync(path.join(f.srv.dir, 'dump.rdb')));
  }
  const [good, noSum] = dumps as [Buffer, Buffer];
  assert.ok(noSum.subarray(-8).equals(Buffer.alloc(8)), 'rdbchecksum no writes a zero checksum');

  // Truncated in the middle.
  let out = await refuses(good.subarray(0, Math.floor(good.length / 2)), /Short read or OOM loading DB.*\(at byte offset \d+\)/);
  assert.match(out, new RegExp(`at byte offset ${Math.floor(good.length / 2)}\\)`));
  // Cut right before the checksum.
  const cut = await refuses(good.subarray(0, good.length - 8), /Short read|EOF/);
  assert.match(cut, /# Terminating server after rdb file reading failure\.$/m);
  // One flipped bit inside a value: the CRC-64 catches it.
  const flipped = Buffer.from(good);
  const at = good.indexOf('value-20');
  flipped[at] = (flipped[at] ?? 0) ^ 0x01;
  out = await refuses(flipped, /Wrong RDB checksum expected: \([0-9a-f]+\) but got \([0-9a-f]+\)/);
  // A damaged checksum itself.
  const badSum = Buffer.from(good);
  badSum[badSum.length - 1] = (badSum[badSum.length - 1] ?? 0) ^ 0xff;
  await refuses(badSum, /Wrong RDB checksum.*RDB CRC error/);
  // Structural damage where no checksum helps: an unknown value type.
  const structural = Buffer.from(noSum);
  const key = noSum.indexOf('key:');
  // Layout: <type byte> <len byte> "key:..." — make the type byte unknown.
  structural[key - 2] = 0x63;
  out = await refuses(structural, new RegExp(`Can't handle foreign type or opcode 99 in RDB with version \\d+ \\(at byte offset ${key - 2}\\)`));
  // Valkey's rdbReportError line too (its suite counts the lines naming the failure).
  assert.match(out, new RegExp(`# Internal error in RDB reading offset ${key - 2}, function at forkv-rdb -> Can't handle foreign type or opcode 99 in RDB with version \\d+\n`));
  // A huge length prefix.
  const hugeLen = Buffer.from(noSum);
  hugeLen[key - 1] = 0x80;
  hugeLen.writeUInt32BE(0xfffffff0, key);
  await refuses(hugeLen, /Short read or OOM loading DB.*\(at byte offset \d+\)/);
  // Not an RDB file at all.
  const notRdb = await refuses(Buffer.from('hello world, not a dump\n'), /Wrong signature trying to load DB from file \(at byte offset 0\)/);
  // Valkey's last words follow a corrupt or short file only, not a file that is no dump.
  assert.not.match(notRdb, /Terminating server after rdb file reading failure/);
  await refuses(Buffer.alloc(0), /at byte offset 0|Short read/);
  // The server that wrote them is unaffected.
  assert.is(await io?.dbsize(), 40);
});

t.run();
