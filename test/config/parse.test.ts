/** Config-file parsing: errors, comments, aliases, save semantics, include with globs, warnings. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../../ts/config/errors';
import { loadServerConfig, parseConfigText } from '../../ts/config/parse';
import { load, loadError, reason, tempDir } from './helpers';

test('FATAL CONFIG FILE ERROR: Valkey\'s exact output, line numbers count comments and blanks', () => {
  const err = loadError('# comment\n\nport 6380\n   port   abc  \n');
  assert.is(err.kind, 'fatal');
  assert.is(err.line, 4);
  assert.is(err.fileName, 'test.conf');
  assert.is(err.format(),
    '\n*** FATAL CONFIG FILE ERROR (Version 9.9.9) ***\n' +
    'Reading the configuration file, at line 4\n' +
    ">>> 'port   abc'\n" +
    "argument couldn't be parsed into an integer\n");
});

test('unknown directives, argument counts, unbalanced quotes', () => {
  assert.is(reason('no-such-thing yes'), 'Bad directive or wrong number of arguments');
  assert.is(reason('port 1 2'), 'wrong number of arguments');
  assert.is(reason('port'), 'wrong number of arguments');
  assert.is(reason('requirepass "abc'), 'Unbalanced quotes in configuration line');
  assert.is(reason('dbfilename "a"b'), 'Unbalanced quotes in configuration line');
  assert.is(reason('include'), 'Bad directive or wrong number of arguments');
  assert.is(reason('mymodule.option'), 'Module config specified without value');
  assert.is(reason('sentinel monitor mymaster 127.0.0.1 6379 2'), 'sentinel directive while not in sentinel mode');
});

test('directive names are case-insensitive; comments and CRLF are fine', () => {
  const { store } = load('# a valkey.conf\r\nPORT 7001\r\n\r\n  Loglevel warning\r\n#port 1\n');
  assert.is(store.getInt('port'), 7001);
  assert.is(store.getString('loglevel'), 'warning');
});

test('aliases set their primary directive', () => {
  const { store } = load('slaveof 10.0.0.1 7000\nhash-max-ziplist-entries 64\nlua-time-limit 100\nslave-read-only no');
  assert.is(store.getString('replicaof'), '10.0.0.1 7000');
  assert.is(store.getInt('hash-max-listpack-entries'), 64);
  assert.is(store.getInt('busy-reply-threshold'), 100);
  assert.is(store.getBool('replica-read-only'), false);
});

test('save: the first save line replaces the defaults, later ones append; save "" empties', () => {
  assert.equal(load('port 1').store.getSaveRules(), [
    { seconds: 3600, changes: 1 }, { seconds: 300, changes: 100 }, { seconds: 60, changes: 10000 },
  ]);
  assert.is(load('save 900 1\nsave 300 10\nsave 60 10000').store.getString('save'), '900 1 300 10 60 10000');
  assert.is(load('save 900 1\nsave ""').store.getString('save'), '');
  assert.is(load('save ""\nsave 900 1').store.getString('save'), '900 1');
});

test('the last occurrence of a directive wins', () => {
  assert.is(load('port 1\nport 2\nport 3').store.getInt('port'), 3);
});

test('deprecated directives are accepted and ignored (with a note)', () => {
  const r = load('lua-replicate-commands yes\nlist-max-ziplist-entries 512');
  assert.equal(r.warnings.map((w) => w.directive), ['lua-replicate-commands', 'list-max-ziplist-entries']);
  assert.is(reason('lua-replicate-commands'), 'Bad directive or wrong number of arguments');
});

test('io-threads: only 1 is accepted (forkv runs no I/O threads)', () => {
  assert.is(load('io-threads 1').store.getInt('io-threads'), 1);
  assert.is(reason('io-threads 4'), 'forkv runs no I/O threads: io-threads must be 1 (clients are served on the main thread)');
  assert.is(reason('io-threads 0'), 'argument must be between 1 and 128 inclusive');
});

test('known but unimplemented directives are accepted and named in warnings when not at default', () => {
  const r = load('active-defrag-cycle-min 5\nactive-defrag-cycle-min 1\nbio-cpulist 0-1\ncluster-node-timeout 15000\nport 7000');
  assert.equal(r.warnings.map((w) => [w.directive, w.line]), [['bio-cpulist', 3]]);
  assert.match(r.warnings[0]!.message, /'bio-cpulist' is not implemented by forkv/);
  assert.is(r.store.getString('bio-cpulist'), '0-1');
  const r2 = load('active-defrag-cycle-min 5\nrename-command FLUSHALL ""\nloadmodule /x.so\nmaxmemory 1gb');
  // maxmemory is implemented (eviction): no warning.
  assert.equal(r2.warnings.map((w) => w.directive).sort(), ['active-defrag-cycle-min', 'loadmodule']);
  assert.is(r2.store.getString('maxmemory'), '1073741824');
  assert.equal(r2.renameCommands, [['FLUSHALL', '']]);
});

test('rename-command is checked line by line with Valkey\'s errors', () => {
  assert.equal(load('rename-command flushall ""\nrename-command get SET2\nrename-command set2 get').renameCommands, [
    ['flushall', ''], ['get', 'SET2'], ['set2', 'get'],
  ]);
  const unknown = loadError('port 7000\nrename-command nosuch x');
  assert.is(unknown.reason, 'No such command in rename-command');
  assert.is(unknown.line, 2);
  assert.is(loadError('rename-command get SET').reason, 'Target command name already exists');
  assert.is(loadError('rename-command get ""\nrename-command GET x').reason, 'No such command in rename-command');
});

test('errors after the last line carry no line (replicaof in cluster mode)', () => {
  const err = loadError('cluster-enabled yes\nreplicaof 10.0.0.1 6379');
  assert.is(err.line, null);
  assert.is(err.format(), '\n*** FATAL CONFIG FILE ERROR (Version 9.9.9) ***\nreplicaof directive not allowed in cluster mode\n');
});

test('include: relative to the working dir, glob patterns sorted, empty match allowed', () => {
  const root = tempDir();
  mkdirSync(join(root, 'conf.d'));
  writeFileSync(join(root, 'conf.d', '10-port.conf'), 'port 7001\nmaxclients 100\n');
  writeFileSync(join(root, 'conf.d', '20-port.conf'), 'port 7002\n');
  writeFileSync(join(root, 'conf.d', 'notes.txt'), 'this is not config\n');
  writeFileSync(join(root, 'conf.d', '.hidden.conf'), 'port 9999\n');
  writeFileSync(join(root, 'base.conf'), 'databases 4\n');

  const r = load('include base.conf\ninclude conf.d/*.conf\ninclude empty.d/*.conf\ntimeout 5', root);
  assert.is(r.store.getInt('databases'), 4);
  assert.is(r.store.getInt('port'), 7002);
  assert.is(r.store.getInt('maxclients'), 100);
  assert.is(r.store.getInt('timeout'), 5);

  assert.is(load('include conf.d/1?-port.conf', root).store.getInt('port'), 7001);
  assert.is(load('include conf.d/[12]0-*.conf\nport 1', root).store.getInt('port'), 1);
  assert.is(load(`include ${root}/conf.d/*.conf`, root).store.getInt('port'), 7002);
});

test('include: a missing file without wildcard is fatal; errors point into the included file', () => {
  const root = tempDir();
  const err = loadError('include missing.conf', root);
  assert.is(err.kind, 'open');
  assert.is(err.format(), "Fatal error, can't open config file 'missing.conf': No such file or directory\n");

  writeFileSync(join(root, 'bad.conf'), '# line 1\nport nope\n');
  const err2 = loadError('port 1\n\ninclude bad.conf', root);
  assert.is(err2.line, 2);
  assert.is(err2.lineText, 'port nope');
  assert.is(err2.fileName, join(root, 'bad.conf'));
});

test('include follows dir, as Valkey opens it after chdir', () => {
  const root = tempDir();
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'extra.conf'), 'port 6390\n');
  assert.is(load('dir data\ninclude extra.conf', root).store.getInt('port'), 6390);
});

test('include loops are stopped', () => {
  const root = tempDir();
  writeFileSync(join(root, 'self.conf'), 'include self.conf\n');
  assert.match(loadError('include self.conf', root).reason, /include nesting deeper than/);
});

test('loadServerConfig: file, then stdin, then command-line options; line numbers run across', () => {
  const root = tempDir();
  writeFileSync(join(root, 'valkey.conf'), 'port 7000\nloglevel warning\n');
  const r = loadServerConfig({
    configFile: 'valkey.conf', stdinText: 'timeout 30\n', options: 'port "7777" \nloglevel "debug" ',
    cwd: root, version: '9.9.9',
  });
  assert.is(r.configFile, join(root, 'valkey.conf'));
  assert.is(r.store.getInt('port'), 7777);
  assert.is(r.store.getString('loglevel'), 'debug');
  assert.is(r.store.getInt('timeout'), 30);

  try {
    loadServerConfig({ configFile: 'valkey.conf', options: 'port "x" ', cwd: root, version: '9.9.9' });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ConfigError);
    const e = err as ConfigError;
    assert.is(e.line, 4); // 2 file lines, the empty line after the final \n, then the option
    assert.is(e.lineText, 'port "x"');
    assert.is(e.fileName, '(command line)');
  }

  const missing = (() => {
    try {
      loadServerConfig({ configFile: 'nope.conf', cwd: root });
    } catch (err) {
      return err;
    }
    return null;
  })();
  assert.instance(missing, ConfigError);
  assert.is((missing as ConfigError).kind, 'open');
});

test('parseConfigText loads into a given store and reports no config file', () => {
  const first = load('port 7000');
  const r = parseConfigText('timeout 9', null, { store: first.store });
  assert.is(r.store, first.store);
  assert.is(r.store.getInt('port'), 7000);
  assert.is(r.store.getInt('timeout'), 9);
  assert.is(r.configFile, null);
});

test.run();
