// FLUSHALL resets persistence as in Valkey (flushAllDataAndResetRDB): a running snapshot
// of the old data is stopped, and with save rules the empty dataset is saved at once.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { startServer, tempDir } from '../helpers/server';
import { checkRdb, info, quiet, tempFiles, waitNoChild } from './util';

const t = suite('flushall');

t('with save rules: stops the running BGSAVE and writes the empty dump at once', async () => {
  const dir = tempDir();
  const srv = await startServer({ dir, args: ['--save', '3600 1', '--rdb-key-save-delay', '200000'] });
  const io = quiet(srv.port);
  await io.mset('a', '1', 'b', '2', 'c', '3');
  assert.is(await io.bgsave(), 'Background saving started');
  assert.is((await info(io, 'persistence')).get('rdb_bgsave_in_progress'), '1');
  assert.is(await io.flushall(), 'OK');
  // The child was stopped before the reply, and the empty dataset is on disk.
  await waitNoChild(io);
  const p = await info(io, 'persistence');
  assert.is(p.get('rdb_last_bgsave_status'), 'ok');
  assert.is(p.get('rdb_changes_since_last_save'), '0');
  assert.equal(tempFiles(dir), []);
  const check = await checkRdb(path.join(dir, 'dump.rdb'));
  assert.match(check.stdout, /0 keys read/);
  await srv.waitFor(/Background saving terminated by signal 10/);
  io.disconnect();
  await srv.stop('SIGKILL');
  const again = await startServer({ dir });
  const io2 = quiet(again.port);
  assert.is(await io2.dbsize(), 0);
  io2.disconnect();
  await again.stop();
});

t('without save rules: FLUSHALL writes no dump', async () => {
  const dir = tempDir();
  const srv = await startServer({ dir });
  const io = quiet(srv.port);
  await io.set('a', '1');
  assert.is(await io.flushall(), 'OK');
  assert.not.ok(fs.existsSync(path.join(dir, 'dump.rdb')));
  io.disconnect();
  await srv.stop();
});

t.run();
