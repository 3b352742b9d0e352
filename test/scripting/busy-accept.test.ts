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
import { RawClient, cmd, show, text, type Resp } from '../helpers/client';
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

/** Sends one command and renders its reply (see show). */
async function reply(c: RawClient, ...args: string[]): Promise<string> {
  return show(await c.call(...args));
}

/** Connects (without waiting for the server to accept: it may be busy). */
function connectTcp(): RawClient {
  return RawClient.over(net.connect(srv.port, '127.0.0.1'));
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
    assert.is(await reply(late, 'PING'), `(error ${BUSY_EVAL})`);
    assert.is(await reply(late, 'GET', 'x'), `(error ${BUSY_EVAL})`);
    assert.is(await reply(killer, 'SCRIPT', 'KILL'), '+OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL/);
    // After the script both are ordinary clients of the host.
    assert.is(await reply(late, 'PING'), '+PONG');
    const killerId = Number(text(await killer.call('CLIENT', 'ID')));
    const lateId = Number(text(await late.call('CLIENT', 'ID')));
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
  const late = RawClient.over(net.connect(path.join(dir, 'forkv.sock')));
  try {
    assert.is(await reply(late, 'PING'), `(error ${BUSY_EVAL})`);
    assert.is(await reply(late, 'SCRIPT', 'KILL'), '+OK');
    await done;
    assert.is(await reply(late, 'SET', 'u', '1'), '+OK');
    const info = await late.call('CLIENT', 'INFO');
    assert.is(info.type, '$');
    assert.match(text(info) ?? '', / flags=U /);
  } finally {
    caller.close();
    late.socket.destroy();
  }
});

/** A TLS client of the test CA (connects without waiting: the server may be busy). */
function connectTls(): RawClient {
  const c = testCerts();
  return RawClient.over(tls.connect({ host: '127.0.0.1', port: tlsPort, ca: fs.readFileSync(c.ca), cert: fs.readFileSync(c.clientCert), key: fs.readFileSync(c.clientKey) }));
}

t('a TLS client connected before a busy script gets -BUSY and SCRIPT KILL stops the script', async () => {
  const early = connectTls();
  assert.is(await reply(early, 'PING'), '+PONG');
  const earlyId = Number(text(await early.call('CLIENT', 'ID')));
  const { caller, done } = await busyScript();
  try {
    assert.is(await reply(early, 'GET', 'x'), `(error ${BUSY_EVAL})`);
    assert.is(await reply(early, 'SCRIPT', 'KILL'), '+OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL/);
    assert.is(await reply(early, 'PING'), '+PONG');
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
    assert.is(await reply(late, 'PING'), `(error ${BUSY_EVAL})`);
    assert.is(await reply(late, 'SCRIPT', 'KILL'), '+OK');
    assert.match(text(await done) ?? '', /^ERR Script killed by user with SCRIPT KILL/);
    // Then an ordinary TLS client of the host, with its address.
    const info = await late.call('CLIENT', 'INFO');
    assert.is(info.type, '$');
    assert.match(text(info) ?? '', new RegExp(` addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${tlsPort} `));
    assert.is(await reply(late, 'SET', 'tls:after', '1'), '+OK');
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
  assert.is(await reply(replica, 'PING'), '+PONG');
  const { caller, done } = await busyScript();
  let ended = false;
  void done.then(() => {
    ended = true;
  });
  try {
    // A replica's handshake and its ACKs: answered (ACK and GETACK from a non-replica
    // silently, as Valkey 8.0.1 does) while the script still runs; PING is refused.
    assert.is(await reply(replica, 'REPLCONF', 'listening-port', '6390'), '+OK');
    assert.is(await reply(replica, 'REPLCONF', 'capa', 'eof', 'capa', 'psync2'), '+OK');
    replica.write(cmd('REPLCONF', 'ACK', '0'));
    replica.write(cmd('REPLCONF', 'GETACK', '*'));
    assert.is(await reply(replica, 'PING'), `(error ${BUSY_EVAL})`);
    assert.not.ok(ended, 'the script was still running');
    assert.is(await reply(replica, 'SCRIPT', 'KILL'), '+OK');
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
    assert.is(await reply(late, 'PING'), '(error NOAUTH Authentication required.)');
    assert.match(await reply(late, 'AUTH', 'nope'), /^\(error WRONGPASS /);
    assert.is(await reply(late, 'AUTH', 'default', 'secret'), '+OK');
    assert.is(await reply(late, 'PING'), `(error ${BUSY_EVAL})`);
    assert.is(await reply(late, 'SCRIPT', 'KILL'), '+OK');
    await done;
    assert.is(await reply(late, 'PING'), '+PONG');
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
    const hello = await late.call('HELLO', '3', 'SETNAME', 'busy-hello');
    const fields = hello.type === '%' ? hello.value.map(([k, v]) => `${show(k)}=${show(v)}`) : [];
    assert.is(fields.length, 7, show(hello));
    assert.is(fields[0], '"server"="valkey"');
    assert.is(fields[2], '"proto"=(int 3)');
    assert.equal(fields.slice(-2), ['"role"="master"', '"modules"=*[]']);
    assert.is(await reply(late, 'HELLO', '4'), '(error NOPROTO unsupported protocol version)');
    assert.is(await reply(late, 'CLIENT', 'SETNAME', 'x'), `(error ${BUSY_EVAL})`);
    assert.is(await reply(late, 'SCRIPT', 'KILL'), '+OK');
    await done;
    const verbatim = await late.call('CLIENT', 'INFO');
    assert.is(verbatim.type, '=', show(verbatim));
    const info = text(verbatim) ?? '';
    assert.match(info, / name=busy-hello /);
    assert.match(info, / resp=3 /);
    // RESET while busy: back to RESP2 and no name, for the host too.
    const again = caller.call('EVAL', 'while true do end', '0');
    await sleep(200);
    assert.is(await reply(late, 'RESET'), '+RESET');
    assert.is(await reply(late, 'SCRIPT', 'KILL'), '+OK');
    await again;
    const bulk = await late.call('CLIENT', 'INFO');
    assert.is(bulk.type, '$', show(bulk));
    const reset = text(bulk) ?? '';
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
    const replies = await Promise.all([reply(third, 'PING'), reply(fourth, 'PING')]);
    // The one accepted kills the script (a fifth client would be refused too).
    const accepted = replies[0] === `(error ${BUSY_EVAL})` ? third : fourth;
    accepted.write(cmd('SCRIPT', 'KILL'));
    await done;
    assert.equal(replies.sort(), [`(error ${BUSY_EVAL})`, '(error ERR max number of clients reached)']);
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
  assert.match(await reply(late, 'SCRIPT', 'KILL'), /^\(error UNKILLABLE /);
  late.write(cmd('SHUTDOWN', 'NOSAVE'));
  const exit = await srv.exited;
  assert.is(exit.code, 0);
  assert.match(srv.output(), /User requested shutdown/);
  caller.close();
  late.socket.destroy();
});

t.run();
