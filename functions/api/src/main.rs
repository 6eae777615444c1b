//! The HTTP API on Lambda: the same axum router `herald serve` runs, behind API Gateway
//! (HTTP API, payload format 2.0). Errors: see `herald_core::lambda`. It keeps report files in
//! the bucket `HERALD_REPORTS_BUCKET` names and does not start without one. Connecting accounts
//! with OAuth reads its apps from SSM (`HERALD_OAUTH_PARAMS`, `AwsContext::connect_config`).
//!
//! Init reads the environment only; the router (SDK, the credentials key and the connect apps
//! from SSM, the networks' clients) is built on the first request (`lambda::Deferred`).

use herald_core::aws::{ConfigError, FunctionEnv};
use herald_core::http::{self, AppState};
use herald_core::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let env = lambda::init(async { FunctionEnv::from_env()?.requiring_reports_bucket() }).await;
    let router = lambda::Deferred::new(|| async {
        let aws = env.connect().await;
        // The credentials key and the connect flow's apps are two SSM reads: made together.
        let (ports, connect) = tokio::try_join!(aws.ports_with_reports(), aws.connect_config())?;
        Ok::<_, ConfigError>(http::api_router(AppState::new(ports).without_sandbox().with_connect(connect)))
    });
    lambda::run_http(&router).await
}
