// forkv-server's command line as an operator meets it: --help, --version, --test-conf,
// --check-system, port 0, daemonize, pidfile, logfile, include, CONFIG REWRITE through the
// real server, and the start-up system checks.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { redisCli } from '../helpers/cli';
import { CLI, startServer, tempDir } from '../helpers/server';

const t = suite('cli');

function cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

async function waitFile(file: string, re: RegExp, ms = 10000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (re.test(text)) return text;
    if (Date.now() > end) throw new Error(`timeout waiting for ${re} in ${file}:\n${text}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

t('--help prints the usage (with the forkv modes) to stderr and exits 1, as valkey-server', async () => {
  const r = await cli(['--help']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /^Usage: \.\/forkv-server \[\/path\/to\/valkey\.conf\] \[options\] \[-\]/);
  assert.match(r.stderr, /--test-conf \/path\/to\/valkey\.conf/);
  assert.match(r.stderr, /--check-system/);
});

t('--version prints the version and exits 0', async () => {
  const r = await cli(['--version']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^forkv server v=\d+\.\d+\.\d+ valkey-compat=\d+\.\d+\.\d+ bits=64/);
});

t('--test-conf: OK and exit 0 for a good file (includes followed), Valkey\'s FATAL text and exit 1 for a bad one', async () => {
  const dir = tempDir();
  const inc = path.join(dir, 'extra.conf');
  fs.writeFileSync(inc, 'maxclients 100\n');
  const good = path.join(dir, 'good.conf');
  fs.writeFileSync(good, `# ok\nport 7000\ninclude ${inc}\n`);
  const ok = await cli(['--test-conf', good]);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.stdout, `Configuration ${good} OK\n`);

  fs.writeFileSync(inc, 'maxclients lots\n');
  const badInclude = await cli(['--test-conf', good]);
  assert.is(badInclude.code, 1);
  assert.match(badInclude.stderr, /\*\*\* FATAL CONFIG FILE ERROR \(Version [^)]+\) \*\*\*/);
  assert.match(badInclude.stderr, />>> 'maxclients lots'/);

  const bad = path.join(dir, 'bad.conf');
  fs.writeFileSync(bad, 'port 6379\nport abc\n');
  const r = await cli(['--test-conf', bad]);
  assert.is(r.code, 1);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /Reading the configuration file, at line 2\n>>> 'port abc'\nargument couldn't be parsed into an integer/);

  // command-line options are checked too, as a start would read them
  const opt = await cli(['--test-conf', good, '--hz', 'x']);
  assert.is(opt.code, 1);
  const usage = await cli(['--test-conf']);
  assert.is(usage.code, 1);
  assert.match(usage.stderr, /^Usage: \.\/forkv-server --test-conf/);
  // stdin, as `-`
  const stdin = await cli(['--test-conf', '-'], 'port 7001\n');
  assert.is(stdin.code, 0, stdin.stderr);
});

t('--check-system prints valkey-server\'s check lines', async () => {
  const r = await cli(['--check-system']);
  assert.match(r.stdout, /^\[overcommit\]\.\.\.(OK|skipped|WARNING:\nMemory overcommit must be enabled! [^\n]+)\n\[THP\]\.\.\.(OK|skipped|WARNING:\n[^\n]+)\n$/);
  assert.is(r.code, r.stdout.includes('WARNING:') ? 1 : 0);
});

t('port 0 on the command line means "no TCP listener": forkv refuses to start, as Valkey without a unix socket', async () => {
  const srv = await startServer({ port: 0, waitReady: false });
  const r = await srv.exited;
  assert.is(r.code, 1);
  assert.match(srv.output(), /# Configured to not listen anywhere, exiting\./);
});

t('daemonize yes is refused with a clear message', async () => {
  const r = await cli(['--port', '1', '--daemonize', 'yes']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /forkv does not daemonize/);
});

t('pidfile is written before listening and removed at shutdown; logfile receives the log', async () => {
  const dir = tempDir();
  const pidfile = path.join(dir, 'forkv.pid');
  const logfile = path.join(dir, 'forkv.log');
  const srv = await startServer({ dir, args: ['--pidfile', pidfile, '--logfile', logfile], waitReady: false });
  await waitFile(logfile, /Ready to accept connections tcp/);
  assert.is(fs.readFileSync(pidfile, 'utf8'), `${srv.pid}\n`);
  assert.is(srv.output(), '', 'nothing on stdout with a logfile');
  const r = await srv.stop('SIGTERM');
  assert.is(r.code, 0);
  assert.is(fs.existsSync(pidfile), false);
  const log = fs.readFileSync(logfile, 'utf8');
  assert.match(log, new RegExp(`^${srv.pid}:M .* \\* Removing the pid file\\.$`, 'm'));
  assert.match(log, /ready to exit, bye bye/);
});

t('include files and CONFIG REWRITE through the real server keep comments and order, and survive a restart', async () => {
  const dir = tempDir();
  const inc = path.join(dir, 'limits.conf');
  fs.writeFileSync(inc, 'maxclients 500\n');
  const conf = path.join(dir, 'forkv.conf');
  const original = [
    '# forkv test configuration',
    '# (two comment lines at the top)',
    '',
    'maxmemory-policy noeviction',
    '# a comment between two directives',
    'hz 10',
    `include ${inc}`,
    '# trailing comment',
    '',
  ].join('\n');
  fs.writeFileSync(conf, original);
  const srv = await startServer({ configFile: conf, dir });
  try {
    assert.match((await redisCli(srv.port, ['config', 'get', 'maxclients'])).stdout, /^maxclients\n500\n$/);
    assert.is((await redisCli(srv.port, ['config', 'set', 'maxmemory-policy', 'allkeys-lru'])).stdout.trim(), 'OK');
    assert.is((await redisCli(srv.port, ['config', 'set', 'hz', '20'])).stdout.trim(), 'OK');
    assert.is((await redisCli(srv.port, ['config', 'set', 'timeout', '300'])).stdout.trim(), 'OK');
    assert.is((await redisCli(srv.port, ['config', 'rewrite'])).stdout.trim(), 'OK');
  } finally {
    await srv.stop();
  }
  const lines = fs.readFileSync(conf, 'utf8').split('\n');
  // comments and their places are kept, changed directives are rewritten in place
  assert.equal(lines.slice(0, 8), [
    '# forkv test configuration',
    '# (two comment lines at the top)',
    '',
    'maxmemory-policy allkeys-lru',
    '# a comment between two directives',
    'hz 20',
    `include ${inc}`,
    '# trailing comment',
  ]);
  // directives that were not in the file go after Valkey's signature line
  const sig = lines.indexOf('# Generated by CONFIG REWRITE');
  assert.ok(sig > 7, 'signature line after the original content');
  assert.ok(lines.slice(sig).includes('timeout 300'));
  assert.is(fs.readFileSync(inc, 'utf8'), 'maxclients 500\n', 'included files are not rewritten');

  const again = await startServer({ configFile: conf, dir });
  try {
    assert.match((await redisCli(again.port, ['config', 'get', 'hz'])).stdout, /^hz\n20\n$/);
    assert.match((await redisCli(again.port, ['config', 'get', 'maxmemory-policy'])).stdout, /^maxmemory-policy\nallkeys-lru\n$/);
    assert.match((await redisCli(again.port, ['config', 'get', 'timeout'])).stdout, /^timeout\n300\n$/);
  } finally {
    await again.stop();
  }
});

t('start-up checks: THP off for the process, the overcommit warning, somaxconn vs tcp-backlog', async () => {
  const srv = await startServer({ args: ['--tcp-backlog', '1000000'] });
  try {
    const status = fs.readFileSync(`/proc/${srv.pid}/status`, 'utf8');
    const thp = /^THP_enabled:\s+(\d)/m.exec(status);
    if (thp) assert.is(thp[1], '0', 'PR_SET_THP_DISABLE applied');
    const overcommit = fs.readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim();
    const warning = "# WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition. To fix this issue add 'vm.overcommit_memory = 1' to /etc/sysctl.conf and then reboot or run the command 'sysctl vm.overcommit_memory=1' for this to take effect.";
    assert.is(srv.output().includes(warning), overcommit !== '1');
    const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    if (somaxconn < 1000000) {
      assert.ok(srv.output().includes(`# WARNING: The TCP backlog setting of 1000000 cannot be enforced because /proc/sys/net/core/somaxconn is set to the lower value of ${somaxconn}.`));
    }
  } finally {
    await srv.stop();
  }
});

t('start-up checks: the open-files limit is raised for maxclients, or maxclients is reduced to fit', async () => {
  const limited = (n: number): string[] => ['/bin/bash', '-c', `ulimit -n ${n} && exec "$0" "$@"`, process.execPath, CLI];
  const srv = await startServer({ command: limited(256), args: ['--maxclients', '1000'] });
  try {
    const out = srv.output();
    const got = (await redisCli(srv.port, ['config', 'get', 'maxclients'])).stdout;
    if (out.includes('Increased maximum number of open files to 1032 (it was originally set to 256).')) {
      assert.match(got, /^maxclients\n1000\n$/);
    } else {
      assert.ok(out.includes('# You requested maxclients of 1000 requiring at least 1032 max file descriptors.'), out);
      assert.ok(out.includes("# Server can't set maximum open files to 1032 because of OS error: Operation not permitted."), out);
      assert.ok(out.includes("# Current maximum open files is 256. maxclients has been reduced to 224 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."), out);
      assert.match(got, /^maxclients\n224\n$/);
    }
  } finally {
    await srv.stop();
  }
  const fatal = await startServer({ command: limited(30), waitReady: false });
  const r = await fatal.exited;
  if (!fatal.output().includes('Increased maximum number of open files')) {
    assert.is(r.code, 1);
    assert.ok(fatal.output().includes("# Your current 'ulimit -n' of 30 is not enough for the server to start. Please increase your open file limit to at least 10032. Exiting."), fatal.output());
  }
});

t.run();
