//! Rewrite -> load round trips, and a whole rewrite cycle with a crash at every step.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::{dump_keyspace, now_ms, sample_keyspace, Applier, TempDir};
use forkv_aof::dir::{self, PersistStep};
use forkv_aof::manifest::{self, Manifest};
use forkv_aof::{load_aof_dir, rewrite_keyspace_as_commands, LoadOptions, LoadStatus};

const P: &str = "appendonly.aof";
const D: &str = "appendonlydir";

fn load(work: &Path) -> (Applier, forkv_aof::LoadReport) {
    let mut a = Applier::new();
    let opts = LoadOptions {
        aof_load_truncated: false,
        upgrade_legacy: true,
    };
    let rep = load_aof_dir(work, D, P, opts, &mut a).unwrap_or_else(|e| panic!("{e}"));
    (a, rep)
}

fn rewrite_bytes(ks: &forkv_keyspace::Keyspace, now: i64) -> Vec<u8> {
    let mut out = Vec::new();
    rewrite_keyspace_as_commands(&mut out, ks, now, &mut |_| Ok(())).unwrap();
    out
}

#[test]
fn rewrite_output_reloads_to_an_equal_keyspace() {
    let now = now_ms();
    let ks = sample_keyspace(now);
    let t = TempDir::new("rt");
    let work = t.path();
    let dir = dir::aof_dir(work, D);
    fs::create_dir(&dir).unwrap();
    let mut m = Manifest::default();
    let base = m.next_base(P, false);
    let n = {
        let mut f = std::io::BufWriter::new(fs::File::create(dir.join(&base)).unwrap());
        rewrite_keyspace_as_commands(&mut f, &ks, now, &mut |_| Ok(())).unwrap()
    };
    assert_eq!(n, 13, "all keys but the expired one");
    dir::persist_manifest(&dir, P, &m).unwrap();

    let (a, rep) = load(work);
    assert_eq!(rep.status, LoadStatus::Ok);
    let mut want = dump_keyspace(&ks);
    want.remove(&(0, b"expired".to_vec()));
    assert_eq!(dump_keyspace(&a.ks), want);
    // Deterministic for the same keyspace.
    assert_eq!(rewrite_bytes(&ks, now), fs::read(dir.join(&base)).unwrap());
}

/// Writes `cmds` (as SET k v) to an incr file.
fn append_sets(dir: &Path, name: &str, pairs: &[(&str, &str)]) {
    let mut out = Vec::new();
    for (k, v) in pairs {
        forkv_aof::encode_command(&mut out, &[b"SET", k.as_bytes(), v.as_bytes()]);
    }
    let mut data = fs::read(dir.join(name)).unwrap_or_default();
    data.extend_from_slice(&out);
    fs::write(dir.join(name), data).unwrap();
}

fn keys(a: &Applier) -> Vec<String> {
    dump_keyspace(&a.ks)
        .keys()
        .map(|(_, k)| String::from_utf8_lossy(k).into_owned())
        .collect()
}

#[test]
fn rewrite_cycle_survives_a_crash_at_every_step() {
    let t = TempDir::new("cycle");
    let work = t.path();
    let dir = dir::aof_dir(work, D);
    let mut m = Manifest::default();
    // Server start: base 1 (empty dataset) + incr 1, then writes k1.
    let (f, _) = dir::open_on_server_start(work, D, P, &mut m, false, &mut |_| Ok(())).unwrap();
    drop(f);
    append_sets(&dir, &m.last_incr().unwrap().name, &[("k1", "1")]);
    assert_eq!(keys(&load(work).0), ["k1"]);

    // Rewrite starts. Crash A: new incr file created, manifest not switched yet.
    let (m2, incr2) = m.start_rewrite(P);
    dir::create_incr(&dir, &incr2).unwrap();
    assert_eq!(keys(&load(work).0), ["k1"], "crash A");
    // Crash A': temp manifest written but not renamed.
    let r = dir::persist_manifest_with(&dir, P, &m2, &mut |s| {
        if s == PersistStep::Synced {
            Err(std::io::Error::other("crash"))
        } else {
            Ok(())
        }
    });
    assert!(r.is_err());
    assert_eq!(keys(&load(work).0), ["k1"], "crash A'");
    dir::persist_manifest(&dir, P, &m2).unwrap();
    // Writes during the rewrite go to incr 2.
    append_sets(&dir, &incr2, &[("k2", "2")]);
    assert_eq!(keys(&load(work).0), ["k1", "k2"]);

    // The child snapshots {k1} into the temp file. Crash B: before the rename.
    let (snap, _) = load(work);
    let mut ks_at_fork = snap.ks;
    ks_at_fork.delete(0, b"k2");
    let tmp = work.join(manifest::temp_rewrite_bg_name(4242));
    dir::write_file_synced(&tmp, &mut |w| {
        rewrite_keyspace_as_commands(w, &ks_at_fork, 0, &mut |_| Ok(())).map(|_| ())
    })
    .unwrap();
    assert_eq!(keys(&load(work).0), ["k1", "k2"], "crash B");

    // Crash C: temp renamed to base 2, manifest not switched.
    let sw = m2.finish_rewrite(P, false, true, false);
    fs::copy(&tmp, dir.join(&sw.new_base)).unwrap();
    assert_eq!(keys(&load(work).0), ["k1", "k2"], "crash C");
    fs::remove_file(dir.join(&sw.new_base)).unwrap();

    // The real switch; crash D: before history deletion.
    let fin = dir::finish_rewrite(work, &dir, P, &m2, 4242, false, true, false).unwrap();
    let (a, rep) = load(work);
    assert_eq!(keys(&a), ["k1", "k2"], "crash D");
    assert_eq!(rep.files_loaded, 2);
    assert_eq!(
        rep.manifest.base.as_ref().unwrap().name,
        "appendonly.aof.2.base.aof"
    );

    // History deleted; more writes.
    let mut m3 = fin.manifest;
    assert!(dir::delete_history(&dir, P, &mut m3).unwrap().is_empty());
    append_sets(&dir, &incr2, &[("k3", "3")]);
    let (a, rep) = load(work);
    assert_eq!(keys(&a), ["k1", "k2", "k3"]);
    assert!(rep.manifest.history.is_empty());
    assert!(!dir.join("appendonly.aof.1.base.aof").exists());
    assert!(!dir.join("appendonly.aof.1.incr.aof").exists());
}
