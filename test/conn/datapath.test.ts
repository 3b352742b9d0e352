// The data path's reused buffers: every socket reads into one shared buffer (Node's `onread`
// on accepted sockets, net/readinto.ts) and the replies of a read go through one reused
// reply buffer, written directly when the socket has nothing queued. Checked here: the
// read side works on this Node (no silent fallback), replies longer than the reply buffer,
// and a client that stops reading (the kernel keeps part of a direct write, so the server
// must stop reusing that buffer) while another client keeps the shared buffers busy; and
// the direct write (Connection.write: one send(2) past Node's stream while nothing is
// queued, the stream for the rest, for queued output and for a broken connection).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';

import { Connection } from '../../ts/net/connection';
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

/** A connected pair through a real listener: the accepted socket (paused) and the client. */
async function socketPair(): Promise<{ accepted: net.Socket; client: net.Socket; close: () => Promise<void> }> {
  let accepted: net.Socket | null = null;
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    accepted = s;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  await until(() => accepted !== null);
  const a = accepted as unknown as net.Socket;
  return {
    accepted: a,
    client,
    close: async () => {
      a.destroy();
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function received(c: net.Socket): () => Buffer {
  const parts: Buffer[] = [];
  c.on('data', (d: Buffer) => parts.push(d));
  return () => Buffer.concat(parts);
}

t('direct write: an idle plain socket gets its bytes from one send(2), past Node\'s stream', async () => {
  const { accepted, client, close } = await socketPair();
  try {
    const conn = new Connection(1, accepted);
    conn.directFd = conn.fd;
    assert.ok(conn.directFd >= 0, 'an accepted TCP socket exposes its descriptor');
    const got = received(client);
    const reused = Buffer.from('+PONG\r\n');
    assert.is(conn.write(reused, true), false, 'nothing is retained');
    reused.fill(0); // the caller refills its buffer at once: the kernel has the bytes already
    assert.is(accepted.bytesWritten, 0, 'Node\'s stream wrote nothing');
    assert.is(accepted.writableLength, 0);
    await until(() => got().length === 7);
    assert.is(got().toString(), '+PONG\r\n');
    assert.is(conn.outputBytes, 7);
  } finally {
    await close();
  }
});

t('direct write: what the kernel does not take, and later writes, go through the stream in order', async () => {
  const { accepted, client, close } = await socketPair();
  try {
    const conn = new Connection(1, accepted);
    conn.directFd = conn.fd;
    client.pause();
    // Far more than the kernel's socket buffers hold while the peer does not read.
    const chunk = Buffer.alloc(4 << 20);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
    const reused = Buffer.from(chunk);
    assert.is(conn.write(reused, true), false, 'the leftover of a reused buffer is copied');
    reused.fill(0xff); // must not reach the peer
    assert.ok(accepted.writableLength > 0, 'the kernel took only part of it; the stream holds the rest');
    assert.ok(accepted.writableLength < chunk.length, 'the kernel took a part directly');
    const tail = Buffer.from('+END\r\n');
    conn.write(tail, true);
    tail.fill(0);
    const got = received(client);
    client.resume();
    await until(() => got().length === chunk.length + 6, 10_000);
    assert.ok(got().subarray(0, chunk.length).equals(chunk), 'bytes arrive whole and in order');
    assert.is(got().subarray(chunk.length).toString(), '+END\r\n');
  } finally {
    await close();
  }
});

t('direct write: a peer gone away makes the stream report the error', async () => {
  const { accepted, client, close } = await socketPair();
  try {
    const conn = new Connection(1, accepted);
    conn.directFd = conn.fd;
    let errored = false;
    accepted.on('error', () => {
      errored = true;
    });
    accepted.resume();
    client.resetAndDestroy();
    await sleep(50);
    // The first write after a reset may still be taken by the kernel; a later one fails.
    for (let i = 0; i < 20 && !errored && !accepted.destroyed; i++) {
      conn.write(Buffer.from('+OK\r\n'));
      await sleep(10);
    }
    assert.ok(errored || accepted.destroyed, 'the broken connection was reported');
  } finally {
    await close();
  }
});

t('direct write: a destroyed socket is never written, even when its descriptor number is reused', async () => {
  const first = await socketPair();
  // A listener up before the descriptor is freed, so the next connection takes that number.
  let accepted2: net.Socket | null = null;
  const server2 = net.createServer((s) => {
    accepted2 = s;
  });
  await new Promise<void>((r) => server2.listen(0, '127.0.0.1', r));
  const addr = server2.address();
  const port2 = typeof addr === 'object' && addr !== null ? addr.port : 0;
  let client2: net.Socket | null = null;
  try {
    const conn = new Connection(1, first.accepted);
    conn.directFd = conn.fd;
    const oldFd = conn.fd;
    first.accepted.destroy(); // closes the descriptor now; 'close' (conn.closed) comes later
    client2 = net.connect(port2, '127.0.0.1');
    await new Promise<void>((r) => client2?.once('connect', () => r()));
    await until(() => accepted2 !== null);
    const fds = [new Connection(1, client2).fd, new Connection(1, accepted2 as unknown as net.Socket).fd];
    assert.ok(fds.includes(oldFd), 'the freed descriptor number went to the next connection');
    const got = [received(client2), received(accepted2 as unknown as net.Socket)];
    conn.write(Buffer.from('+STALE\r\n'));
    await sleep(100);
    assert.is(got[0]?.().length, 0, 'bytes for the destroyed socket reached another connection');
    assert.is(got[1]?.().length, 0, 'bytes for the destroyed socket reached another connection');
  } finally {
    client2?.destroy();
    (accepted2 as net.Socket | null)?.destroy();
    await new Promise<void>((r) => server2.close(() => r()));
    await first.close();
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

t('clients over maxclients that reset their connection at once leave the server running', async () => {
  const small = await startServer({ args: ['--maxclients', '1'] });
  const first = await RawClient.connect(small.port);
  try {
    for (let i = 0; i < 40; i++) {
      const s = net.connect(small.port, '127.0.0.1');
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      // Unread input and SO_LINGER 0: the server's side sees ECONNRESET.
      s.write(cmd('PING'));
      s.resetAndDestroy();
    }
    await sleep(200);
    first.write(cmd('PING'));
    assert.is((await first.readBytes(7)).toString(), '+PONG\r\n');
  } finally {
    first.close();
    await small.stop();
  }
});

t.run();
