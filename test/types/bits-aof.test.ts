// AOF propagation of bitmaps and HyperLogLog: random SETBIT/BITFIELD/BITOP and
// PFADD/PFMERGE/PFCOUNT/PFDEBUG writes with appendonly on, a restart from the same
// directory, and every key's bytes must be the same after the replay. PFCOUNT's cached
// cardinality is part of the bytes, so this also checks that a PFCOUNT that refreshed the
// cache was propagated (as Valkey does), and a PFCOUNT served from the cache was not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, tempDir, type RunningServer } from '../helpers/server';
import { items, RawClient, show, text } from '../helpers/client';
import { rng } from '../helpers/rng';

let srv: RunningServer | undefined;

test.after(async () => {
  await srv?.stop();
});

async function dump(c: RawClient): Promise<string> {
  const keys = items(await c.call('KEYS', '*')).map((k) => text(k) ?? '').sort();
  const out: string[] = [];
  for (const k of keys) out.push(`${k} ${show(await c.call('GET', k))}`);
  return out.join('\n');
}

/** The text of every incr AOF file in the directory. */
function aofText(dir: string): string {
  const d = path.join(dir, 'appendonlydir');
  return fs
    .readdirSync(d)
    .filter((f) => f.endsWith('.incr.aof'))
    .map((f) => fs.readFileSync(path.join(d, f), 'latin1'))
    .join('');
}

test('replaying the AOF rebuilds the same bitmaps and HyperLogLogs, byte for byte', async () => {
  const dir = tempDir('forkv-bits-aof-');
  srv = await startServer({ dir, args: ['--appendonly', 'yes', '--appendfsync', 'always', '--aof-use-rdb-preamble', 'no'] });
  let c = await RawClient.connect(srv.port);
  const r = rng(99);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const n = (hi: number): string => String(Math.floor(r() * hi));
  const cmds: Array<() => string[]> = [
    () => ['SETBIT', pick(['b1', 'b2']), n(500), pick(['0', '1'])],
    () => ['BITFIELD', pick(['b1', 'b2']), 'OVERFLOW', pick(['WRAP', 'SAT', 'FAIL']), 'INCRBY', pick(['u8', 'i5', 'u63', 'i64']), n(400), pick(['100', '-7', '1'])],
    () => ['BITFIELD', 'b2', 'SET', 'i16', `#${n(20)}`, n(70000)],
    () => ['BITOP', pick(['AND', 'OR', 'XOR']), 'b3', 'b1', 'b2'],
    () => ['BITOP', 'NOT', 'b4', 'b1'],
    () => ['PFADD', pick(['p1', 'p2']), ...Array.from({ length: 1 + Math.floor(r() * 30) }, () => `e${n(3000)}`)],
    () => ['PFCOUNT', pick(['p1', 'p2'])],
    () => ['PFMERGE', 'p3', 'p1', 'p2'],
    () => ['PFDEBUG', 'TODENSE', 'p2'],
  ];
  for (let i = 0; i < 1500; i++) await c.call(...(pick(cmds)()));
  await c.call('PFCOUNT', 'p1');
  const before = await dump(c);
  assert.ok(before.split('\n').length >= 6, 'several keys exist');
  // A refreshed cache is propagated; a cached answer is not.
  const log = aofText(dir);
  const pfcounts = (log.match(/PFCOUNT/g) ?? []).length;
  assert.ok(pfcounts > 0, 'PFCOUNT refreshing the cache is in the AOF');
  await c.call('PFCOUNT', 'p1');
  assert.is((aofText(dir).match(/PFCOUNT/g) ?? []).length, pfcounts, 'a cached PFCOUNT is not propagated');
  c.close();
  await srv.stop();
  srv = await startServer({ dir, args: ['--appendonly', 'yes'] });
  c = await RawClient.connect(srv.port);
  const after = await dump(c);
  c.close();
  assert.fixture(after, before);
});

test.run();
