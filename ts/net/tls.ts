// TLS for the client port (Valkey's tls.c, on Node's `tls` module): the tls-* directives
// become one set of secure-context options, built (and refused, with Valkey's log lines)
// whenever TLS is enabled or a tls-* directive changes; the session-ID cache behind
// `tls-session-caching`; and `tls-auth-clients`, read when each connection is accepted.
//
// Where Node differs from OpenSSL as Valkey drives it:
// - `tls-ca-cert-dir`: OpenSSL looks certificates up in the directory lazily, by hashed name,
//   at every verification. Node has no such option, so forkv reads every certificate in the
//   directory when the context is built (at start and at every CONFIG SET of a tls-* directive).
// - `tls-dh-params-file`: Node drops DH parameters it cannot use without an error, so forkv
//   checks the file's structure itself and refuses what it cannot read.
// - With no `tls-ciphers` / `tls-ciphersuites`, Node's default lists apply (tls.DEFAULT_CIPHERS),
//   not OpenSSL's: they are the stricter of the two.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';

import type { ConfigStore } from '../config';

/** Where the TLS setup reports what went wrong (Valkey logs it at warning level). */
export type TlsLog = (message: string) => void;

/** Valkey's error for a refused tls-* CONFIG SET, and the start-up refusal. */
export const TLS_UPDATE_ERROR = 'Unable to update TLS configuration. Check server logs.';
export const TLS_START_ERROR = 'Failed to configure TLS. Check logs for more info.';

type Protocol = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const PROTOCOLS: readonly Protocol[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** OpenSSL's "no protocol X" options, indexed like PROTOCOLS. */
const NO_PROTOCOL: readonly number[] = [
  crypto.constants.SSL_OP_NO_TLSv1,
  crypto.constants.SSL_OP_NO_TLSv1_1,
  crypto.constants.SSL_OP_NO_TLSv1_2,
  crypto.constants.SSL_OP_NO_TLSv1_3,
];

/**
 * `tls-protocols`: space-separated names, case-insensitive; unset means TLSv1.2 and TLSv1.3.
 * Returns the enabled set, or null (after logging Valkey's warning) for an unknown name.
 */
export function parseProtocols(value: string | null, log: TlsLog): Set<Protocol> | null {
  if (value === null) return new Set<Protocol>(['TLSv1.2', 'TLSv1.3']);
  const out = new Set<Protocol>();
  for (const token of value.split(' ')) {
    if (token === '') continue;
    const p = PROTOCOLS.find((name) => name.toLowerCase() === token.toLowerCase());
    if (p === undefined) {
      log("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
      return null;
    }
    out.add(p);
  }
  return out;
}

/**
 * The version range and the "no protocol" options for a set of protocols. A set with a gap
 * ("TLSv1.1 TLSv1.3") becomes the range from the lowest to the highest with the missing ones
 * switched off, as Valkey's SSL_OP_NO_* options do. An empty set (tls-protocols "") leaves
 * OpenSSL's full range, like Valkey, which then switches every version off and refuses all
 * handshakes: forkv does the same.
 */
export function protocolOptions(enabled: ReadonlySet<Protocol>): { minVersion: tls.SecureVersion; maxVersion: tls.SecureVersion; secureOptions: number } {
  let secureOptions = 0;
  PROTOCOLS.forEach((p, i) => {
    if (!enabled.has(p)) secureOptions |= NO_PROTOCOL[i] ?? 0;
  });
  const on = PROTOCOLS.filter((p) => enabled.has(p));
  return {
    minVersion: on[0] ?? 'TLSv1',
    maxVersion: on[on.length - 1] ?? 'TLSv1.3',
    secureOptions,
  };
}

/** Node's default TLSv1.2 cipher list and TLSv1.3 suites (its `ciphers` option holds both). */
function defaultCipherParts(): { list: string; suites: string } {
  const all = tls.DEFAULT_CIPHERS.split(':');
  return {
    list: all.filter((c) => !c.startsWith('TLS_')).join(':'),
    suites: all.filter((c) => c.startsWith('TLS_')).join(':'),
  };
}

/**
 * Checks that a file holds PEM "DH PARAMETERS" (a DER SEQUENCE of INTEGER p, INTEGER g and
 * an optional length), which is what OpenSSL's decoder accepts. Node itself ignores bad ones.
 */
export function validDhParams(pem: string): boolean {
  const m = /-----BEGIN DH PARAMETERS-----([\s\S]*?)-----END DH PARAMETERS-----/.exec(pem);
  if (!m?.[1]) return false;
  const der = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  let pos = 0;
  const readLength = (): number | null => {
    const first = der[pos++];
    if (first === undefined) return null;
    if (first < 0x80) return first;
    const n = first & 0x7f;
    if (n === 0 || n > 4) return null;
    let len = 0;
    for (let i = 0; i < n; i++) {
      const b = der[pos++];
      if (b === undefined) return null;
      len = len * 256 + b;
    }
    return len;
  };
  if (der[pos++] !== 0x30) return false;
  const seqLen = readLength();
  if (seqLen === null || pos + seqLen !== der.length) return false;
  let integers = 0;
  while (pos < der.length) {
    if (der[pos++] !== 0x02) return false;
    const len = readLength();
    if (len === null || len === 0 || pos + len > der.length) return false;
    pos += len;
    integers++;
  }
  return integers === 2 || integers === 3;
}

/** Every PEM certificate in a directory (OpenSSL's CApath holds one per hashed file name). */
function readCertDir(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    let text: string;
    try {
      if (!fs.statSync(file).isFile()) continue;
      text = fs.readFileSync(file, 'latin1');
    } catch {
      continue; // unreadable entries are skipped, as OpenSSL skips files it cannot open
    }
    const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
    if (certs) out.push(...certs);
  }
  return out;
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'No such file or directory';
  if (err.code === 'EACCES') return 'Permission denied';
  if (err.code === 'EISDIR') return 'Is a directory';
  return err.message ?? String(e);
}

/**
 * Builds the server's secure-context options from the tls-* directives, checking each as
 * Valkey's tlsConfigure does (same order, same log lines). Returns null after logging when
 * the configuration cannot be used.
 */
export function buildSecureContextOptions(config: ConfigStore, log: TlsLog): tls.SecureContextOptions | null {
  const certFile = config.getOptionalString('tls-cert-file');
  const keyFile = config.getOptionalString('tls-key-file');
  const caFile = config.getOptionalString('tls-ca-cert-file');
  const caDir = config.getOptionalString('tls-ca-cert-dir');
  if (certFile === null) {
    log('No tls-cert-file configured!');
    return null;
  }
  if (keyFile === null) {
    log('No tls-key-file configured!');
    return null;
  }
  const verifiesPeers = config.getEnum('tls-auth-clients') !== 'no' || config.getBool('tls-cluster') || config.getBool('tls-replication');
  if (verifiesPeers && caFile === null && caDir === null) {
    log('Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!');
    return null;
  }
  const protocols = parseProtocols(config.getOptionalString('tls-protocols'), log);
  if (protocols === null) return null;

  const opts: tls.SecureContextOptions = { ...protocolOptions(protocols) };
  // Each part is tried on its own, so the log names the part that failed, as Valkey's does.
  try {
    opts.cert = fs.readFileSync(certFile);
    tls.createSecureContext({ cert: opts.cert });
  } catch (e) {
    log(`Failed to load certificate: ${certFile}: ${describe(e)}`);
    return null;
  }
  try {
    opts.key = fs.readFileSync(keyFile);
    const pass = config.getOptionalString('tls-key-file-pass');
    if (pass !== null) opts.passphrase = pass;
    // Loads the key with the certificate: a key that does not match it is refused here.
    tls.createSecureContext({ cert: opts.cert, key: opts.key, ...(pass !== null ? { passphrase: pass } : {}) });
  } catch (e) {
    log(`Failed to load private key: ${keyFile}: ${describe(e)}`);
    return null;
  }
  if (caFile !== null || caDir !== null) {
    try {
      const ca: Array<string | Buffer> = [];
      if (caFile !== null) ca.push(fs.readFileSync(caFile));
      if (caDir !== null) ca.push(...readCertDir(caDir));
      tls.createSecureContext({ ca });
      opts.ca = ca;
    } catch (e) {
      log(`Failed to configure CA certificate(s) file/directory: ${describe(e)}`);
      return null;
    }
  }
  const defaults = defaultCipherParts();
  const ciphers = config.getOptionalString('tls-ciphers');
  const suites = config.getOptionalString('tls-ciphersuites');
  // Node takes both lists in one string and sorts them by the TLS_ prefix: keep them apart.
  if (ciphers !== null && (ciphers.split(':').some((c) => c.startsWith('TLS_')) || !tryContext({ ciphers: `${ciphers}:${defaults.suites}` }))) {
    log(`Failed to configure ciphers: ${ciphers}`);
    return null;
  }
  if (suites !== null && (suites.split(':').some((c) => c !== '' && !c.startsWith('TLS_')) || !tryContext({ ciphers: `${defaults.list}:${suites}` }))) {
    log(`Failed to configure ciphersuites: ${suites}`);
    return null;
  }
  opts.ciphers = [ciphers ?? defaults.list, suites ?? defaults.suites].filter((s) => s !== '').join(':');
  opts.honorCipherOrder = config.getBool('tls-prefer-server-ciphers');
  opts.sessionIdContext = 'redis';
  if (config.getBool('tls-session-caching')) {
    const timeout = config.getInt('tls-session-cache-timeout');
    // OpenSSL takes 0 as "no timeout set"; Node refuses 0, and its largest is 2^31-1 seconds.
    if (timeout > 0) opts.sessionTimeout = timeout;
  }
  const dhFile = config.getOptionalString('tls-dh-params-file');
  if (dhFile !== null) {
    let pem: string;
    try {
      pem = fs.readFileSync(dhFile, 'latin1');
    } catch (e) {
      log(`Failed to load ${dhFile}: ${describe(e)}`);
      return null;
    }
    if (!validDhParams(pem)) {
      log(`${dhFile}: failed to read DH params.`);
      return null;
    }
    try {
      tls.createSecureContext({ dhparam: pem });
    } catch (e) {
      log(`Failed to load DH params file: ${dhFile}: ${describe(e)}`);
      return null;
    }
    opts.dhparam = pem;
  } else {
    opts.dhparam = 'auto';
  }
  // The whole context once more: a combination can fail where each part alone did not.
  if (!tryContext(opts, log)) return null;
  if (!checkClientCertificate(config, log)) return null;
  return opts;
}

/**
 * `tls-client-cert-file` / `tls-client-key-file`: Valkey builds a second context from them for
 * the connections it makes itself; forkv's only one is the link to a primary
 * (`tls-replication`, see clientConnectionOptions). Loaded here as well, so that a certificate
 * or key Valkey would refuse stops the configuration as it does in Valkey.
 */
function checkClientCertificate(config: ConfigStore, log: TlsLog): boolean {
  const certFile = config.getOptionalString('tls-client-cert-file');
  const keyFile = config.getOptionalString('tls-client-key-file');
  if (certFile === null || keyFile === null) return true;
  let cert: Buffer;
  try {
    cert = fs.readFileSync(certFile);
    tls.createSecureContext({ cert });
  } catch (e) {
    log(`Failed to load certificate: ${certFile}: ${describe(e)}`);
    return false;
  }
  try {
    const pass = config.getOptionalString('tls-client-key-file-pass');
    tls.createSecureContext({ cert, key: fs.readFileSync(keyFile), ...(pass !== null ? { passphrase: pass } : {}) });
  } catch (e) {
    log(`Failed to load private key: ${keyFile}: ${describe(e)}`);
    return false;
  }
  return true;
}

/**
 * Options for a TLS connection forkv opens itself (to its primary, `tls-replication yes`), as
 * Valkey's client context: the tls-* directives of the server context, with
 * `tls-client-cert-file`/`tls-client-key-file` as the certificate when both are set (else the
 * server's own), the peer verified against the configured CA, and no host name check
 * (Valkey sets none: replicas are commonly configured by IP address). Null after logging
 * when the configuration cannot be used.
 */
export function clientConnectionOptions(config: ConfigStore, log: TlsLog): tls.ConnectionOptions | null {
  const base = buildSecureContextOptions(config, log);
  if (base === null) return null;
  const opts: tls.ConnectionOptions = {
    cert: base.cert, key: base.key, passphrase: base.passphrase, ca: base.ca, ciphers: base.ciphers,
    minVersion: base.minVersion, maxVersion: base.maxVersion, secureOptions: base.secureOptions,
    rejectUnauthorized: true, checkServerIdentity: () => undefined,
  };
  const certFile = config.getOptionalString('tls-client-cert-file');
  const keyFile = config.getOptionalString('tls-client-key-file');
  if (certFile !== null && keyFile !== null) {
    try {
      opts.cert = fs.readFileSync(certFile);
      opts.key = fs.readFileSync(keyFile);
    } catch (e) {
      log(`Failed to load client certificate: ${describe(e)}`);
      return null;
    }
    const pass = config.getOptionalString('tls-client-key-file-pass');
    if (pass !== null) opts.passphrase = pass;
    else delete opts.passphrase;
  }
  return opts;
}

function tryContext(opts: tls.SecureContextOptions, log?: TlsLog): boolean {
  try {
    tls.createSecureContext(opts);
    return true;
  } catch (e) {
    log?.(`Failed to configure TLS: ${describe(e)}`);
    return false;
  }
}

/**
 * The server-side session-ID cache (`tls-session-caching yes`): at most
 * `tls-session-cache-size` sessions (0: no limit, as in OpenSSL), each resumable for
 * `tls-session-cache-timeout` seconds. Node keeps no server session cache of its own.
 */
export class TlsSessionCache {
  private readonly sessions = new Map<string, { data: Buffer; expiresAt: number }>();

  constructor(private size: number, private timeoutMs: number) {}

  /** New limits (CONFIG SET); drops what no longer fits. */
  resize(size: number, timeoutMs: number): void {
    this.size = size;
    this.timeoutMs = timeoutMs;
    this.trim();
  }

  store(id: Buffer, data: Buffer): void {
    const key = id.toString('hex');
    this.sessions.delete(key);
    this.sessions.set(key, { data, expiresAt: Date.now() + this.timeoutMs });
    this.trim();
  }

  lookup(id: Buffer): Buffer | null {
    const key = id.toString('hex');
    const s = this.sessions.get(key);
    if (!s) return null;
    if (s.expiresAt <= Date.now()) {
      this.sessions.delete(key);
      return null;
    }
    return s.data;
  }

  clear(): void {
    this.sessions.clear();
  }

  get count(): number {
    return this.sessions.size;
  }

  private trim(): void {
    // Map keeps insertion order: the first entries are the oldest.
    while (this.size > 0 && this.sessions.size > this.size) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
  }
}

/** `tls-auth-clients` as socket options, read when a connection is accepted. */
export function clientAuthOptions(mode: string): { requestCert: boolean; rejectUnauthorized: boolean } {
  switch (mode) {
    case 'no':
      return { requestCert: false, rejectUnauthorized: false };
    case 'optional':
      // A certificate is asked for but may be absent; one that is presented must verify
      // (checked after the handshake, see Listeners).
      return { requestCert: true, rejectUnauthorized: false };
    default:
      return { requestCert: true, rejectUnauthorized: true };
  }
}
