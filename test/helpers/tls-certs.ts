// Test certificates, made with the openssl command at test time (as Valkey's
// utils/gen-test-certs.sh does): a CA, a server and a client certificate it signed, a second
// CA with a client certificate the server must not trust, DH parameters, and an encrypted
// copy of the server key.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { tempDir } from './server';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** The server key encrypted with the passphrase `secret-pass`. */
  serverKeyEncrypted: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by a CA the server does not know. */
  strangerCert: string;
  strangerKey: string;
  dhParams: string;
  /** A directory holding only the CA certificate (for tls-ca-cert-dir). */
  caDir: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let cached: TestCerts | null = null;

/** Makes the certificates once per test process. Throws clearly when openssl is missing. */
export function testCerts(): TestCerts {
  if (cached) return cached;
  if (!hasOpenssl()) throw new Error('the TLS tests need the openssl command (Debian: apt-get install openssl)');
  const dir = tempDir('forkv-tls-');
  const ext = path.join(dir, 'ext.cnf');
  fs.writeFileSync(ext, 'keyUsage = digitalSignature, keyEncipherment\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n');
  const makeCa = (name: string): void => {
    openssl(['genrsa', '-out', `${name}.key`, '2048'], dir);
    openssl(['req', '-x509', '-new', '-nodes', '-sha256', '-key', `${name}.key`, '-days', '3650', '-subj', `/O=forkv test/CN=${name}`, '-out', `${name}.crt`], dir);
  };
  const makeCert = (name: string, ca: string): void => {
    openssl(['genrsa', '-out', `${name}.key`, '2048'], dir);
    openssl(['req', '-new', '-sha256', '-subj', `/O=forkv test/CN=${name}`, '-key', `${name}.key`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-sha256', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '365', '-extfile', ext, '-out', `${name}.crt`], dir);
  };
  makeCa('ca');
  makeCa('stranger-ca');
  makeCert('server', 'ca');
  makeCert('client', 'ca');
  makeCert('stranger', 'stranger-ca');
  openssl(['rsa', '-in', 'server.key', '-out', 'server.key.encrypted', '-aes256', '-passout', 'pass:secret-pass'], dir);
  openssl(['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe2048', '-out', 'dh.pem'], dir);
  const caDir = path.join(dir, 'ca-dir');
  fs.mkdirSync(caDir);
  fs.copyFileSync(path.join(dir, 'ca.crt'), path.join(caDir, 'ca.pem'));
  const p = (f: string): string => path.join(dir, f);
  cached = {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    serverKeyEncrypted: p('server.key.encrypted'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    strangerCert: p('stranger.crt'),
    strangerKey: p('stranger.key'),
    dhParams: p('dh.pem'),
    caDir,
  };
  return cached;
}

/** forkv-server arguments for a TLS port with these certificates. */
export function tlsArgs(c: TestCerts, tlsPort: number): string[] {
  return [
    '--tls-port', String(tlsPort),
    '--tls-cert-file', c.serverCert,
    '--tls-key-file', c.serverKey,
    '--tls-ca-cert-file', c.ca,
    '--tls-dh-params-file', c.dhParams,
  ];
}
