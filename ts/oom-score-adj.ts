// `oom-score-adj` and `oom-score-adj-values` (Valkey's setOOMScoreAdj, server.c): the server
// writes its Linux OOM-killer score to /proc/self/oom_score_adj by class — primary, replica,
// background child — from the three values, relative to the score the process had before the
// server first adjusted it (`yes`/`relative`) or as given (`absolute`), clamped to -1000..1000.
// Turning it off restores that original score. Fork children write the child class's score
// themselves (forkv-snapshot's oom module; the host hands it over before any fork).
//
// The original score is process-wide, as the score itself is (Valkey keeps it in statics):
// servers embedded in one process share it.
import * as fs from 'node:fs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('./native/binding.cjs') = require('./native/binding.cjs');

/** Valkey's CONFIG_OOM_PRIMARY / CONFIG_OOM_REPLICA / CONFIG_OOM_BGCHILD. */
export const enum OomClass {
  Primary = 0,
  Replica = 1,
  BgChild = 2,
}

/** What the score is computed from. */
export interface OomSettings {
  /** `oom-score-adj`: no, yes (= relative), relative or absolute. */
  mode: string;
  /** `oom-score-adj-values`: primary, replica, background child. */
  values: readonly number[];
  /** The server replicates a primary (the replica class applies). */
  replica: boolean;
}

const PROC_FILE = '/proc/self/oom_score_adj';

/** The score as the server found it before its first adjustment, while it adjusts it. */
let base: number | null = null;

/** The score `settings` give class `cls`, or null when `oom-score-adj no`. */
export function oomScoreFor(settings: OomSettings, cls: OomClass, baseScore: number): number | null {
  if (settings.mode === 'no') return null;
  let v = settings.values[cls] ?? 0;
  if (settings.mode !== 'absolute') v += baseScore;
  return Math.min(1000, Math.max(-1000, v));
}

/**
 * Valkey's setOOMScoreAdj(-1): writes the score of the server's class (and hands the child
 * class's score to the fork machinery). Returns null, or the reason it failed (Valkey logs
 * "Unable to read/write oom_score_adj: <error>" and the CONFIG SET fails).
 */
export function applyOomScoreAdj(settings: OomSettings, file = PROC_FILE): string | null {
  if (process.platform !== 'linux') return settings.mode === 'no' ? null : 'oom_score_adj is only available on Linux';
  let value: number;
  if (settings.mode !== 'no') {
    if (base === null) {
      try {
        base = Number.parseInt(fs.readFileSync(file, 'latin1'), 10) || 0;
      } catch (e) {
        return `Unable to read oom_score_adj: ${(e as Error).message}`;
      }
    }
    value = oomScoreFor(settings, settings.replica ? OomClass.Replica : OomClass.Primary, base) ?? base;
  } else if (base !== null) {
    value = base;
    base = null;
  } else {
    binding.setChildOomScoreAdj(null);
    return null;
  }
  binding.setChildOomScoreAdj(base === null ? null : oomScoreFor(settings, OomClass.BgChild, base));
  try {
    fs.writeFileSync(file, `${value}\n`);
  } catch (e) {
    return `Unable to write oom_score_adj: ${(e as Error).message}`;
  }
  return null;
}
