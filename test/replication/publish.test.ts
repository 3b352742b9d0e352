// PUBLISH and SPUBLISH reach a replica's subscribers: Valkey propagates them to its replicas
// (forceCommandPropagation with PROPAGATE_REPL, outside cluster mode) and never to the AOF.
// Primaries and replicas are forkv and valkey-server 8.0.1 in every pairing that involves
// forkv; a transaction carries its PUBLISH with its writes.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { startServer, VALKEY_SERVER, type RunningServer } from '../helpers/server';
import { useFleet, type Fleet } from '../helpers/fixture';
import { waitUntil } from '../persistence/util';
import { linkUp } from './sync-check';

const t = suite('replication-publish');
const fleet = useFleet(t);

type Kind = 'forkv' | 'valkey';

async function start(kind: Kind, args: string[] = []): Promise<RunningServer> {
  const common = ['--save', '', '--repl-diskless-sync-delay', '0', ...args];
  return fleet.track(kind === 'forkv'
    ? await startServer({ args: common })
    : await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...common] }));
}

/** A subscriber on `port` to `channel`; `got` fills with the messages it receives. */
async function subscriber(f: Fleet, port: number, channel: string): Promise<{ io: Redis; got: string[] }> {
  const io = f.connect(port);
  const got: string[] = [];
  io.on('message', (_ch: string, msg: string) => got.push(msg));
  await io.subscribe(channel);
  return { io, got };
}

const pairs: Array<[Kind, Kind]> = [['forkv', 'forkv'], ['forkv', 'valkey'], ['valkey', 'forkv']];
for (const [pk, rk] of pairs) {
  t(`a message published on a ${pk} primary reaches the subscribers of its ${rk} replica`, async () => {
    const p = await start(pk);
    const r = await start(rk);
    const rio = fleet.connect(r.port);
    assert.is(await rio.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK');
    await linkUp(rio);
    const sub = await subscriber(fleet, r.port, 'news');
    const shard = fleet.connect(r.port);
    const shardGot: string[] = [];
    shard.on('smessage', (_ch: string, msg: string) => shardGot.push(msg));
    await shard.call('SSUBSCRIBE', 'sh');
    const pio = fleet.connect(p.port);
    await pio.publish('news', 'one');
    await pio.multi().set('k', 'v').publish('news', 'two').exec();
    await pio.select(3);
    await pio.publish('news', 'three');
    await waitUntil('the replica delivered three messages', () => sub.got.length === 3, 10000);
    assert.equal(sub.got, ['one', 'two', 'three']);
    await pio.call('SPUBLISH', 'sh', 'sharded');
    await waitUntil('the replica delivered the SPUBLISH', () => shardGot.length === 1, 10000);
    assert.equal(shardGot, ['sharded']);
    assert.is(await rio.get('k'), 'v');
  });
}

t('the AOF of a primary with replicas gets its writes and none of its PUBLISHes', async () => {
  const p = await start('forkv', ['--appendonly', 'yes']);
  const r = await start('forkv');
  const rio = fleet.connect(r.port);
  await rio.call('REPLICAOF', '127.0.0.1', String(p.port));
  await linkUp(rio);
  const sub = await subscriber(fleet, r.port, 'ch');
  const pio = fleet.connect(p.port);
  await pio.multi().set('a', '1').publish('ch', 'in-tx').set('b', '2').exec();
  await pio.publish('ch', 'bare');
  await waitUntil('both messages delivered on the replica', () => sub.got.length === 2, 10000);
  const dir = path.join(p.dir, 'appendonlydir');
  const incr = fs.readdirSync(dir).filter((f) => f.endsWith('.incr.aof'));
  assert.is(incr.length, 1);
  const aof = fs.readFileSync(path.join(dir, incr[0] ?? ''), 'latin1');
  assert.ok(aof.includes('$1\r\na\r\n$1\r\n1\r\n') && aof.includes('$1\r\nb\r\n$1\r\n2\r\n'), 'the writes are in the AOF');
  assert.not.match(aof, /publish/i, 'no PUBLISH in the AOF');
  assert.ok(aof.includes('MULTI') && aof.includes('EXEC'), 'the transaction is still wrapped');
});

t.run();
