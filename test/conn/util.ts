// Helpers for the connection-feature suites: raw RESP round trips with exact bytes.
import * as assert from 'uvu/assert';

import { RawClient, cmd } from '../helpers/client';

/** A raw client connected to `port`. */
export const raw = (port: number): Promise<RawClient> => RawClient.connect(port);

/** Sends commands (each an argv) in one write. */
export function send(c: RawClient, ...cmds: string[][]): void {
  c.write(Buffer.concat(cmds.map((a) => cmd(...a))));
}

/** Reads exactly the bytes of `want` and compares them. */
export async function expect(c: RawClient, want: string, ms = 3000): Promise<void> {
  const got = await c.readBytes(Buffer.byteLength(want, 'latin1'), ms);
  assert.is(got.toString('latin1'), want);
}

/** Sends commands and checks the exact replies. */
export async function roundtrip(c: RawClient, cmds: string[][], want: string): Promise<void> {
  send(c, ...cmds);
  await expect(c, want);
}

/** True when nothing arrives within `ms` (the client is still waiting). */
export async function silent(c: RawClient, ms: number): Promise<boolean> {
  try {
    await c.readBytes(1, ms);
    return false;
  } catch {
    return true;
  }
}

/** RESP encodings used in expectations. */
export const bulk = (s: string): string => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;
export const arr = (...items: string[]): string => `*${items.length}\r\n${items.join('')}`;
export const push = (...items: string[]): string => `>${items.length}\r\n${items.join('')}`;
export const int = (n: number): string => `:${n}\r\n`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


/** Parses one INFO field. */
export function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}
