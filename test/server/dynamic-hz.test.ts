// dynamic-hz as Valkey 8.0.1 has it (issue 15): on by default and CONFIG SET-able; every cron
// resets the effective hz to `hz`, then doubles it while more than 200 clients would share a
// tick, up to 500. INFO server shows the effective `hz` and `configured_hz`. The same
// expectations run against the real valkey-server.
import * as net from 'node:net';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { startRedis, startServer, type RunningServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';
import { infoNumber, waitFor } from '../helpers/introspect';
import { CONFIG_MAX_HZ, MAX_CLIENTS_PER_CLOCK_TICK, effectiveHz } from '../../ts/dynamic-hz';

const t = suite('dynamic-hz');

t('effectiveHz: doubles while numclients / hz > 200, capped at 500; off keeps the configured hz', () => {
  assert.is(effectiveHz(10, true, 0), 10);
  assert.is(effectiveHz(1, true, MAX_CLIENTS_PER_CLOCK_TICK), 1);
  assert.is(effectiveHz(1, true, 201), 2);
  assert.is(effectiveHz(1, true, 401), 2); // 401 / 2 = 200 (integer division) stops
  assert.is(effectiveHz(1, true, 402), 4);
  assert.is(effectiveHz(10, true, 5000), 40); // 500 -> 20, 250 -> 40, 125 stops
  assert.is(effectiveHz(10, true, 100000), CONFIG_MAX_HZ);
  assert.is(effectiveHz(1, false, 100000), 1);
});

/** `count` idle connections to `port`. */
async function crowd(port: number, count: number): Promise<net.Socket[]> {
  return Promise.all(Array.from({ length: count }, () => new Promise<net.Socket>((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.resume();
    sock.once('connect', () => resolve(sock));
  })));
}

for (const kind of ['forkv', 'valkey'] as const) {
  t(`${kind}: dynamic-hz yes by default, hz follows the number of clients; no keeps it`, async () => {
    const srv: RunningServer = kind === 'forkv' ? await startServer() : await startRedis();
    const io = new Redis({ port: srv.port, lazyConnect: true });
    let socks: net.Socket[] = [];
    try {
      await io.connect();
      assert.equal(await io.config('GET', 'dynamic-hz'), ['dynamic-hz', 'yes']);
      await io.config('SET', 'hz', '1');
      assert.is(await infoNumber(io, 'configured_hz'), 1);
      await waitFor(async () => (await infoNumber(io, 'hz')) === 1, 'hz 1');
      // 449 idle + this client + 1 = 451 clients: 451 / 1 > 200 -> 2; 451 / 2 = 225 > 200 -> 4.
      socks = await crowd(srv.port, 450);
      await waitFor(async () => (await infoNumber(io, 'hz')) === 4, 'hz 4 with 451 clients', 5000);
      assert.is(await infoNumber(io, 'configured_hz'), 1);
      await io.config('SET', 'dynamic-hz', 'no');
      assert.equal(await io.config('GET', 'dynamic-hz'), ['dynamic-hz', 'no']);
      await waitFor(async () => (await infoNumber(io, 'hz')) === 1, 'hz back to 1 with dynamic-hz no', 5000);
      await io.config('SET', 'dynamic-hz', 'yes');
      await waitFor(async () => (await infoNumber(io, 'hz')) === 4, 'hz 4 again', 5000);
      for (const s of socks) s.destroy();
      socks = [];
      await waitFor(async () => (await infoNumber(io, 'hz')) === 1, 'hz 1 once the clients left', 5000);
      assert.is(
        await errorOf(io.config('SET', 'dynamic-hz', 'maybe')),
        "ERR CONFIG SET failed (possibly related to argument 'dynamic-hz') - argument must be 'yes' or 'no'",
      );
    } finally {
      for (const s of socks) s.destroy();
      io.disconnect();
      await srv.stop();
    }
  });
}

t.run();
