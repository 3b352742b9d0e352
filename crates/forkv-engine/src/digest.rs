//! Dataset digests for DEBUG DIGEST and DEBUG DIGEST-VALUE (after Valkey's `debug.c`):
//! order-independent across keys (per-key digests are XORed), order-dependent within
//! lists and sorted sets, and covering TTLs, so any change to the data changes the digest.
//! An empty dataset digests to forty zeros.

use forkv_keyspace::{Keyspace, UnixMs, Value};
use sha1_smol::Sha1;

/// 20-byte digest.
pub type Digest = [u8; 20];

/// `digest = SHA1(digest XOR data)`, order-dependent mixing.
fn mix(digest: &mut Digest, data: &[u8]) {
    let mut h = Sha1::new();
    h.update(digest);
    h.update(data);
    *digest = h.digest().bytes();
}

/// `digest ^= SHA1(data)`, order-independent mixing.
fn xor(digest: &mut Digest, data: &[u8]) {
    let d = Sha1::from(data).digest().bytes();
    for (a, b) in digest.iter_mut().zip(d.iter()) {
        *a ^= b;
    }
}

/// Digest of one key's value and TTL.
pub fn value_digest(value: &Value, expire: Option<UnixMs>) -> Digest {
    let mut d = [0u8; 20];
    match value {
        Value::Str(s) => mix(&mut d, &s.as_bytes()),
        Value::List(l) => l.iter().for_each(|i| mix(&mut d, &i)),
        Value::Set(s) => s.iter().for_each(|m| xor(&mut d, m)),
        Value::Hash(h) => h.iter().for_each(|(f, v)| {
            let mut e = [0u8; 20];
            mix(&mut e, f);
            mix(&mut e, v);
            xor(&mut d, &e);
        }),
        Value::ZSet(z) => z.iter().for_each(|(m, s)| {
            mix(&mut d, m);
            mix(&mut d, &s.to_bits().to_le_bytes());
        }),
        Value::Stream(s) => stream_digest(&mut d, s),
    }
    mix(&mut d, value.type_name().as_bytes());
    if let Some(at) = expire {
        mix(&mut d, b"!!expire!!");
        mix(&mut d, &at.to_le_bytes());
    }
    d
}

/// Entries in order, then the metadata and groups (as Valkey's `xorObjectDigest` covers
/// the listpacks and the group state).
fn stream_digest(d: &mut Digest, s: &forkv_keyspace::StreamValue) {
    use forkv_keyspace::StreamId;
    for e in s.range(StreamId::MIN, StreamId::MAX, false) {
        mix(d, e.id.to_string().as_bytes());
        for (f, v) in e.pairs() {
            mix(d, f);
            mix(d, v);
        }
    }
    mix(d, format!("{} {} {} {}", s.last_id, s.first_id, s.max_deleted_id, s.entries_added).as_bytes());
    for (name, g) in &s.groups {
        mix(d, name);
        mix(d, format!("{} {}", g.last_id, g.entries_read).as_bytes());
        for (id, n) in &g.pel {
            mix(d, format!("{id} {} {}", n.delivery_time, n.delivery_count).as_bytes());
            mix(d, &n.consumer);
        }
        // Consumer seen/active times are each server's own clock (a replica stamps them
        // when it applies the XCLAIM), so they stay out: a primary and its replica must
        // have the same digest.
        for cname in g.consumers.keys() {
            mix(d, cname);
        }
    }
}

/// Digest of every database.
pub fn dataset_digest(ks: &Keyspace) -> Digest {
    let mut total = [0u8; 20];
    for i in 0..ks.db_count() {
        let db = ks.db(i);
        if db.keys.is_empty() {
            continue;
        }
        mix(&mut total, &(i as u32).to_be_bytes());
        for (k, v) in db.keys.iter_ref() {
            let mut kd = [0u8; 20];
            mix(&mut kd, k);
            let vd = value_digest(&v, db.expire_of(k));
            mix(&mut kd, &vd);
            xor(&mut total, &kd);
        }
    }
    total
}

/// Lowercase hex.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
