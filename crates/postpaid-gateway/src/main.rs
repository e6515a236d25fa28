fn main() -> anyhow::Result<()> {
    billhub_http::run_main(postpaid_gateway::gateway())
}
