// Each worker has its own server: workerUrl() is FORKV_URL_<VITEST_POOL_ID>.
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import Redis from 'ioredis';
import { workerUrl } from 'forkv';

let redis;
beforeAll(() => {
  redis = new Redis(workerUrl());
});
beforeEach(() => redis.flushall());
afterAll(() => redis.quit());

test('counts visits', async () => {
  expect(await redis.incr('visits')).toBe(1);
  expect(await redis.incr('visits')).toBe(2);
});

test('this worker has its own server', () => {
  expect(workerUrl()).toBe(process.env[`FORKV_URL_${process.env.VITEST_POOL_ID}`]);
});
