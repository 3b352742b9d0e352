// Lua scripting through the real server: EVAL/EVALSHA/_RO and SCRIPT with exact replies,
// the libraries that need scripts (ioredis defineCommand, node-redis scripts, Redlock,
// rate-limiter-flexible's RateLimiterRedis), and the AOF form of a script's effects.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient, defineScript, type CommandParser } from 'redis';
import Redlock from 'redlock';
import { RateLimiterRedis } from 'rate-limiter-flexible';

import { cmd } from '../helpers/client';
import { startServer, tempDir, type RunningServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';

const t = suite('scripting');
let srv: RunningServer;
let io: Redis;

t.before(async () => {
  srv = await startServer({ args: ['--appendonly', 'yes'] });
  io = new Redis({ port: srv.port, lazyConnect: true });
  await io.connect();
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});
t.before.each(async () => {
  await io.flushall();
  await io.script('FLUSH');
});

t('EVAL converts between Lua values and replies both ways', async () => {
  await io.set('k', 'v');
  assert.equal(await io.eval("return {redis.call('get', KEYS[1]), 1, 2.9, true, false, {ok='fine'}, 'x'}", 1, 'k'), [
    'v', 1, 2, 1, null, 'fine', 'x',
  ]);
  assert.is(await io.eval("return redis.call('get', 'nokey') == false and 'nil-is-false' or 'no'", 0), 'nil-is-false');
  assert.equal(await io.eval('return {KEYS[1], KEYS[2], ARGV[1], #ARGV}', 2, 'a', 'b', 'c', 'd'), ['a', 'b', 'c', 2]);
  assert.is(await io.eval("return redis.status_reply('PONG')", 0), 'PONG');
  const e = await errorOf(io.eval("return redis.error_reply('MY custom error')", 0));
  assert.is(e, 'MY custom error');
});

t('errors carry the script and line; pcall catches them', async () => {
  await io.set('s', 'notanumber');
  const sha = (await io.script('LOAD', "return redis.call('incr', KEYS[1])")) as string;
  assert.is(
    await errorOf(io.evalsha(sha, 1, 's')),
    `ERR value is not an integer or out of range script: ${sha}, on @user_script:1.`,
  );
  assert.is(await errorOf(io.eval("return redis.pcall('incr', KEYS[1])", 1, 's')), 'ERR value is not an integer or out of range');
  assert.match(await errorOf(io.eval('return nosuchvar', 0)), /Script attempted to access nonexistent global variable 'nosuchvar'/);
  assert.match(await errorOf(io.eval('x = 1', 0)), /Attempt to modify a readonly table/);
  assert.match(await errorOf(io.eval("redis.call('multi')", 0)), /^ERR This Redis command is not allowed from script/);
  assert.match(await errorOf(io.eval("redis.call('nosuch')", 0)), /^ERR Unknown command called from script/);
  assert.match(await errorOf(io.eval('return (', 0)), /^ERR Error compiling script \(new function\): user_script:1:/);
});

t('EVALSHA, SCRIPT LOAD/EXISTS/SHOW/FLUSH and NOSCRIPT', async () => {
  const sha = (await io.script('LOAD', 'return 42')) as string;
  assert.is(sha, '1fa00e76656cc152ad327c13fe365858fd7be306');
  assert.is(await io.evalsha(sha, 0), 42);
  assert.is(await io.evalsha(sha.toUpperCase(), 0), 42);
  assert.equal(await io.script('EXISTS', sha, 'ffffffffffffffffffffffffffffffffffffffff'), [1, 0]);
  assert.is(await io.call('SCRIPT', 'SHOW', sha), 'return 42');
  assert.is(await io.script('FLUSH', 'ASYNC'), 'OK');
  assert.is(await errorOf(io.evalsha(sha, 0)), 'NOSCRIPT No matching script.');
  assert.is(await errorOf(io.call('SCRIPT', 'FLUSH', 'LATER')), 'ERR SCRIPT FLUSH only support SYNC|ASYNC option');
});

t('read-only scripts: EVAL_RO, no-writes shebang, and a blocking command does not block', async () => {
  assert.is(
    (await errorOf(io.call('EVAL_RO', "return redis.call('set', 'a', 'b')", '0'))).split(' script:')[0],
    'ERR Write commands are not allowed from read-only scripts.',
  );
  assert.is(
    await errorOf(io.call('EVAL_RO', "#!lua\nreturn 1", '0')),
    'ERR Can not execute a script with write flag using *_ro command.',
  );
  assert.is(await io.call('EVAL_RO', "#!lua flags=no-writes\nreturn redis.call('get', 'a')", '0'), null);
  assert.is(await io.eval("return redis.call('blpop', 'nolist', 0)", 0), null);
  assert.match(await errorOf(io.eval('#!lua flags=bogus\nreturn 1', 0)), /^ERR Unexpected flag in script shebang: bogus/);
});

t('a SELECT inside a script does not change the caller; RESP3 replies with setresp', async () => {
  await io.eval("redis.call('select', 5); redis.call('set', 'in5', '1')", 0);
  assert.is(await io.exists('in5'), 0);
  await io.select(5);
  assert.is(await io.get('in5'), '1');
  await io.select(0);
  await io.hset('h', 'f', 'v');
  assert.equal(await io.eval("redis.setresp(3); return redis.call('hgetall', 'h')", 0), ['f', 'v']);
  assert.is(await io.eval("redis.setresp(3); return redis.call('hgetall', 'h')['map']['f']", 0), 'v');
});

t('ioredis defineCommand', async () => {
  io.defineCommand('incrCapped', {
    numberOfKeys: 1,
    lua: "local v = redis.call('incr', KEYS[1]); if v > tonumber(ARGV[1]) then redis.call('set', KEYS[1], ARGV[1]); return tonumber(ARGV[1]) end; return v",
  });
  const cmd = io as unknown as { incrCapped(key: string, cap: number): Promise<number> };
  assert.is(await cmd.incrCapped('c', 2), 1);
  assert.is(await cmd.incrCapped('c', 2), 2);
  assert.is(await cmd.incrCapped('c', 2), 2);
  // ioredis sent EVALSHA first and fell back to EVAL on NOSCRIPT: the script is cached now.
  const lua = "local v = redis.call('incr', KEYS[1]); if v > tonumber(ARGV[1]) then redis.call('set', KEYS[1], ARGV[1]); return tonumber(ARGV[1]) end; return v";
  assert.equal(await io.script('EXISTS', createHash('sha1').update(lua).digest('hex')), [1]);
});

t('node-redis scripts', async () => {
  const client = createClient({
    socket: { port: srv.port },
    scripts: {
      addTwice: defineScript({
        NUMBER_OF_KEYS: 1,
        SCRIPT: "redis.call('incrby', KEYS[1], ARGV[1]); return redis.call('incrby', KEYS[1], ARGV[1])",
        parseCommand(parser: CommandParser, key: string, n: number): void {
          parser.pushKey(key);
          parser.push(n.toString());
        },
        transformReply: (reply: unknown): number => reply as number,
      }),
    },
  });
  await client.connect();
  try {
    assert.is(await client.addTwice('n', 5), 10);
    assert.is(await client.addTwice('n', 1), 12);
  } finally {
    await client.quit();
  }
});

t('Redlock: lock, contention, extend, release', async () => {
  const redlock = new Redlock([io], { retryCount: 2, retryDelay: 50 });
  const lock = await redlock.acquire(['res:1'], 2000);
  assert.is(await io.get('res:1'), lock.value);
  let contended = false;
  try {
    await redlock.acquire(['res:1'], 2000);
  } catch {
    contended = true;
  }
  assert.ok(contended, 'a second acquire fails while the lock is held');
  const extended = await lock.extend(5000);
  assert.ok((await io.pttl('res:1')) > 2000);
  await extended.release();
  assert.is(await io.exists('res:1'), 0);
  const again = await redlock.acquire(['res:1'], 1000);
  await again.release();
});

t('rate-limiter-flexible RateLimiterRedis (atomic Lua)', async () => {
  const limiter = new RateLimiterRedis({ storeClient: io, points: 3, duration: 10, keyPrefix: 'rl' });
  for (let i = 0; i < 3; i++) {
    const r = await limiter.consume('user1');
    assert.is(r.remainingPoints, 2 - i);
  }
  let rejected = false;
  try {
    await limiter.consume('user1');
  } catch (e) {
    rejected = (e as { remainingPoints?: number }).remainingPoints === 0;
  }
  assert.ok(rejected, 'the fourth point is refused');
  assert.ok((await io.pttl('rl:user1')) > 0);
});

t("redis.call('PUBLISH') reaches a subscriber; CONFIG HELP runs from a script, CONFIG GET is refused as in Valkey", async () => {
  const sub = new Redis({ port: srv.port, lazyConnect: true });
  await sub.connect();
  try {
    const got = new Promise<[string, string]>((resolve) => sub.on('message', (channel: string, message: string) => resolve([channel, message])));
    await sub.subscribe('news');
    assert.is(await io.eval("return redis.call('PUBLISH', KEYS[1], ARGV[1])", 1, 'news', 'from lua'), 1);
    assert.equal(await got, ['news', 'from lua']);
    assert.equal(await io.eval("return redis.call('PUBSUB', 'NUMSUB', 'news')", 0), ['news', 1]);
    assert.match(await errorOf(io.eval("return redis.call('SUBSCRIBE', 'x')", 0)), /^ERR This Redis command is not allowed from script/);
    assert.is(((await io.eval("return redis.call('CONFIG', 'HELP')", 0)) as string[])[0], 'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    assert.match(await errorOf(io.eval("return redis.call('CONFIG', 'GET', 'port')", 0)), /^ERR This Redis command is not allowed from script/);
  } finally {
    sub.disconnect();
  }
});

t('server.log lines reach the server log', async () => {
  await io.eval("redis.log(redis.LOG_WARNING, 'hello from', 'a script')", 0);
  await srv.waitFor(/# hello from a script/, 3000);
  assert.match(await errorOf(io.eval("redis.log(99, 'x')", 0)), /^ERR Invalid log level\./);
});

t('AOF replay: every EVAL of the file runs (the replaying client outlives the scripts)', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'appendonlydir'));
  writeFileSync(join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'file appendonly.aof.1.incr.aof seq 1 type i\n');
  const resp = (...args: string[]): string => cmd(...args).toString();
  writeFileSync(
    join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof'),
    resp('select', '9') + resp('eval', "redis.call('set', KEYS[1], '100')", '1', 'foo') + resp('eval', "redis.call('incr', KEYS[1])", '1', 'foo') + resp('eval', "redis.call('incr', KEYS[1])", '1', 'foo'),
  );
  const replayed = await startServer({ dir, args: ['--appendonly', 'yes'] });
  const c = new Redis({ port: replayed.port, db: 9, lazyConnect: true });
  try {
    await c.connect();
    assert.is(await c.get('foo'), '102');
  } finally {
    c.disconnect();
    await replayed.stop();
  }
});

function aofText(): string {
  const dir = join(srv.dir, 'appendonlydir');
  const incr = readdirSync(dir).filter((f) => f.endsWith('.incr.aof')).sort();
  return incr.map((f) => readFileSync(join(dir, f), 'latin1')).join('');
}

t('AOF: a script writes its effects, several wrapped in MULTI/EXEC; set_repl(REPL_NONE) leaves writes out', async () => {
  const before = aofText().length;
  await io.eval("redis.call('set', 'e1', 'a'); redis.call('get', 'e1'); redis.call('set', 'e2', 'b')", 0);
  await io.eval("redis.call('set', 'e3', 'c')", 0);
  await io.eval("redis.set_repl(redis.REPL_NONE); redis.call('set', 'e4', 'd')", 0);
  await io.eval("return redis.call('get', 'e1')", 0);
  await new Promise((r) => setTimeout(r, 300));
  const text = aofText().slice(before);
  const cmds = text.split(/\*\d+\r\n/).filter(Boolean).map((c) => c.split('\r\n').filter((_, i) => i % 2 === 1).join(' ')).filter((c) => !c.startsWith('SELECT'));
  // As the script called them (Valkey propagates the argv of each call).
  assert.equal(cmds, ['MULTI', 'set e1 a', 'set e2 b', 'EXEC', 'set e3 c']);
  assert.is(await io.get('e4'), 'd');
});

t.run();
