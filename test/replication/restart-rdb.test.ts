// A replica restarted from its own RDB continues with a partial resynchronization (Valkey's
// rdbPopulateSaveInfo / loadDataFromDisk, psync2's "Partial resync after restart using RDB
// aux fields"): the file a replica saves carries `repl-stream-db`, `repl-id` and
// `repl-offset`; started from it with `replicaof` (written by CONFIG REWRITE after a
// runtime REPLICAOF), the replica asks `PSYNC <repl-id> <repl-offset+1>` and its primary
// answers +CONTINUE, and the stream goes on in the saved database without a SELECT.
// Primaries: forkv and valkey-server 8.0.1.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer, tempDir, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info } from '../persistence/util';
import { linkUp, sameOnBoth, writeAll } from './sync-check';

const t = suite('replication-restart-rdb');
const fleet = useFleet(t);

async function syncs(port: number): Promise<{ full: number; partial: number }> {
  const s = await info(fleet.connect(port), 'stats');
  return { full: Number(s.get('sync_full')), partial: Number(s.get('sync_partial_ok')) };
}

for (const kind of ['forkv', 'valkey'] as const) {
  t(`a replica of ${kind} restarted from its RDB continues with PSYNC, in the saved database`, async () => {
    const base = ['--repl-diskless-sync-delay', '0', '--save', ''];
    const p = fleet.track(kind === 'forkv' ? await startServer({ args: base }) : await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...base] }));
    await writeAll(fleet, p.port, 'before');

    const dir = tempDir();
    const conf = path.join(dir, 'replica.conf');
    fs.writeFileSync(conf, '# replica\n');
    const first = fleet.track(await startServer({ configFile: conf, dir }));
    const rio = fleet.connect(first.port);
    assert.is(await rio.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK');
    await linkUp(rio);
    // The primary's stream is in db 3 now (writeAll's last write): the restarted replica
    // must continue there.
    await writeAll(fleet, p.port, 'linked');
    await sameOnBoth(fleet, p.port, first.port, 'before the restart');
    assert.equal(await rio.config('GET', 'replicaof'), ['replicaof', `127.0.0.1 ${p.port}`]);
    assert.is(await rio.config('SET', 'save', '900 1'), 'OK');
    assert.is(await rio.config('REWRITE'), 'OK');
    assert.match(fs.readFileSync(conf, 'utf8'), new RegExp(`^replicaof 127\\.0\\.0\\.1 ${p.port}$`, 'm'));
    const before = await syncs(p.port);
    const offset = (await info(rio, 'replication')).get('master_repl_offset');
    await first.stop('SIGTERM');
    fleet.untrack(first);

    const again = fleet.track(await startServer({ configFile: conf, dir, port: first.port }));
    const aio = fleet.connect(again.port);
    await linkUp(aio);
    assert.match(again.output(), new RegExp(`Trying a partial resynchronization \\(request [0-9a-f]{40}:${Number(offset) + 1}\\)\\.`));
    assert.match(again.output(), /Successful partial resynchronization with primary\./);
    assert.equal(await syncs(p.port), { full: before.full, partial: before.partial + 1 });

    // Writes after the restart: the first ones go on in db 3, with no SELECT in between.
    const p3 = fleet.connect(p.port, 3);
    await p3.set('after:db3', 'yes');
    await writeAll(fleet, p.port, 'after');
    await sameOnBoth(fleet, p.port, again.port, 'after the restart');
    assert.is(await fleet.connect(again.port, 3).get('after:db3'), 'yes');
    assert.is(await aio.exists('after:db3'), 0);
  });
}

t('REPLICAOF NO ONE clears the replicaof that CONFIG GET and CONFIG REWRITE show', async () => {
  const p = fleet.track(await startServer());
  const dir = tempDir();
  const conf = path.join(dir, 'replica.conf');
  fs.writeFileSync(conf, `replicaof 127.0.0.1 ${p.port}\n`);
  const r = fleet.track(await startServer({ configFile: conf, dir }));
  const rio = fleet.connect(r.port);
  await linkUp(rio);
  assert.is(await rio.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.equal(await rio.config('GET', 'replicaof'), ['replicaof', '']);
  assert.is(await rio.config('REWRITE'), 'OK');
  assert.not.match(fs.readFileSync(conf, 'utf8'), /replicaof/);
});

t.run();
