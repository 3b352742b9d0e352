// The snapshot of a full sync, as a replica receives and loads it (Valkey's
// readSyncBulkPayload): `$<len>` from a disk-based primary or `$EOF:<mark>` from a diskless
// one, written to a temporary file that then replaces the dump file and is loaded by the
// core's loader thread (clients get -LOADING meanwhile: `repl-diskless-load disabled`), or
// parsed by that thread as it arrives (`swapdb`, which keeps the old data until the load
// succeeded, `on-empty-db`, `flush-before-load`). Once loaded, the primary's history is
// this replica's and the stream starts (replica-stream.ts).
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';

import type { LoadReport } from '../native/host-types';
import { loadingEventsInterval, pollLoad, waitForLoad } from '../persistence/rdb';
import { persistenceDisabled } from './primary';
import { LinkPart } from './replica-state';

/** How the snapshot arrives: a length, or an end mark (diskless primary). */
export interface Transfer {
  /** The temporary file it is written to (-1 until the header; none when it is loaded
   * straight from the socket). */
  fd: number;
  tempPath: string;
  /** Loaded from the socket as it arrives (`repl-diskless-load`), not through a file. */
  socketLoad: boolean;
  /** The socket is paused: the loader is behind by more than LOAD_QUEUE_MAX bytes. */
  throttled: boolean;
  /** Bytes still expected (`$<len>`), or -1 with an end mark. */
  left: number;
  mark: Buffer | null;
  /** The last bytes received, held back until they cannot be the end mark. */
  held: Buffer;
  total: number;
  read: number;
  lastIo: number;
}

const MARK_LEN = 40;

/** Bytes of the snapshot handed to the loader and not yet read by it above which the
 * socket is paused (a slow load slows the primary down, as Valkey's blocking read does). */
const LOAD_QUEUE_MAX = 1 << 20;

/** Receives a full sync's snapshot and loads it. */
export class SnapshotReceiver extends LinkPart {
  /** The snapshot is about to arrive; its header says how (see open). */
  start(): void {
    this.st.transfer = { fd: -1, tempPath: '', socketLoad: false, throttled: false, left: -2, mark: null, held: Buffer.alloc(0), total: 0, read: 0, lastIo: Date.now() };
  }

  /**
   * Valkey's useDisklessLoad: `swapdb` and `flush-before-load` always load from the
   * socket, `on-empty-db` when there is no key, `disabled` never.
   */
  private useDisklessLoad(): boolean {
    const mode = this.server.config.getString('repl-diskless-load');
    if (mode === 'swapdb' || mode === 'flush-before-load') return true;
    return mode === 'on-empty-db' && this.native.dbTotalKeys() === 0;
  }

  /** The header was read: the snapshot goes to a temporary file next to the dump, or to the loader. */
  private open(s: net.Socket, t: Transfer): void {
    const log = this.server.log;
    if (this.useDisklessLoad()) {
      t.socketLoad = true;
      log.notice(t.mark ? 'PRIMARY <-> REPLICA sync: receiving streamed RDB from primary with EOF to parser' : `PRIMARY <-> REPLICA sync: receiving ${t.left} bytes from primary to parser`);
      void this.loadFromSocket(s, t);
      return;
    }
    t.tempPath = path.join(this.server.dataDir(), `temp-${Date.now()}.${process.pid}.rdb`);
    t.fd = fs.openSync(t.tempPath, 'w');
    log.notice(t.mark ? 'PRIMARY <-> REPLICA sync: receiving streamed RDB from primary with EOF to disk' : `PRIMARY <-> REPLICA sync: receiving ${t.left} bytes from primary to disk`);
  }

  /** Drops the transfer in progress (the link closed): its temporary file goes, a load from the socket fails. */
  abort(): void {
    const t = this.st.transfer;
    if (!t) return;
    this.st.transfer = null;
    // A load from the socket reads a short snapshot and fails (see loadFromSocket).
    if (t.socketLoad) {
      this.native.endLoadInput();
      return;
    }
    if (t.fd < 0) return;
    try {
      fs.closeSync(t.fd);
      fs.unlinkSync(t.tempPath);
    } catch {
      // already gone
    }
  }
  /** Writes the snapshot bytes to the temporary file; at its end, loads it. */
  receive(s: net.Socket): void {
    const t = this.st.transfer!;
    t.lastIo = Date.now();
    if (t.left === -2) {
      // Newlines keep the link alive while the primary prepares the snapshot.
      let i = 0;
      while (i < this.st.inbuf.length && this.st.inbuf[i] === 0x0a) i++;
      this.st.inbuf = this.st.inbuf.subarray(i);
      const nl = this.st.inbuf.indexOf('\r\n');
      if (nl < 0) return;
      const header = this.st.inbuf.subarray(0, nl).toString('latin1');
      this.st.inbuf = this.st.inbuf.subarray(nl + 2);
      if (header.startsWith('-')) throw new Error(`PRIMARY aborted replication with an error: ${header.slice(1)}`);
      if (!header.startsWith('$')) throw new Error(`Bad protocol from PRIMARY, the first byte is not '$' (we received '${header}'), are you sure the host and port are right?`);
      if (header.startsWith('$EOF:') && header.length === 5 + MARK_LEN) {
        t.mark = Buffer.from(header.slice(5), 'latin1');
        t.left = -1;
      } else if (/^\$\d+$/.test(header)) {
        t.left = Number(header.slice(1));
        t.total = t.left;
      } else {
        throw new Error(`Bad protocol from PRIMARY: '${header}'`);
      }
      this.open(s, t);
    }
    let rest: Buffer | null = null;
    if (t.mark) {
      const buf = t.held.length === 0 ? this.st.inbuf : Buffer.concat([t.held, this.st.inbuf]);
      const at = buf.indexOf(t.mark);
      if (at >= 0) {
        this.write(t, buf.subarray(0, at));
        rest = buf.subarray(at + MARK_LEN);
      } else {
        const keep = Math.min(MARK_LEN, buf.length);
        this.write(t, buf.subarray(0, buf.length - keep));
        t.held = Buffer.from(buf.subarray(buf.length - keep));
      }
    } else {
      const n = Math.min(t.left, this.st.inbuf.length);
      this.write(t, this.st.inbuf.subarray(0, n));
      t.left -= n;
      if (t.left === 0) rest = this.st.inbuf.subarray(n);
    }
    this.st.inbuf = Buffer.alloc(0);
    if (rest === null) {
      if (t.socketLoad && !t.throttled && this.native.loadInputQueued() > LOAD_QUEUE_MAX) {
        t.throttled = true;
        s.pause();
      }
      return;
    }
    this.st.afterSnapshot = rest.length > 0 ? [Buffer.from(rest)] : [];
    if (t.socketLoad) {
      // The loader reads to the end; the stream after it waits in the socket meanwhile.
      this.native.endLoadInput();
      this.st.transfer = null;
      s.pause();
      return;
    }
    fs.fsyncSync(t.fd);
    fs.closeSync(t.fd);
    this.st.transfer = null;
    void this.loadSnapshot(s, t);
  }

  private write(t: Transfer, bytes: Buffer): void {
    t.read += bytes.length;
    if (t.socketLoad) {
      this.native.feedLoad(bytes);
      return;
    }
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(t.fd, bytes, off, bytes.length - off);
  }

  /**
   * Loads the snapshot as it arrives (Valkey's replicaLoadPrimaryRDBFromSocket): the
   * loader thread builds the new data beside the old. `swapdb` keeps the old data until
   * the load succeeded (and serves it meanwhile when the primary's history is the one we
   * had: async_loading), the other modes empty it first. A failed load (a short read
   * when the link is lost, a corrupt stream) ends the link; the next attempt starts over.
   */
  private async loadFromSocket(s: net.Socket, t: Transfer): Promise<void> {
    const log = this.server.log;
    const swap = this.server.config.getString('repl-diskless-load') === 'swapdb';
    const next = this.st.fullSync;
    const asyncLoading = swap && next !== null && next.replid === this.st.replid;
    // A snapshot of the old data would only cost copy-on-write now.
    if (this.server.rdb.childKind() !== null) this.native.killChild();
    if (!swap) {
      // A new history: our replicas must sync again; the old data goes first.
      this.link.dropReplicas();
      log.notice('PRIMARY <-> REPLICA sync: Flushing old data');
      this.native.replEmptyForSync(this.server.config.getBool('replica-lazy-flush'));
      this.st.fullSync = null;
      this.st.replid = null;
      this.st.offset = -1;
    }
    log.notice('PRIMARY <-> REPLICA sync: Loading DB in memory');
    const hint = t.mark ? 0 : Math.floor(t.total / 8);
    this.native.startStreamLoad(this.server.config.getInt('key-load-delay'), loadingEventsInterval(this.server), hint, asyncLoading);
    this.server.rdb.loading = !asyncLoading;
    const throttle = setInterval(() => {
      if (this.st.transfer !== t) return;
      // Waiting for the loader is not a silent primary.
      t.lastIo = Date.now();
      if (t.throttled && this.native.loadInputQueued() <= LOAD_QUEUE_MAX / 2) {
        t.throttled = false;
        s.resume();
      }
    }, 5);
    let r: LoadReport;
    this.st.loadRunning = true;
    try {
      r = await pollLoad(this.server, !asyncLoading);
    } catch {
      // The loader's own lines (rdbReportError's) are the core's.
      log.warning('Failed trying to load the PRIMARY synchronization DB from socket, check server logs.');
      if (swap) {
        log.notice('PRIMARY <-> REPLICA sync: Discarding temporary DB in background');
      } else {
        log.notice('PRIMARY <-> REPLICA sync: Discarding the half-loaded data');
        this.native.replEmptyForSync(this.server.config.getBool('replica-lazy-flush'));
      }
      if (this.st.transfer === t) this.abort();
      if (this.st.socket === s) s.destroy();
      return;
    } finally {
      clearInterval(throttle);
      this.server.rdb.loading = false;
      this.st.loadRunning = false;
    }
    if (swap) {
      this.link.dropReplicas();
      log.notice('PRIMARY <-> REPLICA sync: Swapping active DB with loaded DB');
      log.notice('PRIMARY <-> REPLICA sync: Discarding old DB in background');
      this.st.fullSync = null;
    }
    this.loaded(r, next);
    if (this.st.socket !== s) return;
    this.link.stream.linkUpAfterSync(s);
  }

  /** A full sync's snapshot is in place: its history becomes ours. */
  private loaded(r: LoadReport, next: { replid: string; offset: number } | null): void {
    this.st.streamDbAfterLoad = r.replStreamDb ?? null;
    // "Done loading RDB, ..." and INFO's rdb_last_load_keys_* are the core's.
    if (next !== null) {
      this.st.replid = next.replid;
      this.st.offset = next.offset;
      this.st.readOffset = next.offset;
      // The primary's history is now ours: our replicas will share its ID and offsets.
      this.native.replAdoptPrimary(next.replid, next.offset);
    }
  }

  /** The snapshot replaces the dump file and the data (readSyncBulkPayload, disk load). */
  private async loadSnapshot(s: net.Socket, t: Transfer): Promise<void> {
    const log = this.server.log;
    // A new history: our replicas must sync again (Valkey's replicationAttachToNewPrimary).
    this.link.dropReplicas();
    log.notice('PRIMARY <-> REPLICA sync: Flushing old data');
    // A snapshot of the old data would rename over the file we are about to load.
    if (this.server.rdb.childKind() !== null) this.native.killChild();
    const target = this.server.rdb.rdbPath();
    try {
      fs.renameSync(t.tempPath, target);
    } catch (e) {
      log.warning(`Failed trying to rename the temp DB into ${path.basename(target)} in PRIMARY <-> REPLICA synchronization: ${e instanceof Error ? e.message : String(e)}`);
      fs.rmSync(t.tempPath, { force: true });
      s.destroy();
      return;
    }
    // The old data goes before the primary's loads; `replica-lazy-flush yes` frees it on a
    // background thread (INFO lazyfreed_objects), as Valkey's emptyData with EMPTYDB_ASYNC.
    this.native.replEmptyForSync(this.server.config.getBool('replica-lazy-flush'));
    log.notice('PRIMARY <-> REPLICA sync: Loading DB in memory');
    // The data is replaced: the history we had is gone whatever the load's outcome.
    const next = this.st.fullSync;
    this.st.fullSync = null;
    this.st.replid = null;
    this.st.offset = -1;
    // While loading, the stream is buffered by the socket (reads paused).
    s.pause();
    this.server.rdb.loading = true;
    this.native.startReplicaLoad(target, this.server.config.getInt('key-load-delay'), loadingEventsInterval(this.server));
    this.st.loadRunning = true;
    try {
      this.loaded(await waitForLoad(this.server), next);
    } catch (e) {
      log.warning('Failed trying to load the PRIMARY synchronization DB from disk, check server logs.');
      s.destroy();
      return;
    } finally {
      this.server.rdb.loading = false;
      this.st.loadRunning = false;
    }
    // rdb-del-sync-files: a replica without persistence keeps no copy of the primary's data.
    if (this.server.config.getBool('rdb-del-sync-files') && persistenceDisabled(this.server)) {
      log.notice('Removing the RDB file obtained from the primary. This replica has persistence disabled');
      fs.rm(target, { force: true }, () => undefined);
    }
    if (this.st.socket !== s) return;
    this.link.stream.linkUpAfterSync(s);
  }
}
