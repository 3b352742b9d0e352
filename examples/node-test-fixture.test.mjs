// forkv as a test fixture with Node's built-in runner (run: node --test examples/).
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createServer } from 'forkv';

let server;
let redis;

before(async () => {
  server = await createServer({ config: { save: '' } });
  redis = new Redis(server.port);
});

beforeEach(() => redis.flushall());

after(async () => {
  redis.disconnect();
  await server.close();
});

test('a list keeps order', async () => {
  await redis.rpush('q', 'a', 'b', 'c');
  assert.deepEqual(await redis.lrange('q', 0, -1), ['a', 'b', 'c']);
});

test('keys expire', async () => {
  await redis.set('session', 'x', 'PX', 50);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(await redis.get('session'), null);
});
