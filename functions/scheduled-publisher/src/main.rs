//! The publisher, invoked every minute by an EventBridge schedule: claims what is due within
//! the next minute, publishes each delivery at its second, and returns a summary of the run.

use herald_core::aws::AwsContext;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald_core::logging::init_json();
    let publisher = AwsContext::from_env().await?.publisher().await?;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let publisher = publisher.clone();
        async move { publisher.run_once().await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
