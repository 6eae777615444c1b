//! The metric poller, invoked by an EventBridge schedule: reads the engagement counters of
//! recently published posts (at +1 h, +6 h, +24 h, +72 h and +7 d) and each channel's
//! followers, storing snapshots and the daily roll-ups reports read.

use herald_core::services::metrics::{MetricsPlan, MetricsPoller};
use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let ports = lambda::init(async { AwsContext::from_env().await?.ports().await }).await;
    let poller = MetricsPoller::new(ports, MetricsPlan::default());
    lambda::run_scheduled(|_tick| poller.run_once()).await
}
