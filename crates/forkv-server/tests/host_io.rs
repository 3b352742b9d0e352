//! The read path's hand-over in bytes (host_io.rs): a step's replies and the result slot,
//! and the deliveries packed as records into a buffer too small for all of them.

use forkv_server::host_io::{DeliveryRecords, DELIVERY_HEADER};
use forkv_server::Server;
use forkv_test_support::command as cmd;

fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[test]
fn a_step_hands_its_replies_and_the_slot_over() {
    let mut s = Server::new(16);
    s.add_client(1);
    let outcome = s.feed(1, &cmd(&["SET", "k", "v"]));
    let (status, _) = s.step_status(outcome);
    let (mut out, mut slot) = (vec![0u8; 64], vec![0u8; 16]);
    let r = s.hand_over_into(1, status, -1, &mut out, &mut slot);
    assert_eq!(r, 5.0 * 256.0 + f64::from(status), "+OK\\r\\n is left for the host");
    assert_eq!(&out[..5], b"+OK\r\n");
    assert!(s.reply().is_empty(), "copied out");
    assert_eq!(f64_at(&slot, 0), s.client_memory(1) as f64);
    assert_eq!(f64_at(&slot, 8), 0.0, "nothing sent without a descriptor");

    // Longer than the reply buffer: nothing copied, the reply waits for takeReply().
    let outcome = s.feed(1, &cmd(&["GET", "k"]));
    let (status, _) = s.step_status(outcome);
    let mut tiny = vec![0u8; 2];
    assert_eq!(s.hand_over_into(1, status, -1, &mut tiny, &mut slot), 7.0 * 256.0 + f64::from(status));
    assert_eq!(s.reply(), b"$1\r\nv\r\n");
    assert_eq!(s.hand_over_into(1, status, -1, &mut out, &mut [0u8; 8]), -1.0, "a short slot");
}

#[test]
fn deliveries_are_packed_as_records_until_the_buffer_is_full() {
    let mut s = Server::new(16);
    for id in 1..=3 {
        s.add_client(id);
    }
    for id in [1, 2] {
        s.feed(id, &cmd(&["SUBSCRIBE", "ch"]));
        s.clear_reply();
    }
    s.feed(3, &cmd(&["PUBLISH", "ch", "hello"]));
    s.clear_reply();
    let message = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
    let one = DELIVERY_HEADER + message.len();
    let mut records = DeliveryRecords::default();
    let mut out = vec![0u8; one + 10];
    assert_eq!(records.pack_into(&mut s, &mut out), one as f64 * 2.0 + 1.0, "one fits, one remains");
    assert_eq!(u32::from_le_bytes(out[..4].try_into().expect("id")), 1);
    assert_eq!(u32::from_le_bytes(out[4..8].try_into().expect("len")) as usize, message.len());
    assert_eq!(f64::from_le_bytes(out[8..16].try_into().expect("memory")), s.client_memory(1) as f64);
    assert_eq!(&out[DELIVERY_HEADER..one], message);

    let mut tiny = vec![0u8; 4];
    assert_eq!(records.pack_into(&mut s, &mut tiny), 1.0, "none fits: more, and nothing written");
    let rest = records.take_all(&mut s);
    assert_eq!(rest, vec![(2, message.to_vec())], "the one left over, first");
    assert_eq!(records.pack_into(&mut s, &mut out), 0.0, "nothing waits");
}
