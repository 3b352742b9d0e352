// SHUTDOWN and the shutdown signals (Valkey's prepareForShutdown and finishShutdown):
// waiting for the replicas with writes paused, SHUTDOWN ABORT, a signal's shutdown run from
// the cron with `shutdown-on-sigint`/`-sigterm`, and the core's persistence steps before
// the server stops.
import type { Server, ShutdownOptions } from './server';

/** A shutdown waiting for the replicas to acknowledge the primary's offset. */
interface ReplicaWait {
  /** When it stops waiting (ms since the epoch): `shutdown-timeout` after it began. */
  deadline: number;
  /** The wait is over (caught up, timed out or aborted). */
  settled: boolean;
  /** Resolves when the wait is over: true if SHUTDOWN ABORT ended it. */
  waited: Promise<boolean>;
  /** What every SHUTDOWN waiting on it answers (null: the server stops). */
  outcome: Promise<string | null>;
  abort: () => void;
}

/** What SHUTDOWN answers when it does not shut down (a refused save, an aborted wait). */
const SHUTDOWN_ERROR = 'ERR Errors trying to SHUTDOWN. Check logs.';

/** The shutdown's state and steps. */
export class ShutdownControl {
  /** A SIGINT/SIGTERM waiting for the cron to shut down (Valkey's shutdown_asap). */
  private shutdownSignal: 'SIGINT' | 'SIGTERM' | null = null;

  constructor(private readonly server: Server) {}

  /**
   * SHUTDOWN and signals: waits for the replicas (unless `now`), runs the core's
   * persistence steps, then stops. Resolves with an error text when a step refused.
   */
  async run(opts: ShutdownOptions = {}): Promise<string | null> {
    // A SHUTDOWN while one waits for the replicas waits with it and shares its outcome.
    if (this.replicaWait !== null) return this.replicaWait.outcome;
    this.server.log.warning('User requested shutdown...');
    const timeout = this.server.config.getInt('shutdown-timeout');
    if (!opts.now && timeout > 0 && !this.server.replication.acks.allReplicasInSync()) {
      const wait = this.waitForReplicas(timeout * 1000);
      wait.outcome = wait.waited.then(async (aborted) => {
        const err = aborted ? SHUTDOWN_ERROR : await this.finish(opts);
        // A cancelled shutdown (ABORT, or a hook refused) resumes the paused writes.
        if (err !== null) this.pauseWrites(false);
        return err;
      });
      void wait.outcome.finally(() => {
        if (this.replicaWait === wait) this.replicaWait = null;
      });
      return wait.outcome;
    }
    return this.finish(opts);
  }

  /** Clients whose SHUTDOWN waits for the replicas (counted in INFO blocked_clients). */
  waitingClients = 0;

  /** INFO shutdown_in_milliseconds: time left of a shutdown waiting for replicas (0 when none). */
  get inMilliseconds(): number {
    return this.replicaWait === null || this.replicaWait.settled ? 0 : Math.max(0, this.replicaWait.deadline - Date.now());
  }

  /**
   * Valkey's prepareForShutdown wait: asks the replicas for an acknowledgement, then checks
   * every 10 ms until each has acknowledged the primary's offset or `ms` have passed.
   * `waited` resolves true when SHUTDOWN ABORT cancelled it. Writes are paused meanwhile, as
   * Valkey does (PAUSE_DURING_SHUTDOWN), so that none can miss a replica.
   */
  private waitForReplicas(ms: number): ReplicaWait {
    let settle: (aborted: boolean) => void = () => undefined;
    const deadline = Date.now() + ms;
    const wait: ReplicaWait = {
      deadline,
      settled: false,
      waited: new Promise<boolean>((resolve) => (settle = resolve)),
      outcome: Promise.resolve(null),
      abort: () => finish(true),
    };
    const timer = setInterval(() => {
      if (Date.now() >= deadline || this.server.replication.acks.allReplicasInSync()) finish(false);
    }, 10);
    if (this.server.options.unref) timer.unref();
    const finish = (aborted: boolean): void => {
      if (wait.settled) return;
      wait.settled = true;
      clearInterval(timer);
      settle(aborted);
    };
    this.replicaWait = wait;
    this.pauseWrites(true);
    this.server.replication.acks.requestAcks();
    this.server.log.notice('Waiting for replicas before shutting down.');
    return wait;
  }

  /** Pauses writes while SHUTDOWN waits for the replicas, or resumes them (serving the held clients). */
  private pauseWrites(on: boolean): void {
    if (this.server.core.native.pauseForShutdown(on)) this.server.dataPath.serveWoken();
  }

  /**
   * Valkey's finishShutdown: the replicas' state in the log, then the core's persistence
   * steps (children, AOF fsync, final save, pid file, their log lines), then stop.
   */
  private async finish(opts: ShutdownOptions): Promise<string | null> {
    this.server.replication.acks.logReplicasAtShutdown();
    // Replies held for this turn's AOF write go out first (the core writes the AOF again).
    this.server.aof.flushHeld();
    const r = this.server.core.native.shutdownPersistence({
      save: opts.save,
      force: opts.force === true,
      exitOnSigint: this.bySignal,
      rdb: this.server.rdb.saveOptions(),
      pidfile: this.server.pidfile ?? undefined,
    }, this.server.aof.options());
    this.server.core.drainLogs();
    if (r.killed) this.server.rdb.killedAtShutdown(r.killed);
    this.server.aof.syncState();
    if (!r.ok) return SHUTDOWN_ERROR;
    await this.server.stop();
    this.server.emit('shutdown');
    return null;
  }

  /**
   * A shutdown signal arrived (Valkey's sigShutdownHandler): the next cron tick shuts
   * down with the `shutdown-on-sigint`/`-sigterm` flags. Returns false when this is a
   * second SIGINT while one is pending or running: the caller exits at once.
   */
  requestBySignal(sig: 'SIGINT' | 'SIGTERM'): boolean {
    if (this.shutdownSignal !== null && sig === 'SIGINT') return false;
    this.server.log.warning(this.server.rdb.loading ? 'Received shutdown signal during loading, scheduling shutdown.' : `Received ${sig} scheduling shutdown...`);
    this.shutdownSignal = sig;
    return true;
  }

  /** True while a shutdown a signal asked for is pending or running. */
  get bySignal(): boolean {
    return this.shutdownSignal !== null;
  }

  /** SHUTDOWN ABORT: clears a signal's pending shutdown. False when there is none. */
  abort(): boolean {
    if (this.replicaWait !== null && !this.replicaWait.settled) {
      // Every SHUTDOWN waiting for the replicas gets an error; a signal's shutdown is dropped.
      this.replicaWait.abort();
      this.shutdownSignal = null;
      this.server.log.notice('Shutdown manually aborted.');
      return true;
    }
    if (this.shutdownSignal === null || this.shutdownRunning) return false;
    this.shutdownSignal = null;
    this.server.log.notice('Shutdown manually aborted.');
    return true;
  }

  private shutdownRunning = false;
  /** A shutdown waiting for the replicas to catch up (Valkey's shutdown_mstime). */
  private replicaWait: ReplicaWait | null = null;

  /** From the cron: runs the shutdown a signal asked for, with that signal's flags. */
  checkSignal(): void {
    const sig = this.shutdownSignal;
    if (sig === null || this.shutdownRunning) return;
    const flags = this.server.config.getEnum(sig === 'SIGINT' ? 'shutdown-on-sigint' : 'shutdown-on-sigterm').split(' ');
    const save = flags.includes('save') ? true : flags.includes('nosave') ? false : undefined;
    this.shutdownRunning = true;
    void this.run({ save, force: flags.includes('force'), now: flags.includes('now') }).then((err) => {
      this.shutdownRunning = false;
      if (err !== null) {
        // Valkey stays up when a signal's shutdown fails (the save failed).
        this.shutdownSignal = null;
        this.server.log.warning(`${sig} received but errors trying to shut down the server, check the logs for more information`);
      }
    });
  }
}
