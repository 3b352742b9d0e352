// The headline figures of issue 16: the one list of what the README's benchmark table shows.
// Each harness tags the comparison row that measures a figure with its id (`compare(...,
// figure)`); `bench/figures.ts` collects the tagged rows of the latest run of each harness into
// bench/figures.json, and `npm run readme` renders that file into README.md. A figure whose
// row is missing from a run is an error there, so no figure can silently drop out.

/** Which harness measures a figure. */
export type BenchName = 'throughput' | 'memory' | 'snapshot' | 'aof';

export interface FigureSpec {
  /** The label in the README table. */
  readonly label: string;
  readonly bench: BenchName;
  /**
   * `ratio`: the target applies to forkv / redis; `own`: to each server's own figure (a
   * ratio of two of its own measurements, such as p99 under a BGSAVE loop / idle).
   */
  readonly kind: 'ratio' | 'own';
}

export const FIGURES = {
  'set-ops-p16': { label: 'SET ops/s, `-P 16`', bench: 'throughput', kind: 'ratio' },
  'get-ops-p16': { label: 'GET ops/s, `-P 16`', bench: 'throughput', kind: 'ratio' },
  'set-ops-p1': { label: 'SET ops/s, `-P 1`', bench: 'throughput', kind: 'ratio' },
  'get-ops-p1': { label: 'GET ops/s, `-P 1`', bench: 'throughput', kind: 'ratio' },
  'set-p99-p1': { label: 'SET p99, `-P 1`', bench: 'throughput', kind: 'ratio' },
  'get-p99-p1': { label: 'GET p99, `-P 1`', bench: 'throughput', kind: 'ratio' },
  'set-kops-core-p16': { label: 'SET k ops per server core-second, `-P 16`', bench: 'throughput', kind: 'ratio' },
  'get-kops-core-p16': { label: 'GET k ops per server core-second, `-P 16`', bench: 'throughput', kind: 'ratio' },
  'set-kops-core-p1': { label: 'SET k ops per server core-second, `-P 1`', bench: 'throughput', kind: 'ratio' },
  'get-kops-core-p1': { label: 'GET k ops per server core-second, `-P 1`', bench: 'throughput', kind: 'ratio' },
  'rss-per-key': { label: 'RSS bytes per key, 1M x 100 B strings', bench: 'memory', kind: 'ratio' },
  'frag-load': { label: 'fragmentation: RSS growth / used_memory growth over the load', bench: 'memory', kind: 'own' },
  'frag-info': { label: '`mem_fragmentation_ratio` (INFO, Node\'s heap included)', bench: 'memory', kind: 'own' },
  'fork-usec': { label: '`latest_fork_usec`, 1M keys', bench: 'snapshot', kind: 'ratio' },
  'peak-rss-bgsave': { label: 'peak RSS parent + child during BGSAVE', bench: 'snapshot', kind: 'ratio' },
  'bgsave-ms': { label: 'BGSAVE duration, 1M keys', bench: 'snapshot', kind: 'ratio' },
  'save-ms': { label: 'SAVE duration, 1M keys', bench: 'snapshot', kind: 'ratio' },
  'restart-pong-ms': { label: 'restart with 1M keys, spawn to first PONG', bench: 'snapshot', kind: 'ratio' },
  'bgsave-loop-p99': { label: 'SET p99 at 20k/s, BGSAVE loop / idle', bench: 'snapshot', kind: 'own' },
  'fsync-always-ops': { label: 'SET ops/s, appendfsync always', bench: 'aof', kind: 'ratio' },
  'fsync-everysec-ops': { label: 'SET ops/s, appendfsync everysec', bench: 'aof', kind: 'ratio' },
  'fsync-no-ops': { label: 'SET ops/s, appendfsync no', bench: 'aof', kind: 'ratio' },
  'bgrewriteaof-ms': { label: 'BGREWRITEAOF duration, 1M keys', bench: 'aof', kind: 'ratio' },
} as const satisfies Record<string, FigureSpec>;

/** The id of a headline figure. */
export type FigureId = keyof typeof FIGURES;

/** The figure id of a throughput row (`SET ops/s` at `-P 16` -> `set-ops-p16`), if it is one. */
export function throughputFigure(test: string, what: 'ops' | 'p99' | 'kops-core', pipeline: number): FigureId | undefined {
  const id = `${test.toLowerCase()}-${what}-p${pipeline}`;
  return id in FIGURES ? (id as FigureId) : undefined;
}

/** The figure id of an appendfsync policy's ops/s row, if it is one. */
export function fsyncFigure(policy: string): FigureId | undefined {
  const id = `fsync-${policy}-ops`;
  return id in FIGURES ? (id as FigureId) : undefined;
}
