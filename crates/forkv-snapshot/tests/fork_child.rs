//! Forks from inside the (multi-threaded) test harness: the same situation as a Node process.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use forkv_snapshot::{
    active_child_pid, spawn_child, total_forks, write_file_atomically,
    write_file_atomically_with_buffer, ChildCtx, ChildHandle, ChildInfo, ChildKind, ChildOutcome,
    ForkError, LogLevel,
};

/// One child per process at a time: forking tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("forkv-snapshot-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A job that says "ready" and then sleeps (up to 10 s) until killed.
fn sleeper(ctx: &mut ChildCtx) -> Result<(), String> {
    ctx.log(LogLevel::Notice, "ready");
    for _ in 0..1000 {
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Drains until the child logs `needle`; returns everything drained.
fn wait_for_log(h: &mut ChildHandle, needle: &str) -> Vec<ChildInfo> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    loop {
        let batch = h.drain_info();
        let found = batch
            .iter()
            .any(|i| matches!(i, ChildInfo::Log { message, .. } if message == needle));
        seen.extend(batch);
        if found {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "child never logged {needle:?}: {seen:?}"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

fn reap(h: &mut ChildHandle) -> forkv_snapshot::ChildExit {
    h.wait_timeout(Duration::from_secs(5))
        .expect("child did not finish within 5 s")
}

fn logs(info: &[ChildInfo]) -> Vec<String> {
    info.iter()
        .filter_map(|i| match i {
            ChildInfo::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn proc_status_hex(pid: i32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn child_writes_file_atomically_and_exits_ok() {
    let _g = serial();
    let dir = tmpdir("ok");
    fs::write(dir.join("dump.rdb"), b"old").unwrap();
    let forks_before = total_forks();
    // The write buffer is allocated here, before the fork.
    let buffer = Vec::with_capacity(64 * 1024);
    let child_dir = dir.clone();
    let mut h = spawn_child(ChildKind::Rdb, move |ctx| {
        let temp = format!("temp-{}.rdb", ctx.pid());
        ctx.set_keys_total(3);
        write_file_atomically_with_buffer(&child_dir, "dump.rdb", &temp, buffer, |w| {
            for k in 1..=3u64 {
                w.write_all(format!("key{k}\n").as_bytes())?;
                ctx.report_progress(k);
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        ctx.log(LogLevel::Notice, "DB saved on disk");
        Ok(())
    })
    .unwrap();
    assert_eq!(active_child_pid(), Some(h.pid()));
    assert_eq!(total_forks(), forks_before + 1);
    assert!(h.fork_usec() > 0);

    let exit = reap(&mut h);
    assert_eq!(exit.outcome, ChildOutcome::Ok, "{exit:?}");
    assert!(exit.is_ok());
    assert_eq!(exit.keys_processed, 3);
    assert_eq!(h.stats().keys_total, 3);
    let progress: Vec<_> = exit
        .info
        .iter()
        .filter_map(|i| match i {
            ChildInfo::Progress(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    // The first report goes out at once; the rest fall inside the one-second interval.
    assert_eq!(progress.len(), 1, "{:?}", exit.info);
    assert_eq!(progress[0].keys_processed, 1);
    assert_eq!(progress[0].keys_total, 3);
    let lines = logs(&exit.info);
    assert!(lines.contains(&"DB saved on disk".to_string()), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Fork CoW for RDB: current ")
                && l.contains(" MB, peak ")
                && l.ends_with(" MB")),
        "{lines:?}"
    );
    assert!(matches!(exit.info.last(), Some(ChildInfo::Done(d)) if d.ok));

    assert_eq!(
        fs::read(dir.join("dump.rdb")).unwrap(),
        b"key1\nkey2\nkey3\n"
    );
    assert!(!dir.join(format!("temp-{}.rdb", exit.pid)).exists());
    assert_eq!(active_child_pid(), None);
    assert!(h.try_reap().is_none(), "reaped only once");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn job_error_is_reported_and_temp_file_removed() {
    let _g = serial();
    let dir = tmpdir("err");
    fs::write(dir.join("dump.rdb"), b"old").unwrap();
    let child_dir = dir.clone();
    let mut h = spawn_child(ChildKind::AofRewrite, move |ctx| {
        let temp = format!("temp-{}.rdb", ctx.pid());
        write_file_atomically(&child_dir, "dump.rdb", &temp, 4096, |w| {
            w.write_all(b"half a snapshot")?;
            Err(io::Error::other("disk on fire"))
        })
        .map_err(|e| e.to_string())?;
        Ok(())
    })
    .unwrap();
    let exit = reap(&mut h);
    match &exit.outcome {
        ChildOutcome::Failed { exit_code, message } => {
            assert_eq!(*exit_code, 1);
            assert!(message.contains("disk on fire"), "{message}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(matches!(exit.info.last(), Some(ChildInfo::Done(d)) if !d.ok));
    assert_eq!(fs::read(dir.join("dump.rdb")).unwrap(), b"old");
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "temp file left behind"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigkill_reads_as_killed_by_signal() {
    let _g = serial();
    let mut h = spawn_child(ChildKind::Rdb, sleeper).unwrap();
    wait_for_log(&mut h, "ready");
    h.signal(libc::SIGKILL).unwrap();
    let exit = reap(&mut h);
    assert_eq!(exit.outcome, ChildOutcome::KilledBySignal(libc::SIGKILL));
    assert_eq!(active_child_pid(), None);
}

#[test]
fn kill_cancel_reads_as_cancelled() {
    let _g = serial();
    let mut h = spawn_child(ChildKind::Rdb, sleeper).unwrap();
    wait_for_log(&mut h, "ready");
    h.kill_cancel().unwrap();
    let exit = reap(&mut h);
    assert_eq!(exit.outcome, ChildOutcome::Cancelled);
    assert!(exit.duration < Duration::from_secs(5));
    // A no-op once reaped: never signals a recycled pid.
    h.kill_cancel().unwrap();
}

#[test]
fn second_spawn_is_refused_while_a_child_lives() {
    let _g = serial();
    let mut first = spawn_child(ChildKind::Rdb, sleeper).unwrap();
    let err = spawn_child(ChildKind::AofRewrite, |_| Ok(())).unwrap_err();
    assert!(
        matches!(err, ForkError::ChildExists { pid } if pid == first.pid()),
        "{err:?}"
    );
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    first.kill_cancel().unwrap();
    assert_eq!(reap(&mut first).outcome, ChildOutcome::Cancelled);
    // The slot is free again once reaped.
    let mut next = spawn_child(ChildKind::AofRewrite, |_| Ok(())).unwrap();
    assert_eq!(reap(&mut next).outcome, ChildOutcome::Ok);
}

#[test]
fn child_holds_no_inherited_fds() {
    let _g = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let file = fs::File::open("/proc/self/status").unwrap();
    let mut h = spawn_child(ChildKind::Rdb, sleeper).unwrap();
    wait_for_log(&mut h, "ready");

    let mut extra = Vec::new();
    for entry in fs::read_dir(format!("/proc/{}/fd", h.pid())).unwrap() {
        let entry = entry.unwrap();
        let fd: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
        if fd > 2 {
            extra.push((fd, fs::read_link(entry.path()).unwrap()));
        }
    }
    assert_eq!(extra.len(), 1, "child holds {extra:?}");
    assert_eq!(extra[0].0, 3);
    assert!(
        extra[0].1.to_string_lossy().starts_with("pipe:"),
        "{extra:?}"
    );

    // With the parent's copy closed, nobody listens: the child did not keep the socket.
    drop(listener);
    drop(file);
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);

    h.kill_cancel().unwrap();
    assert_eq!(reap(&mut h).outcome, ChildOutcome::Cancelled);
}

extern "C" fn noop_handler(_: libc::c_int) {}

#[test]
fn child_has_default_signal_dispositions() {
    let _g = serial();
    for sig in [libc::SIGUSR2, libc::SIGWINCH] {
        // SAFETY: installs a handler that does nothing, in the test process.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = noop_handler as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
        }
    }
    let me = std::process::id() as i32;
    let parent_caught = proc_status_hex(me, "SigCgt");
    assert_ne!(parent_caught & (1 << (libc::SIGUSR2 - 1)), 0);

    let mut h = spawn_child(ChildKind::Rdb, sleeper).unwrap();
    wait_for_log(&mut h, "ready");
    let pid = h.pid();
    // glibc keeps handlers for its reserved signals 32 (SIGCANCEL) and 33 (SIGSETXID) and
    // refuses to let them be changed; they are internal to glibc and write to no shared pipe.
    let glibc_reserved = (1u64 << 31) | (1u64 << 32);
    assert_eq!(
        proc_status_hex(pid, "SigCgt") & !glibc_reserved,
        0,
        "child catches signals"
    );
    assert_eq!(
        proc_status_hex(pid, "SigIgn") & !glibc_reserved,
        1 << (libc::SIGPIPE - 1)
    );
    assert_eq!(proc_status_hex(pid, "SigBlk"), 0);
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim_end(),
        "forkv-rdb-bgsav"
    );
    // The parent's mask was restored after the fork.
    assert_eq!(
        proc_status_hex(me, "SigBlk") & (1 << (libc::SIGUSR2 - 1)),
        0
    );

    h.kill_cancel().unwrap();
    assert_eq!(reap(&mut h).outcome, ChildOutcome::Cancelled);
}

#[test]
fn copy_on_write_grows_when_the_parent_writes() {
    const SIZE: usize = 64 << 20;
    let _g = serial();
    // The child reports until the parent drops this marker (or 20 s pass): a loaded
    // machine may deschedule the parent for a long time between two samples.
    let marker = std::env::temp_dir().join(format!("forkv-cow-done-{}", std::process::id()));
    let _ = fs::remove_file(&marker);
    let mut big = vec![1u8; SIZE]; // written, so resident and dirty before the fork
    let child_marker = marker.clone();
    let mut h = spawn_child(ChildKind::Rdb, move |ctx| {
        ctx.set_progress_interval(Duration::from_millis(50));
        let end = Instant::now() + Duration::from_secs(20);
        let mut k = 0u64;
        while !child_marker.exists() && Instant::now() < end {
            ctx.report_progress(k);
            k += 1;
            thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    })
    .unwrap();

    // Wait for the first report (the baseline), then dirty every page of the buffer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut info = Vec::new();
    while !info.iter().any(|i| matches!(i, ChildInfo::Progress(_))) {
        assert!(Instant::now() < deadline);
        info.extend(h.drain_info());
        thread::sleep(Duration::from_millis(2));
    }
    let baseline = h.stats().cow_bytes;
    for i in (0..SIZE).step_by(4096) {
        big[i] = 2;
    }
    std::hint::black_box(&big);
    // Let the child sample the grown copy-on-write at least once, then let it end.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.stats().cow_bytes < baseline + (60 << 20) && Instant::now() < deadline {
        info.extend(h.drain_info());
        thread::sleep(Duration::from_millis(10));
    }
    fs::write(&marker, b"").unwrap();

    let exit = reap(&mut h);
    let _ = fs::remove_file(&marker);
    assert_eq!(exit.outcome, ChildOutcome::Ok);
    info.extend(exit.info.iter().cloned());
    let max_progress = info
        .iter()
        .filter_map(|i| match i {
            ChildInfo::Progress(p) => Some(p.cow_bytes),
            _ => None,
        })
        .max()
        .unwrap();
    let grown = 60 << 20;
    assert!(
        max_progress >= baseline + grown,
        "progress COW {max_progress} vs baseline {baseline}"
    );
    assert!(exit.cow_peak >= baseline + grown, "{}", exit.cow_peak);
    assert!(exit.cow_bytes >= grown);
    // The final line (notice level); verbose ones accompany progress samples.
    let cow_line = info
        .iter()
        .find_map(|i| match i {
            ChildInfo::Log {
                level: LogLevel::Notice,
                message,
            } if message.starts_with("Fork CoW for RDB: current ") => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    let mb: u64 = cow_line
        .trim_start_matches("Fork CoW for RDB: current ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(mb >= 60, "{cow_line}");
}

#[test]
fn child_does_not_touch_locks_held_by_other_threads() {
    let _g = serial();
    let shared = Arc::new(Mutex::new(0u64));
    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            let _m = shared.lock().unwrap();
            let _out = io::stdout().lock();
            let _err = io::stderr().lock();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(10));
        })
    };
    locked_rx.recv().unwrap();

    // The child logs, samples COW, and panics: none of it may need those locks (the default
    // panic hook would block on stderr's).
    let mut h = spawn_child(ChildKind::Rdb, |ctx| {
        ctx.log(LogLevel::Warning, "about to panic");
        ctx.report_progress(1);
        panic!("deliberate");
    })
    .unwrap();
    let exit = h.wait_timeout(Duration::from_secs(5));
    release_tx.send(()).unwrap();
    holder.join().unwrap();

    let exit = exit.expect("child deadlocked");
    match &exit.outcome {
        ChildOutcome::Failed { exit_code, message } => {
            assert_eq!(*exit_code, 1);
            assert_eq!(message, "child panicked: deliberate");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    let lines = logs(&exit.info);
    assert!(lines.contains(&"about to panic".to_string()), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("fork child panicked at ") && l.contains("deliberate")),
        "{lines:?}"
    );
}

#[test]
fn unwritable_directory_is_a_clean_error() {
    let _g = serial();
    let dir = tmpdir("ro");
    set_mode(&dir, 0o555);
    let child_dir = dir.clone();
    let mut h = spawn_child(ChildKind::Rdb, move |ctx| {
        // Root ignores permissions: drop to "nobody" in the child (single-threaded here, so the
        // raw syscall changes the whole process).
        // SAFETY: geteuid/syscall only affect this child process.
        unsafe {
            if libc::geteuid() == 0 && libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) != 0
            {
                return Err("setresuid failed".into());
            }
        }
        let temp = format!("temp-{}.rdb", ctx.pid());
        write_file_atomically(&child_dir, "dump.rdb", &temp, 4096, |w| w.write_all(b"x"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .unwrap();
    let exit = reap(&mut h);
    let expected = format!(
        "Failed opening the temp file temp-{}.rdb (in directory {}) for saving: Permission denied",
        exit.pid,
        dir.display()
    );
    assert_eq!(
        exit.outcome,
        ChildOutcome::Failed {
            exit_code: 1,
            message: expected
        }
    );
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        0,
        "temp file left behind"
    );
    set_mode(&dir, 0o755);
    fs::remove_dir_all(&dir).unwrap();
}

fn set_mode(dir: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn dropping_an_unreaped_handle_kills_and_reaps() {
    let _g = serial();
    let mut h = spawn_child(ChildKind::Rdb, sleeper).unwrap();
    wait_for_log(&mut h, "ready");
    let pid = h.pid();
    drop(h);
    assert_eq!(active_child_pid(), None);
    // SAFETY: signal 0 only checks whether the pid exists.
    let rc = unsafe { libc::kill(pid, 0) };
    assert_eq!(rc, -1, "child (or its zombie) still exists");
    assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::ESRCH));
}

/// `spawn_child_with_output`: the job writes into the pipe the parent reads (fd 4 in the
/// child), other inherited descriptors are closed, and the parent sees EOF once the child
/// is done because its own copy of the write end was closed at the fork.
#[test]
fn output_pipe_reaches_the_parent_and_ends_with_the_child() {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let _g = serial();
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors this test then owns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here only.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let extra = fs::File::open("/dev/null").unwrap();
    let extra_fd = extra.as_raw_fd();
    let mut h = forkv_snapshot::spawn_child_with_output(ChildKind::Rdb, write_end, move |ctx| {
        let out = ctx.output_fd().ok_or("no output fd")?;
        // SAFETY: F_GETFD only queries the descriptor table.
        let extra_open = unsafe { libc::fcntl(extra_fd, libc::F_GETFD) } != -1;
        let msg = format!("fd={out} extra_open={extra_open}");
        // SAFETY: `out` is the open write end of the pipe; `msg` is valid for its length.
        let n = unsafe { libc::write(out, msg.as_ptr().cast(), msg.len()) };
        if n == msg.len() as isize {
            Ok(())
        } else {
            Err("short write".into())
        }
    })
    .unwrap();
    let mut got = String::new();
    fs::File::from(read_end).read_to_string(&mut got).unwrap();
    assert_eq!(got, "fd=4 extra_open=false");
    assert_eq!(reap(&mut h).outcome, ChildOutcome::Ok);
    drop(extra);
}

/// `spawn_session_child` (a forked Lua debugging session): it runs beside the job slot's
/// child (a BGSAVE may be running, another session may start), serves the socket it was
/// given at fd 4 while the parent's own descriptor stays open in the parent, ignores
/// SIGTERM, and is reaped like the others.
#[test]
fn session_child_takes_no_slot_and_keeps_its_socket() {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::net::UnixStream;
    let _g = serial();
    let mut job = spawn_child(ChildKind::Rdb, sleeper).unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor of this process.
    let dup = unsafe { libc::fcntl(ours.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    assert!(dup >= 0);
    // SAFETY: `dup` was just created and is owned here only.
    let dup = unsafe { OwnedFd::from_raw_fd(dup) };
    let mut session = forkv_snapshot::spawn_session_child(ChildKind::Ldb, dup, |ctx| {
        let fd = ctx.output_fd().ok_or("no socket")?;
        ctx.log(LogLevel::Notice, "session up");
        let mut buf = [0u8; 16];
        // SAFETY: `buf` is writable for its length; `fd` is the socket.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        let n = usize::try_from(n).map_err(|_| "read failed")?;
        let mut reply = b"echo:".to_vec();
        reply.extend_from_slice(&buf[..n]);
        // SAFETY: `reply` is valid for its length.
        unsafe { libc::write(fd, reply.as_ptr().cast(), reply.len()) };
        Ok(())
    })
    .unwrap();
    assert_eq!(active_child_pid(), Some(job.pid()), "the session did not take the slot");
    wait_for_log(&mut session, "session up");
    // SIGTERM is the parent's to handle: the session ignores it.
    session.signal(libc::SIGTERM).unwrap();
    // The parent forgets its copy without a shutdown: the child still talks to the peer.
    drop(ours);
    peer.write_all(b"hi").unwrap();
    let mut got = String::new();
    peer.read_to_string(&mut got).unwrap();
    assert_eq!(got, "echo:hi");
    assert_eq!(reap(&mut session).outcome, ChildOutcome::Ok);
    job.kill_cancel().unwrap();
    assert_eq!(reap(&mut job).outcome, ChildOutcome::Cancelled);
}
