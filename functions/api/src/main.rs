//! The HTTP API on Lambda: the same axum router `herald serve` runs, behind API Gateway
//! (HTTP API, payload format 2.0). Errors: see `herald_core::lambda`. It keeps report files in
//! the bucket `HERALD_REPORTS_BUCKET` names and does not start without one.

use herald_core::http::{self, AppState};
use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let ports = lambda::init(async { AwsContext::from_env().await?.ports_with_reports().await }).await;
    lambda::run_http(http::api_router(AppState::new(ports).without_sandbox())).await
}
