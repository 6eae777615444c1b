//! Webhook intake on Lambda: the webhook router behind API Gateway (HTTP API, payload format
//! 2.0), the same router `herald serve` runs. Errors: see `herald_core::lambda`.

use herald_core::{aws::AwsContext, http, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let state = lambda::init(async { AwsContext::from_env().await?.app_state().await }).await?;
    lambda::run_http(http::webhook_router(state)).await
}
