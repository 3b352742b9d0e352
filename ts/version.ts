// Version facts reported by INFO, HELLO and --version: one place.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg: { version: string } = require('../package.json');

export const VERSION = {
  /** forkv's own version (package.json). */
  forkv: pkg.version,
  /** The Valkey release whose behaviour forkv follows. */
  valkeyCompat: '8.0.0',
  /**
   * What `redis_version` and HELLO's `version` report. Valkey 8 reports 7.2.4 there so
   * that clients gating features on the Redis version keep working; forkv does the same.
   */
  redisCompat: '7.2.4',
} as const;
