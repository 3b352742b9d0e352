//! A client's blocking state: what a handler that found nothing to serve asks for
//! ([`BlockRequest`]) and what a parked client waits on ([`Blocked`]). The commands and
//! the serving of ready keys are in `cmd::blocking`.

use forkv_keyspace::{Bytes, Value};

use crate::table::CommandSpec;

/// The value type a blocked client waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    List,
    ZSet,
    /// XREAD: served by a stream at the key.
    Stream,
    /// XREADGROUP: also woken (with an error) when the key stops holding a stream.
    StreamGroup,
}

impl Kind {
    /// `v` is a value this kind of waiter can be served from.
    pub(crate) fn holds(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (Kind::List, Value::List(_)) | (Kind::ZSet, Value::ZSet(_)) | (Kind::Stream | Kind::StreamGroup, Value::Stream(_))
        )
    }
}

/// Left by a handler that found nothing to serve.
pub(crate) struct BlockRequest {
    pub(crate) keys: Vec<Bytes>,
    /// Absolute deadline in ms since the epoch; 0 waits forever.
    pub(crate) deadline: i64,
    pub(crate) kind: Kind,
    /// The command to re-run when it differs from the one that blocked (XREAD's `$`
    /// resolved to an ID).
    pub(crate) argv: Option<Vec<Vec<u8>>>,
}

/// A parked client: what it waits on and the command to re-run.
pub(crate) struct Blocked {
    pub(crate) db: usize,
    pub(crate) keys: Vec<Bytes>,
    pub(crate) deadline: i64,
    pub(crate) kind: Kind,
    pub(crate) spec: &'static CommandSpec,
    pub(crate) argv: Vec<Vec<u8>>,
}
