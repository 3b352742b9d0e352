// Server commands the host owns: INFO, CONFIG, SHUTDOWN, and the DEBUG subcommands that touch the host (RELOAD, LOADAOF...).
import { renderInfo } from '../info';
import { error, ok, verbatim, type Reply } from '../resp/encode';
import { arg, opt, type HostCall } from './types';
import { string2ll } from '../config/numbers';
import { REPLY_PEAK_RESET_DEFAULT_MS } from '../net/connection';

export function info(call: HostCall): Reply {
  const sections = call.argv.slice(1).map((b) => b.toString('latin1'));
  return verbatim(renderInfo(call.server, sections));
}


export function config(call: HostCall): Reply | Promise<Reply> {
  const { server, argv } = call;
  switch (opt(call, 1)) {
    case 'get': {
      const patterns = argv.slice(2).map((b) => b.toString('latin1'));
      const pairs = server.config.get(patterns, (p, n) => server.glob(p, n));
      return { t: 'map', v: pairs.map(([k, v]) => [{ t: 'bulk', v: k }, { t: 'bulk', v }]) };
    }
    case 'set': {
      if ((argv.length - 2) % 2 !== 0) return error("ERR wrong number of arguments for 'config|set' command");
      const pairs: Array<[string, string]> = [];
      for (let i = 2; i < argv.length; i += 2) pairs.push([arg(call, i), arg(call, i + 1)]);
      // While the dataset loads, directives flagged deny-loading answer LOADING.
      const ctx = { clientIsLocal: call.conn.isLocal, loading: server.rdb.loading || server.core.native.asyncLoading() };
      const before = pairs.map(([name]): [string, string] => [name, server.config.definition(name) ? server.config.getString(name) : '']);
      const err = server.config.set(pairs, ctx);
      if (err !== null) return error(err);
      if (!server.listening.hasPendingChanges) return ok;
      return rebindAfterSet(call, pairs, before);
    }
    case 'resetstat':
      server.resetStats();
      return ok;
    case 'rewrite': {
      const err = server.config.rewrite(server.configFile);
      return err === null ? ok : error(err);
    }
    default:
      return error(`ERR unknown subcommand '${arg(call, 1)}'. Try CONFIG HELP.`);
  }
}

/**
 * The second half of a CONFIG SET of port, tls-port or bind: rebinding is asynchronous in
 * Node. When it fails, every value of the command is restored (and the old listeners bound
 * again), as Valkey restores a CONFIG SET whose apply function failed.
 */
async function rebindAfterSet(call: HostCall, pairs: ReadonlyArray<readonly [string, string]>, before: ReadonlyArray<readonly [string, string]>): Promise<Reply> {
  const { server } = call;
  const err = await server.listening.applyPendingChanges();
  if (err === null) return ok;
  const culprit = pairs.find(([name]) => ['port', 'tls-port', 'bind'].includes(server.config.definition(name)?.name ?? ''))?.[0] ?? pairs[0]?.[0] ?? '';
  server.log.warning(`Failed applying new configuration. Possibly related to new ${culprit} setting. Restoring previous settings.`);
  const restoreErr = server.config.set(before, { clientIsLocal: call.conn.isLocal }) ?? (await server.listening.applyPendingChanges());
  if (restoreErr !== null) server.log.warning(`Failed applying restored failed CONFIG SET command: ${restoreErr}`);
  const text = server.config.definition(culprit)?.name === 'bind' ? 'Failed to bind to specified addresses.' : err;
  return error(`ERR CONFIG SET failed (possibly related to argument '${culprit}') - ${text}`);
}

export function shutdown(call: HostCall): Reply | Promise<Reply> {
  const { server } = call;
  const flags = call.argv.slice(1).map((b) => b.toString('latin1').toLowerCase());
  const known = ['nosave', 'save', 'now', 'force', 'abort'];
  if (flags.some((f) => !known.includes(f)) || (flags.includes('save') && flags.includes('nosave'))) return error('ERR syntax error');
  if (flags.includes('abort')) {
    if (flags.length > 1) return error('ERR syntax error');
    return server.shutdownControl.abort() ? ok : error('ERR No shutdown in progress.');
  }
  const outcome = server.shutdown({ save: flags.includes('save') ? true : flags.includes('nosave') ? false : undefined, force: flags.includes('force'), now: flags.includes('now') });
  // A client waiting with the shutdown for the replicas is blocked (INFO blocked_clients).
  const control = server.shutdownControl;
  if (control.inMilliseconds > 0) {
    control.waitingClients++;
    void outcome.finally(() => control.waitingClients--);
  }
  return outcome.then((err) => (err === null ? ok : error(err)));
}

/**
 * DEBUG REPLYBUFFER PEAK-RESET-TIME <never|reset|ms> (how long a client's reply peak,
 * CLIENT LIST `rbp`, lasts) and RESIZING <0|1> (whether the core gives its reply buffer
 * back after a big batch), as Valkey parses them.
 */
function debugReplyBuffer(call: HostCall): Reply {
  const { server } = call;
  // The table's arity makes it 4 arguments.
  const value = arg(call, 3);
  switch (opt(call, 2)) {
    case 'peak-reset-time': {
      const v = value.toLowerCase();
      if (v === 'never') server.replyPeakResetMs = -1;
      else if (v === 'reset') server.replyPeakResetMs = REPLY_PEAK_RESET_DEFAULT_MS;
      else {
        const ms = string2ll(value);
        if (ms === null) return error('ERR value is not an integer or out of range');
        server.replyPeakResetMs = Number(ms);
      }
      return ok;
    }
    case 'resizing':
      // atoi, as Valkey reads it.
      server.core.native.configure({ replyBufferResizing: (parseInt(value, 10) || 0) !== 0 });
      return ok;
    default:
      return error("ERR unknown subcommand or wrong number of arguments for 'replybuffer'. Try DEBUG HELP.");
  }
}

export function debug(call: HostCall): Reply | Promise<Reply> {
  const { server } = call;
  switch (opt(call, 1)) {
    case 'pause-cron':
      if (call.argv.length !== 3) return error("ERR unknown subcommand or wrong number of arguments for 'pause-cron'. Try DEBUG HELP.");
      // atoi, as Valkey reads it.
      server.cronPaused = (parseInt(arg(call, 2), 10) || 0) !== 0;
      return ok;
    case 'aof-flush-sleep':
      if (call.argv.length !== 3) return error("ERR unknown subcommand or wrong number of arguments for 'aof-flush-sleep'. Try DEBUG HELP.");
      server.core.native.aofSetFlushSleep(parseInt(arg(call, 2), 10) || 0);
      return ok;
    case 'replybuffer':
      return debugReplyBuffer(call);
    case 'loadaof':
      return server.aof.debugLoadAof();
    case 'change-repl-id':
      server.log.notice('Changing replication IDs after receiving DEBUG change-repl-id');
      server.core.native.replChangeId();
      return ok;
    case 'reload':
      return server.debugReload(call.argv.slice(2).map((b) => b.toString('latin1').toLowerCase()));
    case 'config-rewrite-force-all': {
      // CONFIG REWRITE writing every directive, defaults included (Valkey's force_write).
      const err = server.config.rewrite(server.configFile, true);
      if (err === null) return ok;
      return error(`ERR CONFIG-REWRITE-FORCE-ALL failed: ${err.replace(/^ERR (Rewriting config file: )?/, '')}`);
    }
    default:
      // The core runs every other DEBUG subcommand itself.
      return error(`ERR unknown subcommand '${arg(call, 1)}'. Try DEBUG HELP.`);
  }
}
