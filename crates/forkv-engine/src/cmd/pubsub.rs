//! Pub/sub commands (Valkey `pubsub.c`). Delivery crosses connections, so the
//! subscription registry lives beside the engine, in the server crate
//! (`forkv-server/src/pubsub.rs`), which runs these commands (`Exec::Server`); they are
//! registered here so that the command table stays the one source of truth for arity,
//! flags and COMMAND output.
//!
//! The one part that must live where commands are dispatched is Valkey's "subscribed
//! mode": a RESP2 client with at least one subscription may only send the commands
//! [`allowed_when_subscribed`] accepts. The registry sets `Client::pubsub` whenever a
//! client's subscription count becomes zero or non-zero.

use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Server};

const PS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;
const PUB: u32 = PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE;
const INTRO: u32 = PUBSUB | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[
    spec("subscribe", -2, PS, (0, 0, 0), "pubsub", "2.0.0", "O(N) where N is the number of channels to subscribe to.", "Listens for messages published to channels.", Server),
    spec("unsubscribe", -1, PS, (0, 0, 0), "pubsub", "2.0.0", "O(N) where N is the number of channels to unsubscribe.", "Stops listening to messages posted to channels.", Server),
    spec("psubscribe", -2, PS, (0, 0, 0), "pubsub", "2.0.0", "O(N) where N is the number of patterns to subscribe to.", "Listens for messages published to channels that match one or more patterns.", Server),
    spec("punsubscribe", -1, PS, (0, 0, 0), "pubsub", "2.0.0", "O(N) where N is the number of patterns to unsubscribe.", "Stops listening to messages published to channels that match one or more patterns.", Server),
    spec("ssubscribe", -2, PS, (1, -1, 1), "pubsub", "7.0.0", "O(N) where N is the number of shard channels to subscribe to.", "Listens for messages published to shard channels.", Server),
    spec("sunsubscribe", -1, PS, (1, -1, 1), "pubsub", "7.0.0", "O(N) where N is the number of shard channels to unsubscribe.", "Stops listening to messages posted to shard channels.", Server),
    spec("publish", 3, PUB, (0, 0, 0), "pubsub", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", "Posts a message to a channel.", Server),
    spec("spublish", 3, PUB, (1, 1, 1), "pubsub", "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.", "Post a message to a shard channel", Server),
    container("pubsub", -2, 0, "pubsub", "2.8.0", "A container for Pub/Sub commands.", PUBSUB_SUBCOMMANDS),
];

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    spec("pubsub|channels", -2, INTRO, (0, 0, 0), "pubsub", "2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", "Returns the active channels.", Server),
    spec("pubsub|numpat", 2, INTRO, (0, 0, 0), "pubsub", "2.8.0", "O(1)", "Returns a count of unique pattern subscriptions.", Server),
    spec("pubsub|numsub", -2, INTRO, (0, 0, 0), "pubsub", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "Returns a count of subscribers to channels.", Server),
    spec("pubsub|shardchannels", -2, INTRO, (0, 0, 0), "pubsub", "7.0.0", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", "Returns the active shard channels.", Server),
    spec("pubsub|shardnumsub", -2, INTRO, (0, 0, 0), "pubsub", "7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", "Returns the count of subscribers of shard channels.", Server),
    spec("pubsub|help", 2, LOADING | STALE, (0, 0, 0), "pubsub", "6.2.0", "O(1)", "Returns helpful text about the different subcommands.", Server),
];

/// Commands a RESP2 client in subscribed mode may send (Valkey's processCommand).
pub fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "ping" | "subscribe" | "ssubscribe" | "unsubscribe" | "sunsubscribe" | "psubscribe" | "punsubscribe" | "quit" | "reset"
    )
}

/// The unsubscribe commands, which Valkey 8 refuses from a client in no subscription
/// (whatever its protocol).
pub fn needs_subscribed_mode(spec: &CommandSpec) -> bool {
    matches!(spec.name, "unsubscribe" | "punsubscribe" | "sunsubscribe")
}

/// Valkey's refusal of an unsubscribe command from a client in no subscription.
pub fn not_subscribed_error(spec: &CommandSpec) -> String {
    format!("NOSUB '{}' command executed not in subscribed mode", spec.name)
}

/// Valkey's refusal for anything else, naming the command (`client|id` for subcommands).
pub fn subscribed_mode_error(spec: &CommandSpec) -> String {
    format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        spec.name
    )
}
