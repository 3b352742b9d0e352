// TLS on forkv-server through real clients: redis-cli --tls, ioredis and node-redis with
// certificates made by openssl at test time; tls-auth-clients yes/no/optional, tls-protocols,
// tls-ciphers with tls-prefer-server-ciphers, an encrypted key, the session cache, CONFIG SET
// reloading the context and moving the ports, start-up refusals with Valkey's log lines.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { redisCli } from '../helpers/cli';
import { freePort, startServer, type RunningServer } from '../helpers/server';
import { testCerts, tlsArgs, type TestCerts } from '../helpers/tls-certs';

const t = suite('tls');

let certs: TestCerts;
let srv: RunningServer;
let tlsPort: number;

t.before(async () => {
  certs = testCerts();
  tlsPort = await freePort();
  srv = await startServer({ args: [...tlsArgs(certs, tlsPort), '--bind', '127.0.0.1'] });
});

t.after(async () => {
  await srv.stop();
});

/** Options for a client that trusts our CA, with or without a client certificate. */
function clientTls(withCert: boolean, extra: tls.ConnectionOptions = {}): tls.ConnectionOptions {
  return {
    ca: fs.readFileSync(certs.ca),
    ...(withCert ? { cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) } : {}),
    ...extra,
  };
}

/** Opens a raw TLS connection and sends PING: resolves with the reply text or the error. */
function tlsPing(port: number, opts: tls.ConnectionOptions): Promise<{ reply: string | null; socket: tls.TLSSocket | null; error: string | null }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...opts });
    let buf = '';
    let settled = false;
    const finish = (r: { reply: string | null; socket: tls.TLSSocket | null; error: string | null }): void => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    s.once('secureConnect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.endsWith('\r\n')) finish({ reply: buf.trim().replace(/^\+/, ''), socket: s, error: null });
    });
    s.on('error', (e) => finish({ reply: null, socket: null, error: e.message }));
    s.on('close', () => finish({ reply: buf === '' ? null : buf.trim(), socket: null, error: 'closed' }));
    setTimeout(() => finish({ reply: null, socket: null, error: 'timeout' }), 5000).unref();
  });
}

/** redis-cli over TLS (Debian's redis-tools is built with TLS). */
function redisCliTls(port: number, args: string[], withCert = true): Promise<{ stdout: string; stderr: string; code: number }> {
  const tlsFlags = ['--tls', '--cacert', certs.ca, ...(withCert ? ['--cert', certs.clientCert, '--key', certs.clientKey] : [])];
  return redisCli(port, [...tlsFlags, ...args]);
}

async function configSet(name: string, value: string): Promise<string> {
  const r = await redisCli(srv.port, ['CONFIG', 'SET', name, value]);
  return r.stdout.trim();
}

t('plain and TLS ports at once: redis-cli --tls, ioredis and node-redis with a client certificate', async () => {
  assert.match(srv.output(), /Ready to accept connections tcp/);
  await srv.waitFor(/Ready to accept connections tls/);
  const cli = await redisCliTls(tlsPort, ['SET', 'tls:k', 'v1']);
  assert.is(cli.stdout.trim(), 'OK');
  const io = new Redis({ host: '127.0.0.1', port: tlsPort, tls: clientTls(true), maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
  await io.connect();
  assert.is(await io.get('tls:k'), 'v1');
  await io.set('tls:k', 'v2');
  const nr = createClient({
    socket: { host: '127.0.0.1', port: tlsPort, tls: true, ca: fs.readFileSync(certs.ca), cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) },
  });
  await nr.connect();
  assert.is(await nr.get('tls:k'), 'v2');
  await nr.quit();
  // The plain port serves the same keyspace.
  assert.is((await redisCli(srv.port, ['GET', 'tls:k'])).stdout.trim(), 'v2');
  // CLIENT LIST shows the TLS client with its TCP address and descriptor.
  const list = await io.client('LIST');
  const line = String(list).split('\n').find((l) => l.includes(`laddr=127.0.0.1:${tlsPort}`));
  assert.ok(line, String(list));
  assert.match(line, /addr=127\.0\.0\.1:\d+ /);
  assert.not.match(line, /fd=-1 /);
  io.disconnect();
});

t('a plain client on the TLS port gets no reply (the handshake fails)', async () => {
  const reply = await new Promise<string>((resolve) => {
    const s = net.connect(tlsPort, '127.0.0.1', () => s.write('PING\r\n'));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
  assert.not.match(reply, /PONG/);
});

t('INFO lists the tcp and tls listeners as Valkey does', async () => {
  const info = (await redisCli(srv.port, ['INFO', 'server'])).stdout;
  assert.match(info, new RegExp(`listener0:name=tcp,bind=127\\.0\\.0\\.1,port=${srv.port}`));
  assert.match(info, new RegExp(`listener2:name=tls,bind=127\\.0\\.0\\.1,port=${tlsPort}`));
});

t('tls-auth-clients yes / no / optional, read at each new connection', async () => {
  // yes (the default): no certificate, no connection.
  assert.is((await tlsPing(tlsPort, clientTls(false))).reply, null);
  assert.is((await tlsPing(tlsPort, clientTls(true))).reply, 'PONG');
  const cli = await redisCliTls(tlsPort, ['PING'], false);
  assert.not.match(cli.stdout, /PONG/);
  // A certificate from a CA the server does not know is refused.
  const stranger = { cert: fs.readFileSync(certs.strangerCert), key: fs.readFileSync(certs.strangerKey) };
  assert.is((await tlsPing(tlsPort, clientTls(false, stranger))).reply, null);

  assert.is(await configSet('tls-auth-clients', 'no'), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(false))).reply, 'PONG');
  assert.is((await redisCliTls(tlsPort, ['PING'], false)).stdout.trim(), 'PONG');

  assert.is(await configSet('tls-auth-clients', 'optional'), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(false))).reply, 'PONG');
  assert.is((await tlsPing(tlsPort, clientTls(true))).reply, 'PONG');
  assert.is((await tlsPing(tlsPort, clientTls(false, stranger))).reply, null);

  assert.is(await configSet('tls-auth-clients', 'yes'), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(false))).reply, null);
});

t('tls-protocols TLSv1.2 refuses a TLSv1.3-only client; "" restores the default', async () => {
  assert.is(await configSet('tls-protocols', 'TLSv1.2'), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(true, { minVersion: 'TLSv1.3' }))).reply, null);
  const ok12 = await tlsPing(tlsPort, clientTls(true));
  assert.is(ok12.reply, 'PONG');
  assert.is(ok12.socket?.getProtocol(), 'TLSv1.2');
  ok12.socket?.destroy();
  assert.is(await configSet('tls-protocols', ''), 'OK');
  const ok13 = await tlsPing(tlsPort, clientTls(true));
  assert.is(ok13.socket?.getProtocol(), 'TLSv1.3');
  ok13.socket?.destroy();
  // A bad value is refused and logged as Valkey logs it; the context stays as it was.
  assert.match(await configSet('tls-protocols', 'TLSv9'), /Unable to update TLS configuration\. Check server logs\./);
  await srv.waitFor(/Invalid tls-protocols specified\. Use a combination of 'TLSv1', 'TLSv1\.1', 'TLSv1\.2' and 'TLSv1\.3'\./);
  assert.is((await tlsPing(tlsPort, clientTls(true))).reply, 'PONG');
});

t('tls-ciphers and tls-prefer-server-ciphers decide the cipher (Valkey unit/tls)', async () => {
  assert.is(await configSet('tls-protocols', 'TLSv1.2'), 'OK');
  assert.is(await configSet('tls-ciphers', 'DEFAULT:-AES128-SHA256'), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(true, { ciphers: 'AES128-SHA256', maxVersion: 'TLSv1.2' }))).reply, null);
  assert.is((await tlsPing(tlsPort, clientTls(true, { ciphers: 'AES256-SHA256', maxVersion: 'TLSv1.2' }))).reply, 'PONG');

  assert.is(await configSet('tls-ciphers', 'AES128-SHA256:AES256-SHA256'), 'OK');
  const clientOrder = clientTls(true, { ciphers: 'AES256-SHA256:AES128-SHA256', maxVersion: 'TLSv1.2' });
  const a = await tlsPing(tlsPort, clientOrder);
  assert.is(a.socket?.getCipher().name, 'AES256-SHA256');
  a.socket?.destroy();
  assert.is(await configSet('tls-prefer-server-ciphers', 'yes'), 'OK');
  const b = await tlsPing(tlsPort, clientOrder);
  assert.is(b.socket?.getCipher().name, 'AES128-SHA256');
  b.socket?.destroy();

  assert.match(await configSet('tls-ciphers', 'NO-SUCH-CIPHER'), /Unable to update TLS configuration/);
  await srv.waitFor(/Failed to configure ciphers: NO-SUCH-CIPHER/);
  assert.match(await configSet('tls-ciphersuites', 'TLS_NO_SUCH_SUITE'), /Unable to update TLS configuration/);
  await srv.waitFor(/Failed to configure ciphersuites: TLS_NO_SUCH_SUITE/);
  for (const [k, v] of [['tls-prefer-server-ciphers', 'no'], ['tls-ciphers', ''], ['tls-protocols', '']] as const) assert.is(await configSet(k, v), 'OK');
});

t('tls-ciphersuites limits the TLSv1.3 suites', async () => {
  assert.is(await configSet('tls-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256'), 'OK');
  const r = await tlsPing(tlsPort, clientTls(true));
  assert.is(r.socket?.getCipher().name, 'TLS_CHACHA20_POLY1305_SHA256');
  r.socket?.destroy();
  assert.is(await configSet('tls-ciphersuites', ''), 'OK');
});

t('an encrypted key needs tls-key-file-pass (Valkey unit/tls)', async () => {
  assert.match(await configSet('tls-key-file', certs.serverKeyEncrypted), /Unable to update TLS configuration/);
  await srv.waitFor(/Failed to load private key: .*server\.key\.encrypted/);
  assert.is(await configSet('tls-key-file-pass', 'secret-pass'), 'OK');
  assert.is(await configSet('tls-key-file', certs.serverKeyEncrypted), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(true))).reply, 'PONG');
  const pass = await redisCli(srv.port, ['CONFIG', 'GET', 'tls-key-file-pass']);
  assert.match(pass.stdout, /secret-pass/);
  assert.is(await configSet('tls-key-file', certs.serverKey), 'OK');
});

t('CONFIG SET of a missing certificate is refused and the old context keeps serving', async () => {
  assert.match(await configSet('tls-cert-file', '/nonexistent/server.crt'), /Unable to update TLS configuration/);
  await srv.waitFor(/Failed to load certificate: \/nonexistent\/server\.crt: No such file or directory/);
  assert.is((await redisCli(srv.port, ['CONFIG', 'GET', 'tls-cert-file'])).stdout.trim().split('\n')[1], certs.serverCert);
  assert.is((await tlsPing(tlsPort, clientTls(true))).reply, 'PONG');
});

t('tls-ca-cert-dir: a CA from the directory verifies clients', async () => {
  assert.is(await configSet('tls-ca-cert-dir', certs.caDir), 'OK');
  assert.is(await configSet('tls-ca-cert-file', ''), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(true))).reply, 'PONG');
  // With neither file nor directory, client authentication cannot work: refused.
  assert.match(await configSet('tls-ca-cert-dir', ''), /Unable to update TLS configuration/);
  await srv.waitFor(/Either tls-ca-cert-file or tls-ca-cert-dir must be specified/);
  assert.is(await configSet('tls-ca-cert-file', certs.ca), 'OK');
  assert.is(await configSet('tls-ca-cert-dir', ''), 'OK');
});

t('tls-session-caching: a TLSv1.2 session ID is resumed while caching is on, not after it is off', async () => {
  assert.is(await configSet('tls-protocols', 'TLSv1.2'), 'OK');
  // The client refuses tickets, so only the server's session-ID cache can resume.
  const noTicket = clientTls(true, { secureOptions: crypto.constants.SSL_OP_NO_TICKET, maxVersion: 'TLSv1.2' });
  const first = await tlsPing(tlsPort, noTicket);
  const session = first.socket?.getSession();
  first.socket?.destroy();
  assert.ok(session);
  const again = await tlsPing(tlsPort, { ...noTicket, session });
  assert.is(again.socket?.isSessionReused(), true);
  again.socket?.destroy();

  assert.is(await configSet('tls-session-caching', 'no'), 'OK');
  const fresh = await tlsPing(tlsPort, noTicket);
  const s2 = fresh.socket?.getSession();
  fresh.socket?.destroy();
  const notReused = await tlsPing(tlsPort, { ...noTicket, session: s2 });
  assert.is(notReused.socket?.isSessionReused(), false);
  notReused.socket?.destroy();
  assert.is(await configSet('tls-session-caching', 'yes'), 'OK');
  assert.is(await configSet('tls-protocols', ''), 'OK');
});

t('switching between the tcp and tls ports with CONFIG SET (Valkey unit/tls)', async () => {
  const port = await freePort();
  assert.is((await redisCli(srv.port, ['CONFIG', 'SET', 'tls-port', String(port)])).stdout.trim(), 'OK');
  assert.is((await tlsPing(port, clientTls(true))).reply, 'PONG');
  assert.is((await tlsPing(tlsPort, clientTls(true))).error !== null, true);
  // A port in use is refused and the old one kept.
  assert.match((await redisCli(srv.port, ['CONFIG', 'SET', 'tls-port', String(srv.port)])).stdout, /Unable to listen on this port\. Check server logs\./);
  assert.is((await redisCli(srv.port, ['CONFIG', 'GET', 'tls-port'])).stdout.trim().split('\n')[1], String(port));
  assert.is((await tlsPing(port, clientTls(true))).reply, 'PONG');
  // Same client, over TLS: close the TLS port, move the plain port, and back.
  const io = new Redis({ host: '127.0.0.1', port, tls: clientTls(true), maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
  await io.connect();
  const plain = await freePort();
  assert.is(await io.config('SET', 'tls-port', '0'), 'OK');
  assert.is(await io.config('SET', 'port', String(plain)), 'OK');
  assert.is(await io.ping(), 'PONG'); // connections stay when their port closes, as in Valkey
  io.disconnect();
  assert.is((await redisCli(plain, ['PING'])).stdout.trim(), 'PONG');
  assert.is((await redisCli(srv.port, ['PING'])).code !== 0 || (await redisCli(srv.port, ['PING'])).stdout.trim() !== 'PONG', true);
  assert.is((await redisCli(plain, ['CONFIG', 'SET', 'tls-port', String(tlsPort)])).stdout.trim(), 'OK');
  assert.is((await redisCli(plain, ['CONFIG', 'SET', 'port', String(srv.port)])).stdout.trim(), 'OK');
  assert.is((await tlsPing(tlsPort, clientTls(true))).reply, 'PONG');
});

t.run();

const s = suite('tls start-up');

async function startFails(args: string[]): Promise<string> {
  const port = await freePort();
  const r = await startServer({ waitReady: false, args: ['--bind', '127.0.0.1', ...args.map((a) => a.replace('$TLSPORT', String(port)))] });
  const exit = await r.exited;
  assert.is(exit.code, 1, r.output());
  return r.output();
}

s('port 0 with only a tls-port: TLS is the only listener', async () => {
  const c = testCerts();
  const port = await freePort();
  const r = await startServer({ bare: true, args: [...tlsArgs(c, port), '--bind', '127.0.0.1', '--save', '', '--dir', c.dir], port: 0 });
  try {
    await r.waitFor(/Ready to accept connections tls/);
    assert.not.match(r.output(), /Ready to accept connections tcp/);
    const cli = await new Promise<string>((resolve) => {
      execFile('/usr/bin/redis-cli', ['--tls', '--cacert', c.ca, '--cert', c.clientCert, '--key', c.clientKey, '-p', String(port), 'INFO', 'server'], { encoding: 'utf8' }, (_e, out) => resolve(out));
    });
    assert.match(cli, /tcp_port:0/);
    assert.match(cli, new RegExp(`listener2:name=tls,bind=127\\.0\\.0\\.1,port=${port}`));
    assert.not.match(cli, /listener0/);
  } finally {
    await r.stop();
  }
});

s('a missing certificate stops start-up with Valkey log lines', async () => {
  const c = testCerts();
  const out = await startFails(['--tls-port', '$TLSPORT', '--tls-cert-file', '/nonexistent.crt', '--tls-key-file', c.serverKey, '--tls-ca-cert-file', c.ca]);
  assert.match(out, /Failed to load certificate: \/nonexistent\.crt: No such file or directory/);
  assert.match(out, /Failed to configure TLS\. Check logs for more info\./);
});

s('tls-auth-clients needs a CA; no tls-key-file is refused', async () => {
  const c = testCerts();
  const noCa = await startFails(['--tls-port', '$TLSPORT', '--tls-cert-file', c.serverCert, '--tls-key-file', c.serverKey]);
  assert.match(noCa, /Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!/);
  const noKey = await startFails(['--tls-port', '$TLSPORT', '--tls-cert-file', c.serverCert]);
  assert.match(noKey, /No tls-key-file configured!/);
});

s('unusable DH parameters are refused, not dropped', async () => {
  const c = testCerts();
  const bad = `${c.dir}/bad-dh.pem`;
  fs.writeFileSync(bad, '-----BEGIN DH PARAMETERS-----\nbm90IGRoIHBhcmFtcw==\n-----END DH PARAMETERS-----\n');
  const out = await startFails([...tlsArgs(c, 0).slice(2), '--tls-port', '$TLSPORT', '--tls-dh-params-file', bad]);
  assert.match(out, /bad-dh\.pem: failed to read DH params\./);
});

s('an encrypted key with its passphrase in the config starts', async () => {
  const c = testCerts();
  const port = await freePort();
  const r = await startServer({ args: ['--bind', '127.0.0.1', '--tls-port', String(port), '--tls-cert-file', c.serverCert, '--tls-key-file', c.serverKeyEncrypted, '--tls-key-file-pass', 'secret-pass', '--tls-auth-clients', 'no'] });
  try {
    const io = new Redis({ host: '127.0.0.1', port, tls: { ca: fs.readFileSync(c.ca) }, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    await io.connect();
    assert.is(await io.ping(), 'PONG');
    io.disconnect();
  } finally {
    await r.stop();
  }
});

s.run();
