//! Webhook intake on Lambda: the webhook router behind API Gateway (HTTP API, payload format
//! 2.0), the same router `herald serve` runs. Errors: see `herald_core::lambda`.

use herald_core::http::{self, AppState};
use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let ports = lambda::init(async { AwsContext::from_env().await?.ports().await }).await;
    lambda::run_http(http::webhook_router(AppState::new(ports).without_sandbox())).await
}
