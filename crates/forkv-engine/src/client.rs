//! Per-connection state the core needs: selected database, protocol version,
//! authentication, the unparsed input, and whether the host is running a command for it.

/// One client connection as the engine sees it.
pub struct Client {
    /// The id the host assigned (CLIENT ID).
    pub id: u64,
    /// Selected database (SELECT).
    pub db: usize,
    /// RESP protocol version, 2 or 3 (HELLO).
    pub proto: u8,
    /// False until AUTH succeeds when `requirepass` is set.
    pub authenticated: bool,
    /// DEBUG is allowed for this connection (`enable-debug-command`).
    pub debug_allowed: bool,
    /// Name of the last command run (CLIENT LIST `cmd=`).
    pub last_cmd: &'static str,
    /// Unparsed input carried over between reads.
    pub(crate) inbuf: Vec<u8>,
    /// Don't try to parse again until `inbuf` holds this many bytes.
    pub(crate) need: usize,
    /// The host is executing a command for this client; input is only buffered.
    pub(crate) suspended: bool,
    /// Close the connection once the pending replies are written.
    pub(crate) closing: bool,
}

impl Client {
    /// A fresh connection: db 0, RESP2, not authenticated.
    pub fn new(id: u64) -> Self {
        Client {
            id,
            db: 0,
            proto: 2,
            authenticated: false,
            debug_allowed: false,
            last_cmd: "NULL",
            inbuf: Vec::new(),
            need: 0,
            suspended: false,
            closing: false,
        }
    }

    /// Bytes of input waiting to be parsed (CLIENT LIST `qbuf=`).
    pub fn query_buffer_len(&self) -> usize {
        self.inbuf.len()
    }

    /// Allocated input buffer (CLIENT LIST `qbuf-free` is derived from it).
    pub fn query_buffer_capacity(&self) -> usize {
        self.inbuf.capacity()
    }
}
