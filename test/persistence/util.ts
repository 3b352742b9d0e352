// Shared helpers of the persistence suites: INFO parsing, polling, real tools
// (redis-check-rdb, redis-check-aof), a tmpfs for full-disk tests, and a launcher that
// starts forkv with exactly the arguments given (startServer always adds `--save ""`,
// which would override a config file's save rules).
import { execFile } from 'node:child_process';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Redis from 'ioredis';

import { startServer, type RunningServer } from '../helpers/server';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

import { quiet } from '../helpers/fixture';
import { infoFields } from '../helpers/info';

export { quiet };

export { infoFields };

/** INFO <section> as a map. */
export async function info(io: Redis, section = 'all'): Promise<Map<string, string>> {
  return infoFields(await io.info(section));
}

/** One INFO field as a number (throws if absent). */
export async function infoNum(io: Redis, field: string, section = 'all'): Promise<number> {
  const v = (await info(io, section)).get(field);
  if (v === undefined) throw new Error(`INFO has no ${field}`);
  return Number(v);
}

/** Polls `cond` every `every` ms until it holds; throws with `what` after `ms`. */
export async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, ms = 10000, every = 20): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** Waits until no BGSAVE / rewrite child runs. */
export async function waitNoChild(io: Redis, ms = 15000): Promise<void> {
  await waitUntil(
    'the fork child to finish',
    async () => {
      const i = await info(io, 'persistence');
      return i.get('rdb_bgsave_in_progress') === '0' && i.get('aof_rewrite_in_progress') === '0' && i.get('aof_rewrite_scheduled') === '0';
    },
    ms,
    25,
  );
}

/** The error message of a rejected command (fails if it succeeded). */
export async function errOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error reply');
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion. */
export function run(file: string, args: string[], timeoutMs = 30000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const c = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof c === 'number' ? c : err ? 1 : 0, stdout, stderr });
    });
  });
}

/** redis-check-rdb on a file. */
export function checkRdb(file: string): Promise<Ran> {
  return run('/usr/bin/redis-check-rdb', [file]);
}

/** redis-check-aof on a manifest (or single file). */
export function checkAof(file: string): Promise<Ran> {
  return run('/usr/bin/redis-check-aof', [file]);
}

/** A small tmpfs: the one reliable way to make writes fail with ENOSPC when running as root. */
export interface Tmpfs {
  dir: string;
  /** Fills the free space with a filler file; `release()` removes it. */
  fill(): void;
  release(): void;
  unmount(): Promise<void>;
}

export async function mountTmpfs(parent: string, size: string): Promise<Tmpfs> {
  const dir = path.join(parent, 'small-disk');
  fs.mkdirSync(dir, { recursive: true });
  const r = await run('/bin/mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (r.code !== 0) throw new Error(`mount tmpfs failed (tests need root): ${r.stderr}`);
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = fs.openSync(filler, 'w');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
      // Byte-sized leftovers too: the disk must be completely full.
      try {
        for (;;) fs.writeSync(fd, Buffer.from('x'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
      fs.closeSync(fd);
    },
    release() {
      fs.rmSync(filler, { force: true });
    },
    async unmount() {
      // Lazy: a server that still holds a file must not make the test fail here.
      await run('/bin/umount', ['-l', dir]);
    },
  };
}

/** Starts `node dist/cli.js <args>` with exactly these arguments (plus --port). */
export function launch(args: string[], opts: { waitReady?: boolean; dir: string }): Promise<RunningServer> {
  return startServer({ bare: true, args, dir: opts.dir, cwd: opts.dir, waitReady: opts.waitReady });
}

/** The whole output of an exited server ('exit' can come before the last stdout bytes). */
export async function drained(srv: RunningServer): Promise<string> {
  await srv.exited;
  const open = [srv.proc.stdout, srv.proc.stderr].filter((s): s is NonNullable<typeof s> => s !== null && !s.destroyed);
  await Promise.all(open.map((s) => new Promise<void>((r) => s.once('close', () => r()))));
  return srv.output();
}

/** Writes `n` string keys `${prefix}${i}` with `size`-byte values through a pipeline. */
export async function fill(io: Redis, n: number, size: number, prefix = 'k:'): Promise<void> {
  const v = 'v'.repeat(size);
  for (let start = 0; start < n; start += 5000) {
    const p = io.pipeline();
    for (let i = start; i < Math.min(n, start + 5000); i++) p.set(`${prefix}${i}`, v);
    await p.exec();
  }
}

/** Temp files a failed or killed child could leave behind. */
export function tempFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /^temp-.*\.(rdb|aof)$/.test(f));
}

/** The pid in the latest "<what> started by pid N" log line. */
export function childPidFromLog(output: string, what = 'Background saving'): number {
  const re = new RegExp(`${what} started by pid (\\d+)`, 'g');
  let pid = -1;
  for (const m of output.matchAll(re)) pid = Number(m[1]);
  if (pid <= 0) throw new Error(`no "${what} started by pid" line in:\n${output}`);
  return pid;
}

/** Waits for the `n`-th "<what> started by pid N" line (1-based) and returns its pid. */
export async function nthChildPid(srv: RunningServer, n: number, what = 'Background saving'): Promise<number> {
  const re = new RegExp(`${what} started by pid (\\d+)`, 'g');
  let pid = -1;
  await waitUntil(`log line #${n} "${what} started by pid"`, () => {
    const all = [...srv.output().matchAll(re)];
    pid = Number(all[n - 1]?.[1] ?? -1);
    return pid > 0;
  }, 5000, 5);
  return pid;
}

/** Count of occurrences of `re` in text. */
export function count(text: string, re: RegExp): number {
  // A fresh regexp: matchAll would start at a shared /g regexp's lastIndex.
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  return [...text.matchAll(g)].length;
}

/* ------------------------------------------------------------------ contents of a server */

/** What a server holds: "db/keyhex" -> canonical value, and PTTLs. */
export interface Contents {
  values: Map<string, string>;
  ttls: Map<string, number>;
}

export const hex = (b: Buffer): string => b.toString('hex');
const sorted = (xs: Buffer[]): string[] => xs.map(hex).sort();

/** A value read through redis-server commands, canonical (binary-safe, order-free where the type is). */
export async function canonical(r: Redis, key: Buffer): Promise<string> {
  const type = await r.type(key);
  switch (type) {
    case 'string':
      return `string:${hex((await r.getBuffer(key)) ?? Buffer.alloc(0))}`;
    case 'list':
      return `list:${(await r.lrangeBuffer(key, 0, -1)).map(hex).join(',')}`;
    case 'set':
      return `set:${sorted(await r.smembersBuffer(key)).join(',')}`;
    case 'hash': {
      // ioredis may hand pairs as [field, value] arrays or flat: accept both.
      const flat = ((await r.callBuffer('HGETALL', key)) as Array<Buffer | Buffer[]>).flat();
      const pairs: string[] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push(`${hex(flat[i] as Buffer)}=${hex(flat[i + 1] as Buffer)}`);
      return `hash:${pairs.sort().join(',')}`;
    }
    case 'zset': {
      const flat = ((await r.callBuffer('ZRANGE', key, '0', '-1', 'WITHSCORES')) as Array<Buffer | Buffer[]>).flat();
      const pairs: string[] = [];
      // Scores as doubles: redis 7.0 prints %.17g, Valkey 8 the shortest round-trip form.
      for (let i = 0; i < flat.length; i += 2) pairs.push(`${hex(flat[i] as Buffer)}@${Number((flat[i + 1] as Buffer).toString())}`);
      return `zset:${pairs.join(',')}`;
    }
    case 'stream':
      return `stream:${await canonicalStream(r, key)}`;
    default:
      throw new Error(`unexpected type ${type}`);
  }
}

/** A flat `[k, v, k, v]` reply as a map of its string keys. */
function flatMap(reply: unknown): Map<string, unknown> {
  const m = new Map<string, unknown>();
  const a = reply as unknown[];
  for (let i = 0; i + 1 < a.length; i += 2) m.set(String(a[i]), a[i + 1]);
  return m;
}

/**
 * A stream: its entries (binary-safe), the metadata XINFO STREAM shows, each group's
 * counters, pending entries (owner and delivery count; not times) and consumers.
 */
async function canonicalStream(r: Redis, key: Buffer): Promise<string> {
  const entries = (await r.callBuffer('XRANGE', key, '-', '+')) as Array<[Buffer, Buffer[]]>;
  const parts = [entries.map(([id, fv]) => `${id.toString()}{${fv.map(hex).join(',')}}`).join(';')];
  const info = flatMap(await r.call('XINFO', 'STREAM', key));
  for (const f of ['length', 'last-generated-id', 'max-deleted-entry-id', 'entries-added', 'recorded-first-entry-id', 'groups']) {
    parts.push(`${f}=${String(info.get(f))}`);
  }
  const groups = (await r.call('XINFO', 'GROUPS', key)) as unknown[][];
  for (const g of groups) {
    const gm = flatMap(g);
    const name = String(gm.get('name'));
    parts.push(['name', 'consumers', 'pending', 'last-delivered-id', 'entries-read', 'lag'].map((f) => `${f}=${String(gm.get(f))}`).join(','));
    const pel = (await r.call('XPENDING', key, name, '-', '+', '1000000')) as Array<[string, string, number, number]>;
    parts.push(pel.map(([id, owner, , count]) => `${id}:${owner}:${count}`).join(','));
    const consumers = (await r.call('XINFO', 'CONSUMERS', key, name)) as unknown[][];
    parts.push(consumers.map((c) => { const cm = flatMap(c); return `${String(cm.get('name'))}/${String(cm.get('pending'))}`; }).join(','));
  }
  return parts.join('|');
}

/** Every key of the given dbs: key hex -> canonical value, and PTTLs. */
export async function contents(port: number, dbs: number[]): Promise<Contents> {
  const values = new Map<string, string>();
  const ttls = new Map<string, number>();
  for (const db of dbs) {
    const r = quiet(port, db);
    for (const k of await r.keysBuffer('*')) {
      values.set(`${db}/${hex(k)}`, await canonical(r, k));
      ttls.set(`${db}/${hex(k)}`, await r.pttl(k));
    }
    r.disconnect();
  }
  return { values, ttls };
}

/** Asserts equal key sets, values, and TTLs within 5 s. */
export function sameContents(got: Contents, want: Contents, what: string): void {
  assert.equal([...got.values.keys()].sort(), [...want.values.keys()].sort(), `${what}: key sets`);
  for (const [k, v] of want.values) {
    const g = got.values.get(k);
    if (g !== v) assert.unreachable(`${what}: ${k} differs: ${(g ?? "missing").slice(0, 400)} vs ${v.slice(0, 400)}`);
    const tw = want.ttls.get(k) ?? -1;
    const tg = got.ttls.get(k) ?? -1;
    if (tw < 0) assert.is(tg, tw, `${what}: ${k} TTL`);
    else assert.ok(Math.abs(tg - tw) < 5000 && tg > 0, `${what}: ${k} PTTL ${tg} vs ${tw}`);
  }
}
