// The user's path: the tarballs `npm run pack:local` writes install offline into an empty
// directory on a machine with no Rust toolchain, and the installed package runs the server
// (npx forkv-server), loads with require() and with import, and finds its binary in the
// platform package (@forkv/binding-linux-x64-gnu), not next to the loader.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';

import { freePort, ROOT, tempDir } from '../helpers/server';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { NAMES }: { NAMES: string[] } = require('../../scripts/build-esm.cjs');

const t = suite('pack-install');

// No ~/.cargo/bin (nor any rustup dir) on PATH: the install must not need Rust.
const PATH = (process.env.PATH ?? '').split(path.delimiter).filter((p) => !/\.cargo|\.rustup/.test(p)).join(path.delimiter);
const env: NodeJS.ProcessEnv = { ...process.env, PATH, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' };
delete env.CARGO_HOME;
delete env.RUSTUP_HOME;

let app = '';
let tarballs: string[] = [];

function run(cmd: string, args: string[], cwd: string, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd, env, encoding: 'utf8', timeout: 60000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

t.before(async () => {
  // Built once per run, from the current dist/ and .node.
  const packed = await run(process.execPath, [path.join(ROOT, 'scripts', 'pack-local.cjs')], ROOT);
  assert.is(packed.code, 0, packed.stderr);
  tarballs = packed.stdout.trim().split('\n').map((p) => path.resolve(ROOT, p));
  assert.is(tarballs.length, 2);
  app = tempDir('forkv-app-');
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // Platform tarball first, then the main package (which lists it as an optional dependency).
  const inst = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], app);
  assert.is(inst.code, 0, inst.stderr);
});

t('the tarballs: a platform package with os/cpu/libc and the .node, a main package without binaries or install scripts', () => {
  const [platformTgz, mainTgz] = tarballs as [string, string];
  assert.match(path.basename(platformTgz), /^forkv-binding-linux-x64-gnu-\d+\.\d+\.\d+.*\.tgz$/);
  assert.match(path.basename(mainTgz), /^forkv-\d+\.\d+\.\d+.*\.tgz$/);
  const plat = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/@forkv/binding-linux-x64-gnu/package.json'), 'utf8')) as Record<string, unknown>;
  assert.is(plat.name, '@forkv/binding-linux-x64-gnu');
  assert.equal(plat.os, ['linux']);
  assert.equal(plat.cpu, ['x64']);
  assert.equal(plat.libc, ['glibc']);
  assert.is(plat.main, 'forkv.linux-x64-gnu.node');
  assert.ok(fs.existsSync(path.join(app, 'node_modules/@forkv/binding-linux-x64-gnu/forkv.linux-x64-gnu.node')));

  const main = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/forkv/package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    version: string;
  };
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) assert.is(main.scripts?.[s], undefined, `no ${s} script`);
  assert.is(main.optionalDependencies?.['@forkv/binding-linux-x64-gnu'], main.version);
  assert.is(Object.keys(main.optionalDependencies ?? {}).length, 6);
  const nodeFiles = spawnSync('find', [path.join(app, 'node_modules/forkv'), '-name', '*.node'], { encoding: 'utf8' }).stdout.trim();
  assert.is(nodeFiles, '', 'no binary inside the main package');
});

t('no Rust toolchain on the PATH used here', () => {
  const r = spawnSync('cargo', ['--version'], { env });
  assert.ok(r.error !== undefined || r.status !== 0, 'cargo must not be reachable');
});

t('npx forkv-server --port N runs, and a real client talks to it', async () => {
  const port = await freePort();
  const child = spawn('npx', ['--offline', 'forkv-server', '--port', String(port), '--save', ''], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  try {
    const end = Date.now() + 15000;
    while (!out.includes('Ready to accept connections')) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const c = new Redis({ port, maxRetriesPerRequest: 0 });
    assert.is(await c.set('hello', 'world'), 'OK');
    assert.is(await c.get('hello'), 'world');
    assert.match(String(await c.info('server')), /tcp_port:\d+/);
    await c.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    c.disconnect();
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

t("require('forkv') works and loads the binary from @forkv/binding-linux-x64-gnu", async () => {
  const script = `
    const forkv = require('forkv');
    const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
    forkv.createServer({ config: { save: '' } }).then(async (s) => {
      console.log(JSON.stringify({ type: typeof forkv.createServer, version: forkv.VERSION.forkv, port: s.port, loaded }));
      await s.close();
    });
  `;
  const r = await run(process.execPath, ['-e', script], app);
  assert.is(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { type: string; version: string; port: number; loaded: string[] };
  assert.is(got.type, 'function');
  assert.ok(got.port > 0);
  assert.equal(got.loaded.map((f) => path.relative(app, fs.realpathSync(f))), ['node_modules/@forkv/binding-linux-x64-gnu/forkv.linux-x64-gnu.node']);
});

t("import { createServer } from 'forkv' works (ESM), with every export of the CommonJS entry", async () => {
  const script = `
    import { createServer } from 'forkv';
    import * as ns from 'forkv';
    import { createRequire } from 'node:module';
    const cjs = createRequire(process.cwd() + '/')('forkv');
    const s = await createServer({ config: { save: '' } });
    console.log(JSON.stringify({ url: s.url, same: ns.createServer === cjs.createServer, names: Object.keys(ns).filter((n) => n !== 'default').sort(), cjsNames: Object.keys(cjs).sort() }));
    await s.close();
  `;
  const r = await run(process.execPath, ['--input-type=module', '-e', script], app);
  assert.is(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { url: string; same: boolean; names: string[]; cjsNames: string[] };
  assert.match(got.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(got.same, 'one module instance for both entry points');
  assert.equal(got.names, [...NAMES].sort());
  assert.equal(got.cjsNames.filter((n) => n !== '__esModule'), [...NAMES].sort(), 'scripts/build-esm.cjs lists every CommonJS export');
});

t('the installed package: child-process mode finds its entry, the Jest and Vitest setups resolve by name', async () => {
  const script = `
    import { ForkvServer } from 'forkv';
    import { setup, teardown } from 'forkv/vitest-global-setup';
    import { createRequire } from 'node:module';
    const require = createRequire(process.cwd() + '/');
    const s = await ForkvServer.create({ mode: 'child-process' });
    const info = s.instanceInfo();
    await s.stop({ cleanup: true });
    await setup({ config: { maxWorkers: 2 } });
    const vitestUrls = [process.env.FORKV_URL_1, process.env.FORKV_URL_2];
    await teardown();
    await require('forkv/jest-global-setup').default({ maxWorkers: 1 });
    const jestUrl = process.env.FORKV_URL_1;
    await require('forkv/jest-global-teardown').default();
    console.log(JSON.stringify({ mode: info.mode, childPid: info.pid !== process.pid, vitestUrls, jestUrl, after: process.env.FORKV_URL ?? null }));
  `;
  const r = await run(process.execPath, ['--input-type=module', '-e', script], app);
  assert.is(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { mode: string; childPid: boolean; vitestUrls: string[]; jestUrl: string; after: string | null };
  assert.is(got.mode, 'child-process');
  assert.ok(got.childPid);
  assert.is(got.vitestUrls.filter((u) => /^redis:\/\/127\.0\.0\.1:\d+$/.test(u)).length, 2);
  assert.is.not(got.vitestUrls[0], got.vitestUrls[1]);
  assert.match(got.jestUrl, /^redis:\/\//);
  assert.is(got.after, null, 'teardown removes the env entries');
});

t.after(() => {
  if (app) fs.rmSync(app, { recursive: true, force: true });
});

t.run();
