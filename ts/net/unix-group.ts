// `unixsocketgroup`: the group that owns the unix socket file, as Valkey's anetUnixServer sets
// it after binding (chown(path, -1, gid), the owner unchanged). Node has no getgrnam, so the
// name is resolved through the system's name service (`getent group`, which also sees groups
// from LDAP/NSS), falling back to /etc/group where getent is missing.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** The gid of a group name, or null when no such group exists. */
export function groupId(name: string): number | null {
  const line = getentGroup(name) ?? etcGroupLine(name);
  if (line === null) return null;
  // name:password:gid:members
  const gid = Number(line.split(':')[2]);
  return Number.isInteger(gid) && gid >= 0 ? gid : null;
}

function getentGroup(name: string): string | null {
  try {
    const out = execFileSync('getent', ['group', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const line = out.split('\n')[0] ?? '';
    // getent also resolves a number as a gid; getgrnam (what Valkey calls) takes names only.
    return line.split(':')[0] === name ? line : null;
  } catch {
    return null; // exit 2 (no such group), or no getent on this system
  }
}

function etcGroupLine(name: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync('/etc/group', 'utf8');
  } catch {
    return null;
  }
  return text.split('\n').find((l) => l.split(':')[0] === name) ?? null;
}

/**
 * Gives the socket file to `group`: null on success, else the error text Valkey puts after
 * "Failed opening Unix socket: ".
 */
export function chownToGroup(file: string, group: string): string | null {
  const gid = groupId(group);
  // getgrnam returns NULL without setting errno for an unknown name, so Valkey prints strerror(0).
  if (gid === null) return `getgrnam error for group '${group}': Success`;
  try {
    fs.chownSync(file, -1, gid);
    return null;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `chown error for group '${group}': ${err.code === 'EPERM' ? 'Operation not permitted' : err.message}`;
  }
}
