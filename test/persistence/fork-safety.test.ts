// DESIGN.md §2 rule 7: forking a live Node process. The server runs INSIDE this test
// process, so the fork children are copies of a Node process that is busy with
// child_process children, libuv threadpool fs work, timers, signals and client traffic —
// while BGSAVE forks again and again. Nothing may hang, no child exit status may be
// stolen by our reaping, no signal may be lost or doubled, every save must succeed, and a
// socket the parent closes must close for the peer even though a fork child inherited it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Redis from 'ioredis';

import { loadServerConfig, parseCommandLine } from '../../ts/config';
import { Logger } from '../../ts/log';
import { Server } from '../../ts/server';
import { cmd, RawClient } from '../helpers/client';
import { freePort, tempDir } from '../helpers/server';
import { checkRdb, fill, info, quiet, sleep, waitUntil } from './util';

const t = suite('fork-safety');
let server: Server;
let dir: string;
let io: Redis;
const clients: Redis[] = [];

t.before(async () => {
  dir = tempDir('fork-safety-');
  const port = await freePort();
  const cl = parseCommandLine(['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--hz', '100', '--rdb-key-save-delay', '0', '--logfile', path.join(dir, 'server.log')]);
  if (cl.kind !== 'run') throw new Error(`unexpected command line kind ${cl.kind}`);
  const { store } = loadServerConfig({ options: cl.text });
  server = new Server(store, null, new Logger(store.getString('logfile'), 'notice'));
  await server.start();
  io = quiet(server.port);
  clients.push(io);
  await fill(io, 3000, 30);
});

t.after(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server.stop();
});

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Exit of a spawned child as Node reports it. */
function exitOf(p: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    p.once('error', reject);
    p.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

function execExit(file: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile(file, args, (err) => {
      const c = err ? (err as { code?: unknown }).code : 0;
      resolve(typeof c === 'number' ? c : -1);
    });
  });
}

t('30 BGSAVEs while child_process, fs, timers, signals and clients are busy in the same process', async () => {
  const started = Date.now();
  let stop = false;
  const failures: string[] = [];

  // Timers: a 5 ms interval keeps ticking.
  let ticks = 0;
  let lastTick = Date.now();
  let maxGap = 0;
  const interval = setInterval(() => {
    ticks++;
    const now = Date.now();
    maxGap = Math.max(maxGap, now - lastTick);
    lastTick = now;
  }, 5);

  // Signals: each SIGUSR2 sent to ourselves is handled exactly once.
  let handled = 0;
  const onUsr2 = (): void => void handled++;
  process.on('SIGUSR2', onUsr2);
  let sent = 0;
  const signals = (async () => {
    while (!stop) {
      sent++;
      process.kill(process.pid, 'SIGUSR2');
      await waitUntil(`SIGUSR2 #${sent} handled`, () => handled >= sent, 3000, 1);
      if (handled !== sent) failures.push(`signal ${sent}: handled ${handled} times in total`);
      await sleep(3);
    }
  })();

  // child_process: exit codes and signals must reach Node (not our waitpid).
  let spawned = 0;
  const children = (async () => {
    while (!stop) {
      const [a, b, c] = await withTimeout(
        Promise.all([exitOf(spawn('true')), execExit('sh', ['-c', 'exit 3']), exitOf(spawn('sh', ['-c', 'kill -TERM $$']))]),
        5000,
        'child_process exits',
      );
      spawned += 3;
      if (a.code !== 0) failures.push(`true exited ${JSON.stringify(a)}`);
      if (b !== 3) failures.push(`sh -c 'exit 3' exited ${b}`);
      if (c.signal !== 'SIGTERM') failures.push(`sh killed by TERM reported ${JSON.stringify(c)}`);
      // Each spawn blocks the event loop until exec: leave room for the rest.
      await sleep(20);
    }
  })();

  // fs on the libuv threadpool.
  let fsOps = 0;
  const fsWork = (async () => {
    const f = path.join(dir, 'scratch.bin');
    while (!stop) {
      const data = crypto.randomBytes(64 * 1024);
      await fs.promises.writeFile(f, data);
      const back = await fs.promises.readFile(f);
      if (!back.equals(data)) failures.push('fs round trip differs');
      await fs.promises.stat(f);
      fsOps += 3;
    }
  })();

  // Client traffic through a second connection.
  const traffic = quiet(server.port);
  clients.push(traffic);
  let ops = 0;
  const clientWork = (async () => {
    while (!stop) {
      const k = `traffic:${ops % 100}`;
      await traffic.set(k, String(ops));
      const v = await traffic.get(k);
      if (v !== String(ops)) failures.push(`GET ${k} = ${v}, want ${ops}`);
      ops++;
    }
  })();

  // The BGSAVE loop itself.
  const forksBefore = Number((await info(io, 'stats')).get('total_forks'));
  for (let i = 0; i < 30; i++) {
    assert.is(await io.bgsave(), 'Background saving started', `BGSAVE #${i + 1}`);
    await withTimeout(
      waitUntil(`BGSAVE #${i + 1}`, async () => (await info(io, 'persistence')).get('rdb_bgsave_in_progress') === '0', 10000, 5),
      11000,
      `BGSAVE #${i + 1}`,
    );
    const st = await info(io, 'persistence');
    assert.is(st.get('rdb_last_bgsave_status'), 'ok', `BGSAVE #${i + 1} status`);
    assert.is(st.get('rdb_saves'), String(i + 1));
  }
  stop = true;
  await withTimeout(Promise.all([signals, children, fsWork, clientWork]), 10000, 'background workers');
  clearInterval(interval);
  const elapsed = Date.now() - started;
  await sleep(50);
  process.off('SIGUSR2', onUsr2);

    assert.equal(failures, []);
  assert.is(handled, sent, 'every signal handled exactly once');
  assert.ok(sent >= 10, `only ${sent} signals`);
  assert.ok(spawned >= 9, `only ${spawned} children`);
  assert.ok(fsOps >= 30, `only ${fsOps} fs operations`);
  assert.ok(ops >= 100, `only ${ops} client round trips`);
  // Timers kept firing: the event loop never hung (the longest gap is reported, not
  // asserted: latency under load is bench/'s concern).
  assert.ok(ticks >= 30, `${ticks} ticks in ${elapsed} ms (longest gap ${maxGap} ms)`);
  assert.is(Number((await info(io, 'stats')).get('total_forks')), forksBefore + 30);
  const chk = await checkRdb(path.join(dir, 'dump.rdb'));
  assert.is(chk.code, 0, chk.stdout);
  assert.match(chk.stdout, /\b3100 keys read\b/);
  const log = fs.readFileSync(path.join(dir, 'server.log'), 'utf8');
  assert.is((log.match(/Background saving terminated with success/g) ?? []).length, 30);
  assert.not.match(log, /status lost|reaped elsewhere/);
});

t('the fork child holds no inherited fds; a client the parent kills during BGSAVE sees the close at once', async () => {
  const victim = await RawClient.connect(server.port);
  victim.write(cmd('CLIENT', 'SETNAME', 'victim'));
  assert.is(await victim.readUntil('\r\n'), '+OK\r\n');
  victim.write(cmd('CLIENT', 'ID'));
  const id = Number((await victim.readUntil('\r\n')).slice(1));
  // A slow save: about 3 s for 3100 keys.
  assert.is(await io.config('SET', 'rdb-key-save-delay', '1000'), 'OK');
  assert.is(await io.bgsave(), 'Background saving started');
  const child = server.core.native.childProgress();
  assert.ok(child !== null && child.kind === 'rdb');
  const pid = (child as { pid: number }).pid;
  // Only stdio and the info pipe survive in the child: no socket, no epoll, no file.
  await sleep(100);
  const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
  const links = fds.map((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
  assert.ok(fds.every((fd) => fd <= 3 || links[fds.indexOf(fd)]?.includes('temp-')), `child fds: ${JSON.stringify(links)}`);
  assert.not.ok(links.some((l) => l.startsWith('socket:') || l.includes('eventpoll')), `child fds: ${JSON.stringify(links)}`);

  // The peer sees the close while the child still runs (a socket inherited by the child
  // would stay open until the save ends, about 3 s later).
  assert.is(await io.client('KILL', 'ID', String(id)), 1);
  await victim.readToClose(1000);
  assert.ok(fs.existsSync(`/proc/${pid}`), 'the child had already exited when the close arrived');
  assert.is((await info(io, 'persistence')).get('rdb_bgsave_in_progress'), '1', 'the child was still running');
  // A client that leaves by itself during the save is gone from CLIENT LIST at once too.
  const leaver = await RawClient.connect(server.port);
  leaver.write(cmd('CLIENT', 'SETNAME', 'leaver'));
  await leaver.readUntil('\r\n');
  leaver.close();
  await waitUntil('leaver gone from CLIENT LIST', async () => !String(await io.client('LIST')).includes('name=leaver'), 1000, 10);
  assert.is(await io.call('BGSAVE', 'CANCEL'), 'Background saving cancelled');
  await waitUntil('cancelled child reaped', () => server.core.native.childProgress() === null, 5000, 10);
  assert.is(await io.config('SET', 'rdb-key-save-delay', '0'), 'OK');
});

t.run();
