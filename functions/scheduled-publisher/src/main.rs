//! The publisher, invoked every minute by an EventBridge schedule: claims what is due within
//! the next minute, publishes each delivery at its second, and returns a summary of the run.
//! A store failure is a retryable `Herald.Transient` error (see `herald_core::lambda`).

use herald_core::services::publisher::Publisher;
use herald_core::{aws, aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let (ports, config) = lambda::init(async {
        let config = aws::publisher_config()?; // HERALD_PUBLISH_CONCURRENCY
        Ok::<_, aws::ConfigError>((AwsContext::from_env().await?.ports().await?, config))
    })
    .await;
    let publisher = Publisher::new(ports, config);
    lambda::run_scheduled(|_tick| publisher.run_once()).await
}
