// propagation-error-behavior (Valkey's afterErrorReply): a command from the primary that
// fails on the replica (here a writable replica whose own write made the key a string the
// primary's INCR cannot count) is logged as critical and counted in INFO
// unexpected_error_replies; under `ignore` the replica goes on, under `panic` (and
// `panic-on-replicas`) it logs Valkey's panic lines and stops, exit code 1.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer, type RunningServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info, waitUntil } from '../persistence/util';
import { linkUp } from './sync-check';

const t = suite('replication-propagation-error');
const fleet = useFleet(t);

async function pair(behavior: string): Promise<{ primary: RunningServer; replica: RunningServer }> {
  const primary = await startServer({ args: ['--repl-ping-replica-period', '1', '--repl-diskless-sync-delay', '0'] });
  fleet.track(primary);
  const replica = await startServer({
    args: ['--replicaof', '127.0.0.1', String(primary.port), '--replica-read-only', 'no', '--propagation-error-behavior', behavior],
  });
  fleet.track(replica);
  await linkUp(fleet.connect(replica.port));
  return { primary, replica };
}

/** The replica's own write makes `key` a string INCR fails on; then the primary INCRs it. */
async function diverge(primary: RunningServer, replica: RunningServer): Promise<void> {
  await fleet.connect(replica.port).set('key', 'not a number');
  await fleet.connect(primary.port).incr('key');
}

const CRITICAL = /== CRITICAL == This replica is sending an error to its primary: 'value is not an integer or out of range' after processing the command 'incr'/;

t('ignore: logged as critical, counted, and the replica goes on', async () => {
  const { primary, replica } = await pair('ignore');
  await diverge(primary, replica);
  await replica.waitFor(CRITICAL);
  const rio = fleet.connect(replica.port);
  await waitUntil('counted', async () => (await info(rio, 'stats')).get('unexpected_error_replies') === '1');
  await fleet.connect(primary.port).set('after', '1');
  await waitUntil('the stream goes on', async () => (await rio.get('after')) === '1');
});

for (const behavior of ['panic', 'panic-on-replicas']) {
  t(`${behavior}: Valkey's panic lines, then the replica stops with exit code 1`, async () => {
    const { primary, replica } = await pair(behavior);
    await diverge(primary, replica);
    await replica.waitFor(/Guru Meditation: This replica panicked sending an error to its primary after processing the command 'incr'/);
    const e = await replica.exited;
    assert.is(e.code, 1);
    assert.match(replica.output(), CRITICAL);
  });
}

t('CONFIG SET switches it at run time', async () => {
  const { primary, replica } = await pair('ignore');
  const rio = fleet.connect(replica.port);
  assert.is(await rio.config('SET', 'propagation-error-behavior', 'panic'), 'OK');
  await diverge(primary, replica);
  assert.is((await replica.exited).code, 1);
});

t.run();
