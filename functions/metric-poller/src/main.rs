//! The metric poller, invoked by an EventBridge schedule: reads the engagement counters of
//! recently published posts (at +1 h, +6 h, +24 h, +72 h and +7 d) and each channel's
//! followers, storing snapshots and the daily roll-ups reports read. Init reads the
//! environment only; the poller is built on the first tick (`lambda::Deferred`).

use herald_core::aws::{ConfigError, FunctionEnv};
use herald_core::lambda::{self, FunctionError};
use herald_core::services::metrics::{MetricsPlan, MetricsPoller};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let env = lambda::init(async { FunctionEnv::from_env() }).await;
    let poller = lambda::Deferred::new(|| async {
        Ok::<_, ConfigError>(MetricsPoller::new(env.connect().await.ports().await?, MetricsPlan::default()))
    });
    let poller = &poller;
    lambda::run_scheduled(move |_tick| async move { poller.get().await?.run_once().await.map_err(FunctionError::from) }).await
}
