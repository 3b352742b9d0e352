// Version facts reported by INFO, HELLO and --version: one place.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg: { version: string } = require('../package.json');

export const VERSION = {
  /** forkv's own version (package.json). */
  forkv: pkg.version,
  /**
   * The Valkey release whose behaviour forkv follows (its test suite is the conformance
   * reference). HELLO reports it as `version`, paired with `server: valkey`, as Valkey 8.0.1
   * pairs its own name with its own version.
   */
  valkeyCompat: '8.0.1',
  /**
   * What INFO's `redis_version` reports. Valkey 8 reports 7.2.4 there (the last open-source
   * Redis it is compatible with) so that clients gating features on the Redis version keep
   * working; forkv does the same.
   */
  redisCompat: '7.2.4',
} as const;
