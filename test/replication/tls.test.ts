// Replication over TLS (`tls-replication yes`), both ways: forkv as a replica of a TLS
// primary (forkv, Debian redis-server 7.0, whose build has TLS) and as the primary of a TLS
// replica (forkv, redis-server 7.0). The replica verifies the primary against its CA and
// presents its client certificate (`tls-client-cert-file`, else its server certificate),
// which a primary with `tls-auth-clients yes` checks; it announces its TLS port. Valkey
// 8.0.1's binary here is built without TLS, so it takes no part.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { freePort, startRedis, startServer, type RunningServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { testCerts, tlsArgs, type TestCerts } from '../helpers/tls-certs';
import { info, waitUntil } from '../persistence/util';
import { linkUp } from './sync-check';

const t = suite('replication over TLS');
const fleet = useFleet(t);
let certs: TestCerts;

t.before(() => {
  certs = testCerts();
});

/** A server with a plain port and a TLS port; its TLS port is returned with it. */
async function tlsServer(kind: 'forkv' | 'redis', extra: string[] = []): Promise<{ s: RunningServer; tlsPort: number }> {
  const tlsPort = await freePort();
  const args = [...tlsArgs(certs, tlsPort), ...extra];
  const s = kind === 'forkv' ? await startServer({ args }) : await startRedis(args);
  fleet.track(s);
  return { s, tlsPort };
}

/** The replica side: TLS link to the primary's TLS port, with our client certificate. */
function replicaArgs(primaryTlsPort: number): string[] {
  return [
    '--tls-replication', 'yes', '--replicaof', '127.0.0.1', String(primaryTlsPort),
    '--tls-client-cert-file', certs.clientCert, '--tls-client-key-file', certs.clientKey,
  ];
}

/** Writes on the primary's plain port arrive on the replica: the full sync, then the stream. */
async function dataFlows(primary: number, replica: number): Promise<void> {
  const p = fleet.connect(primary);
  const r = fleet.connect(replica);
  await waitUntil('full sync carried the key', async () => (await r.get('before')) === 'snapshot', 20000, 50);
  await p.set('after', 'stream');
  await p.rpush('list', 'a', 'b', 'c');
  await waitUntil('the stream carried the writes', async () => (await r.get('after')) === 'stream' && (await r.llen('list')) === 3, 10000, 50);
}

for (const primaryKind of ['forkv', 'redis'] as const) {
  for (const replicaKind of ['forkv', 'redis'] as const) {
    if (primaryKind === 'redis' && replicaKind === 'redis') continue;
    t(`${replicaKind} replica of a ${primaryKind} primary over TLS (client certificates required)`, async () => {
      const primary = await tlsServer(primaryKind, ['--tls-auth-clients', 'yes']);
      await fleet.connect(primary.s.port).set('before', 'snapshot');
      const replica = await tlsServer(replicaKind, replicaArgs(primary.tlsPort));
      await linkUp(fleet.connect(replica.s.port)).catch((e: Error) => {
        throw new Error(`${e.message}\nreplica:\n${replica.s.output().slice(-3000)}\nprimary:\n${primary.s.output().slice(-3000)}`);
      });
      await dataFlows(primary.s.port, replica.s.port);
      // The replica announced its TLS port (a plain-port client of the primary sees it).
      const pi = await info(fleet.connect(primary.s.port), 'replication');
      assert.match(pi.get('slave0') ?? '', new RegExp(`port=${replica.tlsPort},state=online`));
      if (replicaKind === 'forkv') {
        // A killed link comes back over TLS and continues from the backlog.
        await fleet.connect(replica.s.port).call('CLIENT', 'KILL', 'TYPE', 'master');
        await replica.s.waitFor(/Successful partial resynchronization with primary/, 20000);
        await fleet.connect(primary.s.port).set('resumed', 'yes');
        await waitUntil('stream after the partial resync', async () => (await fleet.connect(replica.s.port).get('resumed')) === 'yes', 10000, 50);
      }
    });
  }
}

t('a forkv replica refuses a primary whose certificate its CA did not sign', async () => {
  // The primary serves the stranger certificate (its own CA is the stranger's too).
  const tlsPort = await freePort();
  const primary = await startServer({
    args: ['--tls-port', String(tlsPort), '--tls-cert-file', certs.strangerCert, '--tls-key-file', certs.strangerKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'],
  });
  fleet.track(primary);
  const replica = await tlsServer('forkv', replicaArgs(tlsPort));
  await replica.s.waitFor(/Error condition on socket for SYNC: .*(certificate|verify)/i, 15000);
  const ri = await info(fleet.connect(replica.s.port), 'replication');
  assert.is(ri.get('master_link_status'), 'down');
});

t('tls-replication without a CA: the configuration is refused, as in Valkey', async () => {
  const s = await startServer({
    waitReady: false,
    args: ['--tls-replication', 'yes', '--tls-port', String(await freePort()), '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey],
  });
  fleet.track(s);
  assert.is((await s.exited).code, 1);
  assert.match(s.output(), /Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!/);
});

t.run();
