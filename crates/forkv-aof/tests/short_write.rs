//! A real short write (RLIMIT_FSIZE makes write(2) stop part-way): the partial command is
//! truncated away and the data stays buffered until a later flush succeeds. Own test binary:
//! the limit is process-wide.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, OpenOptions};

use common::TempDir;
use forkv_aof::{AofWriter, FsyncPolicy};

fn set_fsize_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid, initialised struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut cur), 0);
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: cur.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &new), 0);
    }
    cur.rlim_cur
}

#[test]
fn short_write_is_truncated_back_and_retried() {
    // SAFETY: ignoring SIGXFSZ so that exceeding the limit returns EFBIG instead of killing us.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let t = TempDir::new("short");
    let p = t.path().join("appendonly.aof.1.incr.aof");
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&p)
        .unwrap();
    let mut w = AofWriter::new(f, FsyncPolicy::EverySec, 0, 0, 0, 0);
    w.append(&[b'a'; 100]);
    assert_eq!(w.flush(false, 0, false).unwrap().written, 100);

    let old = set_fsize_limit(150);
    w.append(&[b'b'; 200]);
    let err = w.flush(false, 1, false).unwrap_err();
    assert!(!err.fatal);
    assert_eq!(
        err.error.raw_os_error(),
        Some(libc::ENOSPC),
        "{}",
        err.error
    );
    assert_eq!(
        fs::metadata(&p).unwrap().len(),
        100,
        "partial write truncated away"
    );
    assert_eq!(w.buffer_len(), 200);
    assert_eq!(w.last_write_error(), Some(libc::ENOSPC));
    assert_eq!((w.current_size(), w.last_incr_size()), (100, 100));

    set_fsize_limit(old);
    assert_eq!(w.flush(false, 2, false).unwrap().written, 200);
    assert_eq!(w.last_write_error(), None);
    let data = fs::read(&p).unwrap();
    assert_eq!(data.len(), 300);
    assert!(data[..100].iter().all(|&c| c == b'a') && data[100..].iter().all(|&c| c == b'b'));
}
