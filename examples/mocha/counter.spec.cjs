const assert = require('node:assert/strict');
const Redis = require('ioredis');

describe('with a forkv server', function () {
  let redis;
  before(function () {
    redis = new Redis(process.env.FORKV_URL);
  });
  beforeEach(function () {
    return redis.flushall();
  });
  after(function () {
    return redis.quit();
  });

  it('counts visits', async function () {
    assert.equal(await redis.incr('visits'), 1);
    assert.equal(await redis.incr('visits'), 2);
  });

  it('starts empty', async function () {
    assert.equal(await redis.dbsize(), 0);
  });
});
