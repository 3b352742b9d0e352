// The latency monitor through a real client: with latency-monitor-threshold set, a DEBUG
// SLEEP is recorded as a `command` spike (LATEST, HISTORY, GRAPH, DOCTOR), RESET forgets
// events, and a threshold of 0 records nothing. HISTOGRAM is not part of this monitor.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { useServer } from '../helpers/fixture';
import { errOf } from '../persistence/util';

const t = suite('latency');
const fx = useServer(t, {}, false);


t('LATEST, HISTORY, GRAPH and DOCTOR after DEBUG SLEEP over the threshold', async () => {
  await fx.io.config('SET', 'latency-monitor-threshold', '0');
  assert.match((await fx.io.call('LATENCY', 'DOCTOR')) as string, /^I'm sorry, Dave, I can't do that\./);
  await fx.io.call('DEBUG', 'SLEEP', '0.12');
  assert.equal(await fx.io.call('LATENCY', 'LATEST'), [], 'threshold 0 records nothing');
  await fx.io.config('SET', 'latency-monitor-threshold', '100');
  await fx.io.call('DEBUG', 'SLEEP', '0.15');
  await fx.io.ping();
  const latest = (await fx.io.call('LATENCY', 'LATEST')) as [string, number, number, number][];
  assert.is(latest.length, 1);
  const [event, time, ms, max] = latest[0]!;
  assert.is(event, 'command');
  assert.ok(Math.abs(time - Date.now() / 1000) < 5);
  assert.ok(ms >= 150 && ms < 1000, String(ms));
  assert.is(max, ms);
  assert.equal(await fx.io.call('LATENCY', 'HISTORY', 'command'), [[time, ms]]);
  assert.equal(await fx.io.call('LATENCY', 'HISTORY', 'nope'), []);
  const graph = (await fx.io.call('LATENCY', 'GRAPH', 'command')) as string;
  assert.ok(graph.startsWith(`command - high ${ms} ms, low ${ms} ms (all time high ${ms} ms)\n${'-'.repeat(80)}\n`), graph);
  const doctor = (await fx.io.call('LATENCY', 'DOCTOR')) as string;
  assert.match(doctor, /1\. command: 1 latency spikes \(average \d+ms, mean deviation 0ms, period 1\.00 sec\)/);
  assert.match(doctor, /Check your Slow Log/);
  assert.match(await errOf(fx.io.call('LATENCY', 'GRAPH', 'nope')), /^ERR No samples available for event 'nope'$/);
});

t('RESET forgets one event, case-insensitively, or all', async () => {
  await fx.io.config('SET', 'latency-monitor-threshold', '100');
  await fx.io.call('DEBUG', 'SLEEP', '0.11');
  assert.is(await fx.io.call('LATENCY', 'RESET', 'blabla'), 0);
  assert.is(await fx.io.call('LATENCY', 'RESET', 'COMMAND'), 1);
  assert.equal(await fx.io.call('LATENCY', 'LATEST'), []);
  await fx.io.call('DEBUG', 'SLEEP', '0.11');
  assert.is(await fx.io.call('LATENCY', 'RESET'), 1);
  assert.equal(await fx.io.call('LATENCY', 'LATEST'), []);
  assert.match(await errOf(fx.io.call('LATENCY', 'HELP', 'x')), /wrong number of arguments for 'latency\|help' command/);
  await fx.io.config('SET', 'latency-monitor-threshold', '0');
});

t.run();
