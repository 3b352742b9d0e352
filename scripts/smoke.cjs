#!/usr/bin/env node
// Smoke test of a build on one platform, used by the release workflow on every target (and
// runnable here: `node scripts/smoke.cjs`). Loads the package the way users do (dist/index.js,
// whose loader picks the platform binary), starts an embedded server, speaks raw RESP to it:
// PING, SET/GET, then a BGSAVE (a real fork() on this platform) and waits for it to finish.
// Needs no test dependencies: only Node and the built package.
'use strict';
const net = require('node:net');
const path = require('node:path');

const entry = process.argv[2] ? path.resolve(process.argv[2]) : path.join(__dirname, '..', 'dist', 'index.js');
const { createServer } = require(entry);

function command(socket, args) {
  const wire = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d.toString('latin1');
      // Simple replies only (+, -, :) or one bulk string: enough for this smoke test.
      const m = /^([+\-:][^\r\n]*)\r\n$/.exec(buf) || /^\$(-1)\r\n$/.exec(buf);
      const bulk = /^\$(\d+)\r\n/.exec(buf);
      if (m) done(m[1] === '-1' ? null : m[1]);
      else if (bulk && buf.length >= bulk[0].length + Number(bulk[1]) + 2) done(buf.slice(bulk[0].length, bulk[0].length + Number(bulk[1])));
    };
    const done = (v) => {
      socket.off('data', onData);
      if (typeof v === 'string' && v.startsWith('-')) reject(new Error(v.slice(1)));
      else resolve(v);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(wire);
  });
}

async function main() {
  const server = await createServer({ config: { save: '' } });
  const socket = net.connect(server.port, server.host);
  await new Promise((r, j) => socket.once('connect', r).once('error', j));
  const expect = (got, want, what) => {
    if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  expect(await command(socket, ['PING']), '+PONG', 'PING');
  expect(await command(socket, ['SET', 'smoke', 'ok']), '+OK', 'SET');
  expect(await command(socket, ['GET', 'smoke']), 'ok', 'GET');
  expect(await command(socket, ['BGSAVE']), '+Background saving started', 'BGSAVE');
  const deadline = Date.now() + 10000;
  for (;;) {
    const p = await server.info('persistence');
    if (p.rdb_bgsave_in_progress === '0') {
      expect(p.rdb_last_bgsave_status, 'ok', 'rdb_last_bgsave_status');
      break;
    }
    if (Date.now() > deadline) throw new Error('BGSAVE did not finish in 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  socket.destroy();
  await server.close();
  process.stdout.write(`smoke OK: ${process.platform}-${process.arch}, node ${process.versions.node}\n`);
}

main().catch((e) => {
  process.stderr.write(`smoke FAILED: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
