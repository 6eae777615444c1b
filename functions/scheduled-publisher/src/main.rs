//! The publisher, invoked every minute by an EventBridge schedule: claims what is due within
//! the next minute, publishes each delivery at its second, and returns a summary of the run.
//! A store failure is a retryable `Herald.Transient` error (see `herald_core::lambda`). Init
//! reads the environment only; the publisher is built on the first tick (`lambda::Deferred`).

use herald_core::aws::{self, ConfigError, FunctionEnv};
use herald_core::lambda::{self, FunctionError};
use herald_core::services::publisher::Publisher;

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let (env, config) = lambda::init(async {
        let config = aws::publisher_config()?; // HERALD_PUBLISH_CONCURRENCY
        Ok::<_, ConfigError>((FunctionEnv::from_env()?, config))
    })
    .await;
    let publisher = lambda::Deferred::new(|| async {
        Ok::<_, ConfigError>(Publisher::new(env.connect().await.ports().await?, config.clone()))
    });
    let publisher = &publisher;
    lambda::run_scheduled(move |_tick| async move { publisher.get().await?.run_once().await.map_err(FunctionError::from) }).await
}
