// Per-suite server fixtures: one forkv started before a suite's tests and stopped after
// them (with an ioredis and a raw RESP client, and the keyspace flushed before each
// test), or a forkv and a redis-server 7.0 side by side for differential suites.
//
// The returned object is filled in by the suite's `before` hook; its fields are valid
// inside tests and hooks only.
import type { Test } from 'uvu';
import Redis from 'ioredis';

import { RawClient } from './client';
import { startRedis, startServer, type RunningServer, type StartOptions } from './server';

/** An ioredis client that neither reconnects nor retries (servers in tests get killed on purpose). */
export function quiet(port: number, db = 0): Redis {
  const io = new Redis({ port, db, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  io.on('error', () => undefined);
  return io;
}

export interface ServerFixture {
  srv: RunningServer;
  /** An ioredis client of `srv`. */
  io: Redis;
  /** A raw RESP client of `srv`. */
  raw: RawClient;
}

/** Registers the hooks of a one-server suite; `flushEach` (default true) runs FLUSHALL before each test. */
export function useServer(t: Test, opts: StartOptions = {}, flushEach = true): ServerFixture {
  const fx = {} as ServerFixture;
  t.before(async () => {
    fx.srv = await startServer(opts);
    fx.io = new Redis({ port: fx.srv.port });
    fx.raw = await RawClient.connect(fx.srv.port);
  });
  t.after(async () => {
    fx.io?.disconnect();
    fx.raw?.close();
    await fx.srv?.stop();
  });
  if (flushEach) {
    t.before.each(async () => {
      await fx.io.flushall();
    });
  }
  return fx;
}

export interface PairFixture {
  forkv: RunningServer;
  redis: RunningServer;
  /** Raw clients of forkv and of redis-server. */
  fc: RawClient;
  rc: RawClient;
}

/** Registers the hooks of a differential suite: forkv and redis-server 7.0, a raw client each. */
export function usePair(t: Test): PairFixture {
  const fx = {} as PairFixture;
  t.before(async () => {
    [fx.forkv, fx.redis] = await Promise.all([startServer(), startRedis()]);
    [fx.fc, fx.rc] = await Promise.all([RawClient.connect(fx.forkv.port), RawClient.connect(fx.redis.port)]);
  });
  t.after(async () => {
    fx.fc?.close();
    fx.rc?.close();
    await Promise.all([fx.forkv?.stop(), fx.redis?.stop()]);
  });
  return fx;
}

/** Servers and clients a test starts, all stopped (SIGKILL) and closed after each test. */
export interface Fleet {
  /** Registers a server to stop after the test; returns it. */
  track(s: RunningServer): RunningServer;
  /** Stops tracking a server the test stopped itself. */
  untrack(s: RunningServer): void;
  /** A quiet ioredis client (no reconnect noise) closed after the test. */
  connect(port: number, db?: number): Redis;
  /** Starts a forkv stopped after the test, with a quiet ioredis client of it. */
  forkv(opts?: StartOptions): Promise<{ srv: RunningServer; io: Redis }>;
}

/** Registers an `after.each` that tears down what each test of `t` started. */
export function useFleet(t: Test): Fleet {
  const running: RunningServer[] = [];
  const clients: Redis[] = [];
  t.after.each(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const s of running.splice(0)) await s.stop('SIGKILL');
  });
  const fleet: Fleet = {
    track(s) {
      running.push(s);
      return s;
    },
    untrack(s) {
      const i = running.indexOf(s);
      if (i >= 0) running.splice(i, 1);
    },
    connect(port, db = 0) {
      const io = quiet(port, db);
      clients.push(io);
      return io;
    },
    async forkv(opts = {}) {
      const srv = fleet.track(await startServer(opts));
      return { srv, io: fleet.connect(srv.port) };
    },
  };
  return fleet;
}
