// forkv as a replication primary: real replicas (Debian redis-server 7.0 and Valkey 8.0.1)
// started with --replicaof get the data by a full sync and then every later write through
// the stream (MULTI/EXEC, SELECT, expired keys as DEL); redis-cli --rdb saves a dump
// redis-check-rdb accepts; PSYNC continues from the backlog; INFO replication reports the
// replica online with its acknowledged offset.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { redisCli } from '../helpers/cli';
import { RawClient } from '../helpers/client';
import { startRedis, startServer, tempDir, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { checkRdb, info, waitUntil } from '../persistence/util';
import { linkUp, sameOnBoth, writeSome } from './sync-check';

const t = suite('replication-primary');
const fleet = useFleet(t);

async function primary(): Promise<RunningServer> {
  // The disk-based full sync (diskless: diskless.test.ts).
  const s = await startServer({ args: ['--repl-ping-replica-period', '1', '--repl-diskless-sync', 'no'] });
  fleet.track(s);
  return s;
}

async function replicaOf(kind: 'redis' | 'valkey', port: number): Promise<RunningServer> {
  const args = ['--replicaof', '127.0.0.1', String(port), '--repl-diskless-load', 'disabled'];
  const r = kind === 'redis' ? await startRedis(args) : await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...args] });
  fleet.track(r);
  return r;
}

for (const kind of ['redis', 'valkey'] as const) {
  t(`${kind} replica: full sync, then the stream (MULTI/EXEC, SELECT, expired DEL, PING)`, async () => {
    const p = await primary();
    await writeSome(fleet, p.port, 'before');
    const rep = await replicaOf(kind, p.port);
    const rio = fleet.connect(rep.port);
    await linkUp(rio);
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after full sync`);
    await writeSome(fleet, p.port, 'after');
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after live writes`);
    assert.is(await rio.get('m2:after'), '2');
    const a = fleet.connect(p.port);
    const n = await rio.dbsize();
    await a.set('short', 'x', 'PX', 300);
    await waitUntil('key on the replica', async () => (await rio.dbsize()) === n + 1, 5000, 10);
    // The primary's active expiry deletes the key and the DEL removes it from the
    // replica (which never expires keys by itself: DBSIZE counts them until then).
    await waitUntil('expired key deleted on the replica', async () => (await rio.dbsize()) === n, 10000, 50);
    const pi = await info(a, 'replication');
    assert.is(pi.get('role'), 'master');
    assert.is(pi.get('connected_slaves'), '1');
    assert.match(pi.get('slave0') ?? '', new RegExp(`^ip=127\\.0\\.0\\.1,port=${rep.port},state=online,offset=\\d+,lag=\\d+,type=replica$`));
    assert.is(pi.get('repl_backlog_active'), '1');
    const role = (await a.call('ROLE')) as [string, number, string[][]];
    assert.is(role[0], 'master');
    assert.ok(role[1] > 0);
    assert.equal(role[2][0]?.slice(0, 2), ['127.0.0.1', String(rep.port)]);
    assert.is(pi.get('master_replid'), (await info(rio, 'replication')).get('master_replid'));
    await waitUntil('replica acknowledges the primary offset', async () => {
      const i = await info(a, 'replication');
      return (i.get('slave0') ?? '').includes(`offset=${i.get('master_repl_offset')},`);
    }, 10000, 50);
  });
}

t('a replica joins a BGSAVE another replica started, and a reconnecting replica continues from the backlog', async () => {
  const p = await primary();
  const a = fleet.connect(p.port);
  await a.config('SET', 'rdb-key-save-delay', '200000');
  for (let i = 0; i < 10; i++) await a.set(`k${i}`, String(i));
  const r1 = await replicaOf('redis', p.port);
  await p.waitFor(/Starting BGSAVE for SYNC with target: disk/);
  const r2 = await replicaOf('redis', p.port);
  await p.waitFor(/Waiting for end of BGSAVE for SYNC/);
  await a.set('during', 'sync');
  await a.config('SET', 'rdb-key-save-delay', '0');
  const io1 = fleet.connect(r1.port);
  const io2 = fleet.connect(r2.port);
  await linkUp(io1);
  await linkUp(io2);
  await sameOnBoth(fleet, p.port, r1.port, 'first replica');
  await sameOnBoth(fleet, p.port, r2.port, 'second replica');
  // Killing the link: the replica reconnects and PSYNC continues from the backlog.
  await io1.call('CLIENT', 'KILL', 'TYPE', 'master');
  await a.set('after-kill', 'yes');
  await p.waitFor(/Partial resynchronization request from 127\.0\.0\.1:\d+ accepted/);
  await sameOnBoth(fleet, p.port, r1.port, 'first replica after partial resync');
  assert.is(await io1.get('after-kill'), 'yes');
});

t('PSYNC and REPLCONF through the raw protocol', async () => {
  const p = await primary();
  const a = fleet.connect(p.port);
  await a.set('x', '1');
  const c = await RawClient.connect(p.port);
  c.write('REPLCONF listening-port 7777\r\n');
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  c.write('REPLCONF capa eof capa psync2\r\n');
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  c.write('REPLCONF bogus 1\r\n');
  assert.is(await c.readUntil('\r\n'), '-ERR Unrecognized REPLCONF option: bogus\r\n');
  c.write('REPLCONF listening-port\r\n');
  assert.is(await c.readUntil('\r\n'), '-ERR syntax error\r\n');
  c.write('PSYNC ? -1\r\n');
  const line = await c.readUntil('\r\n', 10000);
  const m = /^\+FULLRESYNC ([0-9a-f]{40}) (\d+)\r\n$/.exec(line);
  assert.ok(m, line);
  const header = (await c.readUntil('\r\n', 10000)).replace(/^\n+/, '');
  const len = Number(/^\$(\d+)\r\n$/.exec(header)?.[1]);
  const rdb = await c.readBytes(len, 10000);
  assert.is(rdb.subarray(0, 5).toString('latin1'), 'REDIS');
  await a.set('y', '2');
  const stream = await c.readUntil('$1\r\n2\r\n', 5000);
  assert.match(stream, /\*2\r\n\$6\r\nSELECT\r\n\$1\r\n0\r\n\*3\r\n\$3\r\nSET\r\n\$1\r\ny\r\n\$1\r\n2\r\n$/i, JSON.stringify(stream));
  c.write(`REPLCONF ACK ${Number(m?.[2]) + stream.length}\r\n`);
  await waitUntil('ack seen', async () => (await info(a, 'replication')).get('slave0')?.includes('port=7777,state=online') === true, 5000, 20);
  // A second connection continues from the backlog at the offset reached.
  const offset = Number((await info(a, 'replication')).get('master_repl_offset'));
  await a.set('z', '3');
  const c2 = await RawClient.connect(p.port);
  c2.write(`PSYNC ${m?.[1]} ${offset + 1}\r\n`);
  const cont = await c2.readUntil('$1\r\n3\r\n', 5000);
  assert.match(cont, /^\+CONTINUE\r\n(\*1\r\n\$4\r\nPING\r\n)*\*3\r\n\$3\r\nSET\r\n\$1\r\nz\r\n\$1\r\n3\r\n$/i);
  c.socket.destroy();
  c2.socket.destroy();
});

t('a replica that sends a command with a reply on its link is disconnected, the reply unsent (Valkey\'s warning)', async () => {
  const p = await primary();
  const a = fleet.connect(p.port);
  await a.set('foo', 'bar');
  const cases: Array<[string, string, string]> = [
    ['SYNC', 'PING', 'ping'],
    ['SYNC', 'XINFO HELP', 'xinfo|help'],
    ['PSYNC replicationid -1', 'GET foo', 'get'],
    ['PSYNC replicationid -1', 'SLOWLOG GET', 'slowlog|get'],
  ];
  for (const [sync, cmd, name] of cases) {
    const c = await RawClient.connect(p.port);
    const closed = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
    let got = '';
    c.socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.write(`${sync}\r\n`);
    if (sync.startsWith('PSYNC')) await waitUntil('+FULLRESYNC', () => /^\+FULLRESYNC [0-9a-f]{40} \d+\r\n/.test(got), 5000, 10);
    c.write(`${cmd}\r\n`);
    await closed;
    assert.match(p.output(), new RegExp(`Replica generated a reply to command '${name.replace('|', '\\|')}', disconnecting it: id=\\d+ addr=`), cmd);
    // Nothing but the sync's own bytes reached the replica: no reply to the command.
    assert.not.match(got, /\+PONG|\$3\r\nbar|XINFO <subcommand>/, cmd);
    if (cmd === 'GET foo') {
      // A replica may not touch the keyspace; the error it would get is logged, as Valkey's.
      assert.match(p.output(), /== CRITICAL == This primary is sending an error to its replica: 'Replica can't interact with the keyspace' after processing the command 'get'/);
    }
    assert.is(await a.ping(), 'PONG');
    await waitUntil('the replica is gone', async () => (await info(a, 'replication')).get('connected_slaves') === '0', 10000, 20);
  }
});

t('redis-cli --rdb saves a dump redis-check-rdb accepts', async () => {
  const p = await primary();
  await writeSome(fleet, p.port, 'rdb');
  const out = path.join(tempDir(), 'dump.rdb');
  const r = await redisCli(p.port, ['--rdb', out]);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.ok(fs.statSync(out).size > 20);
  const check = await checkRdb(out);
  assert.is(check.code, 0, check.stdout + check.stderr);
});

t.run();
