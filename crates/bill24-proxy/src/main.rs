fn main() -> anyhow::Result<()> {
    billhub_http::run_main(bill24_proxy::gateway())
}
