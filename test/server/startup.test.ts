// Start-up, configuration errors, logging and signals of the real forkv-server process.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { redisCli } from '../helpers/cli';
import { freePort, startServer, tempDir } from '../helpers/server';

const t = suite('startup');

t('logs the banner with PID, Server initialized and Ready in Valkey format', async () => {
  const srv = await startServer();
  const out = srv.output();
  assert.match(out, new RegExp(` PID: ${srv.pid}`));
  assert.match(out, /^\d+:M \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} \* Server initialized$/m);
  assert.match(out, /\* Ready to accept connections tcp/);
  const r = await srv.stop('SIGTERM');
  assert.is(r.code, 0);
  assert.match(srv.output(), /Received SIGTERM scheduling shutdown/);
  assert.match(srv.output(), /ready to exit, bye bye/);
});

t('proc-title-template sets the process title once listening, and again on CONFIG SET', async () => {
  const srv = await startServer({ args: ['--proc-title-template', 'forkv-test {port} {listen-addr}{server-mode}'] });
  const title = (): string => fs.readFileSync(`/proc/${srv.pid}/cmdline`, 'latin1').replace(/\0+$/, '').split('\0')[0]!;
  try {
    assert.is(title(), `forkv-test ${srv.port} 127.0.0.1:${srv.port}`);
    assert.is((await redisCli(srv.port, ['config', 'set', 'proc-title-template', '{{x {port}'])).stdout.trim(), 'OK');
    assert.is(title(), `{x ${srv.port}`);
    assert.match((await redisCli(srv.port, ['config', 'set', 'proc-title-template', '{nosuch}'])).stdout, /template format is invalid or contains unknown variables/);
    assert.is(title(), `{x ${srv.port}`);
  } finally {
    await srv.stop();
  }
});

t('CONFIG SET of a directive forkv does not honour is written to the log', async () => {
  const srv = await startServer();
  try {
    assert.is((await redisCli(srv.port, ['config', 'set', 'active-defrag-cycle-min', '7'])).stdout.trim(), 'OK');
    assert.is((await redisCli(srv.port, ['config', 'get', 'active-defrag-cycle-min'])).stdout.trim(), 'active-defrag-cycle-min\n7');
    assert.match(srv.output(), /# CONFIG SET 'active-defrag-cycle-min' is not implemented by forkv; the value is accepted/);
    assert.is((await redisCli(srv.port, ['config', 'set', 'hz', '20'])).stdout.trim(), 'OK');
    assert.not.match(srv.output(), /CONFIG SET 'hz'/);
  } finally {
    await srv.stop();
  }
});

t('SIGINT shuts down cleanly too', async () => {
  const srv = await startServer();
  const r = await srv.stop('SIGINT');
  assert.is(r.code, 0);
  assert.match(srv.output(), /Received SIGINT scheduling shutdown/);
});

t('a port in use fails fast with Valkey wording', async () => {
  const port = await freePort();
  const blocker = net.createServer().listen(port, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const srv = await startServer({ port, waitReady: false, args: ['--bind', '127.0.0.1'] });
  const r = await srv.exited;
  blocker.close();
  assert.is(r.code, 1);
  assert.match(srv.output(), new RegExp(`Failed listening on port ${port} \\(tcp\\), aborting\\.`));
  assert.match(srv.output(), /Address already in use/);
});

t('an unknown directive stops start-up with FATAL CONFIG FILE ERROR and the line', async () => {
  const dir = tempDir();
  const conf = path.join(dir, 'bad.conf');
  fs.writeFileSync(conf, '# comment\nport 7000\nno-such-directive yes\n');
  const srv = await startServer({ configFile: conf, waitReady: false });
  const r = await srv.exited;
  assert.is(r.code, 1);
  const out = srv.output();
  assert.match(out, /\*\*\* FATAL CONFIG FILE ERROR/);
  assert.match(out, /Reading the configuration file, at line 3/);
  assert.match(out, />>> 'no-such-directive yes'/);
  assert.match(out, /Bad directive or wrong number of arguments/);
});

t('a bad value names the problem', async () => {
  const srv = await startServer({ waitReady: false, args: ['--databases', 'many'] });
  const r = await srv.exited;
  assert.is(r.code, 1);
  assert.match(srv.output(), /argument couldn't be parsed into an integer/);
});

t('config file with include, quoted arguments and logfile', async () => {
  const dir = tempDir();
  const inc = path.join(dir, 'inc.conf');
  const log = path.join(dir, 'server.log');
  fs.writeFileSync(inc, 'databases 4\n');
  const conf = path.join(dir, 'main.conf');
  fs.writeFileSync(conf, `include ${inc}\nrequirepass "s3cr et"\nlogfile "${log}"\n`);
  const port = await freePort();
  const srv = await startServer({ configFile: conf, port, waitReady: false });
  const deadline = Date.now() + 10000;
  while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('Ready to accept connections')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(fs.readFileSync(log, 'utf8'), /Ready to accept connections tcp/);
  const noauth = await redisCli(port, ['get', 'x']);
  assert.match(noauth.stdout, /NOAUTH Authentication required/);
  const ok = await redisCli(port, ['-a', 's3cr et', '--no-auth-warning', 'config', 'get', 'databases']);
  assert.is(ok.stdout.trim(), 'databases\n4');
  const sel = await redisCli(port, ['-a', 's3cr et', '--no-auth-warning', '-n', '4', 'ping']);
  assert.match(sel.stdout + sel.stderr, /DB index is out of range/);
  await srv.stop();
});

t('a directive Valkey knows but forkv does not implement is accepted with a warning', async () => {
  const srv = await startServer({ args: ['--active-defrag-cycle-min', '4'] });
  assert.match(srv.output(), /'active-defrag-cycle-min' is not implemented by forkv/);
  const r = await redisCli(srv.port, ['ping']);
  assert.is(r.stdout.trim(), 'PONG');
  await srv.stop();
});

t('io-threads other than 1 is refused at startup and is immutable for CONFIG SET', async () => {
  const bad = await startServer({ waitReady: false, args: ['--io-threads', '4'] });
  const r = await bad.exited;
  assert.is(r.code, 1);
  assert.match(bad.output(), />>> 'io-threads "?4"?'\nforkv runs no I\/O threads: io-threads must be 1/);
  const srv = await startServer({ args: ['--io-threads', '1'] });
  assert.is((await redisCli(srv.port, ['config', 'get', 'io-threads'])).stdout.trim(), 'io-threads\n1');
  assert.match((await redisCli(srv.port, ['config', 'set', 'io-threads', '2'])).stdout, /can't set immutable config/);
  await srv.stop();
});

t('io-threads-do-reads: an immutable yes/no as in valkey-server 8.0.1, listed, kept by CONFIG REWRITE', async () => {
  const dir = tempDir();
  const conf = path.join(dir, 'forkv.conf');
  fs.writeFileSync(conf, 'io-threads-do-reads no\n');
  const srv = await startServer({ configFile: conf, dir });
  try {
    assert.is((await redisCli(srv.port, ['config', 'get', 'io-threads-do-reads'])).stdout.trim(), 'io-threads-do-reads\nno');
    assert.match((await redisCli(srv.port, ['config', 'get', '*'])).stdout, /\nio-threads-do-reads\nno\n/);
    assert.match((await redisCli(srv.port, ['config', 'set', 'io-threads-do-reads', 'yes'])).stdout, /ERR CONFIG SET failed \(possibly related to argument 'io-threads-do-reads'\) - can't set immutable config/);
    assert.is((await redisCli(srv.port, ['config', 'rewrite'])).stdout.trim(), 'OK');
    assert.match(fs.readFileSync(conf, 'utf8'), /^io-threads-do-reads no$/m);
    assert.not.match(srv.output(), /io-threads-do-reads.*(deprecated|ignored)/);
  } finally {
    await srv.stop();
  }
  const dflt = await startServer();
  try {
    assert.is((await redisCli(dflt.port, ['config', 'get', 'io-threads-do-reads'])).stdout.trim(), 'io-threads-do-reads\nyes');
  } finally {
    await dflt.stop();
  }
  const bad = await startServer({ waitReady: false, args: ['--io-threads-do-reads', 'maybe'] });
  assert.is((await bad.exited).code, 1);
  assert.match(bad.output(), />>> 'io-threads-do-reads "?maybe"?'\nargument must be 'yes' or 'no'/);
});

t('daemonize yes is refused with a clear message', async () => {
  const srv = await startServer({ waitReady: false, args: ['--daemonize', 'yes'] });
  const r = await srv.exited;
  assert.is(r.code, 1);
  assert.match(srv.output(), /daemonize/);
});

t.run();
