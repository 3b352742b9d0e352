// INFO debug (Valkey 8.0's `eventloop_duration_aof_sum`, `eventloop_duration_cron_sum`,
// `eventloop_duration_max`, `eventloop_cmd_per_cycle_max`): per-turn timings of the
// event loop.
//
// Valkey times each turn from the poll's return (afterSleep) to the end of the work
// before the next poll (beforeSleep). libuv gives Node no hook at those two points, so
// a turn is timed from the first forkv I/O callback that runs in it (a client's read, an
// async host command resuming) to the check phase of the same loop iteration, where a
// setImmediate queued by that first callback runs: after every I/O callback of the
// iteration. The cron runs in the timers phase, which libuv runs last in an iteration,
// after the check phase: a setImmediate queued there would cost the loop an extra
// iteration, so a cron tick times its own turn. The commands of a turn are the engine's
// command count at the end less the count at the start. The cron's and the AOF flush's
// times are summed around those two pieces of work.
import { performance } from 'node:perf_hooks';

/** Reads the engine's command counter (`total_commands_processed`). */
export type CommandCounter = () => number;

/** Microseconds since an arbitrary origin, monotonic. */
function nowUs(): number {
  return performance.now() * 1000;
}

/** The loop-turn timings of INFO debug, since the start or the last CONFIG RESETSTAT. */
export class LoopTurns {
  private turnStartUs = -1;
  private turnStartCmds = 0;
  private maxUs = 0;
  private maxCmds = 0;
  private cronUs = 0;
  private aofUs = 0;
  private readonly closeTurn = (): void => this.close();

  constructor(private readonly commands: CommandCounter) {}

  /** Called first thing by forkv's I/O callbacks: opens this iteration's turn if none is open. */
  enter(): void {
    if (this.turnStartUs >= 0) return;
    this.open();
    setImmediate(this.closeTurn);
  }

  private open(): void {
    this.turnStartUs = nowUs();
    this.turnStartCmds = this.commands();
  }

  private close(): void {
    const us = Math.floor(nowUs() - this.turnStartUs);
    const cmds = this.commands() - this.turnStartCmds;
    this.turnStartUs = -1;
    if (us > this.maxUs) this.maxUs = us;
    // A CONFIG RESETSTAT inside the turn zeroes the counter: the turn then counts from there.
    if (cmds > this.maxCmds) this.maxCmds = cmds;
  }

  /**
   * Runs one cron tick, its time summed (`eventloop_duration_cron_sum`); the tick is a turn
   * of its own (nothing else of forkv runs after the timers phase in an iteration).
   */
  timeCron(tick: () => void): void {
    const ownTurn = this.turnStartUs < 0;
    if (ownTurn) this.open();
    const start = nowUs();
    try {
      tick();
    } finally {
      this.cronUs += nowUs() - start;
      if (ownTurn) this.close();
    }
  }

  /** Runs the end-of-turn AOF write, its time summed (`eventloop_duration_aof_sum`). */
  timeAof<T>(flush: () => T): T {
    const start = nowUs();
    try {
      return flush();
    } finally {
      this.aofUs += nowUs() - start;
    }
  }

  /** The INFO debug fields, in Valkey's order. */
  fields(): Array<[string, number]> {
    return [
      ['eventloop_duration_aof_sum', Math.floor(this.aofUs)],
      ['eventloop_duration_cron_sum', Math.floor(this.cronUs)],
      ['eventloop_duration_max', this.maxUs],
      ['eventloop_cmd_per_cycle_max', this.maxCmds],
    ];
  }

  /** CONFIG RESETSTAT: sums and maxima from zero (a turn in progress goes on). */
  reset(): void {
    this.maxUs = 0;
    this.maxCmds = 0;
    this.cronUs = 0;
    this.aofUs = 0;
    if (this.turnStartUs >= 0) this.turnStartCmds = 0;
  }
}
