// propagation-error-behavior for the AOF (Valkey's afterErrorReply for its AOF client): a
// command that fails when replayed (an INCR of a string, appended behind the server's back)
// is logged as critical and the load goes on under `ignore` and `panic-on-replicas`;
// under `panic` the load stops and the server does not start. A command refused before it runs
// (wrong arity) is such an error too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';

import { startServer, tempDir } from '../helpers/server';

const t = suite('aof-propagation-error');

const CRITICAL = /== CRITICAL == This server is sending an error to its AOF-loading-client: 'value is not an integer or out of range' after processing the command 'incr'/;

/** A directory whose AOF holds SET k abc, then `tail` (by default an INCR k that fails on replay). */
async function divergentAof(tail = '*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n'): Promise<string> {
  const dir = tempDir('forkv-aof-perr-');
  const s = await startServer({ dir, args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const c = new Redis({ port: s.port });
  try {
    await c.set('k', 'abc');
    await c.set('other', 'v');
  } finally {
    c.disconnect();
    await s.stop();
  }
  const aofDir = path.join(dir, 'appendonlydir');
  const incr = fs.readdirSync(aofDir).find((f) => f.endsWith('.incr.aof'));
  assert.ok(incr, 'an incr file');
  fs.appendFileSync(path.join(aofDir, incr), tail);
  return dir;
}

for (const behavior of ['ignore', 'panic-on-replicas']) {
  t(`${behavior}: logged as critical, and the load goes on`, async () => {
    const dir = await divergentAof();
    const s = await startServer({ dir, args: ['--appendonly', 'yes', '--propagation-error-behavior', behavior] });
    const c = new Redis({ port: s.port });
    try {
      assert.match(s.output(), CRITICAL);
      assert.is(await c.get('k'), 'abc');
      assert.is(await c.get('other'), 'v');
    } finally {
      c.disconnect();
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

t('panic: the load stops and the server does not start', async () => {
  const dir = await divergentAof();
  const s = await startServer({ dir, args: ['--appendonly', 'yes', '--propagation-error-behavior', 'panic'], waitReady: false });
  try {
    const e = await s.exited;
    assert.is(e.code, 1);
    assert.match(s.output(), CRITICAL);
    assert.match(s.output(), /This server panicked sending an error to its AOF-loading-client after processing the command 'incr'/);
    assert.not.match(s.output(), /Ready to accept connections/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('the error as valkey-server 8.0.1 logs it: bare for ERR messages, with its code for shared errors', async () => {
  // SET k v XX NX: shared.syntaxerr; LPUSH k x on a string: shared.wrongtypeerr.
  const dir = await divergentAof('*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nXX\r\n$2\r\nNX\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\nx\r\n');
  const s = await startServer({ dir, args: ['--appendonly', 'yes'] });
  try {
    assert.match(s.output(), /to its AOF-loading-client: '-ERR syntax error' after processing the command 'set'/);
    assert.match(s.output(), /to its AOF-loading-client: '-WRONGTYPE Operation against a key holding the wrong kind of value' after processing the command 'lpush'/);
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('a command refused before it runs (wrong arity) follows the directive too', async () => {
  const arity = /== CRITICAL == This server is sending an error to its AOF-loading-client: 'wrong number of arguments for 'incr' command' after processing the command 'incr'/;
  for (const behavior of ['ignore', 'panic']) {
    const dir = await divergentAof('*1\r\n$4\r\nINCR\r\n');
    const s = await startServer({ dir, args: ['--appendonly', 'yes', '--propagation-error-behavior', behavior], waitReady: false });
    try {
      await s.waitFor(arity);
      if (behavior === 'panic') {
        assert.is((await s.exited).code, 1);
        assert.not.match(s.output(), /Ready to accept connections/);
      } else {
        await s.waitFor(/Ready to accept connections/);
        await s.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

t('CLUSTER SLOTS / SHARDS in the AOF under panic: replayed under cluster-enabled yes (Valkey answers them), a panic under no', async () => {
  const slots = '*2\r\n$7\r\ncluster\r\n$5\r\nslots\r\n*2\r\n$7\r\ncluster\r\n$6\r\nshards\r\n';
  for (const cluster of ['yes', 'no']) {
    const dir = await divergentAof(slots);
    const args = ['--appendonly', 'yes', '--propagation-error-behavior', 'panic', '--cluster-enabled', cluster, '--databases', '1'];
    const s = await startServer({ dir, args, waitReady: false });
    try {
      if (cluster === 'yes') {
        await s.waitFor(/Ready to accept connections/);
        assert.match(s.output(), /CLUSTER SLOTS read from the AOF not answered: forkv has no cluster mode/);
        assert.match(s.output(), /CLUSTER SHARDS read from the AOF not answered/);
        const c = new Redis({ port: s.port });
        try {
          assert.is(await c.get('k'), 'abc');
        } finally {
          c.disconnect();
        }
        await s.stop();
      } else {
        assert.is((await s.exited).code, 1);
        assert.match(s.output(), /This server panicked sending an error to its AOF-loading-client after processing the command 'cluster\|slots'/, s.output());
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

t.run();
