// `syslog-enabled yes`: the log's lines also go to the system logger (the core calls
// syslog(3), which writes to /dev/log; Node has no unix datagram sockets), opened with
// `syslog-ident` and `syslog-facility`, as Valkey's serverLogRaw does.
import type { ConfigStore } from './config/store';
import type { Logger } from './log';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('./native/binding.cjs') = require('./native/binding.cjs');

/** Opens the system log when `syslog-enabled` is yes and sends `log`'s lines there. */
export function applySyslog(log: Logger, config: ConfigStore): void {
  if (!config.getBool('syslog-enabled')) return;
  const err = binding.syslogOpen(config.getString('syslog-ident'), config.getEnum('syslog-facility'));
  if (err !== null && err !== undefined) {
    log.warning(`Can't open the system log: ${err}`);
    return;
  }
  log.setSyslog((level, msg) => binding.syslogWrite(level, msg));
}
