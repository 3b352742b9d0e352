/**
 * Startup configuration errors. The server prints `error.format()` to stderr and exits with
 * status 1, as valkey-server does.
 */

export type ConfigErrorKind =
  /** loadServerConfigFromString's "*** FATAL CONFIG FILE ERROR ***" block. */
  | 'fatal'
  /** A config file (or a non-wildcard include) could not be opened; Valkey logs one line. */
  | 'open';

export interface ConfigErrorInit {
  readonly kind: ConfigErrorKind;
  readonly reason: string;
  readonly version: string;
  /** The file the bad line came from (null for command-line options or stdin-only input). */
  readonly fileName?: string | null;
  /** 1-based line number in the text being parsed; absent for errors found after the last line. */
  readonly line?: number | null;
  /** The offending line, trimmed, as Valkey echoes it. */
  readonly lineText?: string | null;
}

export class ConfigError extends Error {
  readonly kind: ConfigErrorKind;
  readonly reason: string;
  readonly version: string;
  readonly fileName: string | null;
  readonly line: number | null;
  readonly lineText: string | null;

  constructor(init: ConfigErrorInit) {
    super(init.reason);
    this.name = 'ConfigError';
    this.kind = init.kind;
    this.reason = init.reason;
    this.version = init.version;
    this.fileName = init.fileName ?? null;
    this.line = init.line ?? null;
    this.lineText = init.lineText ?? null;
    this.message = this.format().trim();
  }

  /**
   * Exactly what Valkey writes:
   *
   *     \n*** FATAL CONFIG FILE ERROR (Version 8.0.1) ***\n
   *     Reading the configuration file, at line 3\n
   *     >>> 'port abc'\n
   *     argument couldn't be parsed into an integer\n
   *
   * (Valkey does not name the file; `fileName` is available to the caller.) For kind 'open' it
   * is the logged line "Fatal error, can't open config file '<path>': <strerror>".
   */
  format(): string {
    if (this.kind === 'open') return `${this.reason}\n`;
    let out = `\n*** FATAL CONFIG FILE ERROR (Version ${this.version}) ***\n`;
    if (this.line !== null) {
      out += `Reading the configuration file, at line ${this.line}\n`;
      out += `>>> '${this.lineText ?? ''}'\n`;
    }
    return out + `${this.reason}\n`;
  }
}
