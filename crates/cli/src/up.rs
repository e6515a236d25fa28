//! `billhub up`: every gateway in one process, on its default port, over one store.

use std::sync::Arc;

use anyhow::anyhow;
use billhub_http::{AppState, Clock, Config, Gateway};

/// The four gateways, in port order.
pub fn gateways() -> Vec<Arc<dyn Gateway>> {
    vec![
        bill24_proxy::gateway(),
        collections_api::gateway(),
        va_gateway::gateway(),
        postpaid_gateway::gateway(),
    ]
}

pub fn run(config: Config, demo: bool) -> anyhow::Result<()> {
    billhub_http::telemetry::init(&config);
    let explicit_public_url = std::env::var("BILLHUB_PUBLIC_URL")
        .ok()
        .filter(|s| !s.is_empty());
    actix_web::rt::System::new().block_on(async move {
        let base = billhub_http::open_state(config)?;
        if demo {
            let store = base.store.clone();
            let public = explicit_public_url.clone();
            tokio::task::spawn_blocking(move || crate::demo::create(&store, public.as_deref()))
                .await
                .map_err(|e| anyhow!("demo setup failed: {e}"))??;
        }
        let mut servers = Vec::new();
        for gw in gateways() {
            let bind: std::net::SocketAddr = gw
                .default_bind()
                .parse()
                .map_err(|e| anyhow!("{}: bad default address: {e}", gw.name()))?;
            let mut cfg = (*base.config).clone();
            cfg.bind = bind;
            if explicit_public_url.is_none() {
                cfg.public_url = format!("http://{bind}");
            }
            let state = AppState::new(base.store.clone(), Clock::system(), cfg);
            let listener = std::net::TcpListener::bind(bind).map_err(|e| {
                anyhow!(
                    "{}: cannot listen on {bind}: {e} (is another billhub running?)",
                    gw.name()
                )
            })?;
            if let Some(n) = gw.notifier() {
                billhub_http::worker::Worker::new(state.clone(), n)
                    .spawn(std::time::Duration::from_secs(5));
            }
            tracing::info!(gateway = gw.name(), %bind, "listening");
            eprintln!("{:<12} http://{bind}", gw.name());
            servers.push(billhub_http::server::start(gw, state, listener)?);
        }
        futures_util::future::try_join_all(servers).await?;
        Ok(())
    })
}
