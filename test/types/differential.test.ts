// Differential test: the same seeded random command streams run against forkv and
// Debian's redis-server 7.0, every reply compared exactly after these documented
// normalisations (and nothing else):
//
// 1. Doubles. Redis 7.0 prints 17 significant digits (0.10000000000000001), Valkey 8
//    and forkv the shortest round-trip form (0.1): scores of score-returning commands
//    and RESP3 double replies are compared as numbers. HINCRBYFLOAT is computed in long
//    double by Redis and in double by forkv: compared with a relative tolerance of 1e-12,
//    then the field is re-synced from forkv.
// 2. Order. Hash tables iterate in an implementation-defined order: SMEMBERS, SINTER,
//    SUNION, SDIFF, HKEYS, HVALS, HGETALL and complete SSCAN/HSCAN/ZSCAN replies are
//    compared as sorted multisets (pairs kept together).
// 3. Randomness. SPOP, SRANDMEMBER, HRANDFIELD and ZRANDMEMBER are checked by
//    properties (shape, count, distinctness, membership, values/scores match), then the
//    state SPOP changed is re-synced from forkv into redis.
// 4. OBJECT ENCODING is not sent (forkv reports what it really uses).
// Commands that Redis 7.0 lacks (HSCAN NOVALUES, ZRANK WITHSCORE) are not generated here;
// the per-type suites cover them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { usePair } from '../helpers/fixture';
import { items, RawClient, show, text, type Resp } from '../helpers/client';
import { int, many, pick, rng, type Rand } from '../helpers/rng';

const fx = usePair(test);

type Cmd = string[];

const SMALL = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '1', '2', '3', '10', '-5', '007', ''];
const LONG = 'L'.repeat(70);

/** A member: mostly small, sometimes an integer, sometimes long enough to force the big encoding. */
function elem(r: Rand): string {
  const x = r();
  if (x < 0.03) return LONG + String(int(r, 0, 3));
  if (x < 0.35) return String(int(r, -3, 40));
  return pick(r, SMALL);
}

const LIST_KEYS = ['l0', 'l1', 'l2'];
const HASH_KEYS = ['h0', 'h1', 'h2'];
const SET_KEYS = ['s0', 's1', 's2', 'si'];
const ZSET_KEYS = ['z0', 'z1', 'z2'];
const LEX_KEYS = ['zl0', 'zl1'];
const ALL_KEYS = [...LIST_KEYS, ...HASH_KEYS, ...SET_KEYS, ...ZSET_KEYS, 'str', 'missing'];

/** Usually a key of the family, sometimes any key (WRONGTYPE and missing keys). */
function keyOf(r: Rand, family: readonly string[]): string {
  return r() < 0.12 ? pick(r, ALL_KEYS) : pick(r, family);
}

const INTISH = ['0', '1', '2', '-1', '-2', '3', '5', '100', '-100', 'abc', '1.5', '9223372036854775807', '-9223372036854775808', '99999999999999999999'];
const idx = (r: Rand): string => (r() < 0.9 ? String(int(r, -8, 8)) : pick(r, INTISH));

function listCmd(r: Rand): Cmd {
  const k = keyOf(r, LIST_KEYS);
  const k2 = keyOf(r, LIST_KEYS);
  const side = (): string => pick(r, ['LEFT', 'RIGHT', 'left', 'MIDDLE'].slice(0, r() < 0.97 ? 3 : 4));
  switch (int(r, 0, 19)) {
    case 0:
    case 1:
      return ['LPUSH', k, ...many(r, int(r, 1, 4), () => elem(r))];
    case 2:
    case 3:
      return r() < 0.03 ? ['RPUSH', k, ...many(r, 60, () => 'x'.repeat(int(r, 100, 200)))] : ['RPUSH', k, ...many(r, int(r, 1, 4), () => elem(r))];
    case 4:
      return [pick(r, ['LPUSHX', 'RPUSHX']), k, elem(r)];
    case 5:
      return r() < 0.5 ? [pick(r, ['LPOP', 'RPOP']), k] : [pick(r, ['LPOP', 'RPOP']), k, pick(r, ['0', '1', '2', '5', '100', '-1', 'x'])];
    case 6:
      return ['LLEN', k];
    case 7:
    case 8:
      return ['LRANGE', k, idx(r), idx(r)];
    case 9:
      return ['LINDEX', k, idx(r)];
    case 10:
      return ['LSET', k, idx(r), elem(r)];
    case 11:
      return ['LINSERT', k, pick(r, ['BEFORE', 'AFTER', 'before', 'NEAR']), elem(r), elem(r)];
    case 12:
      return ['LREM', k, String(int(r, -3, 3)), elem(r)];
    case 13:
      return ['LTRIM', k, idx(r), idx(r)];
    case 14: {
      const c: Cmd = ['LPOS', k, elem(r)];
      if (r() < 0.4) c.push('RANK', pick(r, ['1', '2', '-1', '-2', '0', 'x']));
      if (r() < 0.4) c.push('COUNT', pick(r, ['0', '1', '2', '-1']));
      if (r() < 0.3) c.push('MAXLEN', pick(r, ['0', '1', '3', '-1']));
      return c;
    }
    case 15:
    case 16:
      return ['LMOVE', k, k2, side(), side()];
    case 17:
      return ['RPOPLPUSH', k, k2];
    case 18: {
      const n = int(r, 1, 3);
      const c: Cmd = ['LMPOP', r() < 0.05 ? '0' : String(n), ...many(r, n, () => keyOf(r, LIST_KEYS)), side()];
      if (r() < 0.5) c.push('COUNT', pick(r, ['1', '2', '10', '0']));
      return c;
    }
    default:
      return ['LRANGE', k, '0', '-1'];
  }
}

function hashCmd(r: Rand): Cmd {
  const k = keyOf(r, HASH_KEYS);
  const f = (): string => (r() < 0.02 ? LONG : pick(r, ['f1', 'f2', 'f3', 'f4', 'f5', 'n', 'x']));
  switch (int(r, 0, 17)) {
    case 0:
    case 1:
      return r() < 0.01
        ? ['HSET', k, ...many(r, 520, () => [`big${int(r, 0, 2000)}`, 'v']).flat()]
        : ['HSET', k, ...many(r, int(r, 1, 3), () => [f(), elem(r)]).flat(), ...(r() < 0.03 ? ['odd'] : [])];
    case 2:
      return ['HSETNX', k, f(), elem(r)];
    case 3:
      return ['HGET', k, f()];
    case 4:
      return ['HMSET', k, f(), elem(r)];
    case 5:
      return ['HMGET', k, f(), f(), f()];
    case 6:
      return ['HDEL', k, f(), ...(r() < 0.3 ? [f()] : [])];
    case 7:
      return ['HEXISTS', k, f()];
    case 8:
      return ['HLEN', k];
    case 9:
      return [pick(r, ['HKEYS', 'HVALS', 'HGETALL']), k];
    case 10:
    case 11:
      return ['HINCRBY', k, pick(r, ['n', 'f1', 'x']), pick(r, ['1', '-3', '100', '9223372036854775807', 'abc', '1.5'])];
    case 12:
      return ['HINCRBYFLOAT', k, pick(r, ['n', 'x', 'f2']), pick(r, ['1.5', '-0.25', '0.1', '3', 'abc', 'inf', '1e308', '2.5e-3'])];
    case 13:
      return ['HSTRLEN', k, f()];
    case 14: {
      const c: Cmd = ['HRANDFIELD', k];
      if (r() < 0.7) c.push(pick(r, ['0', '1', '2', '5', '-3', '-1', '100', 'x']));
      if (c.length === 3 && r() < 0.5) c.push(r() < 0.95 ? 'WITHVALUES' : 'NOPE');
      return c;
    }
    case 15:
      return ['HSCAN', k, '0', 'COUNT', '1000', ...(r() < 0.3 ? ['MATCH', 'f*'] : [])];
    default:
      return ['HGETALL', k];
  }
}

function setCmd(r: Rand): Cmd {
  const k = keyOf(r, SET_KEYS);
  const keys = (): string[] => many(r, int(r, 1, 3), () => keyOf(r, SET_KEYS));
  const member = (): string => (k === 'si' && r() < 0.8 ? String(int(r, 0, 30)) : elem(r));
  switch (int(r, 0, 19)) {
    case 0:
    case 1:
    case 2: {
      const x = r();
      if (x < 0.02) return ['SADD', k, ...many(r, 140, () => String(int(r, 0, 1000)))];
      if (x < 0.03) return ['SADD', 'si', ...many(r, 600, () => String(int(r, 0, 5000)))];
      return ['SADD', k, ...many(r, int(r, 1, 4), member)];
    }
    case 3:
      return ['SREM', k, member(), ...(r() < 0.3 ? [member()] : [])];
    case 4:
      return ['SMEMBERS', k];
    case 5:
      return ['SISMEMBER', k, member()];
    case 6:
      return ['SMISMEMBER', k, member(), member()];
    case 7:
      return ['SCARD', k];
    case 8:
      return r() < 0.5 ? ['SPOP', k] : ['SPOP', k, pick(r, ['0', '1', '2', '3', '50', '-1', 'x'])];
    case 9:
      return r() < 0.4 ? ['SRANDMEMBER', k] : ['SRANDMEMBER', k, pick(r, ['0', '1', '2', '5', '-4', '-1', '100', 'x'])];
    case 10:
      return ['SMOVE', k, keyOf(r, SET_KEYS), member()];
    case 11:
    case 12:
      return [pick(r, ['SINTER', 'SUNION', 'SDIFF']), ...keys()];
    case 13:
    case 14:
      return [pick(r, ['SINTERSTORE', 'SUNIONSTORE', 'SDIFFSTORE']), keyOf(r, SET_KEYS), ...keys()];
    case 15: {
      const ks = keys();
      const c: Cmd = ['SINTERCARD', r() < 0.05 ? '0' : String(ks.length), ...ks];
      if (r() < 0.4) c.push('LIMIT', pick(r, ['0', '1', '2', '-1']));
      return c;
    }
    case 16:
      return ['SSCAN', k, '0', 'COUNT', '1000', ...(r() < 0.3 ? ['MATCH', '1*'] : [])];
    default:
      return ['SCARD', k];
  }
}

const SCORES = ['1', '2', '-1', '0', '1.5', '3.25', '-inf', '+inf', '10', '1e3', '-0.5'];
const BAD_SCORES = ['abc', 'nan', '(1', ''];
const score = (r: Rand): string => (r() < 0.03 ? pick(r, BAD_SCORES) : pick(r, SCORES));
const rangeBound = (r: Rand): string => pick(r, ['-inf', '+inf', '0', '1', '(1', '2', '(2', '1.5', '-1', '(-1', '10', 'x', '(']);
const lexBound = (r: Rand): string => pick(r, ['-', '+', '[a', '(a', '[c', '(c', '[e', '[b', '(f', 'a', '[', '(']);

function zsetCmd(r: Rand): Cmd {
  const k = keyOf(r, ZSET_KEYS);
  const keys = (): string[] => many(r, int(r, 1, 3), () => keyOf(r, [...ZSET_KEYS, 's0']));
  const m = (): string => elem(r);
  switch (int(r, 0, 27)) {
    case 0:
    case 1:
    case 2: {
      if (r() < 0.02) return ['ZADD', k, ...many(r, 140, () => [String(int(r, -50, 50)), `m${int(r, 0, 300)}`]).flat()];
      const c: Cmd = ['ZADD', k];
      if (r() < 0.15) c.push(pick(r, ['NX', 'XX']));
      if (r() < 0.15) c.push(pick(r, ['GT', 'LT']));
      if (r() < 0.15) c.push('CH');
      if (r() < 0.1) {
        c.push('INCR', score(r), m());
        return c;
      }
      return [...c, ...many(r, int(r, 1, 3), () => [score(r), m()]).flat()];
    }
    case 3:
      return ['ZINCRBY', k, pick(r, ['1', '-2', '0.5', '+inf', '-inf', 'x']), m()];
    case 4:
      return ['ZREM', k, m(), ...(r() < 0.3 ? [m()] : [])];
    case 5:
      return ['ZSCORE', k, m()];
    case 6:
      return ['ZMSCORE', k, m(), m()];
    case 7:
      return ['ZCARD', k];
    case 8:
      return ['ZCOUNT', k, rangeBound(r), rangeBound(r)];
    case 9:
      return [pick(r, ['ZRANK', 'ZREVRANK']), k, m()];
    case 10:
    case 11: {
      const c: Cmd = ['ZRANGE', k];
      const byscore = r() < 0.4;
      c.push(...(byscore ? [rangeBound(r), rangeBound(r), 'BYSCORE'] : [idx(r), idx(r)]));
      if (r() < 0.3) c.push('REV');
      if (byscore && r() < 0.3) c.push('LIMIT', pick(r, ['0', '1', '2', '-1']), pick(r, ['1', '2', '-1', '0']));
      if (r() < 0.5) c.push('WITHSCORES');
      return c;
    }
    case 12:
      return [pick(r, ['ZRANGEBYSCORE', 'ZREVRANGEBYSCORE']), k, rangeBound(r), rangeBound(r), ...(r() < 0.5 ? ['WITHSCORES'] : []), ...(r() < 0.3 ? ['LIMIT', pick(r, ['0', '1', '3']), pick(r, ['1', '2', '-1'])] : [])];
    case 13:
      return ['ZREVRANGE', k, idx(r), idx(r), ...(r() < 0.5 ? ['WITHSCORES'] : [])];
    case 14:
      return ['ZRANGESTORE', keyOf(r, ZSET_KEYS), k, ...(r() < 0.5 ? [rangeBound(r), rangeBound(r), 'BYSCORE'] : [idx(r), idx(r)]), ...(r() < 0.2 ? ['REV'] : [])];
    case 15:
      return ['ZREMRANGEBYRANK', k, idx(r), idx(r)];
    case 16:
      return ['ZREMRANGEBYSCORE', k, rangeBound(r), rangeBound(r)];
    case 17:
      return [pick(r, ['ZPOPMIN', 'ZPOPMAX']), k, ...(r() < 0.5 ? [pick(r, ['0', '1', '2', '10', '-1'])] : [])];
    case 18: {
      const ks = keys();
      return ['ZMPOP', String(ks.length), ...ks, pick(r, ['MIN', 'MAX', 'MID']), ...(r() < 0.5 ? ['COUNT', pick(r, ['1', '2', '5', '0'])] : [])];
    }
    case 19: {
      const c: Cmd = ['ZRANDMEMBER', k];
      if (r() < 0.7) c.push(pick(r, ['0', '1', '2', '5', '-3', '100', 'x']));
      if (c.length === 3 && r() < 0.5) c.push('WITHSCORES');
      return c;
    }
    case 20:
    case 21: {
      const ks = keys();
      const op = pick(r, ['ZUNION', 'ZINTER', 'ZDIFF']);
      const c: Cmd = [op, r() < 0.03 ? '0' : String(ks.length), ...ks];
      if (op !== 'ZDIFF' && r() < 0.3) c.push('WEIGHTS', ...ks.map(() => pick(r, ['1', '2', '0.5', '-1', '0'])));
      if (op !== 'ZDIFF' && r() < 0.3) c.push('AGGREGATE', pick(r, ['SUM', 'MIN', 'MAX']));
      if (r() < 0.5) c.push('WITHSCORES');
      return c;
    }
    case 22:
    case 23: {
      const ks = keys();
      const op = pick(r, ['ZUNIONSTORE', 'ZINTERSTORE', 'ZDIFFSTORE']);
      const c: Cmd = [op, keyOf(r, ZSET_KEYS), String(ks.length), ...ks];
      if (op !== 'ZDIFFSTORE' && r() < 0.3) c.push('AGGREGATE', pick(r, ['SUM', 'MIN', 'MAX']));
      return c;
    }
    case 24: {
      const ks = keys();
      return ['ZINTERCARD', String(ks.length), ...ks, ...(r() < 0.4 ? ['LIMIT', pick(r, ['0', '1', '2'])] : [])];
    }
    case 25:
      return ['ZSCAN', k, '0', 'COUNT', '1000'];
    default:
      return ['ZRANGE', k, '0', '-1', 'WITHSCORES'];
  }
}

/** Lex commands run only on keys whose members all share score 0 (otherwise lex order is undefined). */
function lexCmd(r: Rand): Cmd {
  const k = pick(r, LEX_KEYS);
  const lm = (): string => pick(r, ['a', 'b', 'c', 'd', 'e', 'f', 'aa', 'ab', 'ba', '']);
  switch (int(r, 0, 9)) {
    case 0:
    case 1:
      return r() < 0.05 ? ['ZADD', k, ...many(r, 140, () => ['0', `k${int(r, 0, 400)}`]).flat()] : ['ZADD', k, '0', lm(), '0', lm()];
    case 2:
      return ['ZREM', k, lm()];
    case 3:
      return ['ZLEXCOUNT', k, lexBound(r), lexBound(r)];
    case 4:
    case 5:
      return [pick(r, ['ZRANGEBYLEX', 'ZREVRANGEBYLEX']), k, lexBound(r), lexBound(r), ...(r() < 0.3 ? ['LIMIT', pick(r, ['0', '1', '2', '-1']), pick(r, ['1', '3', '-1'])] : [])];
    case 6:
      return ['ZRANGE', k, lexBound(r), lexBound(r), 'BYLEX', ...(r() < 0.4 ? ['REV'] : []), ...(r() < 0.2 ? ['WITHSCORES'] : [])];
    case 7:
      return ['ZREMRANGEBYLEX', k, lexBound(r), lexBound(r)];
    case 8:
      return ['ZRANGESTORE', pick(r, LEX_KEYS), k, lexBound(r), lexBound(r), 'BYLEX'];
    default:
      return ['ZRANGE', k, '0', '-1'];
  }
}

// ---------------------------------------------------------------------------------
// Normalisation and comparison
// ---------------------------------------------------------------------------------

const DOUBLE_CMDS = new Set([
  'zscore', 'zincrby', 'zadd', 'zmscore', 'zrange', 'zrevrange', 'zrangebyscore', 'zrevrangebyscore',
  'zpopmin', 'zpopmax', 'zmpop', 'zrandmember', 'zunion', 'zinter', 'zdiff', 'zscan',
]);
const UNORDERED = new Set(['smembers', 'sinter', 'sunion', 'sdiff', 'hkeys', 'hvals']);
const PAIRS_UNORDERED = new Set(['hgetall']);
const SCANS = new Set(['hscan', 'sscan', 'zscan']);
const RANDOM = new Set(['spop', 'srandmember', 'hrandfield', 'zrandmember']);

function num(s: string): number {
  const l = s.toLowerCase();
  if (l === 'inf' || l === '+inf') return Infinity;
  if (l === '-inf') return -Infinity;
  return Number(s);
}

/** A canonical string for a reply; `doubles` compares numeric bulks as numbers. */
function canon(r: Resp, doubles: boolean): string {
  switch (r.type) {
    case ',':
      return `num:${num(r.value)}`;
    case '$': {
      if (r.value === null) return 'nil';
      const s = r.value.toString('latin1');
      if (doubles && s !== '' && !Number.isNaN(num(s))) return `num:${num(s)}`;
      return `bulk:${JSON.stringify(s)}`;
    }
    case '*':
    case '~':
    case '>':
      return r.value === null ? `${r.type}nil` : `${r.type}[${r.value.map((x) => canon(x, doubles)).join(',')}]`;
    case '%':
      return `%{${r.value.map(([k, v]) => `${canon(k, doubles)}=${canon(v, doubles)}`).join(',')}}`;
    default:
      return `${r.type}${String(r.value)}`;
  }
}

/** Sorted canonical elements; `pairs` keeps field/value (member/score) pairs together. */
function sortedElements(elems: Resp[], doubles: boolean, pairs: boolean): string {
  const parts: string[] = [];
  if (pairs) {
    for (let i = 0; i + 1 < elems.length; i += 2) parts.push(`${canon(elems[i] as Resp, doubles)}=${canon(elems[i + 1] as Resp, doubles)}`);
  } else {
    for (const e of elems) parts.push(canon(e, doubles));
  }
  return parts.sort().join(',');
}

function normalise(cmd: Cmd, r: Resp): string {
  const name = (cmd[0] as string).toLowerCase();
  const doubles = DOUBLE_CMDS.has(name);
  if (r.type === '%') {
    return `map{${r.value.map(([k, v]) => `${canon(k, doubles)}=${canon(v, doubles)}`).sort().join(',')}}`;
  }
  if (UNORDERED.has(name) && (r.type === '*' || r.type === '~')) return `${r.type}sorted[${sortedElements(items(r), doubles, false)}]`;
  if (PAIRS_UNORDERED.has(name) && r.type === '*') return `pairs[${sortedElements(items(r), doubles, true)}]`;
  if (SCANS.has(name) && r.type === '*') {
    const [cursor, list] = items(r);
    const pairs = name !== 'sscan';
    return `scan ${cursor ? canon(cursor, false) : '?'} [${list ? sortedElements(items(list), doubles, pairs) : ''}]`;
  }
  return canon(r, doubles);
}

interface Stats {
  commands: number;
  errors: number;
  random: number;
}

/** Runs one command on both servers and checks the replies agree. */
async function step(cmd: Cmd, stats: Stats, log: string[]): Promise<void> {
  const [a, b] = await Promise.all([fx.fc.call(...cmd), fx.rc.call(...cmd)]);
  stats.commands++;
  const name = (cmd[0] as string).toLowerCase();
  log.push(`${cmd.join(' ').slice(0, 200)} -> ${show(a).slice(0, 200)}`);
  if (log.length > 30) log.shift();
  const context = (): string => `\ncommand: ${cmd.join(' ')}\nforkv: ${show(a)}\nredis: ${show(b)}\nrecent:\n${log.join('\n')}`;
  if (a.type === '-' || b.type === '-') {
    stats.errors++;
    assert.is(show(a), show(b), `error replies differ${context()}`);
    return;
  }
  if (RANDOM.has(name)) {
    stats.random++;
    await checkRandom(cmd, a, b, context);
    return;
  }
  if (name === 'hincrbyfloat') {
    const x = num(text(a) ?? 'NaN');
    const y = num(text(b) ?? 'NaN');
    assert.ok(Math.abs(x - y) <= 1e-12 * Math.max(1, Math.abs(y)), `HINCRBYFLOAT results differ${context()}`);
    await fx.rc.call('HSET', cmd[1] as string, cmd[2] as string, text(a) ?? '');
    return;
  }
  if (SCANS.has(name) && a.type === '*' && b.type === '*') {
    // A partial scan is valid; finish both iterations and compare what they returned.
    const [x, y] = await Promise.all([completeScan(fx.fc, cmd, a), completeScan(fx.rc, cmd, b)]);
    assert.is(x, y, `scan results differ${context()}`);
    return;
  }
  assert.is(normalise(cmd, a), normalise(cmd, b), `replies differ${context()}`);
}

/** Continues a SCAN-family iteration to cursor 0; returns the sorted distinct items. */
async function completeScan(conn: RawClient, cmd: Cmd, first: Resp): Promise<string> {
  const name = (cmd[0] as string).toLowerCase();
  const pairs = name !== 'sscan';
  const seen = new Set<string>();
  let reply = first;
  for (let guard = 0; guard < 10000; guard++) {
    const [cursor, list] = items(reply);
    const elems = list ? items(list) : [];
    for (let i = 0; i < elems.length; i += pairs ? 2 : 1) {
      const m = canon(elems[i] as Resp, false);
      seen.add(pairs ? `${m}=${canon(elems[i + 1] as Resp, name === 'zscan')}` : m);
    }
    const c = cursor ? text(cursor) : '0';
    if (c === '0' || c === null) break;
    reply = await conn.call(cmd[0] as string, cmd[1] as string, c, ...cmd.slice(3));
  }
  return [...seen].sort().join(',');
}

/** Property checks for random replies, then a re-sync of whatever SPOP removed. */
async function checkRandom(cmd: Cmd, a: Resp, b: Resp, context: () => string): Promise<void> {
  const name = (cmd[0] as string).toLowerCase();
  const key = cmd[1] as string;
  assert.is(a.type, b.type, `reply types differ${context()}`);
  const withPairs = cmd.length === 4 && /^with(values|scores)$/i.test(cmd[3] as string);
  if (a.type === '$') {
    assert.is(a.value === null, b.value === null, `nullness differs${context()}`);
  } else {
    assert.is(items(a).length, items(b).length, `reply lengths differ${context()}`);
  }
  const countArg = cmd[2] !== undefined ? Number(cmd[2]) : undefined;
  // RESP3 nests [member, value] pairs; flatten them like RESP2.
  const got = a.type === '$' ? (a.value ? [a] : []) : items(a).flatMap((x) => (x.type === '*' ? items(x) : [x]));
  const names: string[] = [];
  for (let i = 0; i < got.length; i += withPairs ? 2 : 1) names.push(text(got[i] as Resp) ?? '');
  if (countArg !== undefined && countArg > 0 && name !== 'spop') {
    assert.is(new Set(names).size, names.length, `distinct count expected${context()}`);
  }
  if (name === 'spop') {
    // What forkv popped is gone from forkv; copy forkv's remaining set into redis.
    if (names.length > 0) {
      const still = await fx.fc.call('SMISMEMBER', key, ...names);
      assert.ok(items(still).every((x) => x.type === ':' && x.value === 0n), `popped members still present${context()}`);
    }
    const rest = items(await fx.fc.call('SMEMBERS', key)).map((x) => text(x) ?? '');
    await fx.rc.call('DEL', key);
    if (rest.length > 0) await fx.rc.call('SADD', key, ...rest);
    return;
  }
  for (let i = 0; i < got.length; i += withPairs ? 2 : 1) {
    const member = text(got[i] as Resp) ?? '';
    if (name === 'srandmember') {
      assert.equal(await fx.fc.call('SISMEMBER', key, member), { type: ':', value: 1n }, `not a member${context()}`);
    } else if (name === 'hrandfield') {
      const v = await fx.fc.call('HGET', key, member);
      assert.ok(text(v) !== null, `not a field${context()}`);
      if (withPairs) assert.is(text(got[i + 1] as Resp), text(v), `value mismatch${context()}`);
    } else {
      const s = await fx.fc.call('ZSCORE', key, member);
      assert.ok(text(s) !== null, `not a member${context()}`);
      if (withPairs) assert.is(num(text(got[i + 1] as Resp) ?? ''), num(text(s) ?? ''), `score mismatch${context()}`);
    }
  }
}

/** Compares the whole dataset of both servers. */
async function compareAll(keys: readonly string[]): Promise<void> {
  for (const k of keys) {
    const [ta, tb] = await Promise.all([fx.fc.call('TYPE', k), fx.rc.call('TYPE', k)]);
    assert.is(show(ta), show(tb), `TYPE ${k}`);
    const t = text(ta);
    const dump: Cmd | null =
      t === 'list' ? ['LRANGE', k, '0', '-1'] : t === 'hash' ? ['HGETALL', k] : t === 'set' ? ['SMEMBERS', k] : t === 'zset' ? ['ZRANGE', k, '0', '-1', 'WITHSCORES'] : null;
    if (!dump) continue;
    const [a, b] = await Promise.all([fx.fc.call(...dump), fx.rc.call(...dump)]);
    assert.is(normalise(dump, a), normalise(dump, b), `contents of ${k} differ`);
  }
}

async function run(seed: number, n: number, gen: (r: Rand) => Cmd, keys: readonly string[]): Promise<Stats> {
  const r = rng(seed);
  const stats: Stats = { commands: 0, errors: 0, random: 0 };
  const log: string[] = [];
  // A clean slate, and a string key for the WRONGTYPE probes to hit.
  await Promise.all([fx.fc.call('FLUSHALL'), fx.rc.call('FLUSHALL')]);
  await Promise.all([fx.fc.call('SET', 'str', 'v'), fx.rc.call('SET', 'str', 'v')]);
  for (let i = 0; i < n; i++) await step(gen(r), stats, log);
  await compareAll([...keys, 'str']);
  return stats;
}

const PER_TYPE = 3000;

test('lists: forkv and redis 7.0 agree on random command streams', async () => {
  const s = await run(101, PER_TYPE, listCmd, LIST_KEYS);
  assert.ok(s.errors > 50, `error paths exercised (${s.errors})`);
});

test('hashes: forkv and redis 7.0 agree on random command streams', async () => {
  const s = await run(202, PER_TYPE, hashCmd, HASH_KEYS);
  assert.ok(s.random > 50, `random commands exercised (${s.random})`);
});

test('sets: forkv and redis 7.0 agree on random command streams', async () => {
  const s = await run(303, PER_TYPE, setCmd, SET_KEYS);
  assert.ok(s.random > 100, `random commands exercised (${s.random})`);
});

test('sorted sets: forkv and redis 7.0 agree on random command streams', async () => {
  await run(404, PER_TYPE, zsetCmd, ZSET_KEYS);
});

test('sorted sets, lex ranges on equal scores: forkv and redis 7.0 agree', async () => {
  await run(505, 1500, lexCmd, LEX_KEYS);
});

test('RESP3: all families agree with redis 7.0 (maps, sets, doubles, nested pairs)', async () => {
  await Promise.all([fx.fc.call('HELLO', '3'), fx.rc.call('HELLO', '3')]);
  const mixed = (r: Rand): Cmd => pick(r, [listCmd, hashCmd, setCmd, zsetCmd, lexCmd])(r);
  await run(606, 2500, mixed, [...LIST_KEYS, ...HASH_KEYS, ...SET_KEYS, ...ZSET_KEYS, ...LEX_KEYS]);
  await Promise.all([fx.fc.call('HELLO', '2'), fx.rc.call('HELLO', '2')]);
});

test.run();
