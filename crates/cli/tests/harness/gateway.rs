//! A `billhub up --base-port N` child process: the gateways on N (bill24), N+1
//! (collections), N+2 (va), N+3 (postpaid), over the database it is given. Its stdout and stderr
//! are appended to one log file (kept across restarts); dropping [`Gateways`] kills the child
//! and removes the log (kept when the test is panicking).

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The four dialects, in `billhub up` port order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Bill24,
    Collections,
    Va,
    Postpaid,
}

impl Dialect {
    pub const ALL: [Dialect; 4] = [
        Dialect::Bill24,
        Dialect::Collections,
        Dialect::Va,
        Dialect::Postpaid,
    ];

    /// The port offset from the base port.
    pub fn offset(self) -> u16 {
        match self {
            Dialect::Bill24 => 0,
            Dialect::Collections => 1,
            Dialect::Va => 2,
            Dialect::Postpaid => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Bill24 => "bill24",
            Dialect::Collections => "collections",
            Dialect::Va => "va",
            Dialect::Postpaid => "postpaid",
        }
    }
}

/// A running (or killed) `billhub up` child.
pub struct Gateways {
    child: Option<Child>,
    base_port: u16,
    db_url: String,
    master_key_hex: String,
    env: Vec<(String, String)>,
    log_path: PathBuf,
    /// How many times the child was started (1 after [`Gateways::spawn`]).
    pub starts: u32,
    /// How many times it was killed with SIGKILL.
    pub kills: u32,
}

static LOG_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A base port N with N..N+4 free on 127.0.0.1 (the five gateways), outside the defaults
/// (8080-8085) and outside the kernel's ephemeral range (so outgoing connections cannot hold
/// them): a candidate from a port the kernel gave (folded into 20000..32000), checked by
/// binding all five.
pub fn free_base_port() -> u16 {
    for _ in 0..200 {
        let Ok(probe) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = probe.local_addr() else {
            continue;
        };
        drop(probe);
        let base = 20_000 + (addr.port() % 12_000);
        // Five gateways and the console (`billhub up` puts it on base + 5).
        let all_free = (0..6u16).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no five free consecutive ports found");
}

impl Gateways {
    /// Starts `billhub up --base-port N` on free ports over `db_url`, with `BILLHUB_MASTER_KEY`
    /// `master_key_hex`, `BILLHUB_LOG=info`, `BILLHUB_LOG_FORMAT=json`, `BILLHUB_MIGRATE=false`
    /// and `extra_env` (which may override any of those), and waits (30 s) until every gateway's
    /// `/readyz` answers 200. Retries on other ports if the child exits during start (a port
    /// taken meanwhile).
    pub fn spawn(db_url: &str, master_key_hex: &str, extra_env: &[(&str, &str)]) -> Gateways {
        let seq = LOG_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log_path = std::env::temp_dir().join(format!(
            "billhub-gateways-{}-{seq}-{}.log",
            std::process::id(),
            OffsetNanos::now()
        ));
        let mut g = Gateways {
            child: None,
            base_port: 0,
            db_url: db_url.into(),
            master_key_hex: master_key_hex.into(),
            env: extra_env
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            log_path,
            starts: 0,
            kills: 0,
        };
        let mut last = String::new();
        for _ in 0..5 {
            g.base_port = free_base_port();
            g.start();
            match g.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return g,
                Err(e) => {
                    last = e;
                    g.kill9();
                }
            }
        }
        panic!(
            "billhub up never became ready: {last}\nlog {}:\n{}",
            g.log_path.display(),
            g.log_text()
        );
    }

    fn start(&mut self) {
        let log = self.open_log();
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("log {}: {e}", self.log_path.display()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_billhub"));
        cmd.args(["up", "--base-port", &self.base_port.to_string()])
            .env("BILLHUB_DATABASE_URL", &self.db_url)
            .env("BILLHUB_MASTER_KEY", &self.master_key_hex)
            .env("BILLHUB_LOG", "info")
            .env("BILLHUB_LOG_FORMAT", "json")
            .env("BILLHUB_MIGRATE", "false")
            .env(
                "BILLHUB_PUBLIC_URL",
                format!("http://127.0.0.1:{}", self.base_port),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start billhub up: {e}"));
        self.child = Some(child);
        self.starts += 1;
    }

    fn open_log(&self) -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log_path.display()))
    }

    /// The base port N (bill24 on N, collections N+1, va N+2, postpaid N+3).
    pub fn base_port(&self) -> u16 {
        self.base_port
    }

    /// `http://127.0.0.1:{port}` of a dialect's gateway (no trailing slash).
    pub fn url(&self, dialect: Dialect) -> String {
        format!("http://127.0.0.1:{}", self.base_port + dialect.offset())
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The file that holds the child's stdout and stderr, from every start.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the child is still running (reaps it when it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Polls `/readyz` of all four gateways until each answers 200, or fails at the deadline
    /// (or at once when the child has exited).
    pub fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut pending: Vec<Dialect> = Dialect::ALL.to_vec();
        loop {
            if !self.is_running() {
                return Err("billhub up exited".into());
            }
            pending.retain(|d| !ready(&self.url(*d)));
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not ready within {within:?}: {pending:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the child with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            self.kills += 1;
        }
    }

    /// Sends SIGTERM (graceful shutdown) and waits up to `within` for the exit; SIGKILL after.
    pub fn terminate(&mut self, within: Duration) {
        if let Some(c) = self.child.as_mut() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + within;
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill9();
    }

    /// Kills the child if it runs (SIGKILL), starts it again on the same ports with the same
    /// environment, and waits (30 s) for `/readyz`; retries the start while the ports are still
    /// being released.
    pub fn restart(&mut self) {
        self.kill9();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.start();
            match self.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!(
                    "billhub up did not come back: {e}\nlog {}:\n{}",
                    self.log_path.display(),
                    self.log_text()
                ),
                Err(_) => {
                    self.child.take().map(|mut c| {
                        let _ = c.kill();
                        c.wait()
                    });
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Sets (or replaces) an environment variable for the next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }
}

impl Drop for Gateways {
    /// Kills the child; removes the log file unless the test is failing (a panic keeps it for
    /// the reader of the failure message).
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log_path);
        }
    }
}

/// Whether `GET {base}/readyz` answers 200 within a second (a blocking HTTP/1.0 exchange over a
/// plain socket, so the harness needs no runtime for it).
pub fn ready(base: &str) -> bool {
    status_of(base, "/readyz") == Some(200)
}

/// The HTTP status of `GET {base}{path}`, or `None` when nothing answers within a second.
pub fn status_of(base: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let hostport = base.strip_prefix("http://")?;
    let addr: std::net::SocketAddr = hostport.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(buf.get(..n)?).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

/// Nanoseconds of the clock, for unique file names.
struct OffsetNanos;

impl OffsetNanos {
    fn now() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    }
}
