// Nothing a script can call is TypeScript-only: every command of the command table
// (subcommands included) that Valkey lets a script call reaches its handler from
// `redis.call`, and the commands Valkey refuses to scripts (the `noscript` flag) are the
// same in forkv, command by command. The host-run commands a script may call (INFO,
// LASTSAVE, WAIT, WAITAOF) answer as they do to a client.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { useServer } from '../helpers/fixture';

const t = suite('script-callable');
const fx = useServer(t);

/**
 * Valkey 8.0.1's `noscript` commands and subcommands, as its COMMAND lists them
 * (/work/shared/valkey/bin/valkey-server, default configuration).
 */
const VALKEY_NOSCRIPT = [
  'acl|cat', 'acl|deluser', 'acl|dryrun', 'acl|genpass', 'acl|getuser', 'acl|list', 'acl|load', 'acl|log',
  'acl|save', 'acl|setuser', 'acl|users', 'acl|whoami', 'auth', 'bgrewriteaof', 'bgsave', 'client|caching',
  'client|capa', 'client|getname', 'client|getredir', 'client|id', 'client|info', 'client|kill', 'client|list',
  'client|no-evict', 'client|no-touch', 'client|pause', 'client|reply', 'client|setinfo', 'client|setname',
  'client|tracking', 'client|trackinginfo', 'client|unblock', 'client|unpause', 'cluster|reset', 'config|get',
  'config|resetstat', 'config|rewrite', 'config|set', 'debug', 'discard', 'eval', 'eval_ro', 'evalsha', 'evalsha_ro',
  'exec', 'failover', 'fcall', 'fcall_ro', 'function|delete', 'function|dump', 'function|flush', 'function|kill',
  'function|list', 'function|load', 'function|restore', 'function|stats', 'hello', 'latency|doctor', 'latency|graph',
  'latency|histogram', 'latency|history', 'latency|latest', 'latency|reset', 'module|list', 'module|load',
  'module|loadex', 'module|unload', 'monitor', 'multi', 'psubscribe', 'psync', 'punsubscribe', 'quit', 'replconf',
  'replicaof', 'reset', 'role', 'save', 'script|debug', 'script|exists', 'script|flush', 'script|kill',
  'script|load', 'script|show', 'shutdown', 'slaveof', 'ssubscribe', 'subscribe', 'sunsubscribe', 'sync',
  'unsubscribe', 'unwatch', 'watch',
];

/** A COMMAND row: name, arity, flags, ..., subcommands (the 10th element). */
type CommandRow = [string, number, string[], ...unknown[]];

interface Cmd {
  name: string;
  arity: number;
  flags: string[];
  /** A container (CONFIG, CLIENT, ...): its subcommands are the commands. */
  container: boolean;
}

/** Every command and subcommand COMMAND lists. */
async function commandTable(): Promise<Cmd[]> {
  const rows = (await fx.io.call('COMMAND')) as CommandRow[];
  const out: Cmd[] = [];
  for (const [name, arity, flags, , , , , , , subs] of rows) {
    const children = (subs as CommandRow[] | undefined) ?? [];
    out.push({ name, arity, flags, container: children.length > 0 });
    for (const [sub, subArity, subFlags] of children) out.push({ name: sub, arity: subArity, flags: subFlags, container: false });
  }
  return out;
}

/** The argv of a call that satisfies `c`'s arity: its name (and subcommand), then placeholders. */
function argvOf(c: Cmd): string[] {
  const words = c.name.split('|');
  const needed = Math.abs(c.arity);
  while (words.length < needed) words.push('x');
  return words;
}

/** What `redis.pcall` of `argv` gives inside a script: its reply, or its error's text. */
async function fromScript(argv: string[]): Promise<unknown> {
  const script = "local r = redis.pcall(unpack(ARGV)) if type(r) == 'table' and r.err then return 'ERROR: ' .. r.err end return r";
  return fx.io.eval(script, 0, ...argv);
}

t('the noscript commands are Valkey 8.0.1\'s, command by command', async () => {
  const table = await commandTable();
  const names = new Set(table.map((c) => c.name));
  const ours = table.filter((c) => c.flags.includes('noscript')).map((c) => c.name).sort();
  // Valkey's, less the commands forkv does not have (modules, cluster).
  const valkeys = VALKEY_NOSCRIPT.filter((n) => names.has(n)).sort();
  assert.equal(ours, valkeys);
});

t('every command a script may call reaches its handler from redis.call', async () => {
  const table = await commandTable();
  const callable = table.filter((c) => !c.container && !c.flags.includes('noscript'));
  assert.ok(callable.length > 200, `only ${callable.length} callable commands`);
  const refused: string[] = [];
  for (const c of callable) {
    const r = await fromScript(argvOf(c));
    // Placeholders make many calls fail their own checks (syntax, types): that is the
    // handler answering. A refusal before the handler is what this test looks for.
    if (typeof r === 'string' && /cannot be called from a script|not allowed from script|unknown command|unknown subcommand/i.test(r)) {
      refused.push(`${c.name}: ${r}`);
    }
  }
  assert.equal(refused, []);
  // The noscript ones are refused with Valkey 8.0.1's error (its wording says Redis).
  for (const c of table.filter((c) => !c.container && c.flags.includes('noscript'))) {
    const r = await fromScript(argvOf(c));
    assert.is(r, 'ERROR: ERR This Redis command is not allowed from script', c.name);
  }
});

t('the host-run commands a script may call answer as to a client', async () => {
  await fx.io.set('k', 'v');
  assert.is(await fx.io.eval("return redis.call('LASTSAVE')", 0), await fx.io.lastsave());
  assert.is(await fx.io.eval("return redis.call('INFO', 'keyspace')", 0), await fx.io.info('keyspace'));
  assert.is(await fx.io.eval("return redis.call('WAIT', '0', '0')", 0), await fx.io.call('WAIT', '0', '0'));
  assert.equal(await fx.io.eval("return redis.call('WAITAOF', '0', '0', '0')", 0), await fx.io.call('WAITAOF', '0', '0', '0'));
  const persistence = String(await fx.io.eval("return redis.call('INFO', 'persistence')", 0));
  assert.match(persistence, /^# Persistence\r\nloading:0\r\n/);
});

t.run();
