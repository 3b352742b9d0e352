// /proc readings of a server process by PID: CPU time (all threads) and RSS.
// CPU seconds per request is a figure that does not depend on how the 2 cores are shared
// between the server and the load generator, so the harnesses record it next to ops/s.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

let clkTck: number | null = null;

function ticksPerSecond(): number {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** User + system CPU seconds of `pid` so far (every thread; children are not included). */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / ticksPerSecond();
}

/** Resident set size of `pid`, bytes. */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * PIDs of the direct children of `pid`: the union of /proc/<pid>/task/<tid>/children over
 * its threads (a fork from any thread is listed under that thread).
 */
export function childPids(pid: number): number[] {
  const out = new Set<number>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const tid of tids) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (c !== '') out.add(Number(c));
      }
    } catch {
      // the thread ended meanwhile
    }
  }
  return [...out];
}

/** RSS of `pid`, or 0 when it is gone (a child that exited between listing and reading). */
export function rssOrZero(pid: number): number {
  try {
    const r = rssBytes(pid);
    return Number.isFinite(r) ? r : 0;
  } catch {
    return 0;
  }
}

/**
 * RSS of `pid` plus the RSS of its direct children (a BGSAVE child): pages shared after
 * fork() count in both, as `ps` would add them up; that is the figure the issue compares.
 */
export function familyRssBytes(pid: number): { parent: number; children: number } {
  let children = 0;
  for (const c of childPids(pid)) children += rssOrZero(c);
  return { parent: rssOrZero(pid), children };
}
