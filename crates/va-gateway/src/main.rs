fn main() -> anyhow::Result<()> {
    billhub_http::run_main(va_gateway::gateway())
}
