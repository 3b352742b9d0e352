/** valkey-server's argv handling, and its result fed through loadServerConfig. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommandLine, type CommandLine } from '../../ts/config/command-line';
import { loadServerConfig } from '../../ts/config/parse';

function run(cl: CommandLine): Extract<CommandLine, { kind: 'run' }> {
  if (cl.kind !== 'run') throw new Error(`expected run, got ${cl.kind}`);
  return cl;
}

/** Options alone, as the server would load them (no file). */
function options(...args: string[]) {
  return loadServerConfig({ options: run(parseCommandLine(args, '/cwd')).text, version: 'test' }).store;
}

test('the valkey docs example: file, then --options with several values', () => {
  const cl = run(parseCommandLine(
    ['/etc/valkey/6379.conf', '--port', '7777', '--replicaof', '127.0.0.1', '8888', '--loglevel', 'debug'], '/cwd'));
  assert.is(cl.configFile, '/etc/valkey/6379.conf');
  assert.is(cl.configFromStdin, false);
  assert.is(cl.text, 'port "7777" \nreplicaof "127.0.0.1" "8888" \nloglevel "debug" ');
  const store = loadServerConfig({ options: cl.text }).store;
  assert.is(store.getInt('port'), 7777);
  assert.is(store.getString('replicaof'), '127.0.0.1 8888');
  assert.is(store.getString('loglevel'), 'debug');
});

test('a relative config file is made absolute; no arguments means defaults', () => {
  assert.is(run(parseCommandLine(['valkey.conf'], '/srv/kv')).configFile, '/srv/kv/valkey.conf');
  assert.equal(parseCommandLine([], '/cwd'), { kind: 'run', configFromStdin: false, text: '' });
});

test('--save "" disables snapshots; repeated --save lines combine', () => {
  assert.is(options('--save', '').getString('save'), '');
  assert.is(options('--save', '900', '1', '--save', '300', '10').getString('save'), '900 1 300 10');
  assert.is(options('--save', '900 1 300 10').getString('save'), '900 1 300 10');
});

test('a bare --save before another option, or last, means save ""', () => {
  assert.is(run(parseCommandLine(['--save', '--port', '1'])).text, 'save ""\nport "1" ');
  assert.is(options('--save', '--port', '1').getString('save'), '');
  assert.is(options('--port', '1', '--save').getString('save'), '');
});

test('"--name value" in one argument; values with spaces and quotes survive', () => {
  assert.is(run(parseCommandLine(['--port 6380', '--timeout', '5'])).text, 'port 6380 \ntimeout "5" ');
  assert.is(options('--port 6380').getInt('port'), 6380);
  assert.is(options('--requirepass', 'p a"s\'s').getString('requirepass'), 'p a"s\'s');
});

test('after a bare option name, an argument starting with -- is its value', () => {
  assert.is(run(parseCommandLine(['--requirepass', '--secret'])).text, 'requirepass "--secret" ');
  assert.is(options('--requirepass', '--secret').getString('requirepass'), '--secret');
});

test('a bare "--" starts an option with an empty name', () => {
  assert.is(run(parseCommandLine(['--port', '1', '--'])).text, 'port "1" \n ');
  assert.is(options('--port', '1', '--').getInt('port'), 1);
});

test('"-" reads stdin when first or last', () => {
  assert.is(run(parseCommandLine(['-'])).configFromStdin, true);
  const cl = run(parseCommandLine(['/etc/v.conf', '--loglevel', 'verbose', '-'], '/'));
  assert.is(cl.configFromStdin, true);
  assert.is(cl.text, 'loglevel "verbose" ');
  const store = loadServerConfig({ stdinText: 'port 6400\nloglevel warning\n', options: cl.text }).store;
  assert.is(store.getInt('port'), 6400);
  assert.is(store.getString('loglevel'), 'verbose');
});

test('version, help, and the modes forkv does not have', () => {
  assert.equal(parseCommandLine(['-v']), { kind: 'version' });
  assert.equal(parseCommandLine(['--version', 'x']), { kind: 'version' });
  const help = parseCommandLine(['-h']);
  assert.is(help.kind, 'help');
  assert.ok(help.kind === 'help' && help.usage.startsWith('Usage: ./forkv-server [/path/to/valkey.conf]'));
  assert.is(parseCommandLine(['--help']).kind, 'help');
  assert.is(parseCommandLine(['--test-memory', '4096']).kind, 'unsupported');
  assert.is(parseCommandLine(['--check-system']).kind, 'unsupported');
  assert.is(parseCommandLine(['/etc/sentinel.conf', '--sentinel']).kind, 'unsupported');
});

test('an unknown option is a FATAL config error like in the file', () => {
  assert.throws(() => options('--no-such-option', 'x'), (e: Error) => e.message.includes('Bad directive or wrong number of arguments'));
});

test.run();
