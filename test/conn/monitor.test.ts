// MONITOR through real clients: ioredis `monitor()` and redis-cli MONITOR see every
// executed command (reads too) in Valkey's line format, commands a script calls as
// `[db lua]`, secrets redacted, admin commands hidden; RESET leaves the mode.
import { spawn } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { startServer, type RunningServer } from '../helpers/server';
import { expect, raw, send } from './util';

const t = suite('monitor');
let srv: RunningServer;
let io: Redis;

t.before(async () => {
  srv = await startServer();
  io = new Redis({ port: srv.port, lazyConnect: true });
  await io.connect();
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});

/** Waits until `lines` holds `n` entries (or `ms` passes). */
async function collect<T>(lines: T[], n: number, ms = 3000): Promise<T[]> {
  const end = Date.now() + ms;
  while (lines.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return lines.splice(0, lines.length);
}

t('ioredis monitor(): reads, writes, script commands, redaction, admin hidden', async () => {
  const monitor = await io.monitor();
  const seen: Array<{ args: string[]; source: string; database: string }> = [];
  monitor.on('monitor', (_time: string, args: string[], source: string, database: string) => seen.push({ args, source, database }));
  const local = `127.0.0.1:${(io.stream as { localPort?: number }).localPort ?? 0}`;
  await io.set('foo', 'bar');
  await io.get('foo');
  await io.eval("return redis.call('get', KEYS[1])", 1, 'foo');
  await io.config('GET', 'port');
  await io.call('AUTH', 'someone', 'secret').catch(() => undefined);
  await io.ping();
  const got = await collect(seen, 6);
  monitor.disconnect();
  assert.equal(got, [
    { args: ['set', 'foo', 'bar'], source: local, database: '0' },
    { args: ['get', 'foo'], source: local, database: '0' },
    { args: ['eval', "return redis.call('get', KEYS[1])", '1', 'foo'], source: local, database: '0' },
    { args: ['get', 'foo'], source: 'lua', database: '0' },
    { args: ['AUTH', '(redacted)', '(redacted)'], source: local, database: '0' },
    { args: ['ping'], source: local, database: '0' },
  ]);
});

t('exact line bytes, quoting as sdscatrepr, CLIENT LIST flag O, RESET leaves the mode', async () => {
  const m = await raw(srv.port);
  const c = await raw(srv.port);
  send(m, ['MONITOR']);
  await expect(m, '+OK\r\n');
  send(c, ['SELECT', '2'], ['SET', 'a "b"', 'x\n\x01y']);
  await expect(c, '+OK\r\n+OK\r\n');
  const text = await m.readUntil('"x\\n\\x01y"\r\n', 3000);
  const lines = text.split('\r\n').filter((l) => l !== '');
  assert.is(lines.length, 2);
  assert.match(lines[0] ?? '', /^\+\d+\.\d{6} \[2 127\.0\.0\.1:\d+\] "SELECT" "2"$/);
  assert.match(lines[1] ?? '', /^\+\d+\.\d{6} \[2 127\.0\.0\.1:\d+\] "SET" "a \\"b\\"" "x\\n\\x01y"$/);
  const list = await io.client('LIST');
  assert.match(String(list), /flags=O /);
  send(m, ['RESET']);
  await expect(m, '+RESET\r\n');
  assert.not.match(String(await io.client('LIST')), /flags=O /);
  m.close();
  c.close();
});

t('redis-cli MONITOR prints the commands of other clients', async () => {
  const child = spawn('/usr/bin/redis-cli', ['-p', String(srv.port), 'MONITOR'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const end = Date.now() + 5000;
  while (!out.includes('OK') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await io.lpush('list', 'one');
  while (!out.includes('"lpush"') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGTERM');
  assert.match(out, /^OK\n\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "lpush" "list" "one"\n/);
});

t.run();
