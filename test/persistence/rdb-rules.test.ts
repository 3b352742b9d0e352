// Save rules (command line, config file, CONFIG SET, `save ""`), saving at shutdown
// (SHUTDOWN SAVE/NOSAVE, SIGTERM), DEBUG RELOAD, and -LOADING while a big dump loads.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';

import { cmd, RawClient } from '../helpers/client';
import { redisCli } from '../helpers/cli';
import { startServer, tempDir, type RunningServer } from '../helpers/server';
import { type Fleet, useFleet } from '../helpers/fixture';
import { checkRdb, count, drained, fill, info, infoNum, launch, nthChildPid, quiet, sleep, waitUntil } from './util';

const t = suite('rdb-rules');
const fleet = useFleet(t);

const client = (srv: RunningServer): Redis => fleet.connect(srv.port);
const forkv = (args: string[] = [], dir?: string): ReturnType<Fleet['forkv']> => fleet.forkv({ args, dir });

const SAVING = /\* 1 changes in 1 seconds\. Saving\.\.\.$/m;

t('save rule from the command line fires a BGSAVE', async () => {
  const { srv, io } = await forkv(['--save', '1 1', '--hz', '20']);
  assert.equal(await io.config('GET', 'save'), ['save', '1 1']);
  await io.set('cl', '1');
  await srv.waitFor(SAVING, 5000);
  await srv.waitFor(/Background saving terminated with success/, 5000);
  assert.is(await infoNum(io, 'rdb_changes_since_last_save'), 0);
  const chk = await checkRdb(path.join(srv.dir, 'dump.rdb'));
  assert.match(chk.stdout, /\b1 keys read\b/);
});

t('save rule from a config file fires; CONFIG SET save adds and `save ""` removes rules', async () => {
  const dir = tempDir('rdb-conf-');
  const conf = path.join(dir, 'forkv.conf');
  fs.writeFileSync(conf, `# persistence test\ndir ${dir}\nsave 1 1\nhz 20\nenable-debug-command yes\n`);
  const srv = await launch([conf], { dir });
  fleet.track(srv);
  const io = client(srv);
  assert.equal(await io.config('GET', 'save'), ['save', '1 1']);
  await io.set('from-conf', '1');
  await srv.waitFor(SAVING, 5000);
  await srv.waitFor(/Background saving terminated with success/, 5000);
  assert.ok(fs.existsSync(path.join(dir, 'dump.rdb')));

  // save "": no rule fires any more.
  assert.is(await io.config('SET', 'save', ''), 'OK');
  const saves = await infoNum(io, 'rdb_saves');
  await io.set('no-rule', '1');
  await sleep(2300);
  assert.is(await infoNum(io, 'rdb_saves'), saves);
  assert.is(await infoNum(io, 'rdb_changes_since_last_save'), 1);

  // CONFIG SET save at runtime: the new rule fires.
  assert.is(await io.config('SET', 'save', '3600 1000 1 1'), 'OK');
  await waitUntil('the runtime save rule', async () => (await infoNum(io, 'rdb_saves')) === saves + 1, 5000, 50);
  await waitUntil('the second "Saving..." line', () => count(srv.output(), SAVING) === 2, 2000);
  assert.is(await infoNum(io, 'rdb_changes_since_last_save'), 0);
});

t('SHUTDOWN SAVE / NOSAVE and SIGTERM with save rules; restarts see what was saved', async () => {
  const dir = tempDir('rdb-shutdown-');
  // save "" and SHUTDOWN SAVE: saved anyway.
  let s = await startServer({ dir });
  let io = quiet(s.port);
  await io.set('a', '1');
  await io.set('ttl', 'x', 'EX', 1000);
  assert.is((await redisCli(s.port, ['SHUTDOWN', 'SAVE'])).code, 0);
  io.disconnect();
  assert.is((await s.exited).code, 0);
  assert.match(await drained(s), /Saving the final RDB snapshot before exiting\.\n.*DB saved on disk/);

  // Save rules present but SHUTDOWN NOSAVE: the new write is lost.
  s = await startServer({ dir, args: ['--save', '3600 1'] });
  io = quiet(s.port);
  assert.is(await io.get('a'), '1');
  assert.ok((await io.ttl('ttl')) > 900);
  await io.set('b', '2');
  assert.is((await redisCli(s.port, ['SHUTDOWN', 'NOSAVE'])).code, 0);
  io.disconnect();
  assert.is((await s.exited).code, 0);
  assert.not.match(await drained(s), /Saving the final RDB snapshot/);

  // Save rules present and SIGTERM: Valkey saves first.
  s = await startServer({ dir, args: ['--save', '3600 1'] });
  io = quiet(s.port);
  assert.is(await io.get('b'), null);
  await io.set('c', '3');
  io.disconnect();
  const r = await s.stop('SIGTERM');
  assert.is(r.code, 0);
  const out = await drained(s);
  assert.match(out, /Received SIGTERM scheduling shutdown/);
  assert.match(out, /Saving the final RDB snapshot before exiting/);

  s = await startServer({ dir });
  fleet.track(s);
  io = client(s);
  assert.equal((await io.keys('*')).sort(), ['a', 'c', 'ttl']);
  assert.match(s.output(), /Done loading RDB, keys loaded: 3, keys expired: 0\./);

  // redis-cli SHUTDOWN with no argument and no save rules: nothing saved, clean exit.
  await io.set('d', '4');
  const cli = await redisCli(s.port, ['SHUTDOWN']);
  assert.is(cli.code, 0);
  assert.is((await s.exited).code, 0);
  const chk = await checkRdb(path.join(dir, 'dump.rdb'));
  assert.match(chk.stdout, /\b3 keys read\b/);
});

t('SHUTDOWN while a BGSAVE runs: the child is killed, its temp file removed, the final save has the data', async () => {
  const { srv, io } = await forkv(['--save', '3600 1', '--rdb-key-save-delay', '200000']);
  await io.mset('a', '1', 'b', '2', 'c', '3');
  assert.is(await io.bgsave(), 'Background saving started');
  const pid = await nthChildPid(srv, 1);
  await waitUntil('the temp file', () => fs.existsSync(path.join(srv.dir, `temp-${pid}.rdb`)), 3000, 5);
  await io.set('d', '4');
  io.disconnect();
  assert.is((await redisCli(srv.port, ['SHUTDOWN'])).code, 0);
  assert.is((await srv.exited).code, 0);
  const out = await drained(srv);
  assert.match(out, /# There is a child saving an \.rdb\. Killing it!\n.*Background saving terminated by signal 10\n.*Saving the final RDB snapshot before exiting\.\n.*DB saved on disk/);
  assert.equal(fs.readdirSync(srv.dir).filter((f) => f.startsWith('temp-')), []);
  assert.match((await checkRdb(path.join(srv.dir, 'dump.rdb'))).stdout, /\b4 keys read\b/);
});

t('DEBUG RELOAD keeps the data (DEBUG DIGEST equal), including TTLs and other dbs', async () => {
  const { srv, io } = await forkv();
  await fill(io, 2000, 50);
  await io.set('int', '12345');
  await io.set('big', 'x'.repeat(300000));
  await io.set('exp', 'v', 'PX', 500000);
  await io.select(3);
  await io.set('db3', 'three');
  await io.select(0);
  const before = await io.call('DEBUG', 'DIGEST');
  assert.is.not(before, '0'.repeat(40));
  assert.is(await io.call('DEBUG', 'RELOAD'), 'OK');
  assert.is(await io.call('DEBUG', 'DIGEST'), before);
  assert.ok((await io.pttl('exp')) > 400000);
  assert.is(await io.get('big'), 'x'.repeat(300000));
  await srv.waitFor(/DB reloaded by DEBUG RELOAD/);
  assert.ok(fs.existsSync(path.join(srv.dir, 'dump.rdb')));
  // NOSAVE reloads the file as it is: a write made since is dropped.
  await io.set('unsaved', '1');
  assert.is(await io.call('DEBUG', 'RELOAD', 'NOSAVE'), 'OK');
  assert.is(await io.exists('unsaved'), 0);
  assert.is(await io.call('DEBUG', 'DIGEST'), before);
});

t('a client connecting while a 300k-key dump loads gets -LOADING, then the data', async () => {
  const dir = tempDir('rdb-loading-');
  const first = await startServer({ dir });
  let io = quiet(first.port);
  await fill(io, 300000, 20);
  assert.is(await io.save(), 'OK');
  io.disconnect();
  await first.stop('SIGKILL');

  const srv = await startServer({ dir, waitReady: false });
  fleet.track(srv);
  let raw: RawClient | null = null;
  await waitUntil(
    'the listener',
    async () => {
      try {
        raw = await RawClient.connect(srv.port);
        return true;
      } catch {
        return false;
      }
    },
    10000,
    2,
  );
  const c = raw as unknown as RawClient;
  c.write(cmd('GET', 'k:1'));
  const firstReply = await c.readUntil('\r\n');
  assert.is(firstReply, '-LOADING Valkey is loading the dataset in memory\r\n');
  c.write(cmd('INFO', 'persistence'));
  const infoReply = await c.readUntil('\r\n\r\n');
  assert.match(infoReply, /loading:1/);
  await srv.waitFor(/Ready to accept connections/, 20000);
  c.write(cmd('GET', 'k:1'));
  assert.is(await c.readUntil('\r\n', 5000), '$20\r\n');
  c.close();
  io = client(srv);
  assert.is(await io.dbsize(), 300000);
  assert.match(srv.output(), /Done loading RDB, keys loaded: 300000, keys expired: 0\./);
  assert.is(await infoNum(io, 'rdb_last_load_keys_loaded'), 300000);
  assert.is((await info(io)).get('loading'), '0');
  // Sanity: writes work after loading.
  assert.is(await io.set('post', '1'), 'OK');
});

t.run();
