// The query buffer's lifecycle and the reply buffer's DEBUG knobs, as Valkey 8.0 has them
// (issue 14): a client whose partial command stays after a read gets a private query
// buffer of at least 16 KB, keeps it after the command, and the cron gives it back when
// the client is idle for more than 2 s or trims it when it is far over its recent peak.
// DEBUG REPLYBUFFER PEAK-RESET-TIME / RESIZING act on CLIENT LIST's rbp and rbs.
import * as net from 'node:net';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { errorOf } from '../helpers/errors';
import { startServer, type RunningServer } from '../helpers/server';

const t = suite('query-buffer');
let srv: RunningServer;
let io: Redis;

t.before(async () => {
  srv = await startServer();
  io = new Redis({ port: srv.port });
  // The cron (which resizes query buffers) ten times as often, as Valkey's unit does.
  await io.config('SET', 'hz', '100');
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CLIENT LIST fields of the client named `name`, or null when it is not connected. */
async function clientFields(name: string): Promise<Record<string, string> | null> {
  const list = (await io.client('LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  if (!line) return null;
  return Object.fromEntries(line.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** qbuf + qbuf-free of the client named `name`: the allocation of its query buffer. */
async function queryBuffer(name: string): Promise<number> {
  const f = await clientFields(name);
  if (f === null) throw new Error(`no client ${name}`);
  return Number(f.qbuf) + Number(f['qbuf-free']);
}

async function waitFor(cond: () => Promise<boolean>, what: string, ms = 6000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A raw connection named `name` that reads and drops its replies. */
async function rawClient(name: string): Promise<net.Socket> {
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.resume();
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write(`CLIENT SETNAME ${name}\r\n`);
  await waitFor(async () => (await clientFields(name)) !== null, `${name} to connect`);
  return sock;
}

t('a partial command gets a private query buffer of 16 KB, kept after the command, freed when idle', async () => {
  const sock = await rawClient('idle');
  // Commands run from the shared read buffer: no buffer of its own.
  assert.is(await queryBuffer('idle'), 0);
  await io.call('DEBUG', 'PAUSE-CRON', '1');
  try {
    sock.write('*3\r\n$3\r\nset\r\n$2\r\na');
    await waitFor(async () => (await queryBuffer('idle')) > 0, 'a private query buffer');
    sock.write('a\r\n$1\r\nb\r\n');
    await waitFor(async () => (await io.get('aa')) === 'b', 'the SET');
    const kept = await queryBuffer('idle');
    assert.ok(kept >= 16 * 1024 && kept <= 32 * 1024 + 2, `query buffer after the command: ${kept}`);
    // Part of the client's memory.
    assert.ok(Number((await clientFields('idle'))?.['tot-mem']) >= 16 * 1024);
  } finally {
    await io.call('DEBUG', 'PAUSE-CRON', '0');
  }
  // Idle for more than 2 s (whole seconds): the cron frees it.
  await waitFor(async () => (await queryBuffer('idle')) === 0, 'the idle client\'s buffer to be freed');
  assert.ok(Number((await clientFields('idle'))?.idle) >= 2);
  await io.del('aa');
  sock.destroy();
});

t('a big argument\'s buffer is trimmed to the recent peak while the client stays busy', async () => {
  const busy = new Redis({ port: srv.port });
  await busy.client('SETNAME', 'busy');
  await io.call('DEBUG', 'PAUSE-CRON', '1');
  let orig: number;
  try {
    await busy.set('x', 'A'.repeat(400_000));
    orig = await queryBuffer('busy');
    assert.ok(orig > 32 * 1024, `query buffer after a 400 KB argument: ${orig}`);
  } finally {
    await io.call('DEBUG', 'PAUSE-CRON', '0');
  }
  // Small commands keep it busy (no idle shrink): the peak decides, and the buffer keeps
  // the 16 KB a read gets (Valkey grows a trimmed buffer back to that at its next read).
  await waitFor(async () => {
    await busy.set('x', 'A'.repeat(100));
    const now = await queryBuffer('busy');
    return now >= 16 * 1024 && now < orig;
  }, 'the buffer to shrink to the recent peak');
  await io.del('x');
  busy.disconnect();
});

t('a big argument being read keeps a buffer of its size until the client idles', async () => {
  const sock = await rawClient('fat');
  sock.write('*3\r\n$3\r\nset\r\n$1\r\na\r\n$1000000\r\n');
  await sleep(100);
  sock.write('a');
  await waitFor(async () => (await queryBuffer('fat')) >= 1_000_000, 'a buffer of the argument\'s size');
  // Idle for more than 2 s: trimmed to what it holds (the partial command stays).
  await waitFor(async () => (await queryBuffer('fat')) < 1_000_000, 'the idle buffer to be trimmed');
  assert.is((await clientFields('fat'))?.qbuf, '1');
  // The argument still completes.
  sock.write(`${'a'.repeat(999_999)}\r\n`);
  await waitFor(async () => (await io.strlen('a')) === 1_000_000, 'the SET');
  await io.del('a');
  sock.destroy();
});

t('DEBUG REPLYBUFFER PEAK-RESET-TIME sets how long rbp lasts', async () => {
  const c = new Redis({ port: srv.port });
  await c.client('SETNAME', 'peak');
  await io.set('big', 'x'.repeat(20_000));
  try {
    assert.is(await io.call('DEBUG', 'REPLYBUFFER', 'PEAK-RESET-TIME', 'never'), 'OK');
    await c.get('big');
    await sleep(300);
    assert.ok(Number((await clientFields('peak'))?.rbp) >= 20_000, 'never: the peak stays');
    assert.is(await io.call('DEBUG', 'REPLYBUFFER', 'PEAK-RESET-TIME', '100'), 'OK');
    await sleep(150);
    assert.is((await clientFields('peak'))?.rbp, '0', 'the peak restarts after 100 ms');
  } finally {
    assert.is(await io.call('DEBUG', 'replybuffer', 'peak-reset-time', 'reset'), 'OK');
  }
  assert.match(await errorOf(io.call('DEBUG', 'REPLYBUFFER', 'PEAK-RESET-TIME', '1x')), /ERR value is not an integer or out of range/);
  assert.match(await errorOf(io.call('DEBUG', 'REPLYBUFFER', 'NOSUCH', '1')), /ERR unknown subcommand or wrong number of arguments for 'replybuffer'/);
  assert.match(await errorOf(io.call('DEBUG', 'REPLYBUFFER', 'RESIZING')), /ERR wrong number of arguments for 'debug\|replybuffer' command/);
  await io.del('big');
  c.disconnect();
});

t('DEBUG REPLYBUFFER RESIZING 0 keeps the reply buffer\'s size after a big batch', async () => {
  const rbs = async (): Promise<number> => Number((await clientFields('control'))?.rbs);
  await io.client('SETNAME', 'control');
  await io.set('huge', 'x'.repeat(200_000));
  try {
    assert.is(await io.call('DEBUG', 'REPLYBUFFER', 'RESIZING', '0'), 'OK');
    await io.get('huge');
    assert.ok((await rbs()) > 200_000, 'resizing off: the buffer keeps the batch\'s size');
  } finally {
    assert.is(await io.call('DEBUG', 'REPLYBUFFER', 'RESIZING', '1'), 'OK');
  }
  await io.get('huge');
  assert.ok((await rbs()) <= 64 * 1024, 'resizing on: given back after the batch');
  await io.del('huge');
});

t.run();
