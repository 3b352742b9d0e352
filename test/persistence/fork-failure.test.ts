// A fork that really fails: the server is moved into a pids cgroup whose limit is the
// number of tasks it already has, so fork() returns EAGAIN (as it does when a container's
// pids limit is reached). BGSAVE must fail cleanly, report it, and work again once the
// limit is lifted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';

import * as path from 'node:path';

import { startServer, tempDir, VALKEY_SERVER } from '../helpers/server';
import { info, quiet, tempFiles, waitUntil } from './util';

const PIDS = '/sys/fs/cgroup/pids';

const t = suite('fork-failure');

t('BGSAVE with fork() failing: error reply, status err, MISCONF, then recovery', async () => {
  const dir = tempDir();
  const srv = await startServer({ dir, args: ['--save', '3600 1'] });
  const io = quiet(srv.port);
  await io.set('k', 'v');
  const group = path.join(PIDS, `forkv-test-${process.pid}`);
  fs.mkdirSync(group);
  fs.writeFileSync(path.join(group, 'cgroup.procs'), String(srv.pid));
  fs.writeFileSync(path.join(group, 'pids.max'), fs.readFileSync(path.join(group, 'pids.current'), 'utf8').trim());
  try {
    let e = '';
    try {
      await io.bgsave();
    } catch (err) {
      e = (err as Error).message;
    }
    assert.is(e, 'ERR');
    // Valkey's words: one "fork: " before strerror.
    await srv.waitFor(/Can't save in background: fork: (Resource temporarily unavailable|os error 11)\n/);
    assert.not.match(srv.output(), /fork: fork:/);
    assert.ok(Number(fs.readFileSync(path.join(group, 'pids.events'), 'utf8').split(' ')[1]) > 0, 'the cgroup refused a fork');
    const p = await info(io, 'persistence');
    assert.is(p.get('rdb_last_bgsave_status'), 'err');
    assert.is(p.get('rdb_bgsave_in_progress'), '0');
    assert.equal(tempFiles(dir), []);
    // With save rules and stop-writes-on-bgsave-error, writes are refused; reads work.
    let w = '';
    try {
      await io.set('k2', 'v');
    } catch (err) {
      w = (err as Error).message;
    }
    assert.match(w, /^MISCONF /);
    assert.is(await io.get('k'), 'v');
    // Lift the limit: the next BGSAVE succeeds and lifts MISCONF.
    fs.writeFileSync(path.join(group, 'pids.max'), 'max');
    assert.is(await io.bgsave(), 'Background saving started');
    await waitUntil('bgsave ok', async () => (await info(io, 'persistence')).get('rdb_last_bgsave_status') === 'ok');
    assert.is(await io.set('k2', 'v'), 'OK');
  } finally {
    // Never leave a limited server or a cgroup behind, whatever failed above.
    fs.writeFileSync(path.join(group, 'pids.max'), 'max');
    io.disconnect();
    await srv.stop();
    fs.rmdirSync(group);
  }
});

t('a diskless transfer whose fork() fails: the line in Valkey words, then the sync once forks work', async () => {
  const p = await startServer({ dir: tempDir(), args: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'] });
  const group = path.join(PIDS, `forkv-test-t-${process.pid}`);
  fs.mkdirSync(group);
  fs.writeFileSync(path.join(group, 'cgroup.procs'), String(p.pid));
  fs.writeFileSync(path.join(group, 'pids.max'), fs.readFileSync(path.join(group, 'pids.current'), 'utf8').trim());
  let r: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    r = await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', '--replicaof', '127.0.0.1', String(p.port)] });
    await p.waitFor(/Starting BGSAVE for SYNC with target: replicas sockets/);
    await p.waitFor(/Can't save in background: fork: (Resource temporarily unavailable|os error 11)\n/);
    assert.not.match(p.output(), /fork: fork:/);
    fs.writeFileSync(path.join(group, 'pids.max'), 'max');
    await p.waitFor(/Synchronization with replica 127\.0\.0\.1:\d+ succeeded/, 20000);
  } finally {
    fs.writeFileSync(path.join(group, 'pids.max'), 'max');
    await r?.stop();
    await p.stop();
    fs.rmdirSync(group);
  }
});

t.run();
