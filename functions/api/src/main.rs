//! The HTTP API on Lambda: the same axum router `herald serve` runs, behind API Gateway
//! (HTTP API, payload format 2.0). Errors: see `herald_core::lambda`. It keeps report files in
//! the bucket `HERALD_REPORTS_BUCKET` names and does not start without one. Connecting accounts
//! with OAuth reads its apps from SSM (`HERALD_OAUTH_PARAMS`, `AwsContext::connect_config`).

use herald_core::http::{self, AppState};
use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    // The credentials key and the connect flow's apps are two SSM reads: made together.
    let (ports, connect) = lambda::init(async {
        let aws = AwsContext::from_env().await?;
        tokio::try_join!(aws.ports_with_reports(), aws.connect_config())
    })
    .await;
    lambda::run_http(http::api_router(AppState::new(ports).without_sandbox().with_connect(connect))).await
}
