// A replica's link to its primary is a client of its own, as Valkey 8.0.1 lists it: CLIENT
// LIST shows it with flags=M, the primary's address as addr, user=(superuser), the db and
// the last command of the stream; TYPE master/primary and ID select it; CLIENT KILL drops
// the link, which reconnects and continues with the same client; INFO counts it among
// connected_clients. A valkey-server 8.0.1 replica of the same primary is the reference,
// side by side.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info, waitUntil } from '../persistence/util';
import { linkUp } from './sync-check';

const t = suite('replication-primary-client');
const fleet = useFleet(t);

/** A CLIENT LIST line's fields. */
function fields(line: string): Map<string, string> {
  return new Map(line.trim().split(' ').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)] as [string, string];
  }));
}

t('CLIENT LIST, KILL and INFO show the primary client as valkey-server 8.0.1 does', async () => {
  const p = fleet.track(await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', '--repl-diskless-sync-delay', '0'] }));
  const of = ['--replicaof', '127.0.0.1', String(p.port)];
  const valkey = fleet.track(await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...of] }));
  const forkv = fleet.track(await startServer({ args: of }));
  const pc = fleet.connect(p.port);
  const replicas = [['valkey', fleet.connect(valkey.port)], ['forkv', fleet.connect(forkv.port)]] as const;
  for (const [, io] of replicas) await linkUp(io);
  await pc.select(2);
  await pc.set('a', '1');
  await pc.incr('n');
  await waitUntil('the INCR replicated', async () => {
    for (const [, io] of replicas) {
      if ((await io.call('CLIENT', 'LIST', 'TYPE', 'master')) === '') return false;
      if (fields(String(await io.call('CLIENT', 'LIST', 'TYPE', 'master'))).get('cmd') !== 'incr') return false;
    }
    return true;
  });

  const seen = new Map<string, Map<string, string>>();
  for (const [name, io] of replicas) {
    const all = String(await io.call('CLIENT', 'LIST')).trim().split('\n');
    assert.is(all.length, 2, `${name}: the caller and the primary client`);
    const m = fields(String(await io.call('CLIENT', 'LIST', 'TYPE', 'master')));
    seen.set(name, m);
    assert.is(m.get('flags'), 'M', name);
    assert.is(m.get('addr'), `127.0.0.1:${p.port}`, `${name}: addr is the primary's end`);
    assert.is(m.get('user'), '(superuser)', name);
    assert.is(m.get('db'), '2', name);
    assert.is(m.get('cmd'), 'incr', name);
    assert.is(m.get('name'), '', name);
    assert.ok(Number(m.get('tot-net-in')) > 0, `${name}: the stream is its input`);
    assert.is(fields(String(await io.call('CLIENT', 'LIST', 'TYPE', 'primary'))).get('id'), m.get('id'), `${name}: primary is master`);
    assert.match(String(await io.call('CLIENT', 'LIST', 'ID', m.get('id')!)), /flags=M /, `${name}: by id`);
    assert.is(String(await io.call('CLIENT', 'LIST', 'TYPE', 'normal')).trim().split('\n').length, 1, `${name}: not a normal client`);
    assert.is((await info(io, 'clients')).get('connected_clients'), '2', `${name}: counted as a client`);
    // No user: USER default does not select it (the caller is skipped: SKIPME yes).
    assert.is(await io.call('CLIENT', 'KILL', 'USER', 'default'), 0, `${name}: USER does not match it`);
  }
  assert.equal([...seen.get('forkv')!.keys()], [...seen.get('valkey')!.keys()], 'the same fields in the same order');

  for (const [name, io] of replicas) {
    const id = seen.get(name)!.get('id')!;
    assert.is(await io.call('CLIENT', 'KILL', 'ID', id), 1, `${name}: KILL ID drops the link`);
    // The link comes back and continues: the same client, the stream goes on.
    await waitUntil(`${name}: the primary client is back`, async () => String(await io.call('CLIENT', 'LIST', 'TYPE', 'master')).includes(`id=${id} `), 20000, 50);
    await linkUp(io);
    assert.is(await io.call('CLIENT', 'KILL', 'TYPE', 'master', 'SKIPME', 'yes'), 1, `${name}: KILL TYPE master with another filter`);
    await waitUntil(`${name}: back again`, async () => String(await io.call('CLIENT', 'LIST', 'TYPE', 'master')).includes(`id=${id} `), 20000, 50);
    assert.is(await io.call('CLIENT', 'KILL', 'ADDR', `127.0.0.1:${p.port}`), 1, `${name}: KILL ADDR is the primary's address`);
    await waitUntil(`${name}: and back`, async () => String(await io.call('CLIENT', 'LIST', 'TYPE', 'master')).includes(`id=${id} `), 20000, 50);
  }
  await pc.set('b', '2');
  for (const [name, io] of replicas) {
    await io.select(2);
    await waitUntil(`${name}: the stream continues`, async () => (await io.get('b')) === '2');
  }
});

t.run();
