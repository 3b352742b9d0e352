// Each worker has its own server: workerUrl() is FORKV_URL_<JEST_WORKER_ID>.
const Redis = require('ioredis');
const { workerUrl } = require('forkv');

let redis;
beforeAll(() => {
  redis = new Redis(workerUrl());
});
beforeEach(() => redis.flushall());
afterAll(() => redis.quit());

test('a list keeps order', async () => {
  await redis.rpush('q', 'a', 'b', 'c');
  expect(await redis.lrange('q', 0, -1)).toEqual(['a', 'b', 'c']);
});

test('this worker has its own server', () => {
  expect(workerUrl()).toBe(process.env[`FORKV_URL_${process.env.JEST_WORKER_ID}`]);
});
