// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: a primary hands its role to a
// replica. Writes are paused while it waits for the replica to acknowledge the whole
// stream (`waiting-for-sync`), then it follows the replica with `PSYNC <replid> <offset>
// FAILOVER` (`failover-in-progress`), which promotes the replica; the old primary and the
// other replicas continue by partial resynchronizations. Tested with forkv as the primary
// and as the target, each also against valkey-server 8.0.1 on the other side; the errors
// are compared with valkey-server's own answers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { startServer, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { count, errOf, info, sleep, waitUntil } from '../persistence/util';
import { linkUp, sameOnBoth, writeAll } from './sync-check';

const t = suite('replication-failover');
const fleet = useFleet(t);

type Kind = 'forkv' | 'valkey';

async function start(kind: Kind, args: string[] = []): Promise<RunningServer> {
  const base = ['--repl-diskless-sync-delay', '0', '--save', ''];
  const s = kind === 'forkv' ? await startServer({ args: base.concat(args) }) : await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...base, ...args] });
  fleet.track(s);
  return s;
}

const of = (s: RunningServer): string[] => ['--replicaof', '127.0.0.1', String(s.port)];

async function field(io: Redis, name: string, section = 'replication'): Promise<string | undefined> {
  return (await info(io, section)).get(name);
}

async function syncs(io: Redis): Promise<{ full: number; partial: number }> {
  const s = await info(io, 'stats');
  return { full: Number(s.get('sync_full')), partial: Number(s.get('sync_partial_ok')) };
}

async function failoverDone(io: Redis, what: string): Promise<void> {
  await waitUntil(`${what}: failover ended`, async () => (await field(io, 'master_failover_state')) === 'no-failover', 15000, 20);
}

/** The same commands' answers (an error's text, or the reply) from each server. */
async function answers(io: Redis, cmds: string[][]): Promise<string[]> {
  const out: string[] = [];
  for (const c of cmds) {
    try {
      out.push(JSON.stringify(await io.call(c[0]!, ...c.slice(1))));
    } catch (e) {
      out.push(e instanceof Error ? e.message : String(e));
    }
  }
  return out;
}

/** A primary with two replicas of the given kinds, all linked and in sync. */
async function trio(primary: Kind, replicas: [Kind, Kind]): Promise<RunningServer[]> {
  const p = await start(primary);
  await writeAll(fleet, p.port, 'before');
  const r1 = await start(replicas[0], of(p));
  const r2 = await start(replicas[1], of(p));
  await linkUp(fleet.connect(r1.port));
  await linkUp(fleet.connect(r2.port));
  await sameOnBoth(fleet, p.port, r1.port, 'first replica');
  await sameOnBoth(fleet, p.port, r2.port, 'second replica');
  return [p, r1, r2];
}

t('the errors of FAILOVER and PSYNC FAILOVER are valkey-server 8.0.1\'s, word for word', async () => {
  const [fk, vk] = await Promise.all([start('forkv'), start('valkey')]);
  const alone = [
    ['FAILOVER', 'ABORT'],
    ['FAILOVER'],
    ['FAILOVER', 'TIMEOUT', '0'],
    ['FAILOVER', 'TIMEOUT', '-5'],
    ['FAILOVER', 'TIMEOUT', 'x'],
    ['FAILOVER', 'TIMEOUT', '5', 'TIMEOUT', '6'],
    ['FAILOVER', 'TO', 'h', 'port'],
    ['FAILOVER', 'TO', 'h', '1', 'TO', 'h', '2'],
    ['FAILOVER', 'FORCE', 'FORCE'],
    ['FAILOVER', 'ABORT', 'TIMEOUT', '5'],
    ['FAILOVER', 'bogus'],
    ['FAILOVER', 'TO', 'h', '1', 'FORCE'],
    ['FAILOVER', 'TIMEOUT', '100', 'FORCE'],
  ];
  assert.equal(await answers(fleet.connect(fk.port), alone), await answers(fleet.connect(vk.port), alone));
  assert.is(await errOf(fleet.connect(fk.port).call('FAILOVER')), 'ERR FAILOVER requires connected replicas.');

  // With a replica (of the same kind as its primary).
  for (const s of [fk, vk]) {
    const kind: Kind = s === fk ? 'forkv' : 'valkey';
    const r = await start(kind, of(s));
    await linkUp(fleet.connect(r.port));
  }
  const fr = Number((await field(fleet.connect(fk.port), 'slave0'))?.match(/port=(\d+)/)?.[1]);
  const vr = Number((await field(fleet.connect(vk.port), 'slave0'))?.match(/port=(\d+)/)?.[1]);
  const withReplica = (port: number): string[][] => [
    ['FAILOVER', 'TO', '127.0.0.1', String(port), 'FORCE'],
    ['FAILOVER', 'FORCE', 'TIMEOUT', '100'],
    ['FAILOVER', 'TO', '127.0.0.1', '1'],
    ['FAILOVER', 'TO', 'invalidhost', String(port)],
    ['FAILOVER', 'TO', '127.0.0.1', 'invalidport'],
  ];
  assert.equal(await answers(fleet.connect(fk.port), withReplica(fr)), await answers(fleet.connect(vk.port), withReplica(vr)));
  const onReplica = [['FAILOVER'], ['FAILOVER', 'TO', '127.0.0.1', '1']];
  assert.equal(await answers(fleet.connect(fr), onReplica), await answers(fleet.connect(vr), onReplica));
  assert.is(await errOf(fleet.connect(fr).call('FAILOVER')), 'ERR FAILOVER is not valid when server is a replica.');
  // PSYNC FAILOVER naming another history is refused by a replica; a primary refuses any.
  assert.is(await errOf(fleet.connect(fr).call('PSYNC', 'f'.repeat(40), '1', 'FAILOVER')), 'ERR PSYNC FAILOVER replid must match my replid.');
  assert.is(await errOf(fleet.connect(fk.port).call('PSYNC', 'f'.repeat(40), '1', 'FAILOVER')), "ERR PSYNC FAILOVER can't be sent to a master.");
  assert.is(await field(fleet.connect(fr), 'role'), 'slave');
});

for (const [primary, target] of [
  ['forkv', 'forkv'],
  ['forkv', 'valkey'],
  ['valkey', 'forkv'],
] as const) {
  t(`${primary} primary -> ${target} target: FAILOVER TO, writes paused while waiting, the others continue by partial resyncs`, async () => {
    const other: Kind = primary === 'forkv' ? 'forkv' : target;
    const [p, r1, r2] = await trio(primary, [target, other]);
    const pio = fleet.connect(p.port);
    const r1io = fleet.connect(r1.port);
    // The target is stopped: the primary waits for it with writes paused, reads served.
    process.kill(r1.pid, 'SIGSTOP');
    try {
      await pio.set('last-before', '1');
      assert.is(await pio.call('FAILOVER', 'TO', '127.0.0.1', String(r1.port)), 'OK');
      assert.is(await field(pio, 'master_failover_state'), 'waiting-for-sync');
      assert.is(await errOf(pio.call('FAILOVER')), 'ERR FAILOVER already in progress.');
      assert.is(await errOf(pio.call('REPLICAOF', 'NO', 'ONE')), 'ERR REPLICAOF not allowed while failing over.');
      assert.is(await pio.get('last-before'), '1');
      const writer = fleet.connect(p.port);
      let written: string | null = null;
      const held = writer.set('during', '1').then(
        (v) => (written = String(v)),
        (e: unknown) => (written = e instanceof Error ? e.message : String(e)),
      );
      await sleep(300);
      assert.is(written, null, 'the write waits while the failover pauses writes');
      process.kill(r1.pid, 'SIGCONT');
      await failoverDone(pio, `${primary} -> ${target}`);
      await held;
      // The held write ran once the old primary had become a replica.
      assert.match(String(written), /^READONLY/);
    } finally {
      process.kill(r1.pid, 'SIGCONT');
    }
    await linkUp(pio);
    assert.is(await field(pio, 'role'), 'slave');
    assert.is(await field(pio, 'master_port'), String(r1.port));
    assert.is(await field(r1io, 'role'), 'master');
    // The other replica follows the new primary as Valkey's test does.
    const r2io = fleet.connect(r2.port);
    if ((await field(r2io, 'master_port')) !== String(r1.port)) assert.is(await r2io.call('REPLICAOF', '127.0.0.1', String(r1.port)), 'OK');
    await linkUp(r2io);
    await writeAll(fleet, r1.port, 'after');
    await sameOnBoth(fleet, r1.port, p.port, 'old primary under the new one');
    await sameOnBoth(fleet, r1.port, r2.port, 'other replica under the new one');
    assert.equal(await syncs(r1io), { full: 0, partial: 2 }, 'both continued on the promoted replica');
    assert.is(await r1io.get('last-before'), '1');
    assert.is(await r1io.get('during'), null);
    if (primary === 'forkv') {
      assert.match(p.output(), new RegExp(`FAILOVER requested to 127\\.0\\.0\\.1:${r1.port}\\.`));
      assert.match(p.output(), new RegExp(`Failover target 127\\.0\\.0\\.1:${r1.port} is synced, failing over\\.`));
    }
    if (target === 'forkv') {
      assert.match(r1.output(), /Failover request received for replid [0-9a-f]{40}\./);
      assert.match(r1.output(), /PRIMARY MODE enabled \(failover request from 'id=/);
    }
  });
}

t('a replica that reports its link up after a diskless sync is online for its primary: FAILOVER TO it at once', async () => {
  // The primary used to mark the replicas of a diskless transfer online when it reaped the
  // child (at the next cron tick, up to 100 ms later), while the replicas had loaded the
  // snapshot and reported the link up: FAILOVER TO one of them right then was refused
  // "target replica is not online" (seen in integration/failover). Now a replica's first
  // ACK after the transfer's end mark puts it online, as in Valkey.
  const p = await start('forkv');
  const r1 = await start('forkv');
  const r2 = await start('forkv');
  const pio = fleet.connect(p.port);
  const r1io = fleet.connect(r1.port);
  const r2io = fleet.connect(r2.port);
  const upNow = async (io: Redis): Promise<void> => {
    await waitUntil('replica link up', async () => (await field(io, 'master_link_status')) === 'up', 20000, 1);
  };
  for (let round = 0; round < 5; round++) {
    await pio.set(`round:${round}`, String(round));
    assert.is(await r1io.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK');
    assert.is(await r2io.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK');
    await upNow(r1io);
    await upNow(r2io);
    const states = [...(await info(pio, 'replication')).entries()].filter(([k]) => /^slave\d+$/.test(k)).map(([, v]) => /state=(\w+)/.exec(v)?.[1]);
    assert.equal(states, ['online', 'online'], `round ${round}: the primary's view of its replicas`);
    if (round < 4) {
      assert.is(await r1io.call('REPLICAOF', 'NO', 'ONE'), 'OK');
      assert.is(await r2io.call('REPLICAOF', 'NO', 'ONE'), 'OK');
    }
  }
  assert.is(await pio.call('FAILOVER', 'TO', '127.0.0.1', String(r1.port)), 'OK');
  await failoverDone(pio, 'to r1');
  assert.is(await field(r1io, 'role'), 'master');
  assert.is(await field(pio, 'role'), 'slave');
});

t('FAILOVER to any replica picks one in sync; TIMEOUT aborts, FORCE fails over anyway, ABORT', async () => {
  const [p, r1, r2] = await trio('forkv', ['forkv', 'forkv']);
  const pio = fleet.connect(p.port);

  // r1 is stopped and behind: the replica chosen is r2.
  process.kill(r1.pid, 'SIGSTOP');
  try {
    await pio.set('case', '1');
    await sameOnBoth(fleet, p.port, r2.port, 'r2 caught up');
    assert.is(await pio.call('FAILOVER'), 'OK');
    await failoverDone(pio, 'any replica');
  } finally {
    process.kill(r1.pid, 'SIGCONT');
  }
  assert.match(p.output(), /FAILOVER requested to any replica\./);
  assert.match(p.output(), new RegExp(`Failover target 127\\.0\\.0\\.1:${r2.port} is synced, failing over\\.`));
  const r2io = fleet.connect(r2.port);
  assert.is(await field(r2io, 'role'), 'master');
  const r1io = fleet.connect(r1.port);
  assert.is(await r1io.call('REPLICAOF', '127.0.0.1', String(r2.port)), 'OK');
  await linkUp(r1io);
  await linkUp(pio);
  await sameOnBoth(fleet, r2.port, p.port, 'old primary', true);
  await sameOnBoth(fleet, r2.port, r1.port, 'r1', true);
  assert.equal(await syncs(r2io), { full: 0, partial: 2 });

  // A TIMEOUT without FORCE: the target never catches up, the failover is aborted.
  process.kill(p.pid, 'SIGSTOP');
  try {
    await r2io.set('case', '2');
    assert.is(await r2io.call('FAILOVER', 'TO', '127.0.0.1', String(p.port), 'TIMEOUT', '300'), 'OK');
    await failoverDone(r2io, 'timeout');
    assert.is(await field(r2io, 'role'), 'master');
    assert.is(await r2io.set('writable', '1'), 'OK');
    assert.match(r2.output(), new RegExp(`FAILOVER to 127\\.0\\.0\\.1:${p.port} aborted: Replica never caught up before timeout`));

    // ABORT while waiting; reads are served meanwhile.
    assert.is(await r2io.call('FAILOVER', 'TO', '127.0.0.1', String(p.port), 'TIMEOUT', '60000'), 'OK');
    assert.is(await field(r2io, 'master_failover_state'), 'waiting-for-sync');
    assert.is(await r2io.get('case'), '2');
    assert.is(await r2io.call('FAILOVER', 'ABORT'), 'OK');
    assert.is(await field(r2io, 'master_failover_state'), 'no-failover');
    assert.match(r2.output(), /aborted: Failover manually aborted/);
    assert.is(await r2io.set('writable', '2'), 'OK');

    // FORCE: once the TIMEOUT passed, r2 follows p even though p is behind.
    assert.is(await r2io.call('FAILOVER', 'TO', '127.0.0.1', String(p.port), 'TIMEOUT', '100', 'FORCE'), 'OK');
    await waitUntil('in progress', async () => (await field(r2io, 'master_failover_state')) === 'failover-in-progress', 5000, 20);
    assert.is(await field(r2io, 'role'), 'slave');
    assert.is(await field(r1io, 'role'), 'slave');
  } finally {
    process.kill(p.pid, 'SIGCONT');
  }
  await failoverDone(r2io, 'force');
  assert.is(count(r2.output(), /time out exceeded, failing over\./g), 1);
  assert.is(await field(pio, 'role'), 'master');
  assert.is(await r1io.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK');
  await linkUp(r1io);
  await linkUp(r2io);
  assert.is(await pio.get('writable'), '2');
  await sameOnBoth(fleet, p.port, r2.port, 'after FORCE', true);
  await sameOnBoth(fleet, p.port, r1.port, 'r1 after FORCE', true);
});

t('a target that refuses the PSYNC aborts the failover: the primary is a primary again, its replicas continue', async () => {
  const [p, r1, r2] = await trio('forkv', ['forkv', 'forkv']);
  const pio = fleet.connect(p.port);
  const r1io = fleet.connect(r1.port);
  assert.is(await r1io.call('ACL', 'SETUSER', 'default', '-psync'), 'OK');
  const before = await syncs(pio);
  assert.is(await pio.call('FAILOVER', 'TO', '127.0.0.1', String(r1.port)), 'OK');
  await failoverDone(pio, 'rejected');
  assert.match(p.output(), /aborted: Failover target rejected psync request/);
  assert.is(await field(pio, 'role'), 'master');
  assert.is(await r1io.call('ACL', 'SETUSER', 'default', '+psync'), 'OK');
  await linkUp(r1io);
  await linkUp(fleet.connect(r2.port));
  await writeAll(fleet, p.port, 'after-abort');
  await sameOnBoth(fleet, p.port, r1.port, 'r1', true);
  await sameOnBoth(fleet, p.port, r2.port, 'r2', true);
  const after = await syncs(pio);
  assert.equal({ full: after.full - before.full, partial: after.partial - before.partial }, { full: 0, partial: 2 });
});

t.run();
