//! `billhub console`: the operator console alone (docs/console.md); `billhub up` serves it too.
//! Where it listens: `--port` / `--console-port` (127.0.0.1), else `BILLHUB_CONSOLE_BIND`
//! (`host:port`), else with `billhub up --base-port N` port N+5, else 127.0.0.1:8080.

use std::net::{SocketAddr, TcpListener};

use anyhow::anyhow;
use billhub_http::Config;
use clap::Args;

/// The console's port when nothing else is said.
pub const DEFAULT_PORT: u16 = 8080;
/// The variable that sets the console's address.
pub const BIND_VAR: &str = "BILLHUB_CONSOLE_BIND";

#[derive(Args)]
pub struct ConsoleArgs {
    /// Listen on 127.0.0.1:PORT (else BILLHUB_CONSOLE_BIND, else 127.0.0.1:8080).
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
}

/// Where the console listens (see the module docs).
pub fn bind(port: Option<u16>, base_port: Option<u16>) -> anyhow::Result<SocketAddr> {
    if let Some(p) = port {
        return Ok(SocketAddr::from(([127, 0, 0, 1], p)));
    }
    if let Ok(v) = std::env::var(BIND_VAR)
        && !v.is_empty()
    {
        return v
            .parse()
            .map_err(|e| anyhow!("{BIND_VAR}: `{v}` is not host:port ({e})"));
    }
    let p = match base_port {
        Some(base) => base
            .checked_add(5)
            .ok_or_else(|| anyhow!("--base-port {base} leaves no room for the console"))?,
        None => DEFAULT_PORT,
    };
    Ok(SocketAddr::from(([127, 0, 0, 1], p)))
}

/// Starts the console on `addr` over `state` (inside an actix runtime); the caller stops it.
pub fn start(
    state: billhub_http::AppState,
    addr: SocketAddr,
) -> anyhow::Result<actix_web::dev::ServerHandle> {
    let listener =
        TcpListener::bind(addr).map_err(|e| anyhow!("console: cannot listen on {addr}: {e}"))?;
    let server = billhub_http::console::server(state, listener)
        .map_err(|e| anyhow!("console: cannot start on {addr}: {e}"))?;
    let handle = server.handle();
    actix_web::rt::spawn(server);
    eprintln!("{:<12} http://{addr}/console/", "console");
    Ok(handle)
}

impl ConsoleArgs {
    pub fn run(self, config: Config) -> anyhow::Result<()> {
        billhub_http::telemetry::init(&config);
        let addr = bind(self.port, None)?;
        let result = actix_web::rt::System::new().block_on(async move {
            let state = billhub_http::open_state(config)?;
            let handle = start(state, addr)?;
            billhub_http::serve::shutdown_signal().await;
            handle.stop(true).await;
            Ok(())
        });
        billhub_http::telemetry::flush();
        result
    }
}
