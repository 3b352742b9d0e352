/** Value validation per kind, with Valkey's messages, through the config-file path. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { load, reason, tempDir } from './helpers';

const value = (text: string, name: string): string => load(text).store.getString(name);

test('yes/no', () => {
  assert.is(value('rdbcompression no', 'rdbcompression'), 'no');
  assert.is(value('rdbcompression YES', 'rdbcompression'), 'yes');
  assert.is(reason('rdbcompression 1'), "argument must be 'yes' or 'no'");
});

test('integers use the strict string2ll syntax', () => {
  assert.is(value('port 7000', 'port'), '7000');
  assert.is(value('list-max-listpack-size -5', 'list-max-listpack-size'), '-5');
  for (const bad of ['abc', '+5', '05', '" 5"', '-0', '1.0', '""', '99999999999999999999']) {
    assert.is(reason(`timeout ${bad}`), "argument couldn't be parsed into an integer", bad);
  }
});

test('integer bounds, signed and unsigned', () => {
  assert.is(reason('port 70000'), 'argument must be between 0 and 65535 inclusive');
  assert.is(reason('port -1'), 'argument must be between 0 and 65535 inclusive');
  assert.is(reason('databases 0'), 'argument must be between 1 and 2147483647 inclusive');
  assert.is(reason('maxclients 0'), 'argument must be between 1 and 4294967295 inclusive');
  // size_t: -1 is checked as an unsigned value, as in Valkey
  assert.is(reason('hash-max-listpack-entries -1'), 'argument must be between 0 and 9223372036854775807 inclusive');
  assert.is(reason('rdb-version 12'), 'argument must be between 9 and 11 inclusive');
});

test('memory values: k=1000, kb=1024, any case; printed as bytes', () => {
  assert.is(value('maxmemory 1gb', 'maxmemory'), '1073741824');
  assert.is(value('maxmemory 1g', 'maxmemory'), '1000000000');
  assert.is(value('maxmemory 2K', 'maxmemory'), '2000');
  assert.is(value('maxmemory 10KB', 'maxmemory'), '10240');
  assert.is(value('maxmemory 3Mb', 'maxmemory'), '3145728');
  assert.is(value('maxmemory 100b', 'maxmemory'), '100');
  assert.is(value('maxmemory 12345', 'maxmemory'), '12345');
  for (const bad of ['1.5gb', '-1', '1tb', '1 gb', 'lots']) {
    assert.is(reason(`maxmemory "${bad}"`), 'argument must be a memory value', bad);
  }
  assert.is(reason('proto-max-bulk-len 1000'), 'argument must be between 1048576 and 9223372036854775807 inclusive');
  assert.is(value('client-query-buffer-limit 2mb', 'client-query-buffer-limit'), '2097152');
});

test('memory-or-percent values', () => {
  assert.is(value('maxmemory-clients 10%', 'maxmemory-clients'), '10%');
  assert.is(value('maxmemory-clients 5mb', 'maxmemory-clients'), '5242880');
  assert.is(reason('maxmemory-clients 200%'), 'percentage argument must be less or equal to 100');
  assert.is(reason('maxmemory-clients abc'), 'argument must be a memory or percent value');
});

test('octal values', () => {
  assert.is(value('unixsocketperm 700', 'unixsocketperm'), '700');
  assert.is(value('unixsocketperm 0777', 'unixsocketperm'), '777');
  assert.is(reason('unixsocketperm 888'), "argument couldn't be parsed as an octal number");
  assert.is(reason('unixsocketperm 1000'), 'argument must be between 0 and 777 inclusive');
});

test('hz is capped to 1..500 rather than refused', () => {
  assert.is(value('hz 1000', 'hz'), '500');
  assert.is(value('hz 0', 'hz'), '1');
  assert.is(value('hz 50', 'hz'), '50');
});

test('enums', () => {
  assert.is(value('appendfsync ALWAYS', 'appendfsync'), 'always');
  assert.is(reason('appendfsync sometimes'), 'argument(s) must be one of the following: everysec, always, no');
  assert.is(reason('loglevel loud'), 'argument(s) must be one of the following: debug, verbose, notice, warning, nothing');
  // "relative" and "yes" are the same value; Valkey prints the first name
  assert.is(value('oom-score-adj relative', 'oom-score-adj'), 'yes');
  assert.is(reason('maxmemory-policy lru'),
    'argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction');
});

test('multi-flag enums (shutdown-on-sigint/sigterm)', () => {
  assert.is(value('shutdown-on-sigint now save', 'shutdown-on-sigint'), 'save now');
  assert.is(value('shutdown-on-sigterm "nosave force"', 'shutdown-on-sigterm'), 'nosave force');
  assert.is(value('shutdown-on-sigint default', 'shutdown-on-sigint'), 'default');
  assert.is(reason('shutdown-on-sigint save nosave'), "shutdown options SAVE and NOSAVE can't be used simultaneously");
  assert.is(reason('shutdown-on-sigint later'), 'argument(s) must be one of the following: default, save, nosave, now, force');
});

test('strings and their validators', () => {
  assert.is(value('dbfilename my.rdb', 'dbfilename'), 'my.rdb');
  assert.is(reason('dbfilename a/b.rdb'), "dbfilename can't be a path, just a filename");
  assert.is(reason('dbfilename ""'), "dbfilename can't be empty");
  assert.is(reason('appendfilename x\\\\y'), "appendfilename can't be a path, just a filename");
  assert.is(reason('appenddirname a/b'), "appenddirname can't be a path, just a dirname");
  assert.is(value('requirepass "s3cr et"', 'requirepass'), 's3cr et');
  assert.is(value('requirepass ""', 'requirepass'), '');
  assert.is(load('requirepass ""').store.getOptionalString('requirepass'), null);
  assert.is(reason('proc-title-template "{nope}"'), 'template format is invalid or contains unknown variables');
  assert.is(reason('proc-title-template "{title}"'), 'template format is invalid or contains unknown variables');
  assert.is(value('proc-title-template "{title} {port} {{x}"', 'proc-title-template'), '{title} {port} {{x}');
});

test('save', () => {
  assert.is(value('save 900 1', 'save'), '900 1');
  assert.is(value('save ""', 'save'), '');
  assert.is(value('save "900 1 300 10"', 'save'), '900 1 300 10');
  for (const bad of ['900', '0 1', '900 -1', 'abc 1', '900 1x']) {
    assert.is(reason(`save ${bad}`), 'Invalid save parameters', bad);
  }
});

test('bind, client-output-buffer-limit, oom-score-adj-values', () => {
  assert.is(value('bind 0.0.0.0 ::', 'bind'), '0.0.0.0 ::');
  assert.is(value('bind ""', 'bind'), '');
  assert.is(reason(`bind ${Array.from({ length: 17 }, (_, i) => `10.0.0.${i}`).join(' ')}`), 'Too many bind addresses specified.');
  assert.is(value('client-output-buffer-limit normal 1mb 512kb 10', 'client-output-buffer-limit'),
    'normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60');
  assert.is(value('client-output-buffer-limit replica 1gb 0 0 pubsub 0 0 0', 'client-output-buffer-limit'),
    'normal 0 0 0 slave 1073741824 0 0 pubsub 0 0 0');
  assert.is(reason('client-output-buffer-limit master 0 0 0'), 'Invalid client class specified in buffer limit configuration.');
  assert.is(reason('client-output-buffer-limit normal 0 0'), 'Wrong number of arguments in buffer limit configuration.');
  assert.is(reason('client-output-buffer-limit normal x 0 0'), 'Error in hard, soft or soft_seconds setting in buffer limit configuration.');
  assert.is(value('oom-score-adj-values 0 100 900', 'oom-score-adj-values'), '0 100 900');
  assert.is(reason('oom-score-adj-values 0 200'), 'wrong number of arguments');
  assert.is(reason('oom-score-adj-values 0 200 3000'), 'Invalid oom-score-adj-values, elements must be between -2000 and 2000.');
});

test('notify-keyspace-events, replicaof, latency-tracking-info-percentiles', () => {
  assert.is(value('notify-keyspace-events KEA', 'notify-keyspace-events'), 'AKE');
  assert.is(value('notify-keyspace-events Kx$', 'notify-keyspace-events'), '$xK');
  assert.is(reason('notify-keyspace-events Q'), "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
  assert.is(value('replicaof 10.0.0.1 6380', 'replicaof'), '10.0.0.1 6380');
  assert.is(value('slaveof no one', 'replicaof'), '');
  assert.is(reason('replicaof host 99999'), 'Invalid primary port');
  assert.is(reason('replicaof host'), 'wrong number of arguments');
  assert.is(load('').store.getString('latency-tracking-info-percentiles'), '50 99 99.9');
  assert.is(value('latency-tracking-info-percentiles 99.99 50', 'latency-tracking-info-percentiles'), '99.99 50');
  assert.is(reason('latency-tracking-info-percentiles 50 101'), 'latency-tracking-info-percentiles parameters should sit between [0.0,100.0]');
  assert.is(reason('latency-tracking-info-percentiles fifty'), 'Invalid latency-tracking-info-percentiles parameters');
});

test('dir: resolved like chdir, must exist', () => {
  const root = tempDir();
  mkdirSync(join(root, 'data'));
  assert.is(load('dir data', root).store.getDir(), join(root, 'data'));
  assert.is(load(`dir ${root}\ndir data`).store.getString('dir'), join(root, 'data'));
  assert.is(reason('dir missing', root), 'No such file or directory');
  assert.is(reason('dir ""', root), "dir can't be empty");
});

test('values forkv refuses, and activedefrag without jemalloc', () => {
  assert.match(reason('daemonize yes'), /^forkv does not daemonize/);
  assert.is(value('daemonize no', 'daemonize'), 'no');
  assert.is(value('aof-timestamp-enabled yes', 'aof-timestamp-enabled'), 'yes');
  assert.match(reason('activedefrag yes'), /^Active defragmentation cannot be enabled/);
});

test('defaults print as CONFIG GET does', () => {
  const s = load('').store;
  const expected: Record<string, string> = {
    port: '6379', bind: '127.0.0.1 -::1', save: '3600 1 300 100 60 10000', appendonly: 'no',
    appendfsync: 'everysec', maxmemory: '0', 'maxmemory-policy': 'noeviction', dbfilename: 'dump.rdb',
    appendfilename: 'appendonly.aof', appenddirname: 'appendonlydir', 'proto-max-bulk-len': '536870912',
    'client-query-buffer-limit': '1073741824', 'auto-aof-rewrite-min-size': '67108864', hz: '10',
    'list-max-listpack-size': '-2', 'hash-max-listpack-value': '64', 'enable-debug-command': 'no',
    'shutdown-on-sigint': 'default', 'notify-keyspace-events': '', requirepass: '', replicaof: '',
    'client-output-buffer-limit': 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60',
    'oom-score-adj-values': '0 200 800', 'unixsocketperm': '0', 'maxmemory-clients': '0',
    'syslog-facility': 'local0', 'acl-pubsub-default': 'resetchannels', 'rdb-version': '10',
    'proc-title-template': '{title} {listen-addr} {server-mode}', 'lazyfree-lazy-user-del': 'yes',
  };
  for (const [name, v] of Object.entries(expected)) assert.is(s.getString(name), v, name);
  assert.is(s.getDir(), process.cwd());
});

test.run();
