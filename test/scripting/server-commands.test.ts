// Commands a script calls that are answered outside the data path (the server's clock,
// replication and AOF progress, HELP texts, DEBUG OBJECT), error counting of a returned
// pcall error, and SCRIPT FLUSH resetting the VM, through a real client as Valkey answers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { useServer } from '../helpers/fixture';
import { errorOf } from '../helpers/errors';

const t = suite('scripting-server-commands');
const fx = useServer(t);

/** The INFO field `name` of `section`. */
async function infoField(section: string, name: string): Promise<string | undefined> {
  const text = await fx.io.info(section);
  const line = text.split('\r\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}

t('TIME inside a script answers the time the script started', async () => {
  const script = `
    local a = redis.call('TIME')
    local t = os.clock()
    while os.clock() - t < 0.02 do end
    local b = redis.call('TIME')
    return {a, b}`;
  const [a, b] = (await fx.io.eval(script, 0)) as [string[], string[]];
  assert.equal(a, b);
  // Outside a script the clock moves.
  const first = await fx.io.time();
  await new Promise((r) => setTimeout(r, 5));
  const second = await fx.io.time();
  assert.not.equal(first, second);
});

t('DEBUG OBJECT shows a key that expired but was not deleted yet; a script then sees it gone', async () => {
  await fx.io.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  try {
    await fx.io.set('k', 'v', 'PX', 1);
    await new Promise((r) => setTimeout(r, 5));
    assert.match(String(await fx.io.call('DEBUG', 'OBJECT', 'k')), /^Value at:/);
    assert.is(await fx.io.eval("return redis.call('EXISTS', KEYS[1])", 1, 'k'), 0);
    assert.is(await fx.io.exists('k'), 0);
    assert.is(await errorOf(fx.io.call('DEBUG', 'OBJECT', 'k')), 'ERR no such key');
  } finally {
    await fx.io.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
  }
});

t('a pcall error returned by the script is counted once (errorstats)', async () => {
  await fx.io.call('CONFIG', 'RESETSTAT');
  await fx.io.call('CONFIG', 'SET', 'maxmemory', '1');
  try {
    assert.is(
      await errorOf(fx.io.eval("return redis.pcall('set', 'x', 'y')", 1, 'x')),
      "OOM command not allowed when used memory > 'maxmemory'.",
    );
  } finally {
    await fx.io.call('CONFIG', 'SET', 'maxmemory', '0');
  }
  assert.is(await infoField('errorstats', 'errorstat_OOM'), 'count=1');
  assert.is(await infoField('stats', 'total_error_replies'), '1');
  // An error made by the script itself (server.error_reply) counts as the script's.
  await fx.io.call('CONFIG', 'RESETSTAT');
  assert.is(await errorOf(fx.io.eval("return redis.error_reply('MY_ERR_CODE custom')", 0)), 'MY_ERR_CODE custom');
  assert.is(await infoField('errorstats', 'errorstat_MY_ERR_CODE'), 'count=1');
});

t('WAIT and WAITAOF from a script answer at once, with Valkey\'s argument errors', async () => {
  assert.is(await fx.io.eval("return redis.pcall('wait', '1', '0')", 0), 0);
  assert.equal(await fx.io.eval("return redis.pcall('waitaof', '0', '1', '0')", 0), [0, 0]);
  const body = "return redis.call('waitaof', '1', '0', '0')";
  assert.is(
    await errorOf(fx.io.eval(body, 0)),
    `ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.${await scriptTail(body)}`,
  );
  assert.is(await errorOf(fx.io.eval("return redis.pcall('wait', 'x', '0')", 0)), 'ERR value is not an integer or out of range');
  assert.is(await errorOf(fx.io.eval("return redis.pcall('wait', '1', '-1')", 0)), 'ERR timeout is negative');
  assert.is(await errorOf(fx.io.eval("return redis.pcall('waitaof', '2', '0', '0')", 0)), 'ERR value is out of range, value must between 0 and 1');
  assert.is(await errorOf(fx.io.eval("return redis.pcall('waitaof', '0', '-1', '0')", 0)), 'ERR value is out of range, must be positive');
});

/** The ` script: <sha>, on @user_script:1.` suffix Valkey appends to a raised error. */
async function scriptTail(body: string): Promise<string> {
  const sha = (await fx.io.script('LOAD', body)) as string;
  return ` script: ${sha}, on @user_script:1.`;
}

t('WAITAOF from a script reports the local AOF once it is on and fsynced', async () => {
  await fx.io.call('CONFIG', 'SET', 'appendonly', 'yes');
  try {
    await fx.io.set('a', '1');
    const end = Date.now() + 10000;
    let reply: unknown;
    do {
      await new Promise((r) => setTimeout(r, 50));
      reply = await fx.io.eval("return redis.call('waitaof', '1', '0', '0')", 0);
    } while (JSON.stringify(reply) !== '[1,0]' && Date.now() < end);
    assert.equal(reply, [1, 0]);
  } finally {
    await fx.io.call('CONFIG', 'SET', 'appendonly', 'no');
  }
});

t('CONFIG HELP and CLIENT HELP can be called from a script and match the direct reply', async () => {
  for (const [cmd, sub] of [['CONFIG', 'HELP'], ['CLIENT', 'HELP']] as const) {
    const direct = (await fx.io.call(cmd, sub)) as string[];
    assert.is(direct[0], `${cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`);
    assert.equal(direct.slice(-2), ['HELP', '    Print this help.']);
    const viaScript = (await fx.io.eval(`local r = redis.call('${cmd}', '${sub}'); local out = {}; for i, l in ipairs(r) do out[i] = l.ok end; return out`, 0)) as string[];
    assert.equal(viaScript, direct);
  }
  // Valkey forbids CONFIG GET from scripts (noscript).
  assert.match(await errorOf(fx.io.eval("return redis.call('config', 'get', 'port')", 0)), /^ERR This Redis command is not allowed from script/);
});

t('DEBUG LOG from a script once DEBUG SET-DISABLE-DENY-SCRIPTS allows noscript commands', async () => {
  const body = "return redis.call('DEBUG', 'LOG', 'from-a-script')";
  assert.match(await errorOf(fx.io.eval(body, 0)), /^ERR This Redis command is not allowed from script/);
  await fx.io.call('DEBUG', 'SET-DISABLE-DENY-SCRIPTS', '1');
  try {
    assert.is(await fx.io.eval(body, 0), 'OK');
    await fx.srv.waitFor(/DEBUG LOG: from-a-script/);
  } finally {
    await fx.io.call('DEBUG', 'SET-DISABLE-DENY-SCRIPTS', '0');
  }
});

t('SCRIPT FLUSH replaces the VM: memory goes back, the cache is empty, math.random continues', async () => {
  await fx.io.call('SCRIPT', 'FLUSH');
  const first = await fx.io.eval('return tostring(math.random())', 0);
  // Thousands of distinct strings grow Lua's string table, which never shrinks.
  await fx.io.eval("local t = {} for i = 1, 50000 do t[i] = 'str' .. i end return #t", 0);
  const grown = Number(await infoField('memory', 'used_memory_vm_eval'));
  await fx.io.call('SCRIPT', 'FLUSH');
  assert.is(await infoField('memory', 'number_of_cached_scripts'), '0');
  const fresh = Number(await infoField('memory', 'used_memory_vm_eval'));
  assert.ok(fresh < grown, `${fresh} < ${grown}`);
  assert.ok(fresh < 100 * 1024, `fresh VM ${fresh} bytes`);
  // The generator is not restarted by the reset (Valkey's lrand48 state is static).
  assert.not.equal(await fx.io.eval('return tostring(math.random())', 0), first);
});

t.run();
