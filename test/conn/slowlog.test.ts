// SLOWLOG through a real client: the threshold and length settings, entries with id,
// time, duration, trimmed and redacted arguments, the client's address and name;
// commands run by the host (CONFIG SET, DEBUG SLEEP) and inside EXEC are logged as
// Valkey logs them, EXEC itself is not.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { useServer } from '../helpers/fixture';

const t = suite('slowlog');
const fx = useServer(t, {}, false);

type Entry = [number, number, number, string[], string, string];


const get = async (...count: number[]): Promise<Entry[]> => (await fx.io.call('SLOWLOG', 'GET', ...count)) as Entry[];

t('threshold, max length, GET count, LEN, RESET', async () => {
  await fx.io.config('SET', 'slowlog-log-slower-than', '100000');
  await fx.io.call('SLOWLOG', 'RESET');
  await fx.io.ping();
  assert.is(await fx.io.call('SLOWLOG', 'LEN'), 0);
  await fx.io.call('DEBUG', 'SLEEP', '0.15');
  assert.is(await fx.io.call('SLOWLOG', 'LEN'), 1);
  await fx.io.config('SET', 'slowlog-log-slower-than', '0');
  await fx.io.config('SET', 'slowlog-max-len', '10');
  for (let i = 0; i < 20; i++) await fx.io.ping();
  assert.is(await fx.io.call('SLOWLOG', 'LEN'), 10);
  assert.is((await get(5)).length, 5);
  assert.is((await get(-1)).length, 10);
  assert.is((await get()).length, 10);
  const err = await get(-2).then(() => null, (e: Error) => e.message);
  assert.is(err, 'ERR count should be greater than or equal to -1');
  await fx.io.config('SET', 'slowlog-max-len', '128');
  await fx.io.call('SLOWLOG', 'RESET');
  const [reset] = await get();
  assert.equal(reset?.[3], ['SLOWLOG', 'RESET']);
});

t('an entry: id, time, duration, argv, address, name', async () => {
  await fx.io.config('SET', 'slowlog-log-slower-than', '100000');
  await fx.io.client('SETNAME', 'sleeper');
  await fx.io.call('SLOWLOG', 'RESET');
  await fx.io.call('DEBUG', 'SLEEP', '0.15');
  const [e] = await get();
  assert.ok(e);
  const [id, time, duration, argv, addr, name] = e as Entry;
  assert.type(id, 'number');
  assert.ok(Math.abs(time - Date.now() / 1000) < 5, `time ${time}`);
  assert.ok(duration >= 150000, `duration ${duration}`);
  assert.equal(argv, ['DEBUG', 'SLEEP', '0.15']);
  assert.is(addr, `127.0.0.1:${(fx.io.stream as { localPort?: number }).localPort ?? 0}`);
  assert.is(name, 'sleeper');
});

t('trimming, redaction, EXEC, scripts', async () => {
  await fx.io.config('SET', 'slowlog-log-slower-than', '0');
  await fx.io.call('SLOWLOG', 'RESET');
  const many = Array.from({ length: 31 }, (_, i) => String(i + 3));
  await fx.io.sadd('set', ...many);
  await fx.io.sadd('set', 'foo', 'A'.repeat(129));
  await fx.io.config('SET', 'requirepass', '');
  await fx.io.call('ACL', 'SETUSER', 'slowuser', 'on', '>pw').catch(() => undefined);
  await fx.io.multi().incr('n').exec();
  await fx.io.eval("return redis.call('incr', 'n')", 0);
  await fx.io.config('SET', 'slowlog-log-slower-than', '-1');
  const argvs = (await get(-1)).map((e) => e[3]).reverse();
  assert.equal(argvs, [
    ['SLOWLOG', 'RESET'],
    ['sadd', 'set', ...many.slice(0, 29), '... (2 more arguments)'],
    ['sadd', 'set', 'foo', `${'A'.repeat(128)}... (1 more bytes)`],
    ['config', 'SET', 'requirepass', '(redacted)'],
    ['ACL', 'SETUSER', '(redacted)', '(redacted)', '(redacted)'],
    ['multi'],
    ['incr', 'n'],
    ['incr', 'n'],
    ['eval', "return redis.call('incr', 'n')", '0'],
    // Not the CONFIG SET that disabled the log: the threshold is read after it ran.
  ]);
});

t('a blocked command is logged once it is served', async () => {
  await fx.io.config('SET', 'slowlog-log-slower-than', '0');
  await fx.io.call('SLOWLOG', 'RESET');
  const blocked = new Redis({ port: fx.srv.port });
  const pop = blocked.blpop('bl', 0);
  for (let i = 0; i < 100 && !String(await fx.io.info('clients')).includes('blocked_clients:1'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.not.ok((await get(-1)).some((e) => e[3][0] === 'blpop'));
  await fx.io.lpush('bl', 'x');
  await pop;
  assert.is((await get(-1)).filter((e) => e[3][0] === 'blpop').length, 1);
  blocked.disconnect();
});

t.run();
