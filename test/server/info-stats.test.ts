// INFO assembled by the core: from a script (EVAL), commandstats, errorstats,
// latencystats and CONFIG RESETSTAT, through ioredis against a real server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import Redis from 'ioredis';

import { errorOf } from '../helpers/errors';
import { useServer } from '../helpers/fixture';
import { infoFields as fields } from '../helpers/info';

const t = suite('info-stats');
const fx = useServer(t, {}, false);



const headers = (text: string): string[] => text.split('\r\n').filter((l) => l.startsWith('# '));

t('INFO from a script: server.call and redis.call, with sections', async () => {
  await fx.io.set('ik', 'v');
  const keyspace = (await fx.io.eval("return server.call('INFO', 'keyspace')", 0)) as string;
  assert.is(keyspace, '# Keyspace\r\ndb0:keys=1,expires=0\r\n');
  const all = (await fx.io.eval("return redis.call('INFO')", 0)) as string;
  assert.equal(headers(all), ['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Replication', '# CPU', '# Modules', '# Errorstats', '# Cluster', '# Keyspace']);
  const f = fields(all);
  assert.is(f.get('tcp_port'), String(fx.srv.port));
  assert.is(f.get('process_id'), String(fx.srv.pid));
  assert.ok(f.has('rdb_last_save_time'));
  assert.ok(f.has('role'));
  const lastsave = await fx.io.eval("return server.call('LASTSAVE')", 0);
  assert.is(lastsave, await fx.io.lastsave());
});

t('section selection: default, all, several names, unknown names ignored', async () => {
  assert.equal(headers(await fx.io.info('cpu', 'nosuch', 'keyspace')), ['# CPU', '# Keyspace']);
  assert.ok(headers(await fx.io.info('all')).includes('# Commandstats'));
  assert.ok(headers(await fx.io.info('everything')).includes('# Latencystats'));
  assert.not.ok(headers(await fx.io.info('default')).includes('# Commandstats'));
  assert.is(await fx.io.info('nosuch'), '');
  assert.equal(headers(await fx.io.info('commandSTATS')), ['# Commandstats']);
});

t("every field of Valkey 8.0.1's INFO everything, with forkv's own added", async () => {
  const f = fields(await fx.io.info('everything'));
  const valkey = ['valkey_version', 'redis_git_sha1', 'redis_git_dirty', 'redis_build_id', 'gcc_version', 'total_net_repl_input_bytes', 'total_net_repl_output_bytes', 'instantaneous_input_kbps', 'instantaneous_output_kbps', 'instantaneous_input_repl_kbps', 'instantaneous_output_repl_kbps', 'evicted_scripts', 'slave_expires_tracked_keys', 'dump_payload_sanitizations', 'total_reads_processed', 'total_writes_processed', 'reply_buffer_shrinks', 'reply_buffer_expands', 'eventloop_cycles', 'eventloop_duration_sum', 'eventloop_duration_cmd_sum', 'instantaneous_eventloop_cycles_per_sec', 'instantaneous_eventloop_duration_usec', 'monotonic_clock', 'lru_clock', 'io_threads_active', 'availability_zone', 'cluster_connections', 'client_recent_max_input_buffer', 'client_recent_max_output_buffer', 'used_memory_peak_perc', 'used_memory_overhead', 'used_memory_startup', 'used_memory_dataset', 'used_memory_dataset_perc', 'allocator_allocated', 'allocator_active', 'allocator_resident', 'allocator_muzzy', 'allocator_frag_ratio', 'allocator_frag_bytes', 'allocator_rss_ratio', 'allocator_rss_bytes', 'rss_overhead_ratio', 'rss_overhead_bytes', 'mem_fragmentation_bytes', 'mem_replication_backlog', 'mem_total_replication_buffers', 'mem_cluster_links', 'mem_aof_buffer', 'mem_overhead_db_hashtable_rehashing', 'active_defrag_running', 'lazyfreed_objects', 'async_loading', 'current_cow_size_age', 'module_fork_in_progress', 'module_fork_last_cow_size', 'sync_full', 'sync_partial_ok', 'sync_partial_err', 'active_defrag_hits', 'io_threaded_reads_processed', 'client_query_buffer_limit_disconnections', 'acl_access_denied_auth', 'acl_access_denied_cmd', 'acl_access_denied_key', 'acl_access_denied_channel', 'used_cpu_sys_children', 'used_cpu_user_children', 'used_cpu_sys_main_thread', 'used_cpu_user_main_thread', 'cluster_enabled'];
  for (const name of valkey) assert.ok(f.has(name), name);
  assert.match(f.get('used_memory_peak_perc') ?? '', /^\d+\.\d\d%$/);
  assert.ok(Number(f.get('used_memory_overhead')) >= Number(f.get('used_memory_startup')));
  assert.ok(Number(f.get('used_memory_startup')) > 0);
  assert.ok(Number(f.get('used_cpu_user_main_thread')) > 0);
});

t('acl_access_denied_* count refusals by reason; CONFIG RESETSTAT clears them', async () => {
  await fx.io.config('RESETSTAT');
  await fx.io.acl('SETUSER', 'denied-u', 'on', '>pw', '~allowed:*', '+get');
  const u = new Redis({ port: fx.srv.port, username: 'denied-u', password: 'pw', lazyConnect: true });
  try {
    // ioredis's own commands at connect (CLIENT SETINFO, INFO) are refused to this user too.
    await u.connect();
    const denied = async (): Promise<number[]> => {
      const f = fields(await fx.io.info('stats'));
      return ['auth', 'cmd', 'key', 'channel'].map((r) => Number(f.get(`acl_access_denied_${r}`)));
    };
    const before = await denied();
    await errorOf(u.set('allowed:1', 'v'));
    await errorOf(u.get('other'));
    await errorOf(u.get('other'));
    await errorOf(fx.io.auth('denied-u', 'wrong'));
    const after = await denied();
    assert.equal(after.map((n, i) => n - (before[i] ?? 0)), [1, 1, 2, 0]);
    await fx.io.config('RESETSTAT');
    assert.is(fields(await fx.io.info('stats')).get('acl_access_denied_key'), '0');
  } finally {
    u.disconnect();
    await fx.io.acl('DELUSER', 'denied-u');
  }
});

t('client_query_buffer_limit_disconnections counts a client closed with an unfinished command over the limit', async () => {
  await fx.io.config('RESETSTAT');
  await fx.io.config('SET', 'client-query-buffer-limit', '1048576');
  const sock = net.connect(fx.srv.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => undefined);
    // A SET whose value never ends: the buffer outgrows the limit and the client is closed.
    sock.write('*3\r\n$3\r\nSET\r\n$2\r\nqk\r\n$2000000\r\n');
    sock.write(Buffer.alloc(1048576 + 4096, 'a'));
    await closed;
    assert.is(fields(await fx.io.info('stats')).get('client_query_buffer_limit_disconnections'), '1');
  } finally {
    sock.destroy();
    await fx.io.config('SET', 'client-query-buffer-limit', '1073741824');
  }
});

t('a command that completes past client-query-buffer-limit closes the client before it runs', async () => {
  await fx.io.config('RESETSTAT');
  await fx.io.config('SET', 'client-query-buffer-limit', '1048576');
  const sock = net.connect(fx.srv.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => undefined);
    // The whole command, as Valkey's unit/info sends it: its buffer is over the limit once read.
    const value = 'a'.repeat(1048576);
    sock.write(`*3\r\n$3\r\nSET\r\n$3\r\nqk2\r\n$${value.length}\r\n${value}\r\n`);
    await closed;
    assert.is(fields(await fx.io.info('stats')).get('client_query_buffer_limit_disconnections'), '1');
    assert.is(await fx.io.exists('qk2'), 0);
  } finally {
    sock.destroy();
    await fx.io.config('SET', 'client-query-buffer-limit', '1073741824');
  }
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
