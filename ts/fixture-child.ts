// The child side of ForkvServer's 'child-process' mode: runs one embedded server in this
// process, driven over the IPC channel (see ChildRequest/ChildReply in ./fixture), with a
// watchdog: when the parent dies, the channel closes and the server shuts down (SHUTDOWN
// with force, so a failing save cannot keep it up), then this process exits.
import * as fs from 'node:fs';

import { createServer, type EmbeddedServer } from './embedded';
import type { ChildReply, ChildRequest } from './fixture';

let server: EmbeddedServer | null = null;
let removeDirOnOrphan = false;

function reply(m: ChildReply, then?: () => void): void {
  if (!process.connected) return then?.();
  process.send?.(m, undefined, undefined, () => then?.());
}

async function onMessage(m: ChildRequest): Promise<void> {
  if (m.t === 'start') {
    try {
      removeDirOnOrphan = m.removeDirOnOrphan;
      server = await createServer(m.opts);
      reply({ t: 'ready', host: server.host, port: server.port, socketPath: server.socketPath, url: server.url, dir: server.dir });
    } catch (e) {
      reply({ t: 'start-failed', message: e instanceof Error ? e.message : String(e) }, () => process.exit(1));
    }
    return;
  }
  const s = server;
  if (!s) {
    reply({ t: 'stopped' }, () => process.exit(0));
    return;
  }
  try {
    await s.close({ ...(m.save !== undefined ? { save: m.save } : {}), ...(m.force !== undefined ? { force: m.force } : {}) });
  } catch (e) {
    reply({ t: 'stop-failed', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  server = null;
  reply({ t: 'stopped' }, () => process.exit(0));
}

/** The watchdog: the parent is gone (crashed, killed, or exited without stop()). */
async function onOrphaned(): Promise<void> {
  const s = server;
  server = null;
  if (s) {
    const dir = s.dir;
    await s.close({ force: true }).catch(() => undefined);
    if (removeDirOnOrphan) fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

if (!process.send) {
  process.stderr.write('fixture-child: run by ForkvServer ({ mode: "child-process" }), not directly\n');
  process.exit(1);
}
process.on('message', (m: ChildRequest) => void onMessage(m));
process.on('disconnect', () => void onOrphaned());
