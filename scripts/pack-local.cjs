#!/usr/bin/env node
// npm run pack:local — installable tarballs for this machine, laid out as a release lays
// them out, written to artifacts/:
//
//   artifacts/forkv-binding-<platform>-<version>.tgz   the platform package (@forkv/binding-<platform>)
//   artifacts/forkv-<version>.tgz                      the main package, no binary inside
//
// The platform package is made with napi-rs's own tools, as the release workflow makes all
// six: `napi create-npm-dirs` writes npm/<platform>/package.json (name, os, cpu, libc, main,
// files) and `napi artifacts` copies the built .node into it. They run in a scratch copy of
// the package whose napi.targets is narrowed to this host (`napi artifacts` refuses to run
// with binaries missing for configured targets, and this machine builds only its own).
//
// The main package gets the optionalDependencies that `napi prepublish` writes at release
// (every configured target, at this version), so installing it behaves as installing from
// the registry: npm picks the platform package whose os/cpu/libc match and skips the rest.
//
// The main package's manifest also loses `prepare` (a build from source, for fresh clones),
// as at release: installing forkv runs no script.
//
// Needs a finished `npm run build` (dist/ and the host's .node); it never builds, and
// `npm pack` runs with --ignore-scripts so `prepare` does not rebuild either.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'artifacts');
const NAPI = path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');

/** The Rust target triple of this host (the one `npm run build` built for). */
function hostTriple() {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
  if (!arch) throw new Error(`pack:local: unsupported architecture ${process.arch}`);
  if (process.platform === 'darwin') return `${arch}-apple-darwin`;
  if (process.platform !== 'linux') throw new Error(`pack:local: unsupported platform ${process.platform}`);
  const report = process.report && process.report.getReport ? process.report.getReport() : null;
  const glibc = report && report.header && report.header.glibcVersionRuntime;
  return `${arch}-unknown-linux-${glibc ? 'gnu' : 'musl'}`;
}

function run(cmd, args, cwd) {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, npm_config_loglevel: 'error' } });
}

function npmPack(cwd) {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', OUT], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  const [info] = JSON.parse(out);
  return path.join(OUT, info.filename);
}

function main() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const { parseTriple } = require('@napi-rs/cli');
  const triple = hostTriple();
  if (!pkg.napi.targets.includes(triple)) throw new Error(`pack:local: ${triple} is not in package.json napi.targets`);
  const abi = parseTriple(triple).platformArchABI;
  const binary = `${pkg.napi.binaryName}.${abi}.node`;
  const built = path.join(ROOT, 'ts', 'native', binary);
  for (const f of [built, path.join(ROOT, 'dist', 'index.js'), path.join(ROOT, 'dist', 'index.mjs'), path.join(ROOT, 'dist', 'cli.js')]) {
    if (!fs.existsSync(f)) throw new Error(`pack:local: ${path.relative(ROOT, f)} is missing: run \`npm run build\` first`);
  }
  fs.mkdirSync(OUT, { recursive: true });
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'forkv-pack-'));
  try {
    // 1. The platform package, the napi-rs way.
    const hostOnly = { ...pkg, napi: { ...pkg.napi, targets: [triple] } };
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(hostOnly, null, 2));
    fs.mkdirSync(path.join(stage, 'built'));
    fs.copyFileSync(built, path.join(stage, 'built', binary));
    run(process.execPath, [NAPI, 'create-npm-dirs', '--cwd', stage], ROOT);
    run(process.execPath, [NAPI, 'artifacts', '--cwd', stage, '-o', 'built'], ROOT);
    const platformDir = path.join(stage, 'npm', abi);
    const platformTgz = npmPack(platformDir);

    // 2. The main package, with the optionalDependencies `napi prepublish` writes.
    const main = path.join(stage, 'main');
    fs.mkdirSync(main);
    const optionalDependencies = { ...(pkg.optionalDependencies || {}) };
    for (const t of pkg.napi.targets) optionalDependencies[`${pkg.napi.packageName}-${parseTriple(t).platformArchABI}`] = pkg.version;
    // `prepare` builds from source on a fresh clone; a published install must run nothing, so
    // the release drops it from the manifest it publishes (see .github/workflows/release.yml).
    const scripts = { ...pkg.scripts };
    delete scripts.prepare;
    fs.writeFileSync(path.join(main, 'package.json'), JSON.stringify({ ...pkg, scripts, optionalDependencies }, null, 2));
    fs.cpSync(path.join(ROOT, 'dist'), path.join(main, 'dist'), { recursive: true });
    for (const f of ['README.md', 'LICENSE']) {
      if (fs.existsSync(path.join(ROOT, f))) fs.copyFileSync(path.join(ROOT, f), path.join(main, f));
    }
    const mainTgz = npmPack(main);

    process.stdout.write(`${path.relative(process.cwd(), platformTgz)}\n${path.relative(process.cwd(), mainTgz)}\n`);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
