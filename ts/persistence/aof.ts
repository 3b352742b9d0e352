// The append-only file, host side: when to flush (once per event-loop turn, before
// replies go out under `appendfsync always`), BGREWRITEAOF's replies and log lines,
// CONFIG SET appendonly/appendfsync, the replies held behind a failed write, loading at
// start (the INFO aof_* fields are the core's). Whether the AOF is on and its write status
// (forkv-server's persist::aof_state) with the MISCONF it leads to (write_gate), the
// rewrite's scheduling against BGSAVE, automatic rewrites and their back-off
// (persist::policy) are decided by the core.
import type { AofOptions, ChildDone } from '../native/host-types';
import { error, ok, simple, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { LOADING_ERROR } from '../config/store';
import { loadingEventsInterval, pollLoad, waitForLoad } from './rdb';

export class AofPersistence {
  /**
   * The core's AOF state as last seen (read again after every call that can change it):
   * the data path asks it for every reply, which must not cost a crossing.
   */
  private on = false;
  /** The last flush failed after one that had not (its replies are held under `always`). */
  private newWriteError = false;
  private flushScheduled = false;
  /** Replies held until the AOF is written (and fsynced under appendfsync always). */
  private held: Array<[import('../net/connection').Connection, Buffer]> = [];
  /** Replies of a turn whose AOF write failed under `always`, and their clients. */
  private stuck: Array<[import('../net/connection').Connection, Buffer]> = [];
  private readonly stuckConns = new Set<import('../net/connection').Connection>();

  constructor(readonly server: Server) {
    server.rdb.addChildOwner({ kind: 'aof', done: (d) => this.rewriteDone(d) });
    server.on('cron', () => this.cron());
    server.config.onChange('appendonly', (v) => this.setEnabled(v === 'yes'));
    server.config.onChange('aof-disable-auto-gc', (v) => {
      if (v === 'no' && this.enabled) this.core.aofDeleteHistory(this.options());
      return null;
    });
    server.config.onChange('aof-timestamp-enabled', (v) => {
      this.core.aofSetTimestamps(v === 'yes');
      return null;
    });
    server.config.onChange('appendfsync', (v) => {
      this.core.aofSetFsync(v);
      return null;
    });
  }

  private get core() {
    return this.server.core.native;
  }

  /** AOF is on or being switched on (INFO aof_enabled). */
  get enabled(): boolean {
    return this.on;
  }

  /** Reads the core's AOF state again after a call that can change it (here, or the shutdown's steps). */
  syncState(): void {
    this.on = this.core.aofStatus().state !== 'off';
  }

  options(): AofOptions {
    const c = this.server.config;
    return {
      dir: this.server.dataDir(),
      dirname: c.getString('appenddirname'),
      filename: c.getString('appendfilename'),
      fsync: c.getEnum('appendfsync'),
      useRdbPreamble: c.getBool('aof-use-rdb-preamble'),
      loadTruncated: c.getBool('aof-load-truncated'),
      clusterEnabled: c.getBool('cluster-enabled'),
      noFsyncOnRewrite: c.getBool('no-appendfsync-on-rewrite'),
      rdbCompression: c.getBool('rdbcompression'),
      rdbChecksum: c.getBool('rdbchecksum'),
      rdbVersion: c.getInt('rdb-version'),
      keySaveDelayUs: c.getInt('rdb-key-save-delay'),
      keyLoadDelayUs: c.getInt('key-load-delay'),
      loadingEventsIntervalBytes: loadingEventsInterval(this.server),
      disableAutoGc: c.getBool('aof-disable-auto-gc'),
      timestamps: c.getBool('aof-timestamp-enabled'),
      incrementalFsync: c.getBool('aof-rewrite-incremental-fsync'),
    };
  }

  /**
   * Replies wait for the AOF write of the commands they acknowledge, whatever the fsync
   * policy: Valkey's beforeSleep writes the AOF before it writes client replies, so an
   * acknowledged write is at least in the page cache and a killed process loses none of
   * them (`always` also fsyncs first). The wait is the rest of this event-loop turn.
   */
  get holdsReplies(): boolean {
    return this.enabled;
  }

  /* ---------------------------------------------------------------- start-up */

  /** With appendonly yes the AOF is the source of truth: load it (not the RDB), then open. */
  async loadAtStart(): Promise<void> {
    const o = this.options();
    this.server.rdb.loading = true;
    this.core.startAofLoad(o);
    try {
      // The load's lines are the core's (forkv-server's persist/load_log.rs).
      await waitForLoad(this.server);
    } finally {
      this.server.rdb.loading = false;
    }
    this.core.aofOpen(o);
    this.syncState();
  }

  /**
   * DEBUG LOADAOF: writes what is pending, then replaces the dataset with the AOF
   * directory's content (whether or not AOF is on, as Valkey). The load runs as at
   * start-up: other clients get -LOADING until it is done, and this client's reply waits
   * for it. Where Valkey exits on files it cannot load, forkv keeps the dataset it had
   * and answers an error.
   */
  async debugLoadAof(): Promise<Reply> {
    // One load at a time (DEBUG is allowed while loading).
    if (this.server.rdb.loading) return error(LOADING_ERROR);
    this.flushHeld();
    // Valkey's flushAppendOnlyFile(1): everything buffered reaches the file even when an
    // everysec fsync is in progress, where the turn's normal flush (above) postpones the
    // write; without it the reload misses the last writes (seen as GETEX PERSIST undone).
    if (this.core.aofStatus().state === 'on') this.flush(true);
    this.server.rdb.loading = true;
    this.core.startAofReload(this.options());
    try {
      await pollLoad(this.server);
      this.core.aofAdoptReload();
    } catch {
      // "DEBUG LOADAOF failed: ..." is the core's line.
      return error('ERR Error loading the append only file, check server logs.');
    } finally {
      this.server.rdb.loading = false;
      this.server.core.drainLogs();
    }
    return ok;
  }

  /* ---------------------------------------------------------------- the write path */

  /** Called by the server for every reply it is about to write. */
  /** True when `emit` would hold a reply for `conn` (a reused reply buffer must be copied). */
  holds(conn: import('../net/connection').Connection): boolean {
    return this.stuckConns.has(conn) || this.holdsReplies;
  }

  emit(conn: import('../net/connection').Connection, reply: Buffer): boolean {
    this.scheduleFlush();
    // Behind a reply that waits for a failed AOF write, in order.
    if (this.stuckConns.has(conn)) {
      this.stuck.push([conn, reply]);
      return true;
    }
    if (!this.holdsReplies) return false;
    this.held.push([conn, reply]);
    return true;
  }

  /** Writes the AOF at the end of this event-loop turn (Valkey's beforeSleep). */
  scheduleFlush(): void {
    if (this.flushScheduled || !this.enabled) return;
    this.flushScheduled = true;
    setImmediate(() => this.beforeSleep());
  }

  /** Valkey's beforeSleep: write (and fsync per policy) the AOF, then release replies. */
  private beforeSleep(): void {
    this.flushScheduled = false;
    this.server.loopTurns.timeAof(() => this.flush(false));
    const held = this.held;
    this.held = [];
    if (this.newWriteError && this.server.config.getEnum('appendfsync') === 'always') {
      // Under `always` a reply acknowledges a write on disk. Valkey exits here; forkv
      // keeps this turn's replies (and later ones of the same clients) until a write
      // succeeds. Later turns add nothing to the AOF (MISCONF refuses writes), so their
      // replies go out: other clients are served.
      for (const [conn, reply] of held) {
        this.stuck.push([conn, reply]);
        this.stuckConns.add(conn);
      }
      return;
    }
    for (const [conn, reply] of held) this.server.clientOutput.write(conn, reply);
  }

  /** Releases replies that waited for a failed AOF write, in order. */
  private releaseStuck(): void {
    const stuck = this.stuck;
    this.stuck = [];
    this.stuckConns.clear();
    for (const [conn, reply] of stuck) this.server.clientOutput.write(conn, reply);
  }

  /**
   * Writes pending AOF data (the core keeps the write status and its gate, and logs a new
   * error and its recovery); releases replies. False if the write failed.
   */
  flush(force: boolean): boolean {
    const r = this.core.aofFlush(force);
    this.newWriteError = r.outcome === 'failed' && r.first;
    if (r.recovered || this.newWriteError) this.server.core.drainLogs();
    if (r.outcome === 'off') {
      this.releaseStuck();
      return true;
    }
    if (r.outcome === 'written') {
      if (this.stuck.length > 0) this.releaseStuck();
      return true;
    }
    return false;
  }

  /* ---------------------------------------------------------------- BGREWRITEAOF */

  rewriteCommand(): Reply {
    const verdict = this.core.aofRewriteRequest();
    if (verdict === 'in-progress') return error('ERR Background append only file rewriting already in progress');
    if (verdict === 'scheduled') return simple('Background append only file rewriting scheduled');
    return this.startRewrite() ? simple('Background append only file rewriting started') : error('ERR Can\'t execute an AOF background rewriting. Please check the server logs for more information.');
  }

  /** Forks the rewrite child (logged by the core). False when it cannot start. */
  startRewrite(): boolean {
    const started = this.core.aofForkRewrite(this.options());
    this.server.core.drainLogs();
    return started;
  }

  /** The rewrite child ended: the core installs its base (in the format it was forked with) or removes its files, and logs it. */
  private rewriteDone(d: ChildDone): void {
    const installed = this.core.aofRewriteDone(this.options());
    this.server.core.drainLogs();
    if (installed) this.syncState();
  }

  /* ---------------------------------------------------------------- cron */

  private cron(): void {
    if (this.server.rdb.loading) return;
    // Retry a failed write, and fsync everysec data even when no command arrives.
    this.flush(false);
    const c = this.server.config;
    const pct = c.getInt('auto-aof-rewrite-percentage');
    const min = Number(c.getBigInt('auto-aof-rewrite-min-size'));
    // The back-off's and an automatic rewrite's lines are the core's.
    const d = this.core.aofRewriteCron(pct, min);
    if (d.limitedMinutes != null || d.autoGrowth != null) this.server.core.drainLogs();
    if (!d.start) return;
    this.startRewrite();
  }

  /* ---------------------------------------------------------------- enable/disable */

  /** CONFIG SET appendonly: the core's switch-on/off steps (logged by the core). */
  private setEnabled(on: boolean): string | null {
    if (on === this.enabled) return null;
    const opts = this.options();
    let err: string | null = null;
    if (on) {
      const r = this.core.aofSwitchOn(opts);
      if (r.outcome === 'failed') err = 'Unable to turn on AOF. Check server logs.';
    } else {
      this.flushHeld();
      try {
        this.core.aofSwitchOff(opts);
      } catch (e) {
        err = `ERR ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    this.server.core.drainLogs();
    this.syncState();
    return err;
  }

  /** Writes the AOF and releases held replies now (before a connection closes, or AOF turns off). */
  flushHeld(): void {
    if (this.held.length > 0 || this.flushScheduled) this.beforeSleep();
  }
}
