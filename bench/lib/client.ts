// The harnesses' RESP client is the test suites' one (test/helpers/client.ts): the same
// code path for forkv and redis-server, whatever it costs on the client side. Here are
// only the few calls the harnesses make through it.
import { performance } from 'node:perf_hooks';
import { RawClient, cmd, text, type BatchResult, type Resp } from '../../test/helpers/client';
import { infoFields } from '../../test/helpers/info';

export { RawClient, cmd, text, type BatchResult, type Resp };

/** One command whose error reply is thrown. */
export async function callOk(c: RawClient, ...args: string[]): Promise<Resp> {
  const v = await c.call(...args);
  if (v.type === '-') throw new Error(`${args.join(' ')}: ${v.value}`);
  return v;
}

/** INFO [section] parsed to a map of field -> value. */
export async function info(c: RawClient, section?: string): Promise<Map<string, string>> {
  const v = text(await callOk(c, ...(section === undefined ? ['INFO'] : ['INFO', section])));
  if (v === null) throw new Error('INFO: no text in the reply');
  return infoFields(v);
}

export async function infoField(c: RawClient, section: string, field: string): Promise<string> {
  const v = (await info(c, section)).get(field);
  if (v === undefined) throw new Error(`INFO ${section} has no field ${field}`);
  return v;
}

export async function dbsize(c: RawClient): Promise<number> {
  const v = await callOk(c, 'DBSIZE');
  if (v.type !== ':') throw new Error(`DBSIZE: unexpected reply ${v.type}`);
  return Number(v.value);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Resolves with performance.now() at the first +PONG from a server that is starting: retries
 * the connection every `retryMs` while it is refused, and PING while the reply is an error
 * (-LOADING). For "spawn to first PONG": what a client waiting on a restart sees.
 */
export async function firstPong(port: number, timeoutMs: number, retryMs = 2): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let c: RawClient | null = null;
    try {
      c = await RawClient.connect(port, '127.0.0.1', Math.max(1, deadline - Date.now()));
      for (;;) {
        const v = await c.call('PING');
        if (v.type === '+' && v.value === 'PONG') {
          const at = performance.now();
          c.close();
          return at;
        }
        if (Date.now() > deadline) throw new Error(`PING on port ${port}: no PONG within ${timeoutMs} ms (last reply ${text(v) ?? v.type})`);
        await sleep(retryMs);
      }
    } catch (e) {
      c?.close();
      if (Date.now() > deadline) throw e;
      await sleep(retryMs);
    }
  }
}
