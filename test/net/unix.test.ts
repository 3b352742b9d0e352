// The unix socket: `unixsocket` and `unixsocketperm` on forkv-server, clients connecting by
// path (ioredis `path`, node-redis `socket.path`, `redis-cli -s`), CLIENT LIST's fields for
// them, the file removed at shutdown, and the embedded API listening on one.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { createServer } from '../../ts/embedded';
import { ForkvServer } from '../../ts/fixture';
import { startServer, tempDir } from '../helpers/server';

function cliSocket(sock: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('/usr/bin/redis-cli', ['-s', sock, ...args], { encoding: 'utf8', timeout: 20000 }, (_e, out, err) => resolve(out + err));
  });
}

const t = suite('unix socket');

t('unixsocket with unixsocketperm: ioredis, node-redis and redis-cli -s connect by path', async () => {
  const dir = tempDir();
  const sock = path.join(dir, 'forkv.sock');
  const srv = await startServer({ dir, args: ['--unixsocket', sock, '--unixsocketperm', '700'] });
  const io = new Redis({ path: sock, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
  try {
    await srv.waitFor(/Ready to accept connections unix/);
    const st = fs.statSync(sock);
    assert.ok(st.isSocket());
    assert.is(st.mode & 0o777, 0o700);

    assert.is((await cliSocket(sock, ['SET', 'u:k', 'one'])).trim(), 'OK');
    await io.connect();
    assert.is(await io.get('u:k'), 'one');
    const nr = createClient({ socket: { path: sock, tls: false } });
    await nr.connect();
    await nr.set('u:k', 'two');
    assert.is(await io.get('u:k'), 'two');

    // CLIENT LIST / CLIENT INFO as Valkey prints a unix client: addr=<path>:0 laddr=<path>:0 flags=U.
    const info = String(await io.client('INFO'));
    assert.match(info, new RegExp(`addr=${sock.replace(/[.]/g, '\\.')}:0 laddr=${sock.replace(/[.]/g, '\\.')}:0 `));
    assert.match(info, / flags=U /);
    assert.not.match(info, /fd=-1 /);
    // MONITOR shows a unix client as unix:<path> (Valkey's replicationFeedMonitors).
    const mon = await io.monitor();
    const line = new Promise<string>((resolve) => mon.on('monitor', (_time: string, args: string[], source: string) => {
      if (args[0]?.toLowerCase() === 'get') resolve(source);
    }));
    await nr.get('u:k');
    assert.is(await line, `unix:${sock}`);
    mon.disconnect();
    // CLIENT KILL ADDR takes that address.
    const id = await nr.clientId();
    const victimAddr = (await nr.clientInfo()).addr;
    assert.is(victimAddr, `${sock}:0`);
    assert.is(await io.client('KILL', 'ID', String(id)), 1);
    await nr.disconnect().catch(() => undefined);

    const serverInfo = await io.info('server');
    assert.match(serverInfo, new RegExp(`listener1:name=unix,bind=${sock.replace(/[.]/g, '\\.')}`));
    // unixsocket and unixsocketperm are immutable, as in Valkey.
    const refused = await io.config('SET', 'unixsocketperm', '777').then(() => null, (x: Error) => x.message);
    assert.match(String(refused), /can't set immutable config/);
    assert.equal(await io.config('GET', 'unixsocketperm'), ['unixsocketperm', '700']);
  } finally {
    io.disconnect();
    await srv.stop();
  }
  assert.match(srv.output(), /Removing the unix socket file\./);
  assert.is(fs.existsSync(sock), false);
});

t('port 0 with a unix socket: the socket is the only listener; SHUTDOWN removes the file', async () => {
  const dir = tempDir();
  const sock = path.join(dir, 's.sock');
  // A stale file left by a crash is replaced, as Valkey unlinks before binding.
  fs.writeFileSync(sock, 'stale');
  const srv = await startServer({ dir, bare: true, port: 0, args: ['--unixsocket', sock, '--save', '', '--dir', dir] });
  await srv.waitFor(/Ready to accept connections unix/);
  assert.not.match(srv.output(), /Ready to accept connections tcp/);
  assert.ok(fs.statSync(sock).isSocket());
  assert.match(await cliSocket(sock, ['INFO', 'server']), /tcp_port:0/);
  await cliSocket(sock, ['SHUTDOWN', 'NOSAVE']);
  const exit = await srv.exited;
  assert.is(exit.code, 0);
  assert.is(fs.existsSync(sock), false);
});

t('a unix socket that cannot be created stops start-up', async () => {
  const srv = await startServer({ waitReady: false, args: ['--unixsocket', '/nonexistent-dir/x.sock'] });
  const exit = await srv.exited;
  assert.is(exit.code, 1);
  assert.match(srv.output(), /Failed opening Unix socket: /);
});

t('unixsocketgroup gives the socket file to that group (after unixsocketperm); an unknown group stops start-up', async () => {
  // A group other than our own primary group, so that the chown is visible.
  const own = fs.statSync(tempDir()).gid;
  const other = fs.readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':'))
    .find((f) => f.length >= 3 && f[0] !== '' && Number(f[2]) !== own);
  assert.ok(other, 'no second group in /etc/group');
  const [name, , gid] = other;
  const dir = tempDir();
  const sock = path.join(dir, 'g.sock');
  const srv = await startServer({ dir, args: ['--unixsocket', sock, '--unixsocketperm', '744', '--unixsocketgroup', name!] });
  try {
    await srv.waitFor(/Ready to accept connections unix/);
    const st = fs.statSync(sock);
    assert.is(st.gid, Number(gid));
    assert.is(st.mode & 0o777, 0o744);
    assert.is((await cliSocket(sock, ['CONFIG', 'GET', 'unixsocketgroup'])).trim(), `unixsocketgroup\n${name}`);
  } finally {
    await srv.stop();
  }
  // Valkey resolves names with getgrnam only, and prints strerror(0) for an unknown one.
  const bad = await startServer({ waitReady: false, args: ['--unixsocket', path.join(dir, 'b.sock'), '--unixsocketgroup', 'no-such-group-x'] });
  assert.is((await bad.exited).code, 1);
  assert.match(bad.output(), /Failed opening Unix socket: getgrnam error for group 'no-such-group-x': Success/);
});

t('protected mode treats unix clients as local', async () => {
  const dir = tempDir();
  const sock = path.join(dir, 'p.sock');
  // Bound to every address, no password: only local clients get in; the socket is local.
  const srv = await startServer({ dir, args: ['--bind', '0.0.0.0', '--unixsocket', sock, '--protected-mode', 'yes'] });
  try {
    await srv.waitFor(/Ready to accept connections unix/);
    assert.is((await cliSocket(sock, ['PING'])).trim(), 'PONG');
  } finally {
    await srv.stop();
  }
});

t.run();

const e = suite('embedded unix socket');

e('createServer({ port: null, unixSocket }) listens only on the socket; close() removes it', async () => {
  const dir = tempDir();
  const sock = path.join(dir, 'embedded.sock');
  const server = await createServer({ port: null, unixSocket: sock, unixSocketPerm: 0o770, config: { save: '' } });
  assert.is(server.socketPath, sock);
  assert.is(server.port, 0);
  assert.is(server.url, `unix://${sock}`);
  assert.is(fs.statSync(sock).mode & 0o777, 0o770);
  const io = new Redis({ path: sock, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
  await io.connect();
  await io.set('e:k', 'v');
  assert.is(await io.get('e:k'), 'v');
  io.disconnect();
  // No TCP listener at all.
  assert.is(server.server.boundAddresses.length, 0);
  await server.close();
  assert.is(fs.existsSync(sock), false);
});

e('createServer with both a TCP port and a unix socket serves one keyspace on both', async () => {
  const sock = path.join(tempDir(), 'both.sock');
  const server = await createServer({ unixSocket: sock, config: { save: '' } });
  try {
    assert.ok(server.port > 0);
    const overTcp = new Redis({ port: server.port, host: server.host, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    const overSock = new Redis({ path: sock, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    await overTcp.connect();
    await overSock.connect();
    await overTcp.set('both', '1');
    assert.is(await overSock.get('both'), '1');
    overTcp.disconnect();
    overSock.disconnect();
  } finally {
    await server.close();
  }
});

e('ForkvServer in a child process on a unix socket', async () => {
  const sock = path.join(tempDir(), 'child.sock');
  const fs1 = await ForkvServer.create({ mode: 'child-process', port: null, unixSocket: sock, config: { save: '' } });
  try {
    assert.is(await fs1.getSocketPath(), sock);
    const io = new Redis({ path: sock, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    await io.connect();
    assert.is(await io.ping(), 'PONG');
    io.disconnect();
    // A plain TCP connect finds nothing: the child has no TCP listener.
    const port = await fs1.getPort();
    assert.is(port, 0);
  } finally {
    await fs1.stop();
  }
  assert.is(fs.existsSync(sock), false);
});

e('port: null without a unix socket or TLS port refuses to start', async () => {
  const refused = await createServer({ port: null }).then(async (srv) => {
    await srv.close();
    return null;
  }, (x: Error) => x.message);
  assert.match(String(refused), /Configured to not listen anywhere/);
});

e.run();

