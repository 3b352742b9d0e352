// BullMQ against the real server: its Lua scripts (cjson, cmsgpack, many keys per call,
// streams for events) run through EVALSHA. A queue adds a job, a worker processes it,
// QueueEvents reports completion, and a delayed job runs after its delay.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';

import { startServer, type RunningServer } from '../helpers/server';

const t = suite('bullmq');
let srv: RunningServer;

t.before(async () => {
  srv = await startServer();
});
t.after(async () => {
  await srv.stop();
});

t('queue add, worker processes, QueueEvents completed, delayed job', async () => {
  const connection = { host: '127.0.0.1', port: srv.port, maxRetriesPerRequest: null };
  const queue = new Queue('jobs', { connection });
  const events = new QueueEvents('jobs', { connection });
  await events.waitUntilReady();
  const seen: Array<{ name: string; at: number }> = [];
  const worker = new Worker(
    'jobs',
    async (job: Job) => {
      seen.push({ name: job.name, at: Date.now() });
      return { doubled: (job.data as { n: number }).n * 2 };
    },
    { connection },
  );
  try {
    const first = await queue.add('double', { n: 21 });
    assert.equal(await first.waitUntilFinished(events, 10000), { doubled: 42 });

    const addedAt = Date.now();
    const delayed = await queue.add('later', { n: 1 }, { delay: 700 });
    assert.is(await delayed.getState(), 'delayed');
    await delayed.waitUntilFinished(events, 10000);
    const run = seen.find((s) => s.name === 'later');
    assert.ok(run, 'the delayed job ran');
    assert.ok(run.at - addedAt >= 650, `ran after its delay (${run.at - addedAt} ms)`);

    const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'delayed');
    assert.equal(counts, { completed: 2, failed: 0, waiting: 0, delayed: 0 });
  } finally {
    await worker.close();
    await events.close();
    await queue.close();
  }
});

t.run();
