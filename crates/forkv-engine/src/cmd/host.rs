//! Commands the TypeScript host executes (it owns sockets, configuration, logging and
//! persistence jobs). They are registered here so that the command table stays the one
//! source of truth for COMMAND, arity and flag checks; the engine validates them and
//! hands their argv to the host.

use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Core, Exec::Engine, Exec::Host};

const ADM: u32 = ADMIN | NOSCRIPT;

pub const COMMANDS: &[CommandSpec] = &[
    spec("info", -1, LOADING | STALE, (0, 0, 0), "server", "1.0.0", "O(1)", "Returns information and statistics about the server.", Host),
    spec("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, (0, 0, 0), "connection", "6.0.0", "O(1)", "Handshakes with the server.", Host),
    spec("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, (0, 0, 0), "connection", "1.0.0", "O(N) where N is the number of passwords defined for the user", "Authenticates the connection.", Host),
    spec("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, (0, 0, 0), "connection", "6.2.0", "O(1)", "Resets the connection.", Host),
    spec("shutdown", -1, ADM | LOADING | STALE | NO_MULTI | ALLOW_BUSY, (0, 0, 0), "server", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "Synchronously saves the database(s) to disk and shuts down the server.", Host),
    spec("save", 1, ADM | NO_ASYNC_LOADING | NO_MULTI, (0, 0, 0), "server", "1.0.0", "O(N) where N is the total number of keys in all databases", "Synchronously saves the database(s) to disk.", Host),
    spec("bgsave", -1, ADM | NO_ASYNC_LOADING, (0, 0, 0), "server", "1.0.0", "O(1)", "Asynchronously saves the database(s) to disk.", Host),
    spec("bgrewriteaof", 1, ADM | NO_ASYNC_LOADING, (0, 0, 0), "server", "1.0.0", "O(1)", "Asynchronously rewrites the append-only file to disk.", Host),
    spec("lastsave", 1, LOADING | STALE | FAST, (0, 0, 0), "server", "1.0.0", "O(1)", "Returns the Unix timestamp of the last successful save to disk.", Host),
    container("config", -2, 0, "server", "2.0.0", "A container for server configuration commands.", CONFIG_SUBCOMMANDS),
    container("client", -2, 0, "connection", "2.4.0", "A container for client connection commands.", CLIENT_SUBCOMMANDS),
];

const CFG: u32 = ADM | LOADING | STALE;

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    spec("config|get", -3, CFG, (0, 0, 0), "server", "2.0.0", "O(N) when N is the number of configuration parameters provided", "Returns the effective values of configuration parameters.", Host),
    spec("config|set", -4, CFG, (0, 0, 0), "server", "2.0.0", "O(N) when N is the number of configuration parameters provided", "Sets configuration parameters in-flight.", Host),
    spec("config|resetstat", 2, CFG, (0, 0, 0), "server", "2.0.0", "O(1)", "Resets the server's statistics.", Host),
    spec("config|rewrite", 2, CFG, (0, 0, 0), "server", "2.8.0", "O(1)", "Persists the effective configuration to file.", Host),
    spec("config|help", 2, LOADING | STALE, (0, 0, 0), "server", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Core(config_help)),
];

const CL: u32 = NOSCRIPT | LOADING | STALE;

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    spec("client|id", 2, CL, (0, 0, 0), "connection", "5.0.0", "O(1)", "Returns the unique client ID of the connection.", Host),
    spec("client|setname", 3, CL, (0, 0, 0), "connection", "2.6.9", "O(1)", "Sets the connection name.", Host),
    spec("client|getname", 2, CL, (0, 0, 0), "connection", "2.6.9", "O(1)", "Returns the name of the connection.", Host),
    spec("client|setinfo", 4, CL, (0, 0, 0), "connection", "7.2.0", "O(1)", "Sets information specific to the client or connection.", Host),
    spec("client|info", 2, CL, (0, 0, 0), "connection", "6.2.0", "O(1)", "Returns information about the connection.", Host),
    spec("client|list", -2, ADM | LOADING | STALE, (0, 0, 0), "connection", "2.4.0", "O(N) where N is the number of client connections", "Lists open connections.", Host),
    spec("client|unblock", -3, ADM | LOADING | STALE, (0, 0, 0), "connection", "5.0.0", "O(log N) where N is the number of client connections", "Unblocks a client blocked by a blocking command from a different connection.", Host),
    spec("client|kill", -3, ADM | LOADING | STALE, (0, 0, 0), "connection", "2.4.0", "O(N) where N is the number of client connections", "Terminates open connections.", Host),
    spec("client|tracking", -3, CL, (0, 0, 0), "connection", "6.0.0", "O(1). Some options may introduce additional complexity.", "Controls server-assisted client-side caching for the connection.", Engine(crate::tracking::client_tracking)),
    spec("client|capa", -3, CL, (0, 0, 0), "connection", "8.0.0", "O(1)", "A client claims its capability.", Core(crate::cmd::connection::client_capa)),
    spec("client|caching", 3, CL, (0, 0, 0), "connection", "6.0.0", "O(1)", "Instructs the server whether to track the keys in the next request.", Engine(crate::tracking::client_caching)),
    spec("client|getredir", 2, CL, (0, 0, 0), "connection", "6.0.0", "O(1)", "Returns the client ID to which the connection's tracking notifications are redirected.", Engine(crate::tracking::client_getredir)),
    spec("client|trackinginfo", 2, CL, (0, 0, 0), "connection", "6.2.0", "O(1)", "Returns information about server-assisted client-side caching for the connection.", Engine(crate::tracking::client_trackinginfo)),
    spec("client|reply", 3, CL, (0, 0, 0), "connection", "3.2.0", "O(1)", "Instructs the server whether to reply to commands.", Core(crate::cmd::connection::client_reply)),
    spec("client|pause", -3, ADM | LOADING | STALE, (0, 0, 0), "connection", "3.0.0", "O(1)", "Suspends commands processing.", crate::table::Exec::Engine(crate::pause::client_pause)),
    spec("client|unpause", 2, ADM | LOADING | STALE, (0, 0, 0), "connection", "6.2.0", "O(N) Where N is the number of paused clients", "Resumes processing commands from paused clients.", crate::table::Exec::Engine(crate::pause::client_unpause)),
    spec("client|no-evict", 3, ADM | LOADING | STALE, (0, 0, 0), "connection", "7.0.0", "O(1)", "Sets the client eviction mode of the connection.", Core(crate::cmd::connection::client_no_evict)),
    spec("client|no-touch", 3, CL, (0, 0, 0), "connection", "7.2.0", "O(1)", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", Core(crate::cmd::connection::client_no_touch)),
    spec("client|help", 2, LOADING | STALE, (0, 0, 0), "connection", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Core(client_help)),
];

/// The lines of CONFIG HELP between its header and HELP.
const CONFIG_HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

/// CONFIG HELP, answered by the engine so that scripts can call it as in Valkey.
fn config_help(ctx: &mut crate::cmd::Ctx<'_>, _argv: &[&[u8]]) -> crate::cmd::CmdResult {
    ctx.reply.help("CONFIG", CONFIG_HELP);
    Ok(())
}

/// The lines of CLIENT HELP between its header and HELP.
const CLIENT_HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "CAPA <option> [options...]",
    "    The client claims its some capability options. Options are:",
    "    * REDIRECT",
    "      The client can handle redirection during primary and replica failover in standalone mode.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|PRIMARY|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|PRIMARY|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
];

/// CLIENT HELP, answered by the engine so that scripts can call it as in Valkey.
fn client_help(ctx: &mut crate::cmd::Ctx<'_>, _argv: &[&[u8]]) -> crate::cmd::CmdResult {
    ctx.reply.help("CLIENT", CLIENT_HELP);
    Ok(())
}
