// INFO assembled by the core: from a script (EVAL), commandstats, errorstats,
// latencystats and CONFIG RESETSTAT, through ioredis against a real server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { errorOf } from '../helpers/errors';
import { useServer } from '../helpers/fixture';

const t = suite('info-stats');
const fx = useServer(t, {}, false);


/** The `name:value` fields of an INFO text. */
const fields = (text: string): Map<string, string> => {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
};

const headers = (text: string): string[] => text.split('\r\n').filter((l) => l.startsWith('# '));

t('INFO from a script: server.call and redis.call, with sections', async () => {
  await fx.io.set('ik', 'v');
  const keyspace = (await fx.io.eval("return server.call('INFO', 'keyspace')", 0)) as string;
  assert.is(keyspace, '# Keyspace\r\ndb0:keys=1,expires=0\r\n');
  const all = (await fx.io.eval("return redis.call('INFO')", 0)) as string;
  assert.equal(headers(all), ['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Replication', '# Cpu', '# Errorstats', '# Keyspace']);
  const f = fields(all);
  assert.is(f.get('tcp_port'), String(fx.srv.port));
  assert.is(f.get('process_id'), String(fx.srv.pid));
  assert.ok(f.has('rdb_last_save_time'));
  assert.ok(f.has('role'));
  const lastsave = await fx.io.eval("return server.call('LASTSAVE')", 0);
  assert.is(lastsave, await fx.io.lastsave());
});

t('section selection: default, all, several names, unknown names ignored', async () => {
  assert.equal(headers(await fx.io.info('cpu', 'nosuch', 'keyspace')), ['# Cpu', '# Keyspace']);
  assert.ok(headers(await fx.io.info('all')).includes('# Commandstats'));
  assert.ok(headers(await fx.io.info('everything')).includes('# Latencystats'));
  assert.not.ok(headers(await fx.io.info('default')).includes('# Commandstats'));
  assert.is(await fx.io.info('nosuch'), '');
  assert.equal(headers(await fx.io.info('commandSTATS')), ['# Commandstats']);
});

t('commandstats: calls, rejected and failed calls, subcommands, calls from scripts and MULTI', async () => {
  await fx.io.config('RESETSTAT');
  await fx.io.set('a', '1');
  await fx.io.get('a');
  assert.match(await errorOf(fx.io.call('SET', 'a')), /wrong number of arguments/);
  assert.match(await errorOf(fx.io.lpush('a', 'x')), /WRONGTYPE/);
  await fx.io.config('GET', 'maxmemory');
  await fx.io.eval("redis.call('GET', 'a') return 1", 0);
  await fx.io.multi().get('a').exec();
  const f = fields(await fx.io.info('commandstats'));
  assert.match(f.get('cmdstat_set') ?? '', /^calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0$/);
  assert.match(f.get('cmdstat_get') ?? '', /^calls=3,/);
  assert.match(f.get('cmdstat_lpush') ?? '', /rejected_calls=0,failed_calls=1$/);
  assert.match(f.get('cmdstat_config|get') ?? '', /^calls=1,/);
  assert.match(f.get('cmdstat_eval') ?? '', /failed_calls=0$/);
  assert.match(f.get('cmdstat_exec') ?? '', /^calls=1,/);
});

t('errorstats and total_error_replies, host commands included; CONFIG RESETSTAT clears them', async () => {
  await fx.io.config('RESETSTAT');
  await errorOf(fx.io.call('NOSUCHCOMMAND'));
  await errorOf(fx.io.evalsha('0000000000000000000000000000000000000000', 0));
  await errorOf(fx.io.config('SET', 'nosuch-directive', '1'));
  await errorOf(fx.io.eval("return server.error_reply('MYERR custom')", 0));
  const stats = fields(await fx.io.info('errorstats', 'stats'));
  assert.is(stats.get('errorstat_ERR'), 'count=2');
  assert.is(stats.get('errorstat_NOSCRIPT'), 'count=1');
  assert.is(stats.get('errorstat_MYERR'), 'count=1');
  assert.is(stats.get('total_error_replies'), '4');
  assert.match(fields(await fx.io.info('commandstats')).get('cmdstat_config|set') ?? '', /failed_calls=1$/);
  await fx.io.config('RESETSTAT');
  const after = fields(await fx.io.info('errorstats', 'stats', 'commandstats'));
  assert.is(after.get('total_error_replies'), '0');
  assert.not.ok([...after.keys()].some((k) => k.startsWith('errorstat_')));
  assert.not.ok(after.has('cmdstat_set'));
});

t('errors of a command a script called count once', async () => {
  await fx.io.config('RESETSTAT');
  await fx.io.set('s', 'x');
  assert.match(await errorOf(fx.io.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, 's')), /WRONGTYPE/);
  const f = fields(await fx.io.info('errorstats', 'stats', 'commandstats'));
  assert.is(f.get('errorstat_WRONGTYPE'), 'count=1');
  assert.is(f.get('total_error_replies'), '1');
  assert.match(f.get('cmdstat_lpush') ?? '', /failed_calls=1$/);
  assert.match(f.get('cmdstat_eval') ?? '', /failed_calls=1$/);
});

t('latencystats: percentiles per command, latency-tracking and its percentiles', async () => {
  await fx.io.config('RESETSTAT');
  await fx.io.set('l', '1');
  assert.match(fields(await fx.io.info('latencystats')).get('latency_percentiles_usec_set') ?? '', /^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$/);
  await fx.io.config('SET', 'latency-tracking-info-percentiles', '0 50 100');
  assert.match(fields(await fx.io.info('latencystats')).get('latency_percentiles_usec_set') ?? '', /^p0=[\d.]+,p50=[\d.]+,p100=[\d.]+$/);
  await fx.io.config('SET', 'latency-tracking', 'no');
  await fx.io.config('RESETSTAT');
  await fx.io.set('l', '2');
  assert.not.ok(fields(await fx.io.info('latencystats')).has('latency_percentiles_usec_set'));
  await fx.io.config('SET', 'latency-tracking', 'yes');
  await fx.io.config('SET', 'latency-tracking-info-percentiles', '50 99 99.9');
});

t.run();
