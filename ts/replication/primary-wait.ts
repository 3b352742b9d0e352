// What a primary knows of its replicas' acknowledgements (REPLCONF ACK, with FACK for their
// AOF): WAIT and WAITAOF (Valkey's waitCommand, waitaofCommand) and the shutdown's look at
// the replicas (SHUTDOWN waits until they caught up, then logs the laggards). The
// min-replicas write gate is the core's (forkv-server's write_gate).
import type { HostCall } from '../commands/types';
import { LLONG_MAX, string2ll } from '../config/numbers';
import { array, error, int, type Reply } from '../resp/encode';
import type { ReplicationPrimary } from './primary';

/** A signed 64-bit decimal integer as Valkey's string2ll accepts it, else null. */
function int64(b: Buffer): bigint | null {
  return string2ll(b.toString('latin1'));
}

export class ReplicaAcks {
  /** Clients blocked in WAIT or WAITAOF (counted in INFO blocked_clients, as Valkey's BLOCKED_WAIT). */
  waitingClients = 0;

  constructor(private readonly primary: ReplicationPrimary) {}

  private get server() {
    return this.primary.server;
  }

  private get native() {
    return this.primary.server.core.native;
  }

  /**
   * WAIT numreplicas timeout (Valkey's waitCommand): the number of online replicas that
   * acknowledged the stream up to its current offset, once `numreplicas` did or the
   * timeout (ms, 0 = none) passed. The replicas are asked for an ACK right away. The
   * offset waited for is the stream's when WAIT runs (Valkey takes the offset of the
   * client's own last write, which is never later).
   */
  waitCommand(call: HostCall): Reply | Promise<Reply> {
    const { argv, conn } = call;
    if (this.server.replica.isReplica) {
      return error('ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.');
    }
    const wantedArg = int64(argv[1]!);
    if (wantedArg === null) return error('ERR value is not an integer or out of range');
    const t = int64(argv[2]!);
    if (t === null) return error('ERR timeout is not an integer or out of range');
    if (t < 0n) return error('ERR timeout is negative');
    // Valkey adds the timeout to the current time in ms: it must not overflow.
    if (t > 0n && t > LLONG_MAX - BigInt(Date.now())) return error('ERR timeout is out of range');
    const timeout = Number(t);
    const wanted = Number(wantedArg);
    const target = this.native.replInfo().offset;
    const acked = (): number => this.native.replInfo().replicas.filter((r) => r.state === 'online' && r.ackOffset >= target).length;
    const now = acked();
    // Inside EXEC (Valkey's deny_blocking) WAIT answers at once.
    if (now >= wanted || this.native.clientState(conn.id)?.denyBlocking === true) return int(now);
    if (this.native.replRequestAck()) this.server.dataPath.deliver();
    const deadline = timeout === 0 ? Infinity : Date.now() + timeout;
    this.waitingClients++;
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        const n = acked();
        if (n >= wanted || Date.now() >= deadline || conn.closed) {
          clearInterval(timer);
          this.waitingClients--;
          resolve(int(n));
        }
      }, 5);
      if (this.server.options.unref) timer.unref();
    });
  }

  /**
   * WAITAOF numlocal numreplicas timeout (Valkey's waitaofCommand): [1 if the local AOF
   * is fsynced up to this client's writes, replicas whose AOF is fsynced (REPLCONF ACK ..
   * FACK) up to the stream's offset], once both reach what was asked or the timeout (ms,
   * 0 = none) passed. As for WAIT, the positions waited for are those when WAITAOF runs.
   */
  waitaofCommand(call: HostCall): Reply | Promise<Reply> {
    const { argv, conn } = call;
    const numlocal = int64(argv[1]!);
    if (numlocal === null) return error('ERR value is not an integer or out of range');
    if (numlocal < 0n || numlocal > 1n) return error('ERR value is out of range, value must between 0 and 1');
    const numreplicas = int64(argv[2]!);
    if (numreplicas === null) return error('ERR value is not an integer or out of range');
    if (numreplicas < 0n) return error('ERR value is out of range, must be positive');
    const t = int64(argv[3]!);
    if (t === null) return error('ERR timeout is not an integer or out of range');
    if (t < 0n) return error('ERR timeout is negative');
    if (t > 0n && t > LLONG_MAX - BigInt(Date.now())) return error('ERR timeout is out of range');
    if (this.server.replica.isReplica) {
      return error('ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.');
    }
    const aofOff = 'ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.';
    if (numlocal === 1n && !this.server.aof.enabled) return error(aofOff);
    const localTarget = this.native.aofSyncMarks()?.appended ?? 0;
    const replTarget = this.native.replInfo().offset;
    const counts = (): [number, number] => {
      const marks = this.native.aofSyncMarks();
      const local = marks !== null && marks.synced >= localTarget ? 1 : 0;
      const replicas = this.native.replInfo().replicas.filter((r) => r.state === 'online' && r.aofOffset >= replTarget).length;
      return [local, replicas];
    };
    const done = ([l, r]: [number, number]): boolean => l >= Number(numlocal) && r >= Number(numreplicas);
    const first = counts();
    // Inside EXEC (Valkey's deny_blocking) WAITAOF answers at once.
    if (done(first) || this.native.clientState(conn.id)?.denyBlocking === true) return array(first.map((n) => int(n)));
    if (this.native.replRequestAck()) this.server.dataPath.deliver();
    const timeout = Number(t);
    const deadline = timeout === 0 ? Infinity : Date.now() + timeout;
    this.waitingClients++;
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        let reply: Reply | null = null;
        if (this.server.replica.isReplica) reply = error('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)');
        else if (numlocal === 1n && !this.server.aof.enabled) reply = error(aofOff);
        else {
          const now = counts();
          if (done(now) || Date.now() >= deadline || conn.closed) reply = array(now.map((n) => int(n)));
        }
        if (reply !== null) {
          clearInterval(timer);
          this.waitingClients--;
          resolve(reply);
        }
      }, 5);
      if (this.server.options.unref) timer.unref();
    });
  }

  /** Every attached replica acknowledged the current offset (Valkey's isReadyToShutdown). */
  allReplicasInSync(): boolean {
    const i = this.native.replInfo();
    return i.replicas.every((r) => r.ackOffset === i.offset);
  }

  /** Asks the replicas for an acknowledgement now (`REPLCONF GETACK *`). */
  requestAcks(): void {
    if (this.native.replRequestAck()) this.server.dataPath.deliver();
  }

  /** The shutdown's last look at the replicas: one line per lagging one, then the count in sync (Valkey's finishShutdown). */
  logReplicasAtShutdown(): void {
    const i = this.native.replInfo();
    let lagging = 0;
    for (const r of i.replicas) {
      if (r.ackOffset === i.offset) continue;
      lagging++;
      const lag = r.state === 'online' ? r.lagSec : 0;
      this.server.log.notice(`Lagging replica ${this.primary.replicaIp(r.id, r.announcedIp)}:${r.listeningPort} reported offset ${i.offset - r.ackOffset} behind master, lag=${lag}, state=${r.state}.`);
    }
    if (i.replicas.length > 0) this.server.log.notice(`${i.replicas.length - lagging} of ${i.replicas.length} replicas are in sync when shutting down.`);
  }
}
