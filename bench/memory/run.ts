// bench/memory: memory per key on forkv vs redis-server, side by side.
//
//   npx tsx bench/memory/run.ts                    # full scale: 1M keys per workload
//   npx tsx bench/memory/run.ts --keys 100000      # smoke run
//
// For each workload, both servers start fresh (memory a FLUSHALL frees stays in the
// allocator's pools and in RSS, which would make a second workload look free), get the same
// keys through the pipelined raw loader, and are measured before and after:
//   - RSS bytes per key: growth of VmRSS (/proc/<pid>/status) divided by the key count;
//   - used_memory bytes per key: growth of INFO used_memory (what the server's allocator
//     wrapper counts: requested sizes on forkv, jemalloc usable sizes on redis);
//   - fragmentation: INFO mem_fragmentation_ratio after loading (RSS / used_memory, so
//     forkv's includes Node's own heap and code), and the growth ratio RSS / used_memory
//     over the load alone (what the allocator adds to the data it was asked for).
import * as path from 'node:path';

import { bool, int, strList } from '../lib/flags';
import { loadKeys } from '../lib/load';
import { rssBytes } from '../lib/proc';
import { compare, printTable, progress, type Comparison } from '../lib/report';
import { cmd, RawClient, sleep, text, type BatchResult, dbsize as dbsizeOf, info as infoOf } from '../lib/client';
import { KINDS, settingsFromList, startServer, type ServerKind } from '../lib/servers';
import { beginBench, commonFlags, finishBench, runBench } from '../lib/harness';

const SPEC = {
  keys: int(1_000_000, 'keys per workload'),
  valueSize: int(100, 'string value size, bytes (pseudo-random text)'),
  workloads: strList(['strings', 'hashes'], 'strings (SET key:<i> <value>) and/or hashes (HSET user:<i> with 5 short fields)'),
  settleMs: int(1000, 'wait after loading before measuring (lets Node\'s GC and the allocators settle)'),
  pin: bool(false, 'taskset: servers on CPU 0'),
  seed: int(1, 'PRNG seed for values'),
  ...commonFlags("keep the servers' data directories after the run"),
};

const TITLE = 'bench/memory: RSS and used_memory bytes per key, fragmentation, forkv vs redis-server';

interface Sample {
  rss: number;
  used: number;
  fragRatio: number;
}

interface WorkloadResult {
  before: Sample;
  after: Sample;
  encoding: string;
}

async function sample(c: RawClient, pid: number): Promise<Sample> {
  const info = await infoOf(c, 'memory');
  return { rss: rssBytes(pid), used: Number(info.get('used_memory')), fragRatio: Number(info.get('mem_fragmentation_ratio')) };
}

/** HSET user:<i> with five short fields, pipelined in batches of 1000 (8 in flight). */
async function loadHashes(c: RawClient, keys: number): Promise<void> {
  const inflight: Array<Promise<BatchResult>> = [];
  const check = (r: BatchResult): void => {
    if (r.errors > 0) throw new Error(`load: ${r.errors} error replies, first: ${r.firstError ?? ''}`);
  };
  for (let start = 0; start < keys; start += 1000) {
    const parts: Buffer[] = [];
    const n = Math.min(1000, keys - start);
    for (let i = start; i < start + n; i++) {
      parts.push(cmd('HSET', `user:${i}`, 'name', `n${i}`, 'age', String(i % 100), 'city', 'Paris', 'email', `u${i}@x.io`, 'plan', 'free'));
    }
    inflight.push(c.sendBatch(Buffer.concat(parts), n));
    if (inflight.length >= 8) check(await (inflight.shift() as Promise<BatchResult>));
  }
  for (const p of inflight) check(await p);
}

async function main(): Promise<void> {
  const b = beginBench('memory', TITLE, SPEC, (opts) => {
    for (const w of opts.workloads) if (w !== 'strings' && w !== 'hashes') throw new Error(`--workloads: unknown workload ${w}`);
  });
  const { opts, bin, base } = b;
  const settings = settingsFromList(opts.serverArgs);
  const results: Record<string, Record<ServerKind, WorkloadResult>> = {};
  const tables: Record<string, Comparison[]> = {};

  for (const workload of opts.workloads) {
    const partial: Partial<Record<ServerKind, WorkloadResult>> = {};
    for (const kind of KINDS) {
      const s = await startServer({ kind, bin, dir: path.join(base, `${workload}-${kind}`), settings, cpu: opts.pin ? 0 : null });
      try {
        const c = await RawClient.connect(s.port);
        await sleep(opts.settleMs);
        const before = await sample(c, s.pid);
        progress(`${kind}: loading ${opts.keys} ${workload}`);
        if (workload === 'strings') {
          await loadKeys(c, { keys: opts.keys, valueSize: opts.valueSize, prefix: 'key:', batch: 1000, window: 8, seed: opts.seed });
        } else {
          await loadHashes(c, opts.keys);
        }
        const dbsize = await dbsizeOf(c);
        if (dbsize !== opts.keys) throw new Error(`${kind}: DBSIZE ${dbsize} after loading ${opts.keys} keys`);
        await sleep(opts.settleMs);
        const after = await sample(c, s.pid);
        const enc = await c.call('OBJECT', 'ENCODING', workload === 'strings' ? 'key:0' : 'user:0');
        partial[kind] = { before, after, encoding: text(enc) ?? '' };
        progress(`${kind}: RSS ${((after.rss - before.rss) / opts.keys).toFixed(1)} B/key, used_memory ${((after.used - before.used) / opts.keys).toFixed(1)} B/key, mem_fragmentation_ratio ${after.fragRatio}`);
        c.close();
      } finally {
        await s.stop();
      }
    }
    const r = partial as Record<ServerKind, WorkloadResult>;
    results[workload] = r;
    const per = (k: ServerKind, f: 'rss' | 'used'): number => (r[k].after[f] - r[k].before[f]) / opts.keys;
    const growthFrag = (k: ServerKind): number => (r[k].after.rss - r[k].before.rss) / (r[k].after.used - r[k].before.used);
    const what = workload === 'strings' ? `${opts.keys} strings x ${opts.valueSize} B` : `${opts.keys} hashes x 5 fields`;
    const rows: Comparison[] = [
      compare('RSS bytes per key', 'B', per('forkv', 'rss'), per('redis', 'rss'), false, workload === 'strings' ? '<= 0.8' : '', workload === 'strings' ? 'rss-per-key' : undefined),
      compare('used_memory bytes per key', 'B', per('forkv', 'used'), per('redis', 'used'), false),
      compare('mem_fragmentation_ratio (INFO, RSS / used_memory)', '', r.forkv.after.fragRatio, r.redis.after.fragRatio, false, 'forkv <= 1.1', workload === 'strings' ? 'frag-info' : undefined),
      compare('fragmentation of the load (RSS growth / used_memory growth)', '', growthFrag('forkv'), growthFrag('redis'), false, 'forkv <= 1.1', workload === 'strings' ? 'frag-load' : undefined),
      compare('RSS after loading', 'MB', r.forkv.after.rss / 1e6, r.redis.after.rss / 1e6, false),
      compare('RSS before loading (empty server)', 'MB', r.forkv.before.rss / 1e6, r.redis.before.rss / 1e6, false),
    ];
    tables[workload] = rows;
    printTable(`memory: ${what} (encoding forkv ${r.forkv.encoding}, redis ${r.redis.encoding})`, rows);
  }

  finishBench(b, {
    tables,
    results,
  });
}

runBench(main);
