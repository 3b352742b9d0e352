// RESP2/RESP3, inline commands, pipelining, binary safety and protocol abuse, checked
// byte for byte against the real server process.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as crypto from 'node:crypto';

import { cmd, RawClient } from '../helpers/client';
import { startServer, type RunningServer } from '../helpers/server';

const t = suite('protocol');
let srv: RunningServer;

t.before(async () => {
  srv = await startServer({ args: ['--proto-max-bulk-len', '1mb', '--client-query-buffer-limit', '4mb'] });
});
t.after(async () => {
  await srv.stop();
});

async function alive(): Promise<void> {
  const c = await RawClient.connect(srv.port);
  c.write(cmd('PING'));
  assert.is(await c.readUntil('\r\n'), '+PONG\r\n');
  c.close();
}

t('RESP2 replies and a pipelined batch answered in order in one go', async () => {
  const c = await RawClient.connect(srv.port);
  c.write(Buffer.concat([cmd('SET', 'p:a', '1'), cmd('INCR', 'p:a'), cmd('GET', 'p:a'), cmd('GET', 'p:missing'), cmd('DEL', 'p:a'), cmd('INFO', 'nope'), cmd('PING')]));
  const expected = '+OK\r\n:2\r\n$1\r\n2\r\n$-1\r\n:1\r\n$0\r\n\r\n+PONG\r\n';
  assert.is((await c.readBytes(expected.length)).toString(), expected);
  c.close();
});

t('extended-redis-compatibility: HELLO answers as redis 7.2.4 and INFO says redis_mode', async () => {
  const c = await RawClient.connect(srv.port);
  const helloOf = async (): Promise<string> => {
    c.write(cmd('HELLO', '2'));
    return c.readUntil('modules\r\n*0\r\n');
  };
  const infoOf = async (): Promise<string> => {
    c.write(cmd('INFO', 'server'));
    const head = await c.readUntil('\r\n');
    const len = Number(head.slice(1, -2));
    return (await c.readBytes(len + 2)).toString();
  };
  c.write(cmd('CONFIG', 'SET', 'extended-redis-compatibility', 'yes'));
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  assert.match(await helloOf(), /\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$5\r\n7\.2\.4\r\n/);
  let info = await infoOf();
  assert.match(info, /\r\nredis_mode:standalone\r\n/);
  assert.not.match(info, /server_mode:/);
  c.write(cmd('CONFIG', 'SET', 'extended-redis-compatibility', 'no'));
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  assert.match(await helloOf(), /\$6\r\nserver\r\n\$6\r\nvalkey\r\n\$7\r\nversion\r\n\$5\r\n8\.0\.1\r\n/);
  info = await infoOf();
  assert.match(info, /\r\nserver_mode:standalone\r\n/);
  assert.not.match(info, /redis_mode:/);
  c.close();
});

t('RESP3 after HELLO 3: maps, nulls and doubles change shape', async () => {
  const c = await RawClient.connect(srv.port);
  c.write(cmd('HELLO', '3'));
  const hello = await c.readUntil('modules\r\n*0\r\n');
  assert.ok(hello.startsWith('%7\r\n'), hello);
  assert.match(hello, /\$5\r\nproto\r\n:3\r\n/);
  // Valkey 8.0.1's pairing: its own name with its own version (7.2.4 is INFO's redis_version).
  assert.match(hello, /\$6\r\nserver\r\n\$6\r\nvalkey\r\n\$7\r\nversion\r\n\$5\r\n8\.0\.1\r\n/);
  c.write(Buffer.concat([cmd('GET', 'r3:none'), cmd('SET', 'r3:f', '1.5'), cmd('INCRBYFLOAT', 'r3:f', '1'), cmd('CONFIG', 'GET', 'port')]));
  assert.is(await c.readUntil('_\r\n'), '_\r\n');
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  assert.is(await c.readUntil('2.5\r\n'), '$3\r\n2.5\r\n');
  const cfg = await c.readUntil(`${srv.port}\r\n`);
  assert.ok(cfg.startsWith('%1\r\n$4\r\nport\r\n'), cfg);
  c.write(cmd('HELLO', '4'));
  assert.is(await c.readUntil('\r\n'), '-NOPROTO unsupported protocol version\r\n');
  c.close();
});

t('inline commands with quoting, and empty lines ignored', async () => {
  const c = await RawClient.connect(srv.port);
  c.write('\r\nSET inl "hello world\\x21" \r\nGET inl\r\nECHO \'it\\\'s\'\n');
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  assert.is(await c.readUntil('world!\r\n'), '$12\r\nhello world!\r\n');
  assert.is(await c.readUntil('\r\n'), '$4\r\n');
  assert.is(await c.readUntil('\r\n'), "it's\r\n");
  c.close();
});

t('binary-safe keys and values, split across many small writes', async () => {
  const key = Buffer.from([0, 1, 2, 0xff, 13, 10, 0]);
  const value = crypto.randomBytes(200_000);
  const c = await RawClient.connect(srv.port);
  const req = Buffer.concat([cmd('SET', key, value), cmd('GET', key), cmd('STRLEN', key)]);
  for (let i = 0; i < req.length; i += 997) c.write(req.subarray(i, i + 997));
  assert.is((await c.readBytes(5)).toString(), '+OK\r\n');
  const head = `$${value.length}\r\n`;
  assert.is((await c.readBytes(head.length)).toString(), head);
  assert.ok((await c.readBytes(value.length)).equals(value));
  assert.is((await c.readBytes(2 + 9)).toString(), '\r\n:200000\r\n');
  c.close();
});

t('unknown command and arity errors use Valkey words', async () => {
  const c = await RawClient.connect(srv.port);
  c.write(Buffer.concat([cmd('NOSUCH', 'a', 'b'), cmd('GET'), cmd('CONFIG', 'NOPE'), cmd('SET', 'k', 'v', 'EX', '0')]));
  assert.is(await c.readUntil('\r\n'), "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n");
  assert.is(await c.readUntil('\r\n'), "-ERR wrong number of arguments for 'get' command\r\n");
  assert.is(await c.readUntil('\r\n'), "-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n");
  assert.is(await c.readUntil('\r\n'), "-ERR invalid expire time in 'set' command\r\n");
  c.close();
});

t('protocol errors: reply, close the connection, server keeps serving', async () => {
  const cases: Array<[string | Buffer, string]> = [
    ['*1\r\n$99999999999\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*1\r\n$2000000\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*3000000\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['*1\r\n:5\r\n', "-ERR Protocol error: expected '$', got ':'\r\n"],
    ['SET "unbalanced\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
  ];
  for (const [input, want] of cases) {
    const c = await RawClient.connect(srv.port);
    c.write(input);
    assert.is(await c.readToClose(), want);
  }
  await alive();
});

t('a NUL byte ends an inline command (C-string semantics), never stalls the server', async () => {
  const c = await RawClient.connect(srv.port);
  c.write(Buffer.concat([Buffer.from('ECHO hi\0 ignored\r\n'), Buffer.from('\0\0\0\r\n'), cmd('PING')]));
  assert.is(await c.readUntil('PONG\r\n'), '$2\r\nhi\r\n+PONG\r\n');
  c.close();
});

t('a huge inline line without newline is refused', async () => {
  const c = await RawClient.connect(srv.port);
  c.write(Buffer.alloc(70 * 1024, 'a'));
  assert.is(await c.readToClose(), '-ERR Protocol error: too big inline request\r\n');
  await alive();
});

t('query buffer limit closes the client', async () => {
  const c = await RawClient.connect(srv.port);
  // A declared 1 MB bulk is allowed, but never-ending pipelined input past 4 MB is not.
  const chunk = Buffer.from('*1\r\n$1048576\r\n');
  c.write(chunk);
  c.write(Buffer.alloc(1024 * 1024, 'x'));
  c.write('\r\n');
  const big = Buffer.alloc(5 * 1024 * 1024, 'y');
  c.write(Buffer.concat([Buffer.from('*1\r\n$1000000\r\n'), big.subarray(0, 999_990)]));
  c.write(big);
  await c.readToClose(10000);
  assert.ok(c.closed);
  await alive();
});

t('random byte streams never crash the server', async () => {
  // xorshift32: every bit is random (an LCG's low bits are not).
  let seed = 2463534242;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  for (let i = 0; i < 80; i++) {
    const c = await RawClient.connect(srv.port);
    const len = 1 + (rnd() % 4096);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
    if (i % 3 === 0) b[0] = 0x2a; // '*': exercise the multibulk parser too
    if (i % 5 === 0) b.fill(0, 0, Math.min(len, 64)); // NUL runs in inline lines
    c.write(b);
    c.write(cmd('PING'));
    await new Promise((r) => setTimeout(r, 5));
    c.close();
  }
  await alive();
});

t.run();
