//! `collect`: tracking beacons, the pixel and lead forms (see crates/http).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    throughline_http::runtime::init_json_logs();
    let ingestor = throughline_http::runtime::ingestor_from_env().await?;
    lambda_http::run(throughline_http::collect_router(ingestor)).await
}
