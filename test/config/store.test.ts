/** CONFIG GET / CONFIG SET semantics of ConfigStore. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigStore, LOADING_ERROR } from '../../ts/config/store';
import { glob, load, tempDir } from './helpers';

test('CONFIG GET: the valkey.io example (aliases included, sorted by name)', () => {
  const s = new ConfigStore();
  assert.equal(s.get(['*max-*-entries*', 'maxmemory'], glob), [
    ['hash-max-listpack-entries', '512'],
    ['hash-max-ziplist-entries', '512'],
    ['maxmemory', '0'],
    ['set-max-intset-entries', '512'],
    ['set-max-listpack-entries', '128'],
    ['zset-max-listpack-entries', '128'],
    ['zset-max-ziplist-entries', '128'],
  ]);
});

test('CONFIG GET: exact names are case-insensitive and answered as typed; duplicates once', () => {
  const s = new ConfigStore();
  assert.equal(s.get(['PORT', 'port', 'Port'], glob), [['PORT', '6379']]);
  assert.equal(s.get(['slaveof', 'replicaof'], glob), [['replicaof', ''], ['slaveof', '']]);
  assert.equal(s.get(['no-such-config'], glob), []);
  assert.equal(s.get(['BIND*'], glob), [['bind', '127.0.0.1 -::1'], ['bind-source-addr', '']]);
});

test('CONFIG GET: hidden directives only by exact name', () => {
  const s = new ConfigStore();
  assert.equal(s.get(['rdb-key-save-delay*'], glob), []);
  assert.equal(s.get(['rdb-key-save-delay'], glob), [['rdb-key-save-delay', '0']]);
});

test('CONFIG GET: special values print as Valkey prints them', () => {
  const { store } = load('save 900 1 300 10\nbind 0.0.0.0 ::\nmaxmemory 100mb\nnotify-keyspace-events Ex');
  assert.equal(store.get(['save', 'bind', 'maxmemory', 'notify-keyspace-events', 'appendfsync'], glob), [
    ['appendfsync', 'everysec'],
    ['bind', '0.0.0.0 ::'],
    ['maxmemory', '104857600'],
    ['notify-keyspace-events', 'xE'],
    ['save', '900 1 300 10'],
  ]);
  const all = store.get(['*'], glob);
  assert.ok(all.length > 200);
  assert.ok(all.some(([k]) => k === 'slave-priority'));
  assert.not.ok(all.some(([k]) => k === 'watchdog-period'));
});

test('CONFIG SET: several parameters at once', () => {
  const s = new ConfigStore();
  assert.is(s.set([['maxmemory', '10mb'], ['appendfsync', 'always'], ['save', '900 1 300 10']]), null);
  assert.is(s.getString('maxmemory'), '10485760');
  assert.is(s.getString('appendfsync'), 'always');
  // CONFIG SET replaces the save points; it does not append like a second config-file line
  assert.is(s.set([['save', '60 5']]), null);
  assert.is(s.getString('save'), '60 5');
  assert.is(s.set([['save', '']]), null);
  assert.equal(s.getSaveRules(), []);
  assert.is(s.set([['bind', '']]), null);
  assert.equal(s.getBind(), []);
});

test('CONFIG SET: a bad value leaves every parameter unchanged', () => {
  const s = new ConfigStore();
  assert.is(s.set([['timeout', '30'], ['port', 'abc'], ['hz', '20']]),
    "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer");
  assert.is(s.getInt('timeout'), 0);
  assert.is(s.getInt('port'), 6379);
  assert.is(s.getInt('hz'), 10);
  assert.is(s.set([['save', '900']]), "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters");
  assert.is(s.set([['hash-max-ziplist-entries', '-1']]),
    "ERR CONFIG SET failed (possibly related to argument 'hash-max-ziplist-entries') - argument must be between 0 and 9223372036854775807 inclusive");
});

test('CONFIG SET: unknown, immutable, duplicate (Valkey\'s precedence)', () => {
  const s = new ConfigStore();
  assert.is(s.set([['foo', '1']]), "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
  assert.is(s.set([['daemonize', 'no']]), "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config");
  assert.is(s.set([['Databases', '2']]), "ERR CONFIG SET failed (possibly related to argument 'Databases') - can't set immutable config");
  assert.is(s.set([['port', '1'], ['PORT', '2']]), "ERR CONFIG SET failed (possibly related to argument 'PORT') - duplicate parameter");
  // the first problem wins: an unknown name after an immutable one is not reported
  assert.is(s.set([['databases', '2'], ['foo', '1']]), "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config");
  assert.is(s.set([['foo', '1'], ['databases', '2']]), "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
  // a name and its alias are different entries in Valkey: not a duplicate, the last one wins
  assert.is(s.set([['hash-max-listpack-entries', '1'], ['hash-max-ziplist-entries', '2']]), null);
  assert.is(s.getInt('hash-max-listpack-entries'), 2);
});

test('CONFIG SET: protected configs follow enable-protected-configs', () => {
  const root = tempDir();
  mkdirSync(join(root, 'data'));
  const s = new ConfigStore({ cwd: root });
  assert.is(s.set([['dir', 'data']], { clientIsLocal: true }),
    "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config");
  assert.is(s.set([['dbfilename', 'x.rdb']]),
    "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config");

  const local = load('enable-protected-configs local', root).store;
  assert.is(local.set([['dir', 'data']], { clientIsLocal: false }),
    "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config");
  assert.is(local.set([['dir', 'data']], { clientIsLocal: true }), null);
  assert.is(local.getDir(), join(root, 'data'));
  assert.is(local.set([['dir', 'nope']], { clientIsLocal: true }),
    "ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory");
  assert.is(local.getDir(), join(root, 'data'));
});

test('CONFIG SET: deny-loading directives answer -LOADING while loading', () => {
  const s = new ConfigStore();
  assert.is(s.set([['appendonly', 'yes']], { loading: true }), LOADING_ERROR);
  assert.is(s.set([['appendfsync', 'no']], { loading: true }), null);
});

test('apply hooks run only for changed values, once per hook, after all values are stored', () => {
  const s = new ConfigStore();
  const calls: string[] = [];
  s.onChange('port', (v, name) => {
    calls.push(`${name}=${v} timeout=${s.getInt('timeout')}`);
    return null;
  });
  assert.is(s.set([['port', '6379']]), null);
  assert.equal(calls, []); // unchanged: Valkey's set() returned 2, no apply
  assert.is(s.set([['port', '7000'], ['timeout', '5']]), null);
  assert.equal(calls, ['port=7000 timeout=5']);

  const shared: string[] = [];
  const listener = (v: string, name: string): string | null => {
    shared.push(`${name}=${v}`);
    return null;
  };
  s.onChange('bind', listener);
  s.onChange('port', listener);
  assert.is(s.set([['bind', '0.0.0.0'], ['port', '7001']]), null);
  assert.equal(shared, ['bind=0.0.0.0']); // the same function is applied once
});

test('a refusing hook rolls every value back and re-applies the old ones', () => {
  const s = new ConfigStore();
  const applied: string[] = [];
  s.onChange('maxmemory', (v) => {
    applied.push(`maxmemory=${v}`);
    return null;
  });
  const off = s.onChange('port', (v) => {
    applied.push(`port=${v}`);
    return v === '7777' ? 'Unable to listen on this port. Check server logs.' : null;
  });
  assert.is(s.set([['maxmemory', '1mb'], ['port', '7777'], ['timeout', '3']]),
    "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.");
  assert.is(s.getString('maxmemory'), '0');
  assert.is(s.getInt('port'), 6379);
  assert.is(s.getInt('timeout'), 0);
  assert.equal(applied, ['maxmemory=1048576', 'port=7777', 'maxmemory=0', 'port=6379']);

  off();
  s.onChange('port', () => '');
  assert.is(s.set([['port', '1']]), "ERR CONFIG SET failed (possibly related to argument 'port')");
});

test('typed getters', () => {
  const { store } = load([
    'port 7000', 'appendonly yes', 'appendfsync always', 'maxmemory 2gb', 'save 900 1',
    'bind 127.0.0.1 ::1', 'client-output-buffer-limit pubsub 64mb 16mb 90', 'replicaof 10.1.1.1 6380',
  ].join('\n'));
  assert.is(store.getInt('port'), 7000);
  assert.is(store.getBool('appendonly'), true);
  assert.is(store.getEnum('appendfsync'), 'always');
  assert.is(store.getBigInt('maxmemory'), 2n ** 31n);
  assert.equal(store.getSaveRules(), [{ seconds: 900, changes: 1 }]);
  assert.equal(store.getBind(), ['127.0.0.1', '::1']);
  assert.equal(store.getClientOutputBufferLimits().pubsub, { hardLimitBytes: 64n << 20n, softLimitBytes: 16n << 20n, softLimitSeconds: 90 });
  assert.equal(store.getReplicaOf(), { host: '10.1.1.1', port: 6380 });
  assert.throws(() => store.getBool('port'));
  assert.throws(() => store.getInt('no-such-config'));
  assert.is(store.definition('SLAVEOF')?.name, 'replicaof');
  assert.is(store.definition('requirepass')?.flags.sensitive, true);
});

test.run();

test('CONFIG SET of a directive forkv does not honour is logged, never silent; honoured ones are not', () => {
  const lines: string[] = [];
  const s = new ConfigStore({ log: (level, m) => lines.push(`${level} ${m}`) });
  assert.is(s.set([['active-defrag-cycle-min', '5'], ['maxmemory', '10mb']]), null);
  assert.equal(lines, [
    "warning CONFIG SET 'active-defrag-cycle-min' is not implemented by forkv; the value is accepted and reported by CONFIG GET but has no effect",
  ]);
  assert.equal(s.get(['active-defrag-cycle-min'], glob), [['active-defrag-cycle-min', '5']]);
  lines.length = 0;
  // Back to the default: nothing is left ignored, nothing to say.
  assert.is(s.set([['active-defrag-cycle-min', '1']]), null);
  assert.is(s.set([['notify-keyspace-events', 'KEA']]), null);
  assert.equal(lines, []);
});
