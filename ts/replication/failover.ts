// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (Valkey's failoverCommand and
// updateFailoverStatus in replication.c): a primary hands its role to one of its replicas
// without losing a write. Writes are paused (CLIENT PAUSE WRITE semantics, on the
// failover's own account) while the primary waits for a replica — the one named, or any —
// to acknowledge the whole stream (`waiting-for-sync`); the primary then becomes that
// replica's replica and asks it `PSYNC <replid> <offset> FAILOVER`
// (`failover-in-progress`), which makes the replica promote itself and continue with the
// old primary from the same offset. The pause ends when the target answers the PSYNC
// (+CONTINUE or +FULLRESYNC: done), or with an abort: FAILOVER ABORT, the TIMEOUT passed
// without FORCE, or the target refusing the PSYNC (the old primary is a primary again).
// The replica side (the PSYNC FAILOVER a replica receives) is in primary.ts's syncCommand.
import type { HostCall } from '../commands/types';
import { error, ok, type Reply } from '../resp/encode';
import type { Server } from '../server';

/** Valkey's failover states, as INFO `master_failover_state` names them. */
export type FailoverState = 'no-failover' | 'waiting-for-sync' | 'failover-in-progress';

/** A replica of this primary as FAILOVER looks for it. */
interface Candidate {
  host: string;
  port: number;
  online: boolean;
  ackOffset: number;
}

/** A decimal `long` as Valkey's getLongFromObjectOrReply accepts it, else null. */
function parseLong(b: Buffer): number | null {
  const s = b.toString('latin1');
  if (!/^(0|-?[1-9]\d*)$/.test(s)) return null;
  const v = BigInt(s);
  if (v > (1n << 63n) - 1n || v < -(1n << 63n)) return null;
  return Number(v);
}

export class Failover {
  state: FailoverState = 'no-failover';
  /** The replica failed over to (named by TO, or the first one found in sync). */
  private target: { host: string; port: number } | null = null;
  /** When waiting for a replica ends (ms since the epoch; 0: no TIMEOUT). */
  private endTime = 0;
  private force = false;

  /** An end-of-turn status check is queued (see checkAtEndOfTurn). */
  private checkQueued = false;
  private readonly queuedCheck = (): void => {
    this.checkQueued = false;
    this.updateStatus();
  };

  constructor(private readonly server: Server) {
    // The timeout is checked by the cron too, when no replica input comes.
    server.on('cron', () => this.updateStatus());
  }

  /**
   * Valkey checks the failover in beforeSleep, at the end of every event-loop turn: the
   * replica's acknowledgement is acted on in the turn it arrives, not at the next cron
   * tick. Queued at most once per turn (a setImmediate runs after this turn's I/O).
   */
  private checkAtEndOfTurn(): void {
    if (this.checkQueued || this.state !== 'waiting-for-sync') return;
    this.checkQueued = true;
    setImmediate(this.queuedCheck);
  }

  /** A replica's input was processed (it may hold the REPLCONF ACK waited for). */
  afterReplicaInput(): void {
    this.checkAtEndOfTurn();
  }

  private get native() {
    return this.server.core.native;
  }

  /** The TIMEOUT given (the cron PINGs replicas only when none was: Valkey's check). */
  get hasTimeout(): boolean {
    return this.endTime !== 0;
  }

  /** The primary follows its target: the replica link's PSYNC carries FAILOVER. */
  get inProgress(): boolean {
    return this.state === 'failover-in-progress';
  }

  /** The replicas of this server, with the address Valkey matches (findReplica). */
  private candidates(): Candidate[] {
    return this.native.replInfo().replicas.map((r) => {
      const conn = this.server.clients.get(r.id);
      const peer = conn ? conn.addr.slice(0, conn.addr.lastIndexOf(':')) : '';
      return { host: r.announcedIp ?? peer, port: r.listeningPort, online: r.state === 'online', ackOffset: r.ackOffset };
    });
  }

  /**
   * The replica at host:port. Valkey takes the first match (replicationFindReplica), where a
   * disconnected replica is already gone; here an entry can outlive its connection for a
   * moment while the same replica reconnects, so an online entry is preferred.
   */
  private find(host: string, port: number): Candidate | undefined {
    const at = this.candidates().filter((c) => c.host.toLowerCase() === host.toLowerCase() && c.port === port);
    return at.find((c) => c.online) ?? at[0];
  }

  /** FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]. */
  command(call: HostCall): Reply {
    const { argv } = call;
    const log = this.server.log;
    const word = (i: number): string => argv[i]!.toString('latin1').toLowerCase();
    if (argv.length === 2 && word(1) === 'abort') {
      if (this.state === 'no-failover') return error('ERR No failover in progress.');
      this.abort('Failover manually aborted');
      return ok;
    }
    let timeout = 0;
    let force = false;
    let host: string | null = null;
    let port = 0;
    for (let j = 1; j < argv.length; j++) {
      if (word(j) === 'timeout' && j + 1 < argv.length && timeout === 0) {
        const t = parseLong(argv[j + 1]!);
        if (t === null) return error('ERR value is not an integer or out of range');
        if (t <= 0) return error('ERR FAILOVER timeout must be greater than 0');
        timeout = t;
        j++;
      } else if (word(j) === 'to' && j + 2 < argv.length && host === null) {
        const p = parseLong(argv[j + 2]!);
        if (p === null) return error('ERR value is not an integer or out of range');
        port = p;
        host = argv[j + 1]!.toString('latin1');
        j += 2;
      } else if (word(j) === 'force' && !force) {
        force = true;
      } else {
        return error('ERR syntax error');
      }
    }
    if (this.state !== 'no-failover') return error('ERR FAILOVER already in progress.');
    if (this.server.replica.isReplica) return error('ERR FAILOVER is not valid when server is a replica.');
    if (this.native.replInfo().replicas.length === 0) return error('ERR FAILOVER requires connected replicas.');
    if (force && (timeout === 0 || host === null)) return error('ERR FAILOVER with force option requires both a timeout and target HOST and IP.');
    if (host !== null) {
      const replica = this.find(host, port);
      if (replica === undefined) return error('ERR FAILOVER target HOST and PORT is not a replica.');
      if (!replica.online) return error('ERR FAILOVER target replica is not online.');
      this.target = { host, port };
      log.notice(`FAILOVER requested to ${host}:${port}.`);
    } else {
      log.notice('FAILOVER requested to any replica.');
    }
    this.endTime = timeout > 0 ? Date.now() + timeout : 0;
    this.force = force;
    this.state = 'waiting-for-sync';
    this.native.pauseForFailover(true);
    // A replica that acknowledged the whole stream already is taken in this turn.
    this.checkAtEndOfTurn();
    return ok;
  }

  /**
   * At every cron tick while waiting for a replica (updateFailoverStatus): the timeout
   * (fail over anyway with FORCE, else abort), or a replica that acknowledged the whole
   * stream, which the primary then follows.
   */
  private updateStatus(): void {
    if (this.state !== 'waiting-for-sync') return;
    if (this.endTime !== 0 && this.endTime <= Date.now()) {
      if (this.force && this.target !== null) {
        this.server.log.notice(`FAILOVER to ${this.target.host}:${this.target.port} time out exceeded, failing over.`);
        this.failTo(this.target);
      } else {
        this.abort('Replica never caught up before timeout');
      }
      return;
    }
    const offset = this.native.replInfo().offset;
    let replica: Candidate | undefined;
    if (this.target !== null) {
      replica = this.find(this.target.host, this.target.port);
    } else {
      replica = this.candidates().find((c) => c.ackOffset === offset && c.host !== '');
      if (replica !== undefined) this.target = { host: replica.host, port: replica.port };
    }
    if (replica !== undefined && replica.ackOffset === offset && this.target !== null) {
      this.server.log.notice(`Failover target ${this.target.host}:${this.target.port} is synced, failing over.`);
      this.failTo(this.target);
    }
  }

  /** The primary becomes the target's replica; its PSYNC carries FAILOVER. */
  private failTo(target: { host: string; port: number }): void {
    this.state = 'failover-in-progress';
    this.server.replica.followForFailover(target.host, target.port);
  }

  /** The target answered the PSYNC FAILOVER with +CONTINUE or +FULLRESYNC: done. */
  succeeded(): void {
    this.clear();
  }

  /**
   * Ends a failover that did not happen (abortFailover): a primary that already followed
   * the target becomes a primary again (REPLICAOF NO ONE's path, a new replication ID).
   */
  abort(why: string): void {
    if (this.state === 'no-failover') return;
    const t = this.target;
    this.server.log.notice(t ? `FAILOVER to ${t.host}:${t.port} aborted: ${why}` : `FAILOVER to any replica aborted: ${why}`);
    if (this.state === 'failover-in-progress') this.server.replica.unfollowAfterFailover();
    this.clear();
  }

  /** Resets the failover and resumes the paused writes (clearFailoverState). */
  private clear(): void {
    this.endTime = 0;
    this.force = false;
    this.target = null;
    this.state = 'no-failover';
    if (this.native.pauseForFailover(false)) this.server.dataPath.serveWoken();
  }
}
