//! The publisher, invoked every minute by an EventBridge schedule.

use herald_core::aws::AwsContext;
use herald_core::clock::SystemClock;
use herald_core::services::scheduled;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald_core::logging::init_json();
    let ctx = AwsContext::from_env().await?;
    let store = ctx.store.clone();
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let store = store.clone();
        async move { scheduled::run_publisher(&*store, &SystemClock).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
