// forkv as a test fixture in uvu (run: npx uvu -r tsx examples uvu-fixture):
// one server per suite, flushed before each test, closed after the suite.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createServer, type EmbeddedServer } from 'forkv';

interface Ctx {
  server: EmbeddedServer;
  redis: Redis;
}

const test = suite<Ctx>('with a forkv fixture', {} as Ctx);

test.before(async (ctx) => {
  // save '': a purely in-memory server; port 0 (the default): an ephemeral port
  ctx.server = await createServer({ config: { save: '' } });
  ctx.redis = new Redis(ctx.server.port);
});

test.before.each(async (ctx) => {
  await ctx.redis.flushall();
});

test.after(async (ctx) => {
  ctx.redis.disconnect();
  await ctx.server.close();
});

test('counts', async ({ redis }) => {
  assert.is(await redis.incr('visits'), 1);
  assert.is(await redis.incr('visits'), 2);
});

test('starts empty', async ({ redis }) => {
  assert.is(await redis.dbsize(), 0);
});

test.run();
