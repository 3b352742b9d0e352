// ACL SAVE / ACL LOAD and the start-up ACL: the engine owns users and the aclfile text
// format (crates/forkv-engine/src/acl); the host owns the file and the config directives.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { LoadError } from '../persistence/rdb';
import { error, ok, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { opt, type HostCall } from './types';

const NO_ACLFILE =
  'ERR This instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a configuration file set) in order to store users in the configuration.';

/** The configured aclfile, or null; a relative path is relative to `dir` (Valkey chdirs there). */
function aclfile(server: Server): string | null {
  const f = server.config.getString('aclfile');
  return f === '' ? null : path.resolve(server.config.getDir(), f);
}

/** Reads the aclfile into the engine; the error text is Valkey's. */
export function loadAclFile(server: Server, file: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const msg = e instanceof Error && 'code' in e && e.code === 'ENOENT' ? 'No such file or directory' : e instanceof Error ? e.message : String(e);
    return `Error loading ACLs, opening file '${file}': ${msg}`;
  }
  return server.core.native.aclLoadFile(file, text) ?? null;
}

/** Writes the users to the aclfile atomically (temp file, fsync, rename), as Valkey does. */
function saveAclFile(server: Server, file: string): string | null {
  const tmp = path.join(path.dirname(file), `${path.basename(file)}.tmp-${process.pid}`);
  try {
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeSync(fd, server.core.native.aclFileText());
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    return null;
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    return `Opening temp ACL file for ACL SAVE: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** ACL SAVE and ACL LOAD (the engine runs the other ACL subcommands). */
export function acl(call: HostCall): Reply {
  const { server } = call;
  const sub = opt(call, 1);
  const file = aclfile(server);
  if (file === null) return error(NO_ACLFILE);
  if (sub === 'save') {
    const err = saveAclFile(server, file);
    if (err !== null) {
      server.log.warning(err);
      return error('ERR There was an error trying to save the ACLs. Please check the server logs for more information');
    }
    return ok;
  }
  const err = loadAclFile(server, file);
  return err === null ? ok : error(`ERR ${err}`);
}

/**
 * Start-up (Valkey's ACLLoadUsersAtStartup): `user` directives of the config file, or the
 * aclfile; both at once is an error. Throws LoadError (logged) so the server does not start.
 */
export function loadUsersAtStartup(server: Server, users: ReadonlyArray<readonly string[]>): void {
  const file = aclfile(server);
  const abort = (msg: string): never => {
    server.log.warning(msg);
    throw new LoadError(msg);
  };
  if (file !== null && users.length > 0) {
    abort('Configuring Valkey with users defined in valkey.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your valkey.conf, but not both.');
  }
  const seen = new Set<string>();
  for (const words of users) {
    // A user is declared once in the config (Valkey's ACLAppendUserForLoading).
    const name = words[0] ?? '';
    if (seen.has(name)) abort(`Error in user declaration '${name}': Duplicate user found. The user can only be defined once in config files`);
    seen.add(name);
    const err = server.core.native.aclConfigUser([...words]);
    if (err !== null && err !== undefined) abort(`Error in user declaration '${words.join(' ')}': ${err.replace(/^ERR /, '')}`);
  }
  if (file !== null) {
    const err = loadAclFile(server, file);
    if (err !== null) abort(`Aborting Valkey startup because of ACL errors: ${err}`);
  }
}
