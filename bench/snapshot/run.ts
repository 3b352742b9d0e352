// bench/snapshot: fork-based BGSAVE on forkv vs redis-server, side by side.
//
//   npx tsx bench/snapshot/run.ts                  # full scale: 1M keys x 100-byte values
//   npx tsx bench/snapshot/run.ts --keys 100000    # smoke run
//
// Phases (each phase runs on forkv, then on redis, while the other server idles):
//   1. load: SET key:<i> <value> for i in [0, keys), pipelined raw RESP; DBSIZE must equal keys.
//   2. idle probe: an open-loop GET (or PING) probe at --probe-rate req/s for --probe-seconds.
//   3. BGSAVE x --saves with the probe running: latest_fork_usec, the duration from the
//      command to INFO rdb_bgsave_in_progress:0 (polled every --poll-ms) and to the rename of
//      dump.rdb, the dump size, and the probe's latencies scheduled inside the save.
//      RSS of the server plus its child (the forked saver) is sampled at every poll: the peak
//      is the "peak RSS parent + child" figure.
//   3b. SAVE x --saves (no probe: SAVE blocks the server): command sent -> +OK.
//   4. SET latency under a BGSAVE loop: an open-loop SET probe (random existing keys) at
//      --loop-rate/s for --loop-seconds idle, then as long again while BGSAVEs run back to
//      back; p99 during the loop / idle p99 is the figure (per server).
//   5. copy-on-write (only with --cow): rdb-key-save-delay=--cow-delay-us on both, BGSAVE,
//      and a writer that SETs --cow-writes random existing keys at --cow-rate/s during the
//      save; rdb_last_cow_size.
//   6. load at start: stop the server (by PID; save '' so no shutdown save), start it on its
//      dump.rdb, time spawn -> first +PONG (PING retried while refused or -LOADING) and
//      spawn -> "Ready to accept connections", check DBSIZE.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import type { FigureId } from '../lib/figures';
import { bool, float, int, str } from '../lib/flags';
import { keyName, loadKeys, PacedProbe, PacedWriter } from '../lib/load';
import { fileId, RenameWatch, waitForChild } from '../lib/persist';
import { familyRssBytes, rssBytes } from '../lib/proc';
import { compare, printTable, progress, type Comparison, mb } from '../lib/report';
import { cmd, firstPong, RawClient, sleep, callOk, dbsize as dbsizeOf, infoField, info as infoOf } from '../lib/client';
import {
  freePort,
  KINDS,
  pinSelf,
  settingsFromList,
  startServer,
  type BenchServer,
  type ServerKind,
} from '../lib/servers';
import { median, summarize, type LatencySummary } from '../lib/stats';
import { beginBench, commonFlags, finishBench, runBench } from '../lib/harness';

const SPEC = {
  keys: int(1_000_000, 'distinct keys loaded (key:0 .. key:<keys-1>)'),
  valueSize: int(100, 'value size in bytes (pseudo-random text, incompressible by LZF)'),
  loadBatch: int(1000, 'SETs per pipelined write while loading'),
  loadWindow: int(8, 'pipelined batches in flight while loading'),
  probeRate: int(2000, 'latency probe: requests per second (one connection, open loop)'),
  probeSeconds: float(5, 'latency probe: seconds of idle measurement'),
  probeCmd: str('get', 'latency probe command: get (random existing key) or ping'),
  saves: int(3, 'BGSAVEs measured per server (durations: median; probe latencies: pooled); as many SAVEs after them'),
  pollMs: int(10, 'INFO polling interval while a child runs, ms'),
  gapMs: int(500, 'idle time between two BGSAVEs, ms'),
  hz: int(100, 'hz for both servers (the child is reaped from the cron: hz 10 quantises durations to 100 ms)'),
  cowDelayUs: int(1, 'rdb-key-save-delay (us per key) for the copy-on-write save on both servers; 0 = none'),
  cowWrites: int(10000, 'SETs to random existing keys during the copy-on-write save'),
  cowRate: int(5000, 'writer rate during the copy-on-write save, SETs per second'),
  cowTimeoutSec: int(600, 'give up on the copy-on-write save after this many seconds'),
  loopRate: int(20000, 'SET probe rate for the BGSAVE-loop phase, per second (open loop)'),
  loopSeconds: float(5, 'seconds of the SET probe idle, and again during the BGSAVE loop'),
  skipLoop: bool(false, 'skip the BGSAVE-loop latency phase'),
  cow: bool(false, 'run the copy-on-write phase (adds ~1-1.5 min per server at 1M keys)'),
  pin: bool(false, 'taskset: servers on CPU 0, the harness on CPU 1'),
  seed: int(1, 'PRNG seed for values and random keys'),
  ...commonFlags('keep the servers\' data directories (dumps, AOFs, server.log) after the run'),
};

const TITLE = 'bench/snapshot: BGSAVE fork latency, duration, dump size, load time, latency and copy-on-write, forkv vs redis-server';

interface SaveRecord {
  forkUsec: number;
  /** BGSAVE sent -> INFO showed rdb_bgsave_in_progress:0 (what a client sees). */
  durationMs: number;
  /** BGSAVE sent -> dump.rdb replaced (the child's own work, without the reaping delay). */
  renameMs: number | null;
  dumpBytes: number;
  status: string;
  cowBytes: number;
  probe: LatencySummary;
  /** The slowest probe requests of this save, scheduled `atMs` after BGSAVE was sent. */
  worst: Array<{ atMs: number; latencyMs: number }>;
  /** Peak of RSS(server) + RSS(its children) over the INFO polls of this save. */
  peakFamilyRssBytes: number;
  /** The server's RSS just before the BGSAVE. */
  rssBeforeBytes: number;
}

interface LoopRecord {
  idle: LatencySummary;
  loop: LatencySummary;
  saves: number;
  errors: number;
}

interface CowRecord {
  delayUs: number;
  durationMs: number;
  usPerKey: number;
  forkUsec: number;
  rdbLastCowSize: number;
  peakCurrentCowSize: number;
  writesSent: number;
  writesAckedDuringSave: number;
  writerFinishedBeforeSaveEnded: boolean;
  writerErrors: number;
  status: string;
  /** RSS of the server just before the save. */
  rssBeforeBytes: number;
}

interface ServerResult {
  load: { ms: number; opsPerSec: number; dbsize: number; rssBytes: number; usedMemory: number };
  idleProbe: LatencySummary;
  /** The same requests timed from their slot in the schedule (includes timer lateness). */
  idleProbeScheduled: LatencySummary;
  saves: SaveRecord[];
  /** Durations of the foreground SAVEs (command sent -> +OK), ms. */
  foregroundSavesMs: number[];
  probeDuringSaves: LatencySummary;
  probeDuringSavesScheduled: LatencySummary;
  loop: LoopRecord | null;
  cow: CowRecord | null;
  restart: { spawnToPongMs: number; spawnToReadyMs: number; serverReportedLoadMs: number | null; dbsize: number; rssBytes: number };
  /** spawn -> Ready with an empty dir (the fixed start-up cost, e.g. Node's own start). */
  emptyStartMs: number;
}

async function main(): Promise<void> {
  const b = beginBench('snapshot', TITLE, SPEC, (opts) => {
    if (opts.probeCmd !== 'get' && opts.probeCmd !== 'ping') throw new Error('--probe-cmd must be get or ping');
  });
  const { opts, bin, base } = b;
  const serverCpu = opts.pin ? 0 : null;
  if (opts.pin) pinSelf(1);

  const settings = { hz: String(opts.hz), ...settingsFromList(opts.serverArgs) };
  const partial: Record<ServerKind, Partial<ServerResult>> = { forkv: {}, redis: {} };
  const servers: Record<ServerKind, BenchServer> = {
    forkv: await startServer({ kind: 'forkv', bin, dir: path.join(base, 'forkv'), settings, cpu: serverCpu }),
    redis: await startServer({ kind: 'redis', bin, dir: path.join(base, 'redis'), settings, cpu: serverCpu }),
  };
  for (const kind of KINDS) {
    const s = servers[kind];
    partial[kind].emptyStartMs = s.readyAt - s.spawnedAt;
  }
  progress(`forkv pid ${servers.forkv.pid} port ${servers.forkv.port}; redis pid ${servers.redis.pid} port ${servers.redis.port}; dirs under ${base}`);

  const probeCommand = (rngSeed: number): ((k: number) => Buffer) => {
    if (opts.probeCmd === 'ping') {
      const ping = cmd('PING');
      return () => ping;
    }
    let x = rngSeed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return cmd('GET', keyName('key:', x % opts.keys));
    };
  };

  try {
    // 1. load
    for (const kind of KINDS) {
      const s = servers[kind];
      const c = await RawClient.connect(s.port);
      progress(`${kind}: loading ${opts.keys} keys x ${opts.valueSize} bytes`);
      const r = await loadKeys(c, { keys: opts.keys, valueSize: opts.valueSize, prefix: 'key:', batch: opts.loadBatch, window: opts.loadWindow, seed: opts.seed });
      const dbsize = await dbsizeOf(c);
      if (dbsize !== opts.keys) throw new Error(`${kind}: DBSIZE ${dbsize} after loading ${opts.keys} keys`);
      const usedMemory = Number((await infoOf(c, 'memory')).get('used_memory'));
      partial[kind].load = { ms: r.ms, opsPerSec: r.opsPerSec, dbsize, rssBytes: rssBytes(s.pid), usedMemory };
      progress(`${kind}: loaded in ${(r.ms / 1000).toFixed(2)} s (${Math.round(r.opsPerSec)} SET/s), DBSIZE ${dbsize}, RSS ${mb(rssBytes(s.pid))}`);
      c.close();
    }

    // 2. idle probe
    for (const kind of KINDS) {
      const s = servers[kind];
      const c = await RawClient.connect(s.port);
      const probe = new PacedProbe(c, opts.probeRate, probeCommand(opts.seed + 7));
      probe.start();
      await sleep(opts.probeSeconds * 1000);
      await probe.stop();
      const sum = summarize(probe.latencies());
      if (probe.errors > 0) throw new Error(`${kind}: ${probe.errors} probe errors`);
      partial[kind].idleProbe = sum;
      partial[kind].idleProbeScheduled = summarize(probe.latencies(-Infinity, Infinity, 'scheduled'));
      progress(`${kind}: idle probe ${sum.count} requests p50 ${sum.p50.toFixed(3)} p99 ${sum.p99.toFixed(3)} max ${sum.max.toFixed(3)} ms`);
      c.close();
    }

    // 3. BGSAVEs with the probe running
    for (const kind of KINDS) {
      const s = servers[kind];
      const ctl = await RawClient.connect(s.port);
      const poll = await RawClient.connect(s.port);
      const pc = await RawClient.connect(s.port);
      const probe = new PacedProbe(pc, opts.probeRate, probeCommand(opts.seed + 11));
      probe.start();
      await sleep(200);
      const saves: SaveRecord[] = [];
      const windows: Array<[number, number]> = [];
      const dump = path.join(s.dir, 'dump.rdb');
      for (let i = 0; i < opts.saves; i++) {
        const watch = new RenameWatch(dump, Math.max(1, Math.floor(opts.pollMs / 2)));
        const rssBefore = rssBytes(s.pid);
        let peakFamily = rssBefore;
        const sampleFamily = (): void => {
          const f = familyRssBytes(s.pid);
          peakFamily = Math.max(peakFamily, f.parent + f.children);
        };
        const t0 = performance.now();
        await callOk(ctl, 'BGSAVE');
        sampleFamily();
        const w = await waitForChild(poll, 'persistence', { rdb_bgsave_in_progress: '0' }, { pollMs: opts.pollMs, timeoutMs: 600000, onPoll: sampleFamily });
        watch.stop();
        windows.push([t0, w.doneAt]);
        const forkUsec = Number(await infoField(poll, 'stats', 'latest_fork_usec'));
        const status = w.last.get('rdb_last_bgsave_status') ?? '?';
        const cowBytes = Number(w.last.get('rdb_last_cow_size'));
        const lat = summarize(probe.latencies(t0, w.doneAt));
        const rec: SaveRecord = {
          forkUsec,
          durationMs: w.doneAt - t0,
          renameMs: watch.at === null ? null : watch.at - t0,
          dumpBytes: fileId(dump)?.size ?? NaN,
          status,
          cowBytes,
          probe: lat,
          worst: probe.worst(t0, w.doneAt, 10),
          peakFamilyRssBytes: peakFamily,
          rssBeforeBytes: rssBefore,
        };
        saves.push(rec);
        progress(
          `${kind}: BGSAVE ${i + 1}/${opts.saves} ${status} fork ${forkUsec} us, ${rec.durationMs.toFixed(0)} ms (dump renamed at ${rec.renameMs?.toFixed(0) ?? '?'} ms), ` +
            `${mb(rec.dumpBytes)}, peak RSS parent+child ${mb(peakFamily)}, probe p99 ${lat.p99.toFixed(3)} max ${lat.max.toFixed(3)} ms (${lat.count} samples; slowest at ${rec.worst[0]?.atMs.toFixed(0) ?? '?'} ms)`,
        );
        if (status !== 'ok') throw new Error(`${kind}: BGSAVE failed (rdb_last_bgsave_status ${status})\n${s.tail()}`);
        await sleep(opts.gapMs);
      }
      await probe.stop();
      if (probe.errors > 0) throw new Error(`${kind}: ${probe.errors} probe errors during BGSAVE`);
      const pooled: number[] = [];
      const pooledSched: number[] = [];
      for (const [a, b] of windows) {
        pooled.push(...probe.latencies(a, b));
        pooledSched.push(...probe.latencies(a, b, 'scheduled'));
      }
      partial[kind].saves = saves;
      partial[kind].probeDuringSaves = summarize(pooled);
      partial[kind].probeDuringSavesScheduled = summarize(pooledSched);
      ctl.close();
      poll.close();
      pc.close();
    }

    // 3b. foreground SAVEs
    for (const kind of KINDS) {
      const c = await RawClient.connect(servers[kind].port);
      const ms: number[] = [];
      for (let i = 0; i < opts.saves; i++) {
        const t0 = performance.now();
        await callOk(c, 'SAVE');
        ms.push(performance.now() - t0);
        await sleep(opts.gapMs);
      }
      partial[kind].foregroundSavesMs = ms;
      progress(`${kind}: SAVE ${ms.map((x) => x.toFixed(0)).join(', ')} ms`);
      c.close();
    }

    // 4. SET p99 under a BGSAVE loop vs idle
    if (!opts.skipLoop) {
      const value = Buffer.alloc(opts.valueSize, 'v');
      for (const kind of KINDS) {
        const s = servers[kind];
        const ctl = await RawClient.connect(s.port);
        const poll = await RawClient.connect(s.port);
        const pc = await RawClient.connect(s.port);
        let x = (opts.seed + 19) >>> 0 || 1;
        const probe = new PacedProbe(pc, opts.loopRate, () => {
          x ^= x << 13;
          x >>>= 0;
          x ^= x >>> 17;
          x ^= x << 5;
          x >>>= 0;
          return cmd('SET', keyName('key:', x % opts.keys), value);
        });
        probe.start();
        await sleep(200);
        const i0 = performance.now();
        await sleep(opts.loopSeconds * 1000);
        const i1 = performance.now();
        let saves = 0;
        while (performance.now() - i1 < opts.loopSeconds * 1000) {
          await callOk(ctl, 'BGSAVE');
          const w = await waitForChild(poll, 'persistence', { rdb_bgsave_in_progress: '0' }, { pollMs: opts.pollMs, timeoutMs: 600000 });
          if (w.last.get('rdb_last_bgsave_status') !== 'ok') throw new Error(`${kind}: BGSAVE failed in the loop\n${s.tail()}`);
          saves++;
        }
        const l1 = performance.now();
        await probe.stop();
        const rec: LoopRecord = { idle: summarize(probe.latencies(i0, i1)), loop: summarize(probe.latencies(i1, l1)), saves, errors: probe.errors };
        if (probe.errors > 0) throw new Error(`${kind}: ${probe.errors} SET probe errors`);
        partial[kind].loop = rec;
        progress(
          `${kind}: SET at ${opts.loopRate}/s: idle p99 ${rec.idle.p99.toFixed(3)} ms, during ${saves} back-to-back BGSAVEs p99 ${rec.loop.p99.toFixed(3)} ms ` +
            `(${(rec.loop.p99 / rec.idle.p99).toFixed(2)}x), ${rec.idle.count + rec.loop.count} samples`,
        );
        ctl.close();
        poll.close();
        pc.close();
      }
    }

    // 5. copy-on-write under a paced writer
    if (opts.cow) {
      for (const kind of KINDS) {
        const s = servers[kind];
        const ctl = await RawClient.connect(s.port);
        const poll = await RawClient.connect(s.port);
        const wc = await RawClient.connect(s.port);
        await callOk(ctl, 'CONFIG', 'SET', 'rdb-key-save-delay', String(opts.cowDelayUs));
        const rssBefore = rssBytes(s.pid);
        const writer = new PacedWriter(wc, { rate: opts.cowRate, limit: opts.cowWrites, keySpace: opts.keys, prefix: 'key:', valueSize: opts.valueSize, seed: opts.seed + 13 });
        progress(`${kind}: copy-on-write save (rdb-key-save-delay ${opts.cowDelayUs} us/key, ${opts.cowWrites} SETs at ${opts.cowRate}/s)`);
        const t0 = performance.now();
        await callOk(ctl, 'BGSAVE');
        writer.start();
        let ackedAtEnd = -1;
        let lastReport = performance.now();
        const w = await waitForChild(
          poll,
          'persistence',
          { rdb_bgsave_in_progress: '0' },
          {
            pollMs: opts.pollMs,
            timeoutMs: opts.cowTimeoutSec * 1000,
            track: ['current_cow_size', 'current_cow_peak', 'current_save_keys_processed'],
            onPoll: () => {
              if (performance.now() - lastReport > 10000) {
                lastReport = performance.now();
                progress(`${kind}: copy-on-write save running for ${((lastReport - t0) / 1000).toFixed(0)} s, ${writer.acked} SETs acknowledged`);
              }
            },
          },
        );
        ackedAtEnd = writer.acked;
        const finishedFirst = writer.acked >= opts.cowWrites && writer.lastAckAt <= w.doneAt;
        await writer.stop();
        await callOk(ctl, 'CONFIG', 'SET', 'rdb-key-save-delay', '0');
        const forkUsec = Number(await infoField(poll, 'stats', 'latest_fork_usec'));
        const durationMs = w.doneAt - t0;
        const rec: CowRecord = {
          delayUs: opts.cowDelayUs,
          durationMs,
          usPerKey: (durationMs * 1000) / opts.keys,
          forkUsec,
          rdbLastCowSize: Number(w.last.get('rdb_last_cow_size')),
          peakCurrentCowSize: Math.max(w.peaks['current_cow_size'] ?? 0, w.peaks['current_cow_peak'] ?? 0),
          writesSent: writer.sent,
          writesAckedDuringSave: ackedAtEnd,
          writerFinishedBeforeSaveEnded: finishedFirst,
          writerErrors: writer.errors,
          status: w.last.get('rdb_last_bgsave_status') ?? '?',
          rssBeforeBytes: rssBefore,
        };
        partial[kind].cow = rec;
        progress(
          `${kind}: copy-on-write save ${rec.status} in ${(durationMs / 1000).toFixed(2)} s (${rec.usPerKey.toFixed(1)} us/key), ` +
            `rdb_last_cow_size ${mb(rec.rdbLastCowSize)} (RSS before ${mb(rssBefore)}), ${ackedAtEnd} SETs acknowledged during the save`,
        );
        if (!finishedFirst) process.stdout.write(`WARNING: ${kind}: the save ended before the writer's ${opts.cowWrites} SETs: raise --cow-delay-us or --cow-rate\n`);
        if (rec.status !== 'ok') throw new Error(`${kind}: copy-on-write BGSAVE failed\n${s.tail()}`);
        ctl.close();
        poll.close();
        wc.close();
      }
    }

    // 6. load time at start
    for (const kind of KINDS) {
      const old = servers[kind];
      await old.stop();
      progress(`${kind}: restarting on ${path.join(old.dir, 'dump.rdb')}`);
      const port = await freePort();
      const pong = firstPong(port, 600000);
      const s = await startServer({ kind, bin, dir: old.dir, port, settings, cpu: serverCpu, readyTimeoutMs: 600000 });
      servers[kind] = s;
      const readyAt = s.readyAt;
      const pongAt = await pong;
      const c = await RawClient.connectRetry(s.port);
      const dbsize = await dbsizeOf(c);
      c.close();
      const m = /DB loaded from disk: ([\d.]+) seconds/.exec(s.output());
      const rec = { spawnToPongMs: pongAt - s.spawnedAt, spawnToReadyMs: readyAt - s.spawnedAt, serverReportedLoadMs: m ? Number(m[1]) * 1000 : null, dbsize, rssBytes: rssBytes(s.pid) };
      partial[kind].restart = rec;
      progress(`${kind}: first PONG ${rec.spawnToPongMs.toFixed(0)} ms, ready ${rec.spawnToReadyMs.toFixed(0)} ms after spawn (server says ${rec.serverReportedLoadMs ?? '?'} ms loading), DBSIZE ${dbsize}`);
      if (dbsize !== opts.keys) throw new Error(`${kind}: DBSIZE ${dbsize} after restart, expected ${opts.keys}`);
    }
  } finally {
    await Promise.all([servers.forkv.stop(), servers.redis.stop()]);
  }

  const res = partial as Record<ServerKind, ServerResult>;
  const both = <T>(f: (r: ServerResult) => T): [T, T] => [f(res.forkv), f(res.redis)];
  const row = (metric: string, unit: string, f: (r: ServerResult) => number | null, higher: boolean, target = '', figure?: FigureId): Comparison => {
    const [a, b] = both(f);
    return compare(metric, unit, a, b, higher, target, figure);
  };
  const med = (xs: number[]): number => median(xs.filter((x) => Number.isFinite(x)));
  const rows: Comparison[] = [
    row('latest_fork_usec (median)', 'us', (r) => med(r.saves.map((x) => x.forkUsec)), false, '<= 1.0', 'fork-usec'),
    row('BGSAVE -> rdb_bgsave_in_progress:0 (median)', 'ms', (r) => med(r.saves.map((x) => x.durationMs)), false, '<= 0.7', 'bgsave-ms'),
    row('SAVE -> +OK (median)', 'ms', (r) => med(r.foregroundSavesMs), false, '', 'save-ms'),
    row('BGSAVE -> dump.rdb renamed (median)', 'ms', (r) => med(r.saves.map((x) => x.renameMs ?? NaN)), false, '<= 1.0'),
    row('dump.rdb size', 'MB', (r) => (r.saves[r.saves.length - 1]?.dumpBytes ?? NaN) / 1e6, false, '<= 1.0'),
    row('peak RSS parent + child during BGSAVE (max)', 'MB', (r) => Math.max(...r.saves.map((x) => x.peakFamilyRssBytes)) / 1e6, false, '<= 1.0', 'peak-rss-bgsave'),
    row('  RSS before BGSAVE', 'MB', (r) => (r.saves[0]?.rssBeforeBytes ?? NaN) / 1e6, false),
    row('load at start: spawn -> first PONG', 'ms', (r) => r.restart.spawnToPongMs, false, '<= 0.7', 'restart-pong-ms'),
    row('load at start: spawn -> Ready', 'ms', (r) => r.restart.spawnToReadyMs, false),
    row('load at start: "DB loaded from disk"', 'ms', (r) => r.restart.serverReportedLoadMs, false, '<= 1.0'),
    row('  start with no dump: spawn -> Ready', 'ms', (r) => r.emptyStartMs, false),
    row(`probe ${opts.probeCmd} p50, idle`, 'ms', (r) => r.idleProbe.p50, false),
    row(`probe ${opts.probeCmd} p99, idle`, 'ms', (r) => r.idleProbe.p99, false),
    row(`probe ${opts.probeCmd} p50, during BGSAVE`, 'ms', (r) => r.probeDuringSaves.p50, false),
    row(`probe ${opts.probeCmd} p99, during BGSAVE`, 'ms', (r) => r.probeDuringSaves.p99, false, '<= 1.0'),
    row(`probe ${opts.probeCmd} max, during BGSAVE`, 'ms', (r) => r.probeDuringSaves.max, false),
    row('rdb_last_cow_size, idle BGSAVE (median)', 'MB', (r) => med(r.saves.map((x) => x.cowBytes)) / 1e6, false),
  ];
  if (!opts.skipLoop) {
    rows.push(
      row(`SET p99 at ${opts.loopRate}/s, idle`, 'ms', (r) => (r.loop ? r.loop.idle.p99 : null), false),
      row(`SET p99 at ${opts.loopRate}/s, BGSAVE loop`, 'ms', (r) => (r.loop ? r.loop.loop.p99 : null), false),
      row('  SET p99 BGSAVE loop / idle (each server)', 'x', (r) => (r.loop ? r.loop.loop.p99 / r.loop.idle.p99 : null), false, 'forkv <= 2', 'bgsave-loop-p99'),
    );
  }
  if (opts.cow) {
    rows.push(
      row(`rdb_last_cow_size, ${opts.cowWrites} SETs during save`, 'MB', (r) => (r.cow ? r.cow.rdbLastCowSize / 1e6 : null), false, '<= 1.0'),
      row('  copy-on-write save duration', 's', (r) => (r.cow ? r.cow.durationMs / 1000 : null), false),
      row('  SETs acknowledged during that save', 'SETs', (r) => (r.cow ? r.cow.writesAckedDuringSave : null), true),
    );
  }
  rows.push(
    row('RSS after loading', 'MB', (r) => r.load.rssBytes / 1e6, false),
    row('used_memory after loading', 'MB', (r) => r.load.usedMemory / 1e6, false),
    row('pipelined loader (1 connection)', 'SET/s', (r) => r.load.opsPerSec, true),
  );
  printTable(`snapshot: ${opts.keys} keys x ${opts.valueSize} bytes, ${opts.saves} BGSAVEs, probe ${opts.probeCmd} at ${opts.probeRate}/s, hz ${opts.hz}`, rows);
  finishBench(b, {
    table: rows,
    servers: res,
  });
}

runBench(main);
