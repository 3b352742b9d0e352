// Logging in Valkey's format: "<pid>:<role> <dd Mon yyyy HH:MM:SS.mmm> <level> <msg>",
// level characters . - * # for debug, verbose, notice, warning.
import * as fs from 'node:fs';

export type LogLevel = 'debug' | 'verbose' | 'notice' | 'warning' | 'nothing';
const LEVELS: Record<LogLevel, number> = { debug: 0, verbose: 1, notice: 2, warning: 3, nothing: 4 };
const MARKS = ['.', '-', '*', '#'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Formats a timestamp as Valkey does ("24 Nov 2026 06:01:02.123"). */
export function logTime(d: Date): string {
  return `${pad(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Where lines also go with `syslog-enabled yes` (the core's syslog(3)). */
export type SyslogSink = (level: Exclude<LogLevel, 'nothing'>, msg: string) => void;

export class Logger {
  private fd: number | null = null;
  private level: number = LEVELS.notice;
  private syslog: SyslogSink | null = null;

  /** `file` empty = stdout; otherwise opened for append, as Valkey's logfile. */
  constructor(file = '', level: LogLevel = 'notice') {
    this.setFile(file);
    this.setLevel(level);
  }

  /** `syslog-enabled yes`: every line logged also goes to `sink` (as Valkey: the message alone). */
  setSyslog(sink: SyslogSink | null): void {
    this.syslog = sink;
  }

  setLevel(level: LogLevel): void {
    this.level = LEVELS[level];
  }

  setFile(file: string): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = file === '' ? null : fs.openSync(file, 'a');
  }

  /** The descriptor lines go to: the log file's, or stdout's (1). */
  get descriptor(): number {
    return this.fd ?? 1;
  }

  /** The server's own role mark: M for a primary, S while it replicates a primary (Valkey's serverLogRaw). */
  serverRole: 'M' | 'S' = 'M';

  /** Writes one line; `role` is the server's (M or S), or C for a fork child's messages. */
  log(level: Exclude<LogLevel, 'nothing'>, msg: string, role: string = this.serverRole, pid = process.pid): void {
    const n = LEVELS[level];
    if (n < this.level) return;
    const text = `${pid}:${role} ${logTime(new Date())} ${MARKS[n]} ${msg}\n`;
    if (this.fd === null) process.stdout.write(text);
    else fs.writeSync(this.fd, text);
    this.syslog?.(level, msg);
  }

  /** Writes `text` as it is, without the line prefix (Valkey's LL_RAW), at `level`. */
  raw(level: Exclude<LogLevel, 'nothing'>, text: string): void {
    if (LEVELS[level] < this.level) return;
    if (this.fd === null) process.stdout.write(text);
    else fs.writeSync(this.fd, text);
    this.syslog?.(level, text);
  }

  debug(msg: string): void {
    this.log('debug', msg);
  }
  verbose(msg: string): void {
    this.log('verbose', msg);
  }
  notice(msg: string): void {
    this.log('notice', msg);
  }
  warning(msg: string): void {
    this.log('warning', msg);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
