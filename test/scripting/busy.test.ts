// Long-running scripts (Valkey's busy state): past busy-reply-threshold other clients get
// -BUSY and may run SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE, served from inside
// the script while Node's event loop cannot run. Through raw sockets and ioredis.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { RawClient, text, type Resp } from '../helpers/client';
import { startServer, type RunningServer } from '../helpers/server';

const BUSY_EVAL = 'BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.';
const BUSY_FUNCTION = 'BUSY Valkey is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.';

const t = suite('busy scripts');
let srv: RunningServer;

t.before(async () => {
  srv = await startServer({ args: ['--busy-reply-threshold', '50'] });
});
t.after(async () => {
  if (srv.proc.exitCode === null) await srv.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function errorText(r: Resp): string {
  assert.is(r.type, '-', `expected an error, got ${JSON.stringify(text(r))}`);
  return text(r) ?? '';
}

t('a busy EVAL: others get BUSY, SCRIPT KILL stops it, its caller gets the error', async () => {
  const caller = await RawClient.connect(srv.port);
  const other = await RawClient.connect(srv.port);
  const lib = new Redis({ port: srv.port });
  await lib.ping();
  try {
    const running = caller.call('EVAL', 'while true do end', '0');
    await sleep(200);
    assert.is(errorText(await other.call('PING')), BUSY_EVAL);
    const libErr = await lib.get('x').then(() => '', (e: Error) => e.message);
    assert.is(libErr, BUSY_EVAL);
    assert.is(errorText(await other.call('FUNCTION', 'KILL')), BUSY_EVAL);
    assert.is(errorText(await other.call('FUNCTION', 'STATS')), BUSY_EVAL);
    assert.is(text(await other.call('SCRIPT', 'KILL')), 'OK');
    assert.match(errorText(await running), /^ERR Script killed by user with SCRIPT KILL\.\.\. script: \w+, on @user_script:1\.$/);
    assert.is(text(await other.call('PING')), 'PONG');
    assert.is(text(await caller.call('PING')), 'PONG');
    assert.is(errorText(await other.call('SCRIPT', 'KILL')), 'NOTBUSY No scripts in execution right now.');
  } finally {
    caller.close();
    other.close();
    lib.disconnect();
  }
});

t('input pipelined while busy is answered in order, and a partial command waits', async () => {
  const caller = await RawClient.connect(srv.port);
  const other = await RawClient.connect(srv.port);
  try {
    const running = caller.call('EVAL', 'while true do end', '0');
    await sleep(200);
    other.write('*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nSCRIPT\r\n$4\r\nKILL\r\n*3\r\n$3\r\nSET\r\n$1\r\nk');
    assert.is(errorText(await other.readReply()), BUSY_EVAL);
    assert.is(text(await other.readReply()), 'OK');
    await running;
    other.write('\r\n$1\r\nv\r\n');
    assert.is(text(await other.readReply()), 'OK');
    assert.is(text(await other.call('GET', 'k')), 'v');
  } finally {
    caller.close();
    other.close();
  }
});

t('FUNCTION KILL stops a busy function; a script that wrote is UNKILLABLE', async () => {
  const caller = await RawClient.connect(srv.port);
  const other = await RawClient.connect(srv.port);
  try {
    await caller.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=spin\nserver.register_function('spin', function() while true do end end)");
    const running = caller.call('FCALL', 'spin', '0');
    await sleep(200);
    assert.is(errorText(await other.call('SCRIPT', 'KILL')), BUSY_FUNCTION);
    assert.is(text(await other.call('FUNCTION', 'KILL')), 'OK');
    assert.match(errorText(await running), /^ERR Script killed by user with SCRIPT KILL\.\.\./);

    // TIME is frozen inside a script (Valkey's snapshot at script start): os.clock measures the spin.
    const writer = caller.call('EVAL', "server.call('set', 'w', '1') local t = os.clock() while os.clock() - t < 1.5 do end return 'done'", '0');
    await sleep(200);
    assert.match(errorText(await other.call('SCRIPT', 'KILL')), /^UNKILLABLE Sorry the script already executed write commands against the dataset\./);
    assert.is(errorText(await other.call('SHUTDOWN')), BUSY_EVAL);
    assert.is(text(await writer), 'done');
    assert.is(text(await other.call('GET', 'w')), '1');
  } finally {
    caller.close();
    other.close();
  }
});

t('SHUTDOWN NOSAVE ends the process during a busy script that wrote', async () => {
  const caller = await RawClient.connect(srv.port);
  const other = await RawClient.connect(srv.port);
  caller.call('EVAL', "server.call('set', 'z', '1') while true do end", '0').catch(() => undefined);
  await sleep(200);
  other.write('*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n');
  const exit = await srv.exited;
  assert.is(exit.code, 0);
  assert.match(srv.output(), /Slow script detected: still in execution after \d+ milliseconds\. You can try killing the script using the SCRIPT KILL command\. Script name is: \w+\./);
  assert.match(srv.output(), /User requested shutdown/);
  caller.close();
  other.close();
});

t.run();
