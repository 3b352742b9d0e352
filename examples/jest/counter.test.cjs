// Each worker has its own server: workerUrl() is FORKV_URL_<JEST_WORKER_ID>.
const Redis = require('ioredis');
const { workerUrl } = require('forkv');

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
  expect(workerUrl()).toBe(process.env[`FORKV_URL_${process.env.JEST_WORKER_ID}`]);
});
