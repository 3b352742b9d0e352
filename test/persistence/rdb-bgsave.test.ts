// BGSAVE through the real server process: the point-in-time snapshot of the seed example,
// a responsive parent while the child writes, INFO fields and log lines, BGSAVE/SAVE/
// LASTSAVE/BGSAVE SCHEDULE/CANCEL replies, and the dump checked by a fresh forkv, by
// redis-check-rdb and by Debian's redis-server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { startRedis, startServer, tempDir } from '../helpers/server';
import { type Fleet, useFleet } from '../helpers/fixture';
import { checkRdb, childPidFromLog, errOf, nthChildPid, fill, info, infoNum, sleep, tempFiles, waitNoChild, waitUntil } from './util';

const t = suite('rdb-bgsave');
const fleet = useFleet(t);

const forkv = (args: string[] = [], dir?: string): ReturnType<Fleet['forkv']> => fleet.forkv({ args, dir });

t('seed: BGSAVE is a point-in-time snapshot; the parent keeps answering while the child writes; restart loads it', async () => {
  // 600 ms per key: the child needs over a second for two keys.
  const { srv, io } = await forkv(['--rdb-key-save-delay', '600000']);
  await io.set('key1', 'value1');
  await io.set('key2', 'value2');
  assert.is(await io.bgsave(), 'Background saving started');
  assert.is((await info(io, 'persistence')).get('rdb_bgsave_in_progress'), '1');
  assert.is(await io.set('key3', 'value3'), 'OK');
  // The parent answers every command while the child is alive: each PING is bracketed by
  // INFO saying the save is still in progress (no speed threshold: bench/ measures latency).
  for (let i = 0; i < 5; i++) {
    assert.is(await io.ping(), 'PONG');
    assert.is((await info(io, 'persistence')).get('rdb_bgsave_in_progress'), '1', `the save ended before PING ${i + 1}`);
  }
  assert.is(await io.get('key3'), 'value3');
  await waitNoChild(io);
  const dump = path.join(srv.dir, 'dump.rdb');
  assert.ok(fs.existsSync(dump));
  assert.equal(tempFiles(srv.dir), []);

  // redis-check-rdb accepts it and counts two keys.
  const chk = await checkRdb(dump);
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
  assert.match(chk.stdout, /RDB looks OK/);
  assert.match(chk.stdout, /\b2 keys read\b/);

  // A fresh forkv and a fresh redis-server on copies of the file see key1 and key2 only.
  for (const which of ['forkv', 'redis'] as const) {
    const copy = tempDir(`rdb-seed-${which}-`);
    fs.copyFileSync(dump, path.join(copy, 'dump.rdb'));
    const other = which === 'forkv' ? await startServer({ dir: copy }) : await startRedis([], copy);
    fleet.track(other);
    const c = fleet.connect(other.port);
    assert.equal((await c.keys('*')).sort(), ['key1', 'key2'], which);
    assert.is(await c.get('key1'), 'value1');
    assert.is(await c.get('key2'), 'value2');
  }

  // Restart forkv itself on its directory: exactly the snapshot comes back.
  io.disconnect();
  const r = await srv.stop('SIGTERM');
  assert.is(r.code, 0);
  const again = await startServer({ dir: srv.dir });
  fleet.track(again);
  assert.match(again.output(), /Done loading RDB, keys loaded: 2, keys expired: 0\./);
  const io2 = fleet.connect(again.port);
  assert.equal((await io2.keys('*')).sort(), ['key1', 'key2']);
  assert.is(await infoNum(io2, 'rdb_last_load_keys_loaded'), 2);
  assert.is(await infoNum(io2, 'rdb_last_load_keys_expired'), 0);
});

t('INFO persistence/stats during and after a BGSAVE; CoW under parent writes; log lines', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '300']);
  const n = 4000;
  await fill(io, n, 2000);
  const before = await info(io);
  assert.is(before.get('rdb_changes_since_last_save'), String(n));
  assert.is(before.get('total_forks'), '0');
  assert.is(before.get('rdb_last_bgsave_time_sec'), '-1');
  assert.is(before.get('rdb_current_bgsave_time_sec'), '-1');

  const t0 = Date.now();
  assert.is(await io.bgsave(), 'Background saving started');
  const during = await info(io);
  assert.is(during.get('rdb_bgsave_in_progress'), '1');
  assert.is(during.get('current_save_keys_total'), String(n));
  assert.ok(Number(during.get('rdb_current_bgsave_time_sec')) >= 0);
  // Dirty many pages the child shares with us: rewrite every value while it saves.
  await fill(io, n, 2000, 'k:');
  await fill(io, 500, 100, 'extra:');
  let sawProgress = false;
  let sawSeconds = false;
  while ((await infoNum(io, 'rdb_bgsave_in_progress')) === 1) {
    const i = await info(io, 'persistence');
    const done = Number(i.get('current_save_keys_processed'));
    if (done > 0 && done <= n) sawProgress = true;
    if (Number(i.get('rdb_current_bgsave_time_sec')) >= 1) sawSeconds = true;
    await sleep(50);
  }
  const took = (Date.now() - t0) / 1000;
  assert.ok(sawProgress, 'current_save_keys_processed never moved');
  assert.ok(took < 1 || sawSeconds, `save took ${took}s but rdb_current_bgsave_time_sec stayed 0`);
  const after = await info(io);
  assert.is(after.get('rdb_bgsave_in_progress'), '0');
  assert.is(after.get('rdb_last_bgsave_status'), 'ok');
  assert.is(after.get('rdb_saves'), '1');
  assert.is(after.get('rdb_current_bgsave_time_sec'), '-1');
  assert.is(after.get('current_save_keys_processed'), '0');
  assert.ok(Math.abs(Number(after.get('rdb_last_bgsave_time_sec')) - took) <= 1, `rdb_last_bgsave_time_sec ${after.get('rdb_last_bgsave_time_sec')} vs ${took}s`);
  // 8 MB rewritten under the child: megabytes of pages were copied (an idle save copies < 1 MB).
  assert.ok(Number(after.get('rdb_last_cow_size')) > 4 << 20, `rdb_last_cow_size ${after.get('rdb_last_cow_size')}`);
  assert.ok(Number(after.get('latest_fork_usec')) > 0);
  assert.is(after.get('total_forks'), '1');
  // The snapshot covered the first n changes; the n + 500 made during the save remain.
  assert.is(after.get('rdb_changes_since_last_save'), String(n + 500));

  await srv.waitFor(/Background saving terminated with success/);
  const out = srv.output();
  const pid = childPidFromLog(out);
  assert.match(out, new RegExp(`^${srv.pid}:M .* \\* Background saving started by pid ${pid}$`, 'm'));
  assert.match(out, new RegExp(`^${pid}:C .* \\* DB saved on disk$`, 'm'));
  assert.match(out, new RegExp(`^${pid}:C .* \\* Fork CoW for RDB: current \\d+ MB, peak \\d+ MB, average \\d+ MB$`, 'm'));
  assert.match(out, new RegExp(`^${srv.pid}:M .* \\* Background saving terminated with success$`, 'm'));
  // The dump is the state at fork time: every k: value is the first one, no extra: key.
  const chk = await checkRdb(path.join(srv.dir, 'dump.rdb'));
  assert.is(chk.code, 0, chk.stdout);
  assert.match(chk.stdout, new RegExp(`\\b${n} keys read\\b`));
});

t('BGSAVE/SAVE while a child runs, BGSAVE SCHEDULE behind BGREWRITEAOF, LASTSAVE, SAVE', async () => {
  const { srv, io } = await forkv(['--rdb-key-save-delay', '2000']);
  await fill(io, 400, 10);
  const last0 = await io.lastsave();
  assert.is(last0, await infoNum(io, 'rdb_last_save_time'));

  assert.is(await io.bgsave(), 'Background saving started');
  assert.is(await errOf(io.bgsave()), 'ERR Background save already in progress');
  assert.is(await errOf(io.save()), 'ERR Background save already in progress');
  await waitNoChild(io);
  assert.is(await infoNum(io, 'rdb_saves'), 1);

  // A rewrite owns the child: plain BGSAVE is refused, SCHEDULE queues it.
  assert.is(await io.bgrewriteaof(), 'Background append only file rewriting started');
  assert.match(await errOf(io.bgsave()), /^ERR Another child process is active \(AOF\?\): can't BGSAVE right now\. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible\.$/);
  assert.is(await io.call('BGSAVE', 'SCHEDULE'), 'Background saving scheduled');
  // Queued, then cancelled before it ran.
  assert.is(await io.call('BGSAVE', 'CANCEL'), 'Scheduled background saving cancelled');
  assert.is(await io.call('BGSAVE', 'SCHEDULE'), 'Background saving scheduled');
  await srv.waitFor(/Background AOF rewrite finished successfully/);
  await waitUntil('the scheduled BGSAVE', () => (srv.output().match(/Background saving started by pid/g) ?? []).length === 2, 5000);
  const out = srv.output();
  assert.ok(out.lastIndexOf('Background saving started by pid') > out.indexOf('Background AOF rewrite finished successfully'), 'scheduled BGSAVE ran before the rewrite ended');
  await waitNoChild(io);
  assert.is(await infoNum(io, 'rdb_saves'), 2);

  // BGSAVE CANCEL: the temp file goes away, the status stays ok, no dump is replaced.
  const dump = path.join(srv.dir, 'dump.rdb');
  const mtime = fs.statSync(dump).mtimeMs;
  await io.set('after-cancel-marker', '1');
  assert.is(await io.bgsave(), 'Background saving started');
  const pid = await nthChildPid(srv, 3);
  await waitUntil('temp file', () => fs.existsSync(path.join(srv.dir, `temp-${pid}.rdb`)), 3000, 5);
  assert.is(await io.call('BGSAVE', 'CANCEL'), 'Background saving cancelled');
  await waitNoChild(io);
  const i = await info(io, 'persistence');
  assert.is(i.get('rdb_last_bgsave_status'), 'ok');
  assert.is(i.get('rdb_saves'), '2');
  assert.equal(tempFiles(srv.dir), []);
  assert.is(fs.statSync(dump).mtimeMs, mtime);
  assert.is(await errOf(io.call('BGSAVE', 'CANCEL')), 'ERR Background saving is currently not in progress or scheduled');
  assert.is(await errOf(io.call('BGSAVE', 'NOW')), 'ERR syntax error');

  // SAVE: synchronous, resets the change counter, moves LASTSAVE.
  await sleep(1100);
  assert.ok((await infoNum(io, 'rdb_changes_since_last_save')) > 0);
  assert.is(await io.save(), 'OK');
  assert.is(await infoNum(io, 'rdb_changes_since_last_save'), 0);
  const last1 = await io.lastsave();
  assert.ok(last1 > last0, `LASTSAVE ${last1} after ${last0}`);
  assert.ok(Math.abs(last1 - Date.now() / 1000) < 3);
  assert.is(await infoNum(io, 'rdb_saves'), 3);
  await srv.waitFor(/\* DB saved on disk$/m);
  const chk = await checkRdb(dump);
  assert.is(chk.code, 0, chk.stdout);
  assert.match(chk.stdout, /\b401 keys read\b/);
});

t.run();
