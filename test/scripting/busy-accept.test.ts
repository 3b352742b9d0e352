// Connections made while a script is busy (Valkey accepts them from inside the script):
// plain TCP and unix clients are accepted and get -BUSY, may send SCRIPT KILL, AUTH,
// HELLO and RESET, and stay normal clients afterwards; a TLS client is served once the
// script ends.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { redisCli } from '../helpers/cli';
import { RawClient, cmd, text, type Resp } from '../helpers/client';
import { freePort, startServer, tempDir, type RunningServer } from '../helpers/server';
import { testCerts, tlsArgs } from '../helpers/tls-certs';

const BUSY_EVAL = 'BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.';

const t = suite('connections during a busy script');
let srv: RunningServer;
let dir: string;
let tlsPort: number;

t.before(async () => {
  dir = tempDir('forkv-busy-accept-');
  tlsPort = await freePort();
  srv = await startServer({ args: ['--busy-reply-threshold', '50', '--unixsocket', path.join(dir, 'forkv.sock'), ...tlsArgs(testCerts(), tlsPort)] });
});
t.after(async () => {
  if (srv.proc.exitCode === null) await srv.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A socket that collects what it receives; `line()` waits for the next CRLF-ended line. */
class Lines {
  private buf = '';
  private waiters: Array<() => void> = [];
  constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }
  send(...args: string[]): void {
    this.socket.write(cmd(...args));
  }
  async line(ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buf.indexOf('\r\n');
      if (end >= 0) {
        const l = this.buf.slice(0, end);
        this.buf = this.buf.slice(end + 2);
        return l;
      }
      if (Date.now() > deadline) throw new Error(`no reply within ${ms} ms (got ${JSON.stringify(this.buf)})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

/** Connects (without waiting for the server to accept: it may be busy). */
function connectTcp(): Lines {
  return new Lines(net.connect(srv.port, '127.0.0.1'));
}

/** Starts a spinning EVAL on its own connection; resolves once the server is busy. */
async function busyScript(): Promise<{ caller: RawClient; done: Promise<Resp> }> {
  const caller = await RawClient.connect(srv.port);
  const done = caller.call('EVAL', 'while true do end', '0');
  await sleep(200);
  return { caller, done };
}

t('a TCP client connecting during a busy EVAL gets -BUSY; SCRIPT KILL from a new connection works', async () => {
  const { caller, done } = await busyScript();
  const late = connectTcp();
  const killer = connectTcp();
  try {
    late.send('PING');
    assert.is(await late.line(), `-${BUSY_EVAL}`);
    late.send('GET', 'x');
    assert.is(await late.line(), `-${BUSY_EVAL}`);
    killer.send('SCRIPT', 'KILL');
    assert.is(await killer.line(), '+OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL/);
    // After the script both are ordinary clients of the host.
    late.send('PING');
    assert.is(await late.line(), '+PONG');
    killer.send('CLIENT', 'ID');
    const killerId = Number((await killer.line()).slice(1));
    late.send('CLIENT', 'ID');
    const lateId = Number((await late.line()).slice(1));
    assert.ok(lateId > 0 && killerId > 0 && lateId !== killerId);
    const probe = await RawClient.connect(srv.port);
    const list = text(await probe.call('CLIENT', 'LIST')) ?? '';
    assert.match(list, new RegExp(`^id=${lateId} addr=127\\.0\\.0\\.1:\\d+ `, 'm'));
    // Ids keep growing across the busy loop's accepts and the host's.
    const probeId = Number(text(await probe.call('CLIENT', 'ID')));
    assert.ok(probeId > Math.max(lateId, killerId));
    probe.close();
    const info = text(await caller.call('INFO', 'stats')) ?? '';
    assert.match(info, /total_connections_received:\d+/);
  } finally {
    caller.close();
    late.socket.destroy();
    killer.socket.destroy();
  }
});

t('a unix socket client connecting during a busy script gets -BUSY and stays connected', async () => {
  const { caller, done } = await busyScript();
  const late = new Lines(net.connect(path.join(dir, 'forkv.sock')));
  try {
    late.send('PING');
    assert.is(await late.line(), `-${BUSY_EVAL}`);
    late.send('SCRIPT', 'KILL');
    assert.is(await late.line(), '+OK');
    await done;
    late.send('SET', 'u', '1');
    assert.is(await late.line(), '+OK');
    late.send('CLIENT', 'INFO');
    assert.match(await late.line(), /^\$\d+$/);
    assert.match(await late.line(), / flags=U /);
  } finally {
    caller.close();
    late.socket.destroy();
  }
});

/** A TLS client of the test CA (connects without waiting: the server may be busy). */
function connectTls(): Lines {
  const c = testCerts();
  return new Lines(tls.connect({ host: '127.0.0.1', port: tlsPort, ca: fs.readFileSync(c.ca), cert: fs.readFileSync(c.clientCert), key: fs.readFileSync(c.clientKey) }));
}

t('a TLS client connected before a busy script gets -BUSY and SCRIPT KILL stops the script', async () => {
  const early = connectTls();
  early.send('PING');
  assert.is(await early.line(), '+PONG');
  early.send('CLIENT', 'ID');
  const earlyId = Number((await early.line()).slice(1));
  const { caller, done } = await busyScript();
  try {
    early.send('GET', 'x');
    assert.is(await early.line(), `-${BUSY_EVAL}`);
    early.send('SCRIPT', 'KILL');
    assert.is(await early.line(), '+OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL/);
    early.send('PING');
    assert.is(await early.line(), '+PONG');
    // CLIENT LIST shows the TLS client's own TCP peer and the TLS port, not the bridge.
    const list = text(await caller.call('CLIENT', 'LIST')) ?? '';
    assert.match(list, new RegExp(`^id=${earlyId} addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${tlsPort} `, 'm'));
  } finally {
    caller.close();
    early.socket.destroy();
  }
});

t('a TLS client connecting during a busy script gets -BUSY, and its SCRIPT KILL works', async () => {
  const { caller, done } = await busyScript();
  const late = connectTls();
  try {
    late.send('PING');
    assert.is(await late.line(), `-${BUSY_EVAL}`);
    late.send('SCRIPT', 'KILL');
    assert.is(await late.line(), '+OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL/);
    // Then an ordinary TLS client of the host, with its address.
    late.send('CLIENT', 'INFO');
    assert.match(await late.line(), /^\$\d+$/);
    assert.match(await late.line(), new RegExp(` addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${tlsPort} `));
    late.send('SET', 'tls:after', '1');
    assert.is(await late.line(), '+OK');
  } finally {
    caller.close();
    late.socket.destroy();
  }
});

t('redis-cli --tls gets -BUSY during a busy FCALL and FUNCTION KILL through TLS stops it', async () => {
  const c = testCerts();
  const setup = await RawClient.connect(srv.port);
  await setup.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=spin\nserver.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}");
  const caller = await RawClient.connect(srv.port);
  const done = caller.call('FCALL', 'spin', '0');
  await sleep(200);
  const tlsFlags = ['--tls', '--cacert', c.ca, '--cert', c.clientCert, '--key', c.clientKey];
  try {
    const busy = await redisCli(tlsPort, [...tlsFlags, 'PING']);
    assert.match(busy.stdout, /^BUSY Valkey is busy running a script/);
    const kill = await redisCli(tlsPort, [...tlsFlags, 'FUNCTION', 'KILL']);
    assert.is(kill.stdout.trim(), 'OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL\.\.\. script: spin, on @user_function:2\./);
    const after = await redisCli(tlsPort, [...tlsFlags, 'PING']);
    assert.is(after.stdout.trim(), 'PONG');
  } finally {
    await setup.call('FUNCTION', 'FLUSH');
    setup.close();
    caller.close();
  }
});

t('REPLCONF (allow-busy) is served during a busy script, as Valkey serves a replica from the script hook', async () => {
  const replica = connectTcp();
  replica.send('PING');
  assert.is(await replica.line(), '+PONG');
  const { caller, done } = await busyScript();
  let ended = false;
  void done.then(() => {
    ended = true;
  });
  try {
    // A replica's handshake and its ACKs: answered (ACK and GETACK from a non-replica
    // silently, as Valkey 8.0.1 does) while the script still runs; PING is refused.
    replica.send('REPLCONF', 'listening-port', '6390');
    assert.is(await replica.line(), '+OK');
    replica.send('REPLCONF', 'capa', 'eof', 'capa', 'psync2');
    assert.is(await replica.line(), '+OK');
    replica.send('REPLCONF', 'ACK', '0');
    replica.send('REPLCONF', 'GETACK', '*');
    replica.send('PING');
    assert.is(await replica.line(), `-${BUSY_EVAL}`);
    assert.not.ok(ended, 'the script was still running');
    replica.send('SCRIPT', 'KILL');
    assert.is(await replica.line(), '+OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL/);
  } finally {
    caller.close();
    replica.socket.destroy();
  }
});

t('AUTH is answered during a busy script, for clients old and new', async () => {
  const admin = await RawClient.connect(srv.port);
  assert.is(text(await admin.call('CONFIG', 'SET', 'requirepass', 'secret')), 'OK');
  try {
    const caller = await RawClient.connect(srv.port);
    assert.is(text(await caller.call('AUTH', 'secret')), 'OK');
    const done = caller.call('EVAL', 'while true do end', '0');
    await sleep(200);
    const late = connectTcp();
    late.send('PING');
    assert.is(await late.line(), '-NOAUTH Authentication required.');
    late.send('AUTH', 'nope');
    assert.match(await late.line(), /^-WRONGPASS /);
    late.send('AUTH', 'default', 'secret');
    assert.is(await late.line(), '+OK');
    late.send('PING');
    assert.is(await late.line(), `-${BUSY_EVAL}`);
    late.send('SCRIPT', 'KILL');
    assert.is(await late.line(), '+OK');
    await done;
    late.send('PING');
    assert.is(await late.line(), '+PONG');
    late.socket.destroy();
    caller.close();
  } finally {
    assert.is(text(await admin.call('AUTH', 'secret')), 'OK');
    assert.is(text(await admin.call('CONFIG', 'SET', 'requirepass', '')), 'OK');
    admin.close();
  }
});

t('HELLO and RESET are answered during a busy script, and the host sees their effect afterwards', async () => {
  const { caller, done } = await busyScript();
  const late = connectTcp();
  try {
    late.send('HELLO', '3', 'SETNAME', 'busy-hello');
    assert.is(await late.line(), '%7');
    assert.is(await late.line(), '$6');
    assert.is(await late.line(), 'server');
    assert.is(await late.line(), '$6');
    assert.is(await late.line(), 'valkey');
    const rest: string[] = [];
    for (let l = await late.line(); l !== '*0'; l = await late.line()) rest.push(l); // up to modules: []
    assert.equal(rest.slice(4, 7), ['$5', 'proto', ':3']);
    assert.equal(rest.slice(-6), ['$4', 'role', '$6', 'master', '$7', 'modules']);
    late.send('HELLO', '4');
    assert.is(await late.line(), '-NOPROTO unsupported protocol version');
    late.send('CLIENT', 'SETNAME', 'x');
    assert.is(await late.line(), `-${BUSY_EVAL}`);
    late.send('SCRIPT', 'KILL');
    assert.is(await late.line(), '+OK');
    await done;
    late.send('CLIENT', 'INFO');
    const head = await late.line();
    assert.match(head, /^=\d+$/, head);
    const info = await late.line();
    assert.match(info, / name=busy-hello /);
    assert.match(info, / resp=3 /);
    // RESET while busy: back to RESP2 and no name, for the host too.
    const again = caller.call('EVAL', 'while true do end', '0');
    await sleep(200);
    late.send('RESET');
    assert.is(await late.line(), '+RESET');
    late.send('SCRIPT', 'KILL');
    assert.is(await late.line(), '+OK');
    await again;
    late.send('CLIENT', 'INFO');
    assert.match(await late.line(), /^\$\d+$/);
    const reset = await late.line();
    assert.match(reset, / name= /);
    assert.match(reset, / resp=2 /);
  } finally {
    caller.close();
    late.socket.destroy();
  }
});

t('maxclients applies to connections accepted while busy', async () => {
  const admin = await RawClient.connect(srv.port);
  const before = Number(/rejected_connections:(\d+)/.exec(text(await admin.call('INFO', 'stats')) ?? '')?.[1]);
  assert.is(text(await admin.call('CONFIG', 'SET', 'maxclients', '3')), 'OK');
  try {
    // admin and the caller: a third and a fourth client come in while busy.
    const { caller, done } = await busyScript();
    const third = connectTcp();
    const fourth = connectTcp();
    third.send('PING');
    fourth.send('PING');
    const replies = [await third.line(), await fourth.line()];
    // The one accepted kills the script (a fifth client would be refused too).
    const accepted = replies[0] === `-${BUSY_EVAL}` ? third : fourth;
    accepted.send('SCRIPT', 'KILL');
    await done;
    assert.equal(replies.sort(), [`-${BUSY_EVAL}`, '-ERR max number of clients reached']);
    third.socket.destroy();
    fourth.socket.destroy();
    caller.close();
  } finally {
    assert.is(text(await admin.call('CONFIG', 'SET', 'maxclients', '10000')), 'OK');
  }
  const after = Number(/rejected_connections:(\d+)/.exec(text(await admin.call('INFO', 'stats')) ?? '')?.[1]);
  assert.is(after, before + 1);
  admin.close();
});

// Last: it ends the server.
t('SHUTDOWN NOSAVE from a connection made during the busy script ends the server', async () => {
  const caller = await RawClient.connect(srv.port);
  caller.call('EVAL', "server.call('set', 'w', '1') while true do end", '0').catch(() => undefined);
  await sleep(200);
  const late = connectTcp();
  late.send('SCRIPT', 'KILL');
  assert.match(await late.line(), /^-UNKILLABLE /);
  late.send('SHUTDOWN', 'NOSAVE');
  const exit = await srv.exited;
  assert.is(exit.code, 0);
  assert.match(srv.output(), /User requested shutdown/);
  caller.close();
  late.socket.destroy();
});

t.run();
