//! The publisher, invoked every minute by an EventBridge schedule: claims what is due within
//! the next minute, publishes each delivery at its second, and returns a summary of the run.
//! A store failure is a retryable `Herald.Transient` error (see `herald_core::lambda`).

use herald_core::services::publisher::{Publisher, PublisherConfig};
use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let ports = lambda::init(async { AwsContext::from_env().await?.ports().await }).await;
    let publisher = Publisher::new(ports, PublisherConfig::default());
    lambda::run_scheduled(|_tick| publisher.run_once()).await
}
