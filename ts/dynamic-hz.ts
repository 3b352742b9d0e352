// Valkey 8.0.1's dynamic-hz: at the start of every serverCron the effective hz is reset to
// the configured one, then, with dynamic-hz on, doubled while more than
// MAX_CLIENTS_PER_CLOCK_TICK clients would share one tick (integer division, as Valkey's
// `listLength(server.clients) / server.hz`), never above CONFIG_MAX_HZ. The cron's next
// period is 1000 / the effective hz; INFO shows it as `hz` beside `configured_hz`.

/** Valkey's MAX_CLIENTS_PER_CLOCK_TICK. */
export const MAX_CLIENTS_PER_CLOCK_TICK = 200;
/** Valkey's CONFIG_MAX_HZ. */
export const CONFIG_MAX_HZ = 500;

/** The hz serverCron runs at with `numclients` clients connected. */
export function effectiveHz(configuredHz: number, dynamic: boolean, numclients: number): number {
  let hz = Math.max(1, configuredHz);
  if (!dynamic) return hz;
  while (Math.floor(numclients / hz) > MAX_CLIENTS_PER_CLOCK_TICK) {
    hz *= 2;
    if (hz > CONFIG_MAX_HZ) return CONFIG_MAX_HZ;
  }
  return hz;
}
