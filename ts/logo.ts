// The start-up banner (Valkey's valkeyAsciiArt): an ASCII logo with the version, mode,
// port and PID when the log goes to a terminal (stdout a TTY, no logfile, no syslog) or
// `always-show-logo yes`; otherwise one line with the same facts.
import { VERSION } from './version';

/** Whether the logo is shown, by Valkey's rule. */
export function showLogo(opts: { alwaysShowLogo: boolean; logfile: string; syslog: boolean; stdoutIsTty: boolean }): boolean {
  return opts.alwaysShowLogo || (!opts.syslog && opts.logfile === '' && opts.stdoutIsTty);
}

/** The one-line form (no logo). */
export function bannerLine(port: number, pid: number): string {
  return `forkv ${VERSION.forkv} (Valkey ${VERSION.valkeyCompat} compatible), 64 bit, standalone mode, port ${port}, PID: ${pid}`;
}

/** The logo, written raw (no log prefix) as Valkey writes its ASCII art. */
export function asciiLogo(port: number, pid: number): string {
  return [
    '',
    '        .-----------.',
    '       /  .-----.    \\       forkv ' + `${VERSION.forkv} (Valkey ${VERSION.valkeyCompat} compatible) 64 bit`,
    '      |  |  f  |  k  |',
    '      |  \'-----\'  v  |      Running in standalone mode',
    `       \\    fork()   /       Port: ${port}`,
    `        '-----------'        PID: ${pid}`,
    '',
    '              https://github.com/valkey-io/valkey (the behaviour it follows)',
    '',
    '',
  ].join('\n');
}
