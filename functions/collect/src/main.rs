//! `collect`: tracking beacons, the pixel and lead forms (see crates/http).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    throughline_http::runtime::init_json_logs();
    let settings = throughline_settings::Settings::from_env()?;
    let ingestor = throughline_http::runtime::ingestor(&settings).await?;
    lambda_http::run(throughline_http::collect_router(ingestor)).await
}
