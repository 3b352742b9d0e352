//! One connection as the host sees it (CLIENT LIST/INFO, the clients cron, RESET), and
//! what the host tells the server about a connection: its peer, whether DEBUG and MODULE
//! are enabled for it, and the protocol, name and database HELLO, CLIENT SETNAME and RESET
//! set. The binding only converts these.

use crate::pubsub::Space;
use crate::host_types::host_type;
use crate::Server;

host_type! {
#[record = "ClientState"]
/// What CLIENT LIST/INFO need from the server about one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientView {
    pub db: usize,
    pub proto: u8,
    pub last_cmd: &'static str,
    /// CLIENT LIST `qbuf`, its capacity, `qbuf-free`.
    pub qbuf: usize,
    pub qbuf_capacity: usize,
    pub qbuf_free: usize,
    /// Bytes of the complete arguments of an incomplete command (`argv-mem`).
    pub partial_argv: usize,
    /// May run commands: authenticated, or no password is required.
    pub authenticated: bool,
    /// ACL user (`user=`); empty for none.
    pub user: String,
    /// Commands queued in MULTI, -1 outside a transaction.
    pub multi: i64,
    pub watch: usize,
    pub blocked: bool,
    /// A watched key was touched (EXEC will fail).
    pub dirty_cas: bool,
    /// Channels, patterns and shard channels subscribed.
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    pub readonly: bool,
    pub monitor: bool,
    /// Client-side caching: on, its redirect target found gone, broadcasting, the target
    /// (CLIENT LIST `redir=`: -1 when tracking is off).
    pub tracking: bool,
    pub tracking_broken_redir: bool,
    pub tracking_bcast: bool,
    pub redir: i64,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Held by CLIENT PAUSE (counted as blocked).
    pub postponed: bool,
    pub tot_cmds: u64,
    pub multi_mem: usize,
    /// Blocking commands answer at once (inside EXEC or a script): WAIT, WAITAOF.
    pub deny_blocking: bool,
}
}

impl Server {
    /// What the server knows about a connection, or None for an unknown id.
    pub fn client_view(&self, id: u64) -> Option<ClientView> {
        let ps = self.pubsub();
        let c = self.engine.client(id)?;
        Some(ClientView {
            db: c.db,
            proto: c.proto,
            last_cmd: c.last_cmd,
            qbuf: c.query_buffer_len(),
            qbuf_capacity: c.query_buffer_capacity(),
            qbuf_free: c.query_buffer_free(),
            partial_argv: c.partial_argv_len(),
            authenticated: !self.engine.auth_required(id),
            user: c.user.clone().unwrap_or_default(),
            multi: c.multi_len(),
            watch: c.watched_len(),
            blocked: c.is_blocked(),
            dirty_cas: c.dirty_cas(),
            sub: ps.count(id, Space::Channel),
            psub: ps.count(id, Space::Pattern),
            ssub: ps.count(id, Space::Shard),
            readonly: c.readonly,
            monitor: self.is_monitor(id),
            tracking: c.tracking.on,
            tracking_broken_redir: c.tracking.broken_redir,
            tracking_bcast: c.tracking.bcast,
            redir: if c.tracking.on { c.tracking.redirect as i64 } else { -1 },
            no_evict: c.no_evict,
            no_touch: c.no_touch,
            postponed: c.is_postponed(),
            tot_cmds: c.commands_processed,
            multi_mem: c.multi_mem(),
            deny_blocking: c.deny_blocking(),
        })
    }

    /// What the host knows of a registered connection: whether `enable-debug-command` and
    /// `enable-module-command` allow it DEBUG and MODULE, its peer as CLIENT LIST and
    /// SLOWLOG show it, and whether it came through the unix socket.
    pub fn set_client_info(&mut self, id: u64, debug_allowed: bool, module_allowed: bool, peer: String, unix: bool) {
        if let Some(c) = self.engine.client_mut(id) {
            c.debug_allowed = debug_allowed;
            c.module_allowed = module_allowed;
            c.peer = peer;
            c.unix_socket = unix;
        }
    }

    /// A connection's protocol version (HELLO).
    pub fn set_client_proto(&mut self, id: u64, proto: u8) {
        if let Some(c) = self.engine.client_mut(id) {
            c.proto = proto;
        }
    }

    /// A connection's name as SLOWLOG shows it (CLIENT SETNAME, HELLO SETNAME, RESET).
    pub fn set_client_name(&mut self, id: u64, name: String) {
        if let Some(c) = self.engine.client_mut(id) {
            c.name = name;
        }
    }

    /// A connection's database (RESET).
    pub fn set_client_db(&mut self, id: u64, db: usize) {
        if let Some(c) = self.engine.client_mut(id) {
            c.db = db;
        }
    }
}
