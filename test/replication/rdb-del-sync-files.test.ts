// rdb-del-sync-files: a server without persistence (no save rule, AOF off) keeps no dump
// it made or received only for replication: the replica deletes the file it loaded, the
// primary the one it wrote to feed its replicas once none waits for it (Valkey's
// readSyncBulkPayload cleanup and removeRDBUsedToSyncReplicas). Without the directive, or
// with a save rule, the files stay.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { startServer, tempDir, type RunningServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { waitUntil } from '../persistence/util';
import { linkUp } from './sync-check';

const t = suite('replication-rdb-del-sync-files');
const fleet = useFleet(t);

async function pair(args: string[]): Promise<{ primary: RunningServer; replica: RunningServer }> {
  const primary = await startServer({ dir: tempDir(), args: ['--repl-diskless-sync', 'no', '--repl-ping-replica-period', '1', ...args] });
  fleet.track(primary);
  await fleet.connect(primary.port).set('k', 'v');
  const replica = await startServer({ dir: tempDir(), args: ['--replicaof', '127.0.0.1', String(primary.port), ...args] });
  fleet.track(replica);
  await linkUp(fleet.connect(replica.port));
  await waitUntil('the replica has the data', async () => (await fleet.connect(replica.port).get('k')) === 'v');
  return { primary, replica };
}

const dump = (s: RunningServer): string => path.join(s.dir, 'dump.rdb');

t('yes, persistence off: both files go, with Valkey\'s log lines', async () => {
  const { primary, replica } = await pair(['--save', '', '--rdb-del-sync-files', 'yes']);
  await replica.waitFor(/Removing the RDB file obtained from the primary. This replica has persistence disabled/);
  await primary.waitFor(/Removing the RDB file used to feed replicas in a persistence-less instance/);
  await waitUntil('both dumps deleted', () => Promise.resolve(!fs.existsSync(dump(primary)) && !fs.existsSync(dump(replica))));
});

t('no (the default), or a save rule: the files stay', async () => {
  for (const args of [['--save', ''], ['--save', '3600 1', '--rdb-del-sync-files', 'yes']]) {
    const { primary, replica } = await pair(args);
    // Past the primary's next replication cron.
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(fs.existsSync(dump(primary)), `primary keeps its dump (${args.join(' ')})`);
    assert.ok(fs.existsSync(dump(replica)), `replica keeps its dump (${args.join(' ')})`);
    assert.not.match(primary.output() + replica.output(), /Removing the RDB file/);
  }
});

t.run();
