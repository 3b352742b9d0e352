// INFO's event-loop and traffic rates (Valkey's `eventloop_*`, `instantaneous_*_kbps` and
// `instantaneous_eventloop_*`), measured on Node's own loop.
//
// Valkey times each turn of its event loop (after the poll returns, until it sleeps
// again). forkv's loop is libuv's, which keeps the same two facts itself: how many turns
// it made (`uv_metrics_info`'s loop count) and how long it was idle in the poll (libuv's
// idle-time metric, Node's event-loop utilization). A turn's duration summed over turns
// is the loop's time minus its idle time.
import { performance } from 'node:perf_hooks';

/** Samples kept per rate (Valkey's STATS_METRIC_SAMPLES). */
const SAMPLES = 16;

/** Cycles and busy time of Node's event loop since the process started. */
function loopNow(): { cycles: number; busyUs: number } {
  return {
    cycles: performance.nodeTiming.uvMetricsInfo.loopCount,
    busyUs: Math.floor(performance.eventLoopUtilization().active * 1000),
  };
}

/**
 * One rate over the last SAMPLES periods (Valkey's `trackInstantaneousMetric`): each
 * sample is the value's growth per unit of base (`factor` scales it); the rate is the
 * mean of the ring, zeros included until it filled, as Valkey's
 * `getInstantaneousMetric` computes it.
 */
export class InstantRate {
  private readonly ring: number[] = new Array<number>(SAMPLES).fill(0);
  private at = 0;
  private last: { value: number; base: number } | null = null;

  constructor(private readonly factor: number) {}

  /** Records `value` at `base` (a time in microseconds, or another counter). */
  track(value: number, base: number): void {
    if (this.last !== null) {
      const dBase = base - this.last.base;
      const dValue = value - this.last.value;
      this.ring[this.at] = dBase > 0 ? Math.floor((dValue * this.factor) / dBase) : 0;
      this.at = (this.at + 1) % SAMPLES;
    }
    this.last = { value, base };
  }

  /** The mean of the samples. */
  get(): number {
    return Math.floor(this.ring.reduce((a, b) => a + b, 0) / SAMPLES);
  }
}

/** What the host counts of the traffic, for the rates. */
export interface TrafficTotals {
  /** Bytes read from clients, the primary link excluded. */
  input: number;
  /** Bytes written to clients, replicas excluded. */
  output: number;
  /** Bytes read from the primary (replication stream and snapshot). */
  replInput: number;
  /** Bytes written to replicas (snapshot and stream). */
  replOutput: number;
}

/** The loop counters since the last CONFIG RESETSTAT, and the rates sampled by the cron. */
export class LoopMetrics {
  private base = loopNow();
  private lastSampleUs = 0;
  private readonly rates = LoopMetrics.freshRates();

  private static freshRates() {
    const perSecond = 1_000_000;
    return {
      input: new InstantRate(perSecond),
      output: new InstantRate(perSecond),
      replInput: new InstantRate(perSecond),
      replOutput: new InstantRate(perSecond),
      cycles: new InstantRate(perSecond),
      cycleUs: new InstantRate(1),
    };
  }

  /** Loop turns since the start or the last reset (INFO `eventloop_cycles`). */
  cycles(): number {
    return loopNow().cycles - this.base.cycles;
  }

  /** Microseconds the loop spent working, not polling (INFO `eventloop_duration_sum`). */
  busyUs(): number {
    return loopNow().busyUs - this.base.busyUs;
  }

  /**
   * Takes one sample of every rate, once per 100 ms period of the cron (Valkey's
   * `run_with_period(100)`); the slack keeps a tick that fires a little early in its period.
   */
  sample(t: TrafficTotals): void {
    const nowUs = Math.floor(performance.now() * 1000);
    if (this.lastSampleUs !== 0 && nowUs - this.lastSampleUs < 95_000) return;
    this.lastSampleUs = nowUs;
    const r = this.rates;
    r.input.track(t.input + t.replInput, nowUs);
    r.output.track(t.output + t.replOutput, nowUs);
    r.replInput.track(t.replInput, nowUs);
    r.replOutput.track(t.replOutput, nowUs);
    const cycles = this.cycles();
    r.cycles.track(cycles, nowUs);
    r.cycleUs.track(this.busyUs(), cycles);
  }

  /** The INFO stats fields of the rates, by name. */
  rateFields(): Array<[string, string | number]> {
    const kbps = (r: InstantRate) => (r.get() / 1024).toFixed(2);
    const r = this.rates;
    return [
      ['instantaneous_input_kbps', kbps(r.input)],
      ['instantaneous_output_kbps', kbps(r.output)],
      ['instantaneous_input_repl_kbps', kbps(r.replInput)],
      ['instantaneous_output_repl_kbps', kbps(r.replOutput)],
      ['instantaneous_eventloop_cycles_per_sec', r.cycles.get()],
      ['instantaneous_eventloop_duration_usec', r.cycleUs.get()],
    ];
  }

  /** CONFIG RESETSTAT: counters from zero, rates forgotten. */
  reset(): void {
    this.base = loopNow();
    this.lastSampleUs = 0;
    Object.assign(this.rates, LoopMetrics.freshRates());
  }
}
