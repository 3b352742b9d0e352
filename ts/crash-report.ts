// The crash report of the server process (Valkey's setupDebugSigHandlers): a fatal signal
// (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes the report to the log, stack trace
// included, then ends the process by that signal; SIGALRM writes a stack trace and is not
// fatal. The handlers are native (forkv-snapshot's crash_report): a signal handler must not
// run JavaScript. Only the command-line server installs them: an embedded server does not
// own its process's signals.
import type { ConfigStore } from './config/store';
import type { Logger } from './log';
import { VERSION } from './version';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('./native/binding.cjs') = require('./native/binding.cjs');

/** Installs the handlers, writing to `log`'s destination (`crash-log-enabled` gates the fatal ones). */
export function installCrashReport(log: Logger, store: ConfigStore): void {
  const err = binding.installCrashReport(log.descriptor, `forkv ${VERSION.forkv}`, store.getBool('crash-log-enabled'));
  if (err !== null && err !== undefined) log.warning(`Crash report handlers not installed: ${err}`);
}
