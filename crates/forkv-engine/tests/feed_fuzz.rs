//! Random byte streams through the whole engine: every feed must return (no hang, no
//! panic) and a protocol error must close the connection.

use forkv_engine::{Engine, Outcome};

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_streams_terminate_without_panicking() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut engine = Engine::new(16);
    for conn in 0..2000u64 {
        engine.add_client(conn);
        let len = (xorshift(&mut seed) % 3000) as usize + 1;
        let mut data: Vec<u8> = (0..len).map(|_| xorshift(&mut seed) as u8).collect();
        match conn % 4 {
            0 => data[0] = b'*',
            1 => data.iter_mut().take(32).for_each(|b| *b = 0),
            2 => data.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n"),
            _ => {}
        }
        // Feed in random-sized pieces, as sockets deliver them.
        let mut at = 0;
        while at < data.len() {
            let n = ((xorshift(&mut seed) % 700) as usize + 1).min(data.len() - at);
            let out = engine.feed(conn, &data[at..at + n]);
            engine.clear_reply();
            at += n;
            if out == Outcome::Close {
                break;
            }
            if let Outcome::Host(_) = out {
                let _ = engine.resume(conn, b"+OK\r\n");
                engine.clear_reply();
            }
        }
        engine.remove_client(conn);
    }
    // The engine is still usable.
    engine.add_client(99_999);
    assert_eq!(engine.feed(99_999, b"*1\r\n$4\r\nPING\r\n"), Outcome::Done);
    assert_eq!(engine.reply(), b"+PONG\r\n");
}
