// A primary's snapshot-only syncs: `REPLCONF rdb-only 1` (the snapshot and nothing after
// it, then the connection is closed) and `REPLCONF rdb-filter-only <filters>` (a snapshot
// of only what the filters name, always sent to the socket), as valkey-cli's --rdb and
// --functions-rdb ask for them. Valkey 8.0.1's valkey-cli is the client, and what it prints
// against forkv is compared with what it prints against Valkey 8.0.1's server.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { RawClient } from '../helpers/client';
import { useFleet } from '../helpers/fixture';
import { startServer, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { info, waitUntil } from '../persistence/util';
import { linkUp, sameOnBoth } from './sync-check';

const VALKEY_CLI = process.env.VALKEY_CLI ?? path.join(path.dirname(VALKEY_SERVER), 'valkey-cli');

const t = suite('replication-rdb-only');
const fleet = useFleet(t);

const OK = { type: '+', value: 'OK' };
const LIB = "#!lua name=lib1\nserver.register_function('func1', function() return 123 end)";

/** valkey-cli's stderr (its progress lines) and exit code. */
function cli(port: number, args: string[]): Promise<{ stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(VALKEY_CLI, ['-p', String(port), ...args], { encoding: 'utf8', timeout: 30000 }, (err, _stdout, stderr) => {
      resolve({ stderr, code: err ? Number((err as { code?: unknown }).code ?? 1) : 0 });
    });
  });
}

/** 500 keys and one function library, nothing else. */
async function fill(io: Redis): Promise<void> {
  await io.flushall();
  await io.call('FUNCTION', 'FLUSH');
  assert.is(await io.call('DEBUG', 'POPULATE', '500', 'key', '10'), 'OK');
  assert.is(await io.call('FUNCTION', 'LOAD', LIB), 'lib1');
}

/** The dumps valkey-cli makes of a server, for both sync kinds: its lines with the numbers and file name masked. */
async function dumps(srv: RunningServer, io: Redis, check: (file: string, functionsOnly: boolean) => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  for (const diskless of ['no', 'yes']) {
    await io.config('SET', 'repl-diskless-sync', diskless);
    await io.config('SET', 'repl-diskless-sync-delay', '0');
    for (const functionsOnly of [false, true]) {
      await fill(io);
      const file = path.join(srv.dir, 'cli.rdb');
      const r = await cli(srv.port, [functionsOnly ? '--functions-rdb' : '--rdb', file]);
      assert.is(r.code, 0, r.stderr);
      lines.push(`diskless ${diskless}, functions only ${functionsOnly}: ${r.stderr.split(file).join('FILE').replace(/\d+/g, 'N')}`);
      await check(file, functionsOnly);
    }
  }
  return lines;
}

t('valkey-cli --rdb and --functions-rdb: the files load as asked, and the tool prints what it prints against valkey-server', async () => {
  const { srv, io } = await fleet.forkv();
  const got = await dumps(srv, io, async (file, functionsOnly) => {
    // The dump replaces the server's own file, which DEBUG RELOAD NOSAVE loads.
    fs.renameSync(file, path.join(srv.dir, 'dump.rdb'));
    await io.set('should-not-exist', '1');
    await io.call('FUNCTION', 'LOAD', "#!lua name=other\nserver.register_function('other', function() return 1 end)");
    assert.is(await io.call('DEBUG', 'RELOAD', 'NOSAVE'), 'OK');
    assert.is(await io.get('should-not-exist'), null);
    assert.is(await io.dbsize(), functionsOnly ? 0 : 500);
    assert.equal(((await io.call('FUNCTION', 'LIST')) as unknown[][]).map((l) => l[1]), ['lib1']);
  });
  const out = srv.output();
  assert.not.match(out, /Synchronization with replica/, 'a snapshot-only replica never goes online');
  assert.is(out.match(/RDB transfer completed, rdb only replica \(127\.0\.0\.1:<unknown-replica-port>\) should be disconnected asap/g)?.length, 4, out);
  // A filtered snapshot never goes through the dump file, even with repl-diskless-sync no.
  assert.is(out.match(/Starting BGSAVE for SYNC with target: disk/g)?.length, 1, out);
  assert.is((await info(io, 'replication')).get('connected_slaves'), '0');

  const valkey = fleet.track(await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1'] }));
  const vio = fleet.connect(valkey.port);
  const want = await dumps(valkey, vio, async () => undefined);
  assert.equal(got, want);
});

t('REPLCONF rdb-only / rdb-filter-only: Valkey\'s errors; a filtered SYNC needs capa eof; an empty filter sends the header alone, then closes', async () => {
  const { srv, io } = await fleet.forkv({ args: ['--repl-diskless-sync', 'no'] });
  await io.set('a-distinctive-key-name', 'v');
  await io.call('FUNCTION', 'LOAD', LIB);
  const c = await RawClient.connect(srv.port);
  assert.equal(await c.call('REPLCONF', 'rdb-only', '2'), { type: '-', value: 'ERR value is out of range, value must between 0 and 1' });
  assert.equal(await c.call('REPLCONF', 'rdb-only', '01'), { type: '-', value: 'ERR value is not an integer or out of range' });
  assert.equal(await c.call('REPLCONF', 'rdb-filter-only', 'functions keys'), { type: '-', value: 'ERR Unsupported rdb-filter-only option: keys' });
  assert.equal(await c.call('REPLCONF', 'rdb-filter-only', '"unbalanced'), { type: '-', value: 'ERR Missing rdb-filter-only values' });
  assert.equal(await c.call('REPLCONF', 'rdb-only', '1', 'rdb-filter-only', ''), OK);
  assert.equal(await c.call('SYNC'), { type: '-', value: 'ERR Filtered replica requires EOF capability' });
  assert.equal(await c.call('REPLCONF', 'capa', 'eof'), OK);
  c.write('SYNC\r\n');
  const mark = /\$EOF:([0-9a-f]{40})\r\n/.exec(await c.readUntil('\r\n', 10000))?.[1];
  assert.ok(mark, 'a diskless transfer although repl-diskless-sync is no');
  const body = await c.readUntil(mark as string, 10000);
  assert.is(body.slice(0, 5), 'REDIS');
  assert.ok(!body.includes('lib1') && !body.includes('a-distinctive-key-name'), 'no library, no key');
  assert.is(await c.readToClose(10000), '', 'nothing after the end mark: the primary closes');
  await srv.waitFor(/RDB transfer completed, rdb only replica/);
});

t('a snapshot-only disk sync holds no stream and is closed after the file; a replica cannot join its save', async () => {
  const { srv, io } = await fleet.forkv({ args: ['--repl-diskless-sync', 'no'] });
  for (let i = 0; i < 20; i++) await io.set(`k${i}`, String(i));
  await io.config('SET', 'rdb-key-save-delay', '100000');
  const c = await RawClient.connect(srv.port);
  assert.equal(await c.call('REPLCONF', 'rdb-only', '1'), OK);
  c.write('SYNC\r\n');
  await srv.waitFor(/Starting BGSAVE for SYNC with target: disk/);
  // Writes while the child runs go to nobody's buffer.
  await io.set('during', 'x');
  const held = (await info(io, 'replication')).get('slave0') ?? '';
  assert.match(held, /state=wait_bgsave/);
  const replica = fleet.track(await startServer({ args: ['--replicaof', '127.0.0.1', String(srv.port)] }));
  await srv.waitFor(/Can't attach the replica to the current BGSAVE\. Waiting for next BGSAVE for SYNC/);
  await io.config('SET', 'rdb-key-save-delay', '0');
  const rest = await c.readToClose(20000);
  const m = /^\n*\$(\d+)\r\n/.exec(rest);
  assert.ok(m, JSON.stringify(rest.slice(0, 40)));
  assert.is(rest.length - (m?.[0].length ?? 0), Number(m?.[1]), 'the file and nothing after it');
  await linkUp(fleet.connect(replica.port));
  await sameOnBoth(fleet, srv.port, replica.port, 'the replica after the snapshot-only sync');
  await waitUntil('one replica left', async () => (await info(io, 'replication')).get('connected_slaves') === '1');
});

t.run();
