//! What a replica asks of its full sync besides the snapshot (Valkey's `replica_req` bits
//! and the `repl_rdbonly` client flag), as `REPLCONF` sets them before `SYNC`:
//!
//! - `rdb-only <0|1>`: the snapshot and nothing after it. The replica holds no stream in
//!   the backlog and never goes online: once its snapshot was sent it is closed
//!   (`valkey-cli --rdb`).
//! - `rdb-filter-only <filters>`: the snapshot holds only what the filters name: `""`
//!   nothing but the header and AUX fields, `functions` the function libraries
//!   (`valkey-cli --functions-rdb`). A filtered snapshot always goes to the replica's
//!   socket (a diskless transfer), never through the dump file, whatever
//!   `repl-diskless-sync` says, so the replica must have announced `capa eof`.
//!
//! Replicas share one fork only when they asked for the same filter.

/// The parts of the snapshot a replica asked to leave out (`REPLICA_REQ_RDB_EXCLUDE_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RdbFilter {
    /// Leave out the keys of every database.
    pub exclude_data: bool,
    /// Leave out the function libraries.
    pub exclude_functions: bool,
}

impl RdbFilter {
    /// True when something is left out: the snapshot must go to the replica's socket.
    pub fn filtered(self) -> bool {
        self.exclude_data || self.exclude_functions
    }

    /// `REPLCONF rdb-filter-only <filters>`: the value is split as Valkey's
    /// `sdssplitargs` does; everything is left out but what a filter includes. As in
    /// Valkey, the exclusions are set before the filters are checked, so an unknown
    /// filter leaves them set.
    pub fn set_filter_only(&mut self, value: &[u8]) -> Result<(), String> {
        let Some(filters) = forkv_keyspace::sds::split_args(value) else {
            return Err("ERR Missing rdb-filter-only values".into());
        };
        self.exclude_data = true;
        self.exclude_functions = true;
        for f in filters {
            if f.eq_ignore_ascii_case(b"functions") {
                self.exclude_functions = false;
            } else {
                return Err(format!("ERR Unsupported rdb-filter-only option: {}", String::from_utf8_lossy(&f)));
            }
        }
        Ok(())
    }
}

/// `REPLCONF rdb-only <0|1>` (Valkey's getRangeLongFromObjectOrReply over 0..=1).
pub fn parse_rdb_only(value: &[u8]) -> Result<bool, &'static str> {
    match forkv_keyspace::value::parse_canonical_i64(value) {
        None => Err("ERR value is not an integer or out of range"),
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(_) => Err("ERR value is out of range, value must between 0 and 1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdb_only_takes_0_or_1_as_valkey_words_it() {
        assert_eq!(parse_rdb_only(b"1"), Ok(true));
        assert_eq!(parse_rdb_only(b"0"), Ok(false));
        assert_eq!(parse_rdb_only(b"2"), Err("ERR value is out of range, value must between 0 and 1"));
        assert_eq!(parse_rdb_only(b"-1"), Err("ERR value is out of range, value must between 0 and 1"));
        for bad in [&b"abc"[..], b"01", b" 1", b""] {
            assert_eq!(parse_rdb_only(bad), Err("ERR value is not an integer or out of range"), "{bad:?}");
        }
    }

    #[test]
    fn filter_only_keeps_what_its_filters_name() {
        let mut f = RdbFilter::default();
        assert!(!f.filtered());
        assert_eq!(f.set_filter_only(b""), Ok(()));
        assert_eq!(f, RdbFilter { exclude_data: true, exclude_functions: true });
        let mut f = RdbFilter::default();
        assert_eq!(f.set_filter_only(b"FUNCTIONS  functions"), Ok(()));
        assert_eq!(f, RdbFilter { exclude_data: true, exclude_functions: false });
        assert!(f.filtered());
        let mut f = RdbFilter::default();
        assert_eq!(f.set_filter_only(b"functions \"a b\""), Err("ERR Unsupported rdb-filter-only option: a b".into()));
        assert_eq!(f, RdbFilter { exclude_data: true, exclude_functions: false }, "set before the bad filter, as Valkey");
        assert_eq!(RdbFilter::default().set_filter_only(b"\"unbalanced"), Err("ERR Missing rdb-filter-only values".into()));
    }
}
