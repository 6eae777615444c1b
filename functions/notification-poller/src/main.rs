//! The notification poller (Bluesky, Mastodon), invoked by an EventBridge schedule.

use herald_core::services::scheduled;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald_core::logging::init_json();
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, lambda_runtime::Error>(scheduled::not_yet_implemented("notification-poller"))
    }))
    .await
}
