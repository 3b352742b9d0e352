// One close() case, run alone in a child Node process whose event loop holds nothing but
// what the case creates (test/embedded/close.test.ts runs it). Top-level await on purpose:
// a close() that never settles ends this process with code 13 before "settled" is printed.
//
//   node test/embedded/close-case.mjs <case>
import * as fs from 'node:fs';
import * as net from 'node:net';
import Redis from 'ioredis';
import { createServer } from 'forkv';

const name = process.argv[2];

/** Sends one RESP command on a raw socket. */
function send(sock, ...args) {
  sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

function connectRaw(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function readUntil(sock, text) {
  return new Promise((resolve) => {
    let got = '';
    const on = (d) => {
      got += d.toString('latin1');
      if (got.includes(text)) {
        sock.off('data', on);
        resolve(got);
      }
    };
    sock.on('data', on);
  });
}

function canBind(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const server = await createServer({ config: { save: '', 'enable-debug-command': 'local' } });
const { port, dir } = server;
const closedSockets = [];
/** Client sockets unref'd so that only the server could keep this process alive. */
const unrefd = [];
let childPid = 0;

switch (name) {
  case 'no-clients':
    break;
  case 'raw-socket': {
    // A client this process does not wait for (unref'd): nothing else keeps the loop alive.
    const s = await connectRaw(port);
    send(s, 'PING');
    await readUntil(s, '+PONG');
    s.unref();
    unrefd.push(s);
    closedSockets.push(new Promise((r) => s.once('close', r)));
    break;
  }
  case 'ioredis-no-retry': {
    const r = new Redis({ port, retryStrategy: null, maxRetriesPerRequest: 0 });
    r.on('error', () => undefined);
    await r.set('k', 'v');
    closedSockets.push(new Promise((res) => r.once('end', res)));
    break;
  }
  case 'twice': {
    const s = await connectRaw(port);
    s.unref();
    unrefd.push(s);
    const a = server.close();
    const b = server.close();
    if (a !== b) throw new Error('a second close() in flight must be the same promise');
    await a;
    await server.close(); // after it resolved: a no-op
    break;
  }
  case 'bgsave':
  case 'bgrewriteaof': {
    const r = new Redis({ port, retryStrategy: null, maxRetriesPerRequest: 0 });
    r.on('error', () => undefined);
    for (let i = 0; i < 50; i++) await r.set(`k${i}`, 'v');
    // Slow the child so it is still running when close() comes.
    await r.config('set', 'rdb-key-save-delay', '100000');
    if (name === 'bgsave') await r.bgsave();
    else await r.bgrewriteaof();
    const p = server.server.core.native.childProgress();
    if (!p) throw new Error('no fork child running');
    childPid = p.pid;
    r.disconnect();
    break;
  }
  case 'blocked-client': {
    const s = await connectRaw(port);
    send(s, 'BLPOP', 'nothing', '0');
    await new Promise((r) => setTimeout(r, 50));
    const st = [...server.server.clients.values()].map((c) => server.server.core.native.clientState(c.id));
    if (!st.some((x) => x?.blocked)) throw new Error('the client is not blocked');
    s.unref();
    unrefd.push(s);
    closedSockets.push(new Promise((r) => s.once('close', r)));
    break;
  }
  case 'slow-command': {
    // A command that holds the server (DEBUG SLEEP, as a long script would in Valkey; this
    // build has no EVAL): a close() asked for meanwhile waits for it, and its reply goes out
    // before the socket closes.
    const s = await connectRaw(port);
    s.unref();
    unrefd.push(s);
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    const began = Date.now();
    send(s, 'DEBUG', 'SLEEP', '0.2');
    await new Promise((r) => setTimeout(r, 5));
    const closing = server.close();
    closedSockets.push(
      closing,
      new Promise((r) => s.once('close', r)).then(() => {
        // The EVAL reached the server before close() (5 ms of slack): its reply was sent.
        if (!got.endsWith('+OK\r\n')) throw new Error(`no reply before the close: ${JSON.stringify(got)} after ${Date.now() - began} ms`);
      }),
    );
    break;
  }
  default:
    throw new Error(`unknown case ${name}`);
}

await server.close();
// The server side is done; to watch the clients see the close, hold the loop open again.
for (const sock of unrefd) sock.ref();
await Promise.all(closedSockets);
const checks = {
  portFree: await canBind(port),
  dirRemoved: !fs.existsSync(dir),
  childGone: childPid === 0 || !alive(childPid),
};
console.log(`settled ${JSON.stringify(checks)}`);
