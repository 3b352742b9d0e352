// The data path's reused buffers: every socket reads into one shared buffer (Node's `onread`
// on accepted sockets, net/readinto.ts) and the replies of a read go through one reused
// reply buffer, written directly when the socket has nothing queued. Checked here: the
// read side works on this Node (no silent fallback), replies longer than the reply buffer,
// and a client that stops reading (the kernel keeps part of a direct write, so the server
// must stop reusing that buffer) while another client keeps the shared buffers busy.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';

import { readInto } from '../../ts/net/readinto';
import { cmd, RawClient } from '../helpers/client';
import { startServer, type RunningServer } from '../helpers/server';

const t = suite('datapath');
let srv: RunningServer;

t.before(async () => {
  srv = await startServer();
});

t.after(async () => {
  await srv.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const bulk = (s: string): string => `$${s.length}\r\n${s}\r\n`;

t('readInto: an accepted socket reads into the given buffer; pause() stops reading, resume() restarts it', async () => {
  const buf = Buffer.alloc(16);
  const pieces: string[] = [];
  let accepted: net.Socket | null = null;
  let active = false;
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    accepted = s;
    active = readInto(s, buf, (n) => pieces.push(buf.toString('latin1', 0, n)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const c = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write('hello');
    await until(() => pieces.join('') === 'hello');
    assert.ok(active, 'readInto must be available on this Node (else every read makes a Buffer)');
    const s = accepted as net.Socket | null;
    if (s === null) throw new Error('no accepted socket');
    s.pause();
    c.write('world');
    await sleep(100);
    assert.is(pieces.join(''), 'hello');
    s.resume();
    await until(() => pieces.join('') === 'helloworld');
    c.write('x'.repeat(100));
    await until(() => pieces.join('').length === 110);
    assert.ok(pieces.every((p) => p.length <= 16));
    assert.is(pieces.join('').slice(10), 'x'.repeat(100));
  } finally {
    c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

t('replies of one read longer than the reply buffer arrive whole and in order', async () => {
  const c = await RawClient.connect(srv.port);
  try {
    const big = 'B'.repeat(200_000);
    c.write(cmd('SET', 'dp:big', big));
    assert.is((await c.readBytes(5)).toString(), '+OK\r\n');
    c.write(Buffer.concat([cmd('GET', 'dp:big'), cmd('PING'), cmd('GET', 'dp:big'), cmd('ECHO', 'end')]));
    const want = `${bulk(big)}+PONG\r\n${bulk(big)}${bulk('end')}`;
    assert.is((await c.readBytes(want.length)).toString('latin1'), want);
  } finally {
    c.close();
  }
});

t('a client that stops reading gets every reply intact while another keeps the shared buffers busy', async () => {
  const a = await RawClient.connect(srv.port);
  const b = await RawClient.connect(srv.port);
  try {
    const va = 'a'.repeat(30_000);
    const vb = 'b'.repeat(30_000);
    a.write(cmd('SET', 'dp:a', va));
    b.write(cmd('SET', 'dp:b', vb));
    assert.is((await a.readBytes(5)).toString(), '+OK\r\n');
    assert.is((await b.readBytes(5)).toString(), '+OK\r\n');
    // ~9 MB of replies to a client that does not read, one GET per read (each reply fits the
    // reply buffer): the kernel's buffers fill, it takes part of one direct write and libuv
    // keeps the rest, so the reply buffer it came from must not be reused after that.
    a.socket.pause();
    const n = 300;
    for (let i = 0; i < n; i++) {
      a.write(cmd('GET', 'dp:a'));
      await sleep(1);
    }
    const one = bulk(vb);
    for (let i = 0; i < 100; i++) {
      b.write(Buffer.concat([cmd('GET', 'dp:b'), cmd('PING')]));
      assert.is((await b.readBytes(one.length + 7)).toString('latin1'), `${one}+PONG\r\n`);
    }
    a.socket.resume();
    const all = (await a.readBytes(n * bulk(va).length, 20_000)).toString('latin1');
    assert.ok(all === bulk(va).repeat(n), 'replies to the paused client were corrupted');
  } finally {
    a.close();
    b.close();
  }
});

t('a client over maxclients gets the error and the connection closes (accepted sockets start paused)', async () => {
  const small = await startServer({ args: ['--maxclients', '1'] });
  const first = await RawClient.connect(small.port);
  try {
    first.write(cmd('PING'));
    assert.is((await first.readBytes(7)).toString(), '+PONG\r\n');
    const second = await RawClient.connect(small.port);
    assert.is(await second.readToClose(), '-ERR max number of clients reached\r\n');
    first.write(cmd('PING'));
    assert.is((await first.readBytes(7)).toString(), '+PONG\r\n');
  } finally {
    first.close();
    await small.stop();
  }
});

t.run();
