//! A private PostgreSQL cluster for one suite: `initdb` into a fresh temporary directory,
//! `pg_ctl` on a free loopback port, stopped and started again at will, stopped and removed on
//! drop (even when the test panics). Never the shared server on 5432.
//!
//! Binaries: `BILLHUB_PG_BIN` if set, else the newest `/usr/lib/postgresql/*/bin` (Debian), else
//! `pg_config --bindir`, else `initdb`/`pg_ctl` from `PATH`. `initdb` refuses to run as root:
//! as root (CI) the directory is given to the `postgres` user and every command runs through
//! `runuser -u postgres --`; as anyone else the commands run directly.

#![allow(dead_code)] // each suite uses part of it

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `Some((uid, gid))` of `postgres` when running as root.
    owner: Option<(u32, u32)>,
    running: bool,
}

impl PgCluster {
    /// Creates and starts a cluster (trust authentication for `postgres` on 127.0.0.1 only).
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let owner = if is_root() {
            Some(postgres_ids())
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!(
            "billhub-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown to postgres");
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            owner,
            running: false,
        };
        let data = cluster.data();
        cluster.run_ok(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        // A port probed free can be taken before the server binds it: try a few.
        for _ in 0..5 {
            cluster.port = free_port();
            if cluster.try_start() {
                return cluster;
            }
        }
        panic!(
            "the private PostgreSQL cluster did not start; its log:\n{}",
            cluster.log()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:{port}/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server with `pg_ctl stop -m fast` (connections are closed, the server shuts
    /// down cleanly) and waits until it is gone.
    pub fn stop(&mut self) {
        self.stop_mode("fast");
    }

    /// Stops the server as a crash would (`-m immediate`: no checkpoint, recovery on start).
    pub fn crash(&mut self) {
        self.stop_mode("immediate");
    }

    /// Starts the stopped server again on the same port (waits until it accepts connections).
    pub fn restart(&mut self) {
        assert!(!self.running, "the cluster is running");
        assert!(
            self.try_start(),
            "the private PostgreSQL cluster did not start again; its log:\n{}",
            self.log()
        );
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn try_start(&mut self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c max_connections=100",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        let data = self.data();
        let ok = self
            .command(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
                ],
            )
            .output()
            .is_ok_and(|o| o.status.success());
        self.running = ok;
        ok
    }

    fn stop_mode(&mut self, mode: &str) {
        let data = self.data();
        self.run_ok(
            "pg_ctl",
            &["-D", &data, "-m", mode, "-w", "-t", "60", "stop"],
        );
        self.running = false;
    }

    fn run_ok(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        let mut c = if self.owner.is_some() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // The server's working directory must be readable by its user.
        c.args(args)
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null());
        c
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = self
                .command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The uid and gid of the `postgres` user (Debian's package creates it).
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("run id");
        assert!(
            out.status.success(),
            "running as root needs a `postgres` user to run initdb as (install the postgresql package)"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a numeric id")
    };
    (id("-u"), id("-g"))
}

/// Where `initdb` and `pg_ctl` are.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BILLHUB_PG_BIN")
        && !dir.is_empty()
    {
        return PathBuf::from(dir);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").exists().then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return bin;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    // From PATH.
    Path::new("").to_path_buf()
}

/// A free loopback port away from PostgreSQL's and billhub's defaults.
fn free_port() -> u16 {
    loop {
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a probe");
        let port = probe.local_addr().expect("probe address").port();
        if port != 5432 && !(8080..=8085).contains(&port) {
            return port;
        }
    }
}
