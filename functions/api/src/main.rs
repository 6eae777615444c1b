//! The HTTP API on Lambda: the same axum router `herald serve` runs, behind API Gateway.

use herald_core::aws::AwsContext;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    herald_core::logging::init_json();
    let ctx = AwsContext::from_env().await?;
    let router = herald_core::http::api_router(ctx.app_state().await?);
    lambda_http::run(router).await
}
