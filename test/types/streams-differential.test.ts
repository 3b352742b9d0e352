// Differential test for streams: seeded random command streams run against forkv and
// valkey-server 8.0.1, every reply compared exactly. The reference is Valkey 8.0.1 itself,
// not Debian's redis-server 7.0 as for the other families, because Redis 7.0's streams
// differ from Valkey 8's on purpose in places this test reaches at once (found by running
// it three ways): XCLAIM, XAUTOCLAIM and an XREADGROUP that delivers nothing create their
// consumer in Valkey 8 and not in Redis 7.0; XSETID below the max deleted ID has its own
// error in Valkey 8. IDs are explicit (`ms-seq` or `ms-*`, never `*`, which reads the
// clock) so both servers see the same entries. Normalisations, for figures that read the
// clock only: the idle times in XPENDING's extended form are blanked, and XINFO CONSUMERS
// is not generated (seen-time, idle and inactive are clock readings). XADD/XTRIM use exact
// trimming and `~` (whole nodes), and XINFO STREAM compares the node layout.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, show, type Resp } from '../helpers/client';
import { int, pick, rng, type Rand } from '../helpers/rng';
import { startServer, VALKEY_SERVER, type RunningServer } from '../helpers/server';

const test = suite('streams-differential');
const fx = {} as { forkv: RunningServer; valkey: RunningServer; fc: RawClient; vc: RawClient };
test.before(async () => {
  [fx.forkv, fx.valkey] = await Promise.all([startServer(), startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1'] })]);
  [fx.fc, fx.vc] = await Promise.all([RawClient.connect(fx.forkv.port), RawClient.connect(fx.valkey.port)]);
});
test.after(async () => {
  fx.fc?.close();
  fx.vc?.close();
  await Promise.all([fx.forkv?.stop(), fx.valkey?.stop()]);
});

type Cmd = string[];

const STREAMS = ['s0', 's1', 's2'];
const GROUPS = ['g0', 'g1'];
const CONSUMERS = ['c0', 'c1', 'c2'];

/** The generator's clock: IDs mostly move forward, sometimes repeat or go back (errors). */
let ms = 1000;

function id(r: Rand): string {
  const x = r();
  if (x < 0.05) return pick(r, ['0-0', '0', '-', '+', 'x', '1-x', '18446744073709551615-18446744073709551615']);
  return `${int(r, 900, ms + 5)}-${int(r, 0, 3)}`;
}

function addId(r: Rand): string {
  const x = r();
  if (x < 0.06) return pick(r, ['0-0', '1-1', 'x', `${ms}-0`]);
  ms += int(r, 0, 3);
  return x < 0.3 ? `${ms}-*` : `${ms}-${int(r, 0, 5)}`;
}

function fields(r: Rand): string[] {
  const n = r() < 0.05 ? 0 : int(r, 1, 3);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pick(r, ['f', 'g', 'name', 'x'.repeat(int(r, 1, 30))]), r() < 0.7 ? String(int(r, -5, 100000)) : `v${'z'.repeat(int(r, 0, 80))}`);
  if (r() < 0.03) out.push('odd');
  return out;
}

function count(r: Rand): string[] {
  return r() < 0.5 ? ['COUNT', r() < 0.95 ? String(int(r, 0, 12)) : pick(r, ['-1', 'x'])] : [];
}

function streamCmd(r: Rand): Cmd {
  const s = r() < 0.05 ? pick(r, ['str', 'missing']) : pick(r, STREAMS);
  const g = pick(r, GROUPS);
  const c = pick(r, CONSUMERS);
  switch (int(r, 0, 24)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: {
      const cmd: Cmd = ['XADD', s];
      if (r() < 0.1) cmd.push('NOMKSTREAM');
      if (r() < 0.15) cmd.push('MAXLEN', ...(r() < 0.5 ? [pick(r, ['=', '~'])] : []), String(int(r, 0, 30)));
      else if (r() < 0.05) cmd.push('MINID', `${int(r, 900, ms)}-0`);
      return [...cmd, addId(r), ...fields(r)];
    }
    case 6:
      return ['XLEN', s];
    case 7:
    case 8:
      return ['XRANGE', s, r() < 0.2 ? `(${id(r)}` : pick(r, ['-', id(r)]), r() < 0.2 ? `(${id(r)}` : pick(r, ['+', id(r)]), ...count(r)];
    case 9:
      return ['XREVRANGE', s, r() < 0.2 ? `(${id(r)}` : pick(r, ['+', id(r)]), r() < 0.2 ? `(${id(r)}` : pick(r, ['-', id(r)]), ...count(r)];
    case 10:
      return ['XDEL', s, id(r), ...(r() < 0.3 ? [id(r)] : [])];
    case 11:
      return r() < 0.6 ? ['XTRIM', s, 'MAXLEN', ...(r() < 0.5 ? [pick(r, ['=', '~'])] : []), String(int(r, 0, 30))] : ['XTRIM', s, 'MINID', `${int(r, 900, ms)}-0`];
    case 12:
      return ['XGROUP', 'CREATE', s, g, pick(r, ['$', '0', id(r)]), ...(r() < 0.3 ? ['MKSTREAM'] : []), ...(r() < 0.2 ? ['ENTRIESREAD', String(int(r, 0, 20))] : [])];
    case 13:
      return ['XGROUP', 'SETID', s, g, pick(r, ['$', '0', id(r)])];
    case 14:
      return r() < 0.3 ? ['XGROUP', 'DESTROY', s, g] : ['XGROUP', pick(r, ['CREATECONSUMER', 'DELCONSUMER']), s, g, c];
    case 15:
    case 16:
    case 17:
      return ['XREADGROUP', 'GROUP', g, c, ...count(r), ...(r() < 0.15 ? ['NOACK'] : []), 'STREAMS', s, r() < 0.75 ? '>' : pick(r, ['0', id(r)])];
    case 18:
      return ['XACK', s, g, id(r), ...(r() < 0.4 ? [id(r)] : [])];
    case 19:
      return r() < 0.5 ? ['XPENDING', s, g] : ['XPENDING', s, g, pick(r, ['-', id(r)]), pick(r, ['+', id(r)]), String(int(r, 0, 10)), ...(r() < 0.4 ? [c] : [])];
    case 20:
      return ['XCLAIM', s, g, c, '0', id(r), ...(r() < 0.4 ? [id(r)] : []), 'JUSTID'];
    case 21:
      return ['XAUTOCLAIM', s, g, c, '0', pick(r, ['0', id(r)]), ...count(r), 'JUSTID'];
    case 22:
      return r() < 0.6 ? ['XINFO', 'STREAM', s] : ['XINFO', 'GROUPS', s];
    case 23:
      return ['XREAD', ...count(r), 'STREAMS', s, pick(r, ['0', id(r)])];
    default:
      return ['XSETID', s, `${int(r, 900, ms + 10)}-${int(r, 0, 5)}`, ...(r() < 0.3 ? ['ENTRIESADDED', String(int(r, 0, 200)), 'MAXDELETEDID', `${int(r, 0, 900)}-0`] : [])];
  }
}

/** Blanks the idle times (clock readings) of XPENDING's extended form. */
function normalise(cmd: Cmd, r: Resp): string {
  if ((cmd[0] as string).toUpperCase() === 'XPENDING' && cmd.length > 3 && r.type === '*' && r.value) {
    return show({
      type: '*',
      value: r.value.map((e) => (e.type === '*' && e.value && e.value.length === 4 ? { type: '*', value: [e.value[0], e.value[1], { type: ':', value: 0n }, e.value[3]] } : e)) as Resp[],
    });
  }
  return show(r);
}

async function run(seed: number, n: number, proto: 2 | 3): Promise<{ errors: number }> {
  const r = rng(seed);
  ms = 1000;
  let errors = 0;
  const log: string[] = [];
  await Promise.all([fx.fc.call('FLUSHALL'), fx.vc.call('FLUSHALL')]);
  await Promise.all([fx.fc.call('HELLO', String(proto)), fx.vc.call('HELLO', String(proto))]);
  await Promise.all([fx.fc.call('SET', 'str', 'v'), fx.vc.call('SET', 'str', 'v')]);
  for (let i = 0; i < n; i++) {
    const cmd = streamCmd(r);
    const [a, b] = await Promise.all([fx.fc.call(...cmd), fx.vc.call(...cmd)]);
    if (a.type === '-') errors++;
    const [sa, sb] = [normalise(cmd, a), normalise(cmd, b)];
    log.push(`${cmd.join(' ').slice(0, 160)} -> ${sa.slice(0, 160)}`);
    if (log.length > 25) log.shift();
    assert.is(sa, sb, `replies differ\ncommand: ${cmd.join(' ')}\nforkv: ${sa.slice(0, 600)}\nvalkey: ${sb.slice(0, 600)}\nrecent:\n${log.join('\n')}`);
  }
  // The whole content at the end: every entry of every stream.
  for (const s of STREAMS) {
    const [a, b] = await Promise.all([fx.fc.call('XRANGE', s, '-', '+'), fx.vc.call('XRANGE', s, '-', '+')]);
    assert.is(show(a), show(b), `XRANGE ${s} - +`);
  }
  await Promise.all([fx.fc.call('HELLO', '2'), fx.vc.call('HELLO', '2')]);
  return { errors };
}

test('streams: forkv and valkey 8.0.1 agree on random command streams (RESP2)', async () => {
  const s = await run(1201, 3000, 2);
  assert.ok(s.errors > 100, `error paths exercised (${s.errors})`);
});

test('streams: forkv and valkey 8.0.1 agree on random command streams (RESP3)', async () => {
  await run(1202, 2000, 3);
});

test.run();
