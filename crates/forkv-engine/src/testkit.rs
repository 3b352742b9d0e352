//! Helpers the engine's unit tests share: commands as RESP bytes, and running one.

use crate::{Engine, Outcome};

/// `args` as one RESP2 multi-bulk command, the bytes a client would send.
pub(crate) fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Runs `args` for client 1, which must complete (not block), and returns its reply as text.
pub(crate) fn run(e: &mut Engine, args: &[&str]) -> String {
    e.clear_reply();
    assert_eq!(e.feed(1, &cmd(args)), Outcome::Done);
    String::from_utf8_lossy(e.reply()).into_owned()
}
