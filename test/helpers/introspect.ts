// What the server tests read back through a control connection: one INFO field as a
// number, one client's CLIENT LIST fields, and polling until a condition holds.
import type Redis from 'ioredis';

/** The numeric INFO field `field` (throws when INFO has none). */
export async function infoNumber(io: Redis, field: string): Promise<number> {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(await io.info());
  if (!m) throw new Error(`INFO has no ${field}`);
  return Number(m[1]);
}

/** CLIENT LIST fields of the client named `name`, or null when it is not connected. */
export async function clientFields(io: Redis, name: string): Promise<Record<string, string> | null> {
  const list = (await io.client('LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  if (!line) return null;
  return Object.fromEntries(line.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** Polls `cond` every 20 ms until it holds; throws after `ms` naming `what`. */
export async function waitFor(cond: () => Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
