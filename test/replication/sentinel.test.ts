// Debian's redis-sentinel 7.0 (three of them, quorum 2) monitors a forkv primary with two
// forkv replicas: `SENTINEL FAILOVER` promotes a replica (REPLICAOF NO ONE) and the other
// servers follow it (REPLICAOF); then the new primary is killed with SIGKILL (by its PID)
// and the sentinels elect a leader and fail over again. An ioredis client configured with
// the sentinels follows each new primary, and every write that WAIT acknowledged on a
// replica before a failover is on the new primary afterwards.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';

import { freePort, startServer, tempDir, type RunningServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info, waitUntil } from '../persistence/util';

const SENTINEL = '/usr/bin/redis-sentinel';
const NAME = 'forkvmaster';
const t = suite('replication-sentinel');
const fleet = useFleet(t);

async function forkv(...extra: string[]): Promise<RunningServer> {
  return fleet.track(await startServer({ args: ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1', ...extra] }));
}

async function sentinel(primaryPort: number): Promise<RunningServer> {
  if (!fs.existsSync(SENTINEL)) throw new Error('redis-sentinel is not installed (apt-get install redis-sentinel): the Sentinel test needs it');
  const dir = tempDir('forkv-sentinel-');
  const port = await freePort();
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${NAME} 1000`,
      `sentinel failover-timeout ${NAME} 6000`,
      `sentinel parallel-syncs ${NAME} 2`,
      '',
    ].join('\n'),
  );
  const s = fleet.track(await startServer({ command: [SENTINEL], args: [conf], bare: true, port, waitReady: false }));
  await s.waitFor(/\+monitor master/, 10000);
  return s;
}

/** The primary the sentinel reports (its port). */
async function primaryPortOf(s: Redis): Promise<number> {
  const r = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as string[];
  return Number(r[1]);
}

/** The port of the server a client is talking to (INFO server's tcp_port). */
async function connectedPort(io: Redis): Promise<number> {
  return Number((await info(io, 'server')).get('tcp_port'));
}

async function role(port: number): Promise<string> {
  const io = fleet.connect(port);
  try {
    return (await info(io, 'replication')).get('role') ?? '?';
  } catch {
    return 'down';
  }
}

t('three sentinels fail over a forkv primary by command and after SIGKILL; ioredis follows; no WAIT-acknowledged write is lost', async () => {
  const p = await forkv();
  const r1 = await forkv('--replicaof', '127.0.0.1', String(p.port));
  const r2 = await forkv('--replicaof', '127.0.0.1', String(p.port));
  const servers = new Map<number, RunningServer>([p, r1, r2].map((s) => [s.port, s]));
  const pio = fleet.connect(p.port);
  await waitUntil('two replicas online', async () => {
    const i = await info(pio, 'replication');
    return [0, 1].every((n) => (i.get(`slave${n}`) ?? '').includes('state=online'));
  }, 20000, 50);
  const sentinels = [await sentinel(p.port), await sentinel(p.port), await sentinel(p.port)];
  const s0 = fleet.connect(sentinels[0]!.port);
  // The sentinels discover the replicas (INFO) and each other (hello messages).
  await waitUntil('sentinels know the replicas and each other', async () => {
    const m = (await s0.call('SENTINEL', 'MASTER', NAME)) as string[];
    const field = (k: string): string | undefined => m[m.indexOf(k) + 1];
    return field('num-slaves') === '2' && field('num-other-sentinels') === '2';
  }, 20000, 100);

  const client = new Redis({ sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), name: NAME, maxRetriesPerRequest: null, enableOfflineQueue: true });
  client.on('error', () => undefined);
  const acked: string[] = [];
  /** Writes n keys, each acknowledged by at least one replica (WAIT 1). */
  const writeAcked = async (tag: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const key = `${tag}:${i}`;
      await client.set(key, key);
      const got = Number(await client.call('WAIT', '1', '2000'));
      if (got >= 1) acked.push(key);
    }
  };
  const allAckedPresent = async (): Promise<void> => {
    const vals = await client.mget(...acked);
    const missing = acked.filter((k, i) => vals[i] !== k);
    assert.equal(missing, [], `acknowledged writes lost: ${missing.join(',')}`);
  };
  try {
    await writeAcked('a', 50);
    assert.is(acked.length, 50);

    // 1. Failover by command.
    assert.is(await s0.call('SENTINEL', 'FAILOVER', NAME), 'OK');
    await waitUntil('a replica is the new primary', async () => (await primaryPortOf(s0)) !== p.port, 20000, 100);
    const second = await primaryPortOf(s0);
    assert.ok(second === r1.port || second === r2.port);
    await waitUntil('promoted replica reports role master', async () => (await role(second)) === 'master', 20000, 100);
    await waitUntil('the old primary and the other replica follow it', async () => {
      const i = await info(fleet.connect(second), 'replication');
      return [0, 1].every((n) => (i.get(`slave${n}`) ?? '').includes('state=online'));
    }, 30000, 100);
    await writeAcked('b', 50);
    await allAckedPresent();
    assert.is(await connectedPort(client), second, 'ioredis follows the promoted replica');

    // 2. Failover after the primary is killed with SIGKILL.
    const victim = servers.get(second)!;
    await victim.stop('SIGKILL');
    fleet.untrack(victim);
    await waitUntil('a new primary after the kill', async () => {
      const now = await primaryPortOf(s0);
      return now !== second && (await role(now)) === 'master';
    }, 40000, 100);
    const third = await primaryPortOf(s0);
    await writeAcked('c', 20);
    await allAckedPresent();
    assert.is(await connectedPort(client), third, 'ioredis follows the second new primary');
    for (const s of sentinels) assert.match(s.output(), /\+switch-master/);
  } finally {
    client.disconnect();
  }
});

t.run();
