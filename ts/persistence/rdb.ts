// RDB persistence, host side: SAVE, BGSAVE [SCHEDULE|CANCEL], LASTSAVE, save rules,
// DEBUG RELOAD and loading at start, with Valkey's replies and log lines. The INFO
// persistence fields are the core's (forkv-server's persist/info.rs).
//
// The snapshot itself is written by the Rust core: SAVE in-process, BGSAVE in a child
// forked inside a synchronous napi call. The policy (save rules, retry delay, BGSAVE
// SCHEDULE/CANCEL, the last save's status) is decided there too (forkv-server's
// persist::policy), and so is the MISCONF write gate it leads to (forkv-server's
// write_gate); this module feeds it the configuration, polls the child from the cron
// (Valkey's checkChildrenDone) and writes the log lines and replies.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ChildDone, ChildPoll, LoadReport, RdbSaveOptions, TransferFork } from '../native/host-types';
import { error, ok, simple, type Reply } from '../resp/encode';
import type { Server } from '../server';
import type { HostCall } from '../commands/types';
import { opt } from '../commands/types';

/** Who else may own the single fork child (the AOF rewrite registers itself here). */
export interface ChildOwner {
  /** The kind reported by the core ("aof"). */
  kind: string;
  /** Called with the child's exit. */
  done(d: ChildDone): void;
}

export class RdbPersistence {
  loading = false;
  private readonly others: ChildOwner[] = [];

  constructor(readonly server: Server) {
    server.on('cron', () => this.cron());
    server.setReloadHandler((flags) => this.debugReload(flags));
    this.pushSaveRules();
    for (const name of ['save', 'stop-writes-on-bgsave-error']) {
      server.config.onChange(name, () => {
        this.pushSaveRules();
        return null;
      });
    }
  }

  /** Hands `save` and `stop-writes-on-bgsave-error` to the core's policy. */
  private pushSaveRules(): void {
    const c = this.server.config;
    this.core.rdbSetSaveRules(c.getSaveRules(), c.getBool('stop-writes-on-bgsave-error'));
  }

  /** Unix time of the last successful save (LASTSAVE). */
  get lastSaveTime(): number {
    return this.core.rdbStatus().lastSaveTime;
  }

  /** Lets another persistence job (AOF rewrite) share the child slot and its polling. */
  addChildOwner(o: ChildOwner): void {
    this.others.push(o);
  }

  private get core() {
    return this.server.core.native;
  }

  /** The file the snapshot goes to. */
  rdbPath(): string {
    return path.join(this.server.dataDir(), this.server.config.getString('dbfilename'));
  }

  saveOptions(): RdbSaveOptions {
    const c = this.server.config;
    return {
      dir: this.server.dataDir(),
      filename: c.getString('dbfilename'),
      compression: c.getBool('rdbcompression'),
      checksum: c.getBool('rdbchecksum'),
      version: c.getInt('rdb-version'),
      keySaveDelayUs: c.getInt('rdb-key-save-delay'),
      incrementalFsync: c.getBool('rdb-save-incremental-fsync'),
      // A replica's snapshot records where it is in its primary's stream: its own replicas
      // continue in that database, and a restart from it continues with a partial sync.
      // A primary's records its own history, which its replicas continue after a restart.
      repl: this.server.replica.saveInfo() ?? this.server.replication.saveInfo() ?? undefined,
    };
  }

  /** The running RDB child writes to replica sockets (a diskless transfer), not to disk (the core's job slot says). */
  get socketChild(): boolean {
    return this.core.childProgress()?.transfer ?? false;
  }

  /** The kind of the running child ("rdb", "aof") or null. */
  childKind(): string | null {
    return this.core.childProgress()?.kind ?? null;
  }

  /* ---------------------------------------------------------------- commands */

  saveCommand(): Reply {
    if (this.childKind() === 'rdb') return error('ERR Background save already in progress');
    return this.saveNow() ? ok : error('ERR');
  }

  /**
   * Synchronous save (SAVE, shutdown, DEBUG RELOAD). True on success. `exitOnSigint`: a
   * SIGINT meanwhile removes the temp file and exits (the shutdown save after a signal).
   */
  saveNow(exitOnSigint = false): boolean {
    return this.saveDone(this.core.saveRdb({ ...this.saveOptions(), exitOnSigint }));
  }

  /** A synchronous save's outcome (logged by the core). True on success. */
  private saveDone(saved: boolean): boolean {
    this.server.core.drainLogs();
    return saved;
  }

  bgsaveCommand(call: HostCall): Reply {
    const sub = call.argv.length > 1 ? opt(call, 1) : '';
    if (call.argv.length > 2 || (sub !== '' && sub !== 'schedule' && sub !== 'cancel')) return error('ERR syntax error');
    const verdict = this.core.bgsaveRequest(sub === 'schedule', sub === 'cancel');
    this.server.core.drainLogs();
    switch (verdict) {
      case 'cancelled-child':
        return simple('Background saving cancelled');
      case 'cancelled-schedule':
        return simple('Scheduled background saving cancelled');
      case 'nothing-to-cancel':
        return error('ERR Background saving is currently not in progress or scheduled');
      case 'in-progress':
        return error('ERR Background save already in progress');
      case 'scheduled':
        return simple('Background saving scheduled');
      case 'another-child':
        return error(
          "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        );
      default:
        return this.startBgsave() ? simple('Background saving started') : error('ERR');
    }
  }

  /** Forks the snapshot child (logged by the core). False when the fork fails. */
  startBgsave(): boolean {
    try {
      this.core.bgsave(this.saveOptions());
      return true;
    } catch {
      return false;
    } finally {
      this.server.core.drainLogs();
    }
  }

  /**
   * Forks the diskless transfer child (Valkey's rdbSaveToReplicasSockets): it writes
   * `$EOF:<mark>`, the snapshot and the mark into a pipe the caller reads. Null (logged)
   * when the fork fails. Its end is announced with the `transfer-done` event.
   */
  startReplicaTransfer(mark: string): TransferFork | null {
    try {
      return this.core.bgsaveToReplicas(this.saveOptions(), mark);
    } catch {
      return null;
    } finally {
      this.server.core.drainLogs();
    }
  }

  /* ---------------------------------------------------------------- cron */

  private cron(): void {
    if (this.loading) return;
    if (this.pollChild()) return;
    // The due save rule's line is the core's.
    if (this.core.rdbCron()) this.startBgsave();
  }

  /**
   * Reaps the child now if it ended, rather than at the next cron tick (a diskless
   * transfer whose pipe reached its end: its replicas go online at once). True when
   * there was a child to poll.
   */
  pollChild(): boolean {
    if (this.loading) return false;
    const poll = this.core.pollChild();
    if (!poll) return false;
    this.onChildPoll(poll);
    return true;
  }

  /**
   * The child the shutdown's steps killed, reaped and logged: an RDB child's end is
   * handled as any (replicas waiting for it hear of it); a killed rewrite's files were
   * already removed by the core.
   */
  killedAtShutdown(d: ChildDone): void {
    if (d.kind !== 'rdb') return;
    if (d.transfer) {
      this.server.emit('transfer-done', false);
      return;
    }
    this.server.emit('bgsave-done', d.outcome === 'ok');
  }

  private onChildPoll(poll: ChildPoll): void {
    const pid = poll.done?.pid ?? this.core.childProgress()?.pid ?? 0;
    for (const l of poll.logs) {
      const level = l.level === 'warning' ? 'warning' : l.level === 'debug' ? 'debug' : l.level === 'verbose' ? 'verbose' : 'notice';
      this.server.log.log(level, l.message, 'C', pid);
    }
    // After the child's own lines: the core's (an RDB child's end line).
    this.server.core.drainLogs();
    const d = poll.done;
    if (!d) return;
    if (d.kind !== 'rdb') {
      for (const o of this.others) if (o.kind === d.kind) o.done(d);
      return;
    }
    if (d.transfer) this.transferDone(d);
    else this.bgsaveDone(d);
  }

  /** Valkey's backgroundSaveDoneHandlerSocket: no file was written, the save state stays. */
  private transferDone(d: ChildDone): void {
    this.server.emit('transfer-done', d.outcome === 'ok');
  }

  /** Valkey's backgroundSaveDoneHandlerDisk (the core's reap already set the status). */
  private bgsaveDone(d: ChildDone): void {
    // Replicas waiting for this snapshot get it now (or are dropped when it failed).
    this.server.emit('bgsave-done', d.outcome === 'ok');
  }

  /**
   * After FLUSHALL (Valkey's flushAllDataAndResetRDB, decided by the core): a running
   * snapshot of the old data is stopped, and with save rules the empty dataset is saved at
   * once, so a restart does not bring the flushed keys back. Logs what it did.
   */
  afterFlushAll(): void {
    const r = this.core.rdbResetAfterFlushall(this.saveOptions());
    if (r.cancelled) this.onChildPoll(r.cancelled);
    if (r.saved != null) this.saveDone(r.saved);
  }

  /* ---------------------------------------------------------------- reload, load */

  /** DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE] (flags lower-cased). */
  private async debugReload(flags: string[]): Promise<Reply> {
    if (flags.some((f) => f !== 'merge' && f !== 'noflush' && f !== 'nosave')) {
      return error('ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.');
    }
    const nosave = flags.includes('nosave');
    if (!nosave && !this.saveNow()) return error('ERR');
    try {
      this.core.loadRdbNow(this.rdbPath(), flags.includes('noflush'), flags.includes('merge'));
    } catch {
      return error('ERR Error trying to load the RDB dump, check server logs.');
    } finally {
      // "DB reloaded by DEBUG RELOAD", or why it failed.
      this.server.core.drainLogs();
    }
    return ok;
  }

  /**
   * Loads the dump at start-up in a background thread, answering -LOADING meanwhile.
   * Resolves when done; rejects (the server must not start) on a corrupt file.
   */
  async loadAtStart(): Promise<void> {
    const file = this.rdbPath();
    if (!fs.existsSync(file)) return;
    this.loading = true;
    this.core.startLoad(file, this.server.config.getInt('key-load-delay'), loadingEventsInterval(this.server));
    try {
      // The load's lines are the core's (forkv-server's persist/load_log.rs).
      const r = await waitForLoad(this.server);
      if (this.server.config.getReplicaOf() === null) this.server.replication.restoreFromRdb(r);
      else this.server.replica.restoreFromRdb(r);
    } finally {
      this.loading = false;
    }
  }
}

/** `loading-process-events-interval-bytes`: bytes read between two points where clients are served while loading. */
export function loadingEventsInterval(server: Server): number {
  return Number(server.config.getBigInt('loading-process-events-interval-bytes'));
}

/** The data could not be loaded: the server must not start. */
export class LoadError extends Error {}

/**
 * Polls the core's loader thread until it finishes (the event loop keeps running, so
 * clients get -LOADING meanwhile). Rejects with LoadError on a bad file (the core logged why).
 */
export function waitForLoad(server: Server): Promise<LoadReport> {
  return pollLoad(server).catch((e: unknown) => {
    throw new LoadError(e instanceof Error ? e.message : String(e));
  });
}

/**
 * Polls the core's loader thread until it finishes, logging what the loader logs as it
 * goes (a slow script replayed from the AOF) and at its end. Rejects with the loader's error.
 */
export function pollLoad(server: Server, gated = true): Promise<LoadReport> {
  // Client input waits for the loader's event points meanwhile (see net/load-gate.ts),
  // unless the old data is served during the load (a replica's async_loading).
  const held = server.dataPath.loadGate;
  const gate = gated ? held : { begin: (): void => undefined, end: (): void => undefined, tick: (_events: number | null): void => undefined };
  gate.begin();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      let r: LoadReport | null;
      try {
        r = server.core.native.pollLoad();
      } catch (e) {
        server.core.drainLogs();
        gate.end();
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      server.core.drainLogs();
      if (r === null) {
        gate.tick(server.core.native.loadEvents());
        setTimeout(tick, 5);
      } else {
        // Served after the load's own steps (its log lines, the replica's link up): the
        // held input runs once the data is in place, as after Valkey's load.
        setImmediate(() => gate.end());
        resolve(r);
      }
    };
    tick();
  });
}
