// Memory per key: forkv vs redis-server, for 1M small hashes (5 fields) and 1M 100-byte
// strings, loaded through pipelined raw sockets. Prints bytes/key from INFO used_memory
// and from process RSS (/proc/<pid>/status VmRSS), and the forkv/redis ratios.
//
//   npx tsx bench/memory/run.ts [keys]        (default 1000000; not part of npm test)
import * as fs from 'node:fs';
import { startRedis, startServer, type RunningServer } from '../../test/helpers/server';
import { RespConn, text } from '../../test/types/resp';

const N = Number(process.argv[2] ?? 1_000_000);
const BATCH = 2000;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function usedMemory(c: RespConn): Promise<number> {
  const info = text(await c.call('INFO', 'memory')) ?? '';
  const m = /used_memory:(\d+)/.exec(info);
  return m ? Number(m[1]) : NaN;
}

/** Sends `n` commands built by `make(i)` in pipelined batches, awaiting each batch. */
async function load(c: RespConn, n: number, make: (i: number) => string[]): Promise<void> {
  for (let start = 0; start < n; start += BATCH) {
    const cmds: string[][] = [];
    for (let i = start; i < Math.min(n, start + BATCH); i++) cmds.push(make(i));
    const replies = await c.pipeline(cmds);
    const bad = replies.find((r) => r.type === '-');
    if (bad) throw new Error(`load failed: ${text(bad)}`);
  }
}

interface Sample {
  used: number;
  rss: number;
}

async function measure(srv: RunningServer, c: RespConn, n: number, make: (i: number) => string[]): Promise<[Sample, Sample]> {
  await c.call('FLUSHALL');
  const before = { used: await usedMemory(c), rss: rssBytes(srv.pid) };
  await load(c, n, make);
  const after = { used: await usedMemory(c), rss: rssBytes(srv.pid) };
  return [before, after];
}

const VALUE100 = 'v'.repeat(100);
const WORKLOADS: Array<[string, (i: number) => string[]]> = [
  ['1M small hashes (5 fields)', (i) => ['HSET', `user:${i}`, 'name', `n${i}`, 'age', String(i % 100), 'city', 'Paris', 'email', `u${i}@x.io`, 'plan', 'free']],
  ['1M strings of 100 bytes', (i) => ['SET', `key:${i}`, VALUE100]],
];

async function main(): Promise<void> {
  console.log(`keys per workload: ${N}`);
  // Fresh servers per workload: memory a FLUSHALL frees stays in the allocator's pools
  // (and in RSS), which would make the second workload look free.
  for (const [name, make] of WORKLOADS) {
    const [forkv, redis] = await Promise.all([startServer(), startRedis()]);
    const [fc, rc] = await Promise.all([RespConn.connect(forkv.port), RespConn.connect(redis.port)]);
    try {
      const [fb, fa] = await measure(forkv, fc, N, make);
      const [rb, ra] = await measure(redis, rc, N, make);
      const per = (a: Sample, b: Sample, k: keyof Sample): number => (a[k] - b[k]) / N;
      const fu = per(fa, fb, 'used');
      const ru = per(ra, rb, 'used');
      const fr = per(fa, fb, 'rss');
      const rr = per(ra, rb, 'rss');
      console.log(`\n${name}`);
      console.log(`  used_memory bytes/key: forkv ${fu.toFixed(1)}  redis ${ru.toFixed(1)}  ratio ${(fu / ru).toFixed(2)}`);
      console.log(`  RSS growth  bytes/key: forkv ${fr.toFixed(1)}  redis ${rr.toFixed(1)}  ratio ${(fr / rr).toFixed(2)}`);
      const enc = text(await fc.call('OBJECT', 'ENCODING', make(0)[1] as string));
      console.log(`  forkv encoding of the first key: ${enc}`);
    } finally {
      fc.close();
      rc.close();
      await Promise.all([forkv.stop(), redis.stop()]);
    }
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
