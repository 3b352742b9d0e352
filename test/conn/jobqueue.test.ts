// A job queue in the style of BullMQ (not installed here), with its Redis patterns done
// by hand through ioredis: producers add jobs in MULTI (job hash + wait list + event),
// workers block in BLMOVE/BRPOPLPUSH to move a job id from "wait" to "active" atomically,
// complete it in MULTI (remove from active, mark done, publish an event), and a listener
// follows the events over pub/sub. Every job must be done exactly once, by one worker.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { startServer, type RunningServer } from '../helpers/server';
import { sleep } from './util';

const t = suite('jobqueue');
let srv: RunningServer;
const conns: Redis[] = [];

const connect = (): Redis => {
  const r = new Redis({ port: srv.port, maxRetriesPerRequest: 0 });
  conns.push(r);
  return r;
};

t.before(async () => {
  srv = await startServer();
});
t.after(async () => {
  for (const c of conns) c.disconnect();
  await srv.stop();
});

/** Adds a job the way a queue library does: all or nothing. */
async function addJob(r: Redis, id: string, data: string): Promise<void> {
  const res = await r
    .multi()
    .hset(`job:${id}`, 'data', data, 'state', 'waiting', 'attempts', '0')
    .lpush('q:wait', id)
    .publish('q:events', `added:${id}`)
    .exec();
  assert.ok(res?.every(([e]) => e === null));
}

/**
 * A worker loop: waits for a job id (moving it to the active list in the same step), then
 * completes it in a transaction. Stops when it receives the "stop" sentinel.
 */
async function worker(name: string, useBrpoplpush: boolean, done: Map<string, string>): Promise<number> {
  const r = connect();
  let handled = 0;
  for (;;) {
    const id = useBrpoplpush ? await r.brpoplpush('q:wait', 'q:active', 2) : await r.blmove('q:wait', 'q:active', 'RIGHT', 'LEFT', 2);
    if (id === null) throw new Error(`${name} timed out waiting for jobs`);
    if (id === 'stop') {
      await r.lrem('q:active', 1, 'stop');
      return handled;
    }
    const data = await r.hget(`job:${id}`, 'data');
    await r.hincrby(`job:${id}`, 'attempts', 1);
    const res = await r
      .multi()
      .lrem('q:active', 1, id)
      .hset(`job:${id}`, 'state', 'completed', 'result', `${data}!`, 'worker', name)
      .incr('q:completed')
      .publish('q:events', `completed:${id}`)
      .exec();
    assert.is(res?.[0]?.[1], 1);
    assert.ok(!done.has(id), `job ${id} done twice`);
    done.set(id, name);
    handled++;
  }
}

t('producers, blocking workers and an event listener agree: every job done once', async () => {
  const events: string[] = [];
  const listener = connect();
  listener.on('message', (_ch: string, m: string) => events.push(m));
  await listener.subscribe('q:events');

  const done = new Map<string, string>();
  // Workers block first: the queue is empty.
  const workers = [worker('w1', false, done), worker('w2', true, done), worker('w3', false, done)];
  const admin = connect();
  for (let i = 0; i < 100 && (await admin.info('clients')).match(/blocked_clients:(\d+)/)?.[1] !== '3'; i++) await sleep(5);

  const producers = [connect(), connect()];
  const jobs = 60;
  await Promise.all(producers.map(async (p, n) => {
    for (let i = n; i < jobs; i += producers.length) await addJob(p, String(i), `payload-${i}`);
  }));
  // One stop sentinel per worker, after every job.
  for (let i = 0; i < workers.length; i++) await admin.lpush('q:wait', 'stop');
  const handled = await Promise.all(workers);

  assert.is(handled.reduce((a, b) => a + b, 0), jobs);
  assert.is(done.size, jobs);
  assert.is(await admin.get('q:completed'), String(jobs));
  assert.is(await admin.llen('q:wait'), 0);
  assert.is(await admin.llen('q:active'), 0);
  for (let i = 0; i < jobs; i++) {
    const h = await admin.hgetall(`job:${i}`);
    assert.equal([h.state, h.result, h.attempts], ['completed', `payload-${i}!`, '1']);
  }
  for (let i = 0; i < 100 && events.length < 2 * jobs; i++) await sleep(10);
  assert.is(events.filter((e) => e.startsWith('added:')).length, jobs);
  assert.is(events.filter((e) => e.startsWith('completed:')).length, jobs);
  // Each job's "added" event precedes its "completed" event.
  for (let i = 0; i < jobs; i++) assert.ok(events.indexOf(`added:${i}`) < events.indexOf(`completed:${i}`), `events of job ${i}`);
});

t('a stalled-job check with WATCH: only one checker moves a job back from active', async () => {
  const a = connect();
  const b = connect();
  await a.del('q:active', 'q:wait');
  await a.lpush('q:active', 'stalled-1');
  // Two checkers read the same state, then try to move the job back.
  await a.watch('q:active');
  await b.watch('q:active');
  const [la, lb] = [await a.lrange('q:active', 0, -1), await b.lrange('q:active', 0, -1)];
  assert.equal([la, lb], [['stalled-1'], ['stalled-1']]);
  const ra = await a.multi().lrem('q:active', 1, 'stalled-1').rpush('q:wait', 'stalled-1').exec();
  const rb = await b.multi().lrem('q:active', 1, 'stalled-1').rpush('q:wait', 'stalled-1').exec();
  assert.equal(ra, [[null, 1], [null, 1]]);
  assert.is(rb, null);
  assert.equal(await a.lrange('q:wait', 0, -1), ['stalled-1']);
  // A worker blocked on the queue picks the retried job up.
  const w = connect();
  assert.equal(await w.blmove('q:wait', 'q:active', 'RIGHT', 'LEFT', 1), 'stalled-1');
});

t.run();
