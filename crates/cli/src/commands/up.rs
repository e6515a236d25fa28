//! `billhub up`: every gateway in one process, on its default port (or from `--base-port`), over one store, with their
//! notification workers and the maintenance task, until SIGTERM or SIGINT.

use std::sync::Arc;

use anyhow::anyhow;
use billhub_http::{Config, Gateway};
use clap::Args;

#[derive(Args)]
pub struct UpArgs {
    /// Create a demo organization with credentials for every dialect and a few bills.
    #[arg(long)]
    demo: bool,
    /// Listen on this port and the next four (bill24, collections, va, postpaid, snap) instead
    /// of 8081-8085, on the same host.
    #[arg(long, value_name = "PORT")]
    base_port: Option<u16>,
    /// Serve the operator console on 127.0.0.1:PORT (else BILLHUB_CONSOLE_BIND, else the port
    /// after the five of --base-port, else 127.0.0.1:8080).
    #[arg(long, value_name = "PORT")]
    console_port: Option<u16>,
}

/// The five gateways, in port order.
pub fn gateways() -> Vec<Arc<dyn Gateway>> {
    vec![
        bill24_proxy::gateway(),
        collections_api::gateway(),
        va_gateway::gateway(),
        postpaid_gateway::gateway(),
        snap_gateway::gateway(),
    ]
}

impl UpArgs {
    pub fn run(self, config: Config) -> anyhow::Result<()> {
        run(config, self.demo, self.base_port, self.console_port)
    }
}

fn run(
    config: Config,
    demo: bool,
    base_port: Option<u16>,
    console_port: Option<u16>,
) -> anyhow::Result<()> {
    billhub_http::telemetry::init(&config);
    let explicit_public_url = std::env::var("BILLHUB_PUBLIC_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let result = actix_web::rt::System::new().block_on(async move {
        let state = billhub_http::open_state(config)?;
        if demo {
            let store = state.store.clone();
            tokio::task::spawn_blocking(move || {
                crate::demo::create(
                    &store,
                    explicit_public_url.as_deref(),
                    base_port.unwrap_or(8081),
                )
            })
            .await
            .map_err(|e| anyhow!("demo setup failed: {e}"))??;
        }
        let all = gateways();
        let mut binds = billhub_http::serve::default_binds(&all)?;
        if let Some(base) = base_port {
            for (offset, (_, bind)) in (0u16..).zip(binds.iter_mut()) {
                let port = base
                    .checked_add(offset)
                    .ok_or_else(|| anyhow!("--base-port {base} leaves no room for five ports"))?;
                bind.set_port(port);
            }
        }
        for (gw, bind) in &binds {
            eprintln!("{:<12} http://{bind}", gw.name());
        }
        let console_addr = super::console::bind(console_port, base_port)?;
        let console = super::console::start(state.clone(), console_addr)?;
        let served = billhub_http::serve_all(binds, state).await;
        console.stop(true).await;
        served
    });
    billhub_http::telemetry::flush();
    result
}
