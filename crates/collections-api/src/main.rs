fn main() -> anyhow::Result<()> {
    billhub_http::run_main(collections_api::gateway())
}
