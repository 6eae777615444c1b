//! Webhook intake on Lambda: the webhook router behind API Gateway (HTTP API, payload format
//! 2.0), the same router `herald serve` runs. Errors: see `herald_core::lambda`. Init reads the
//! environment only; the router is built on the first request (`lambda::Deferred`).

use herald_core::aws::{ConfigError, FunctionEnv};
use herald_core::http::{self, AppState};
use herald_core::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let env = lambda::init(async { FunctionEnv::from_env() }).await;
    let router = lambda::Deferred::new(|| async {
        let ports = env.connect().await.ports().await?;
        Ok::<_, ConfigError>(http::webhook_router(AppState::new(ports).without_sandbox()))
    });
    lambda::run_http(&router).await
}
