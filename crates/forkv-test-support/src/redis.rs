//! A real redis-server for interop tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::resp::{Client, Reply};

/// The path of a Redis tool (`redis-server`, `redis-check-rdb`, ...) found in PATH. A
/// missing tool fails the test with what to install: CI installs them, and a skipped
/// interop test would hide a broken check.
pub fn redis_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    match found {
        Some(p) => p,
        None => panic!(
            "`{name}` not found in PATH. These interop tests need real Redis 7 tools \
             (Debian: apt-get install redis-server redis-tools); they never skip."
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A redis-server child on a free loopback port, working in `dir` (no save rules, no AOF
/// unless `extra` says so, DEBUG allowed), stopped on drop by `SHUTDOWN NOSAVE` or, if
/// it does not exit, by its own PID.
pub struct RedisServer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// Its working directory.
    pub dir: PathBuf,
    /// Its log file.
    pub log: PathBuf,
}

impl RedisServer {
    /// Starts redis-server in `dir` with `extra` arguments appended (they win over the
    /// defaults, e.g. `--dbfilename x.rdb` or `--appendonly yes`) and waits until it
    /// answers PING (after loading). Retries on another port if the chosen one was taken.
    pub fn start(dir: &Path, extra: &[&str]) -> RedisServer {
        let bin = redis_tool("redis-server");
        let log = dir.join("redis-test.log");
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--enable-debug-command", "local"])
                .arg("--dir")
                .arg(dir)
                .arg("--logfile")
                .arg(&log)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut srv = RedisServer { child, port, dir: dir.to_path_buf(), log: log.clone() };
            match srv.wait_ready() {
                Ok(()) => return srv,
                Err(e) => last_err = e, // dropped: stopped by its PID
            }
        }
        panic!("could not start redis-server: {last_err}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("redis-server exited early ({status}); log:\n{}", self.log_text()));
            }
            if let Ok(mut c) = Client::connect(self.port) {
                // It answers -LOADING while it reads its files.
                if c.cmd(&["PING"]) == Reply::Status("PONG".into()) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("redis-server not ready after 20 s; log:\n{}", self.log_text()))
    }

    /// A new connection.
    pub fn client(&self) -> Client {
        Client::connect(self.port).unwrap()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `SHUTDOWN NOSAVE`, then waits for the process to exit (kills it by its PID after
    /// 10 s).
    pub fn shutdown(&mut self) {
        if let Ok(mut c) = Client::connect(self.port) {
            c.send(&[b"SHUTDOWN", b"NOSAVE"]);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.shutdown();
        }
    }
}
