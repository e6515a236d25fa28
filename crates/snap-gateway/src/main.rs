fn main() -> anyhow::Result<()> {
    billhub_http::run_main(snap_gateway::gateway())
}
