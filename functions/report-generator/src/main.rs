//! The report generator, invoked hourly by an EventBridge schedule: every team for which the
//! event's hour is Monday 08:00 in its own zone gets last week's report (HTML, CSV, JSON) in the
//! reports bucket, once, and a `Report Ready` event on the bus.

use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let ctx = lambda::init(AwsContext::from_env()).await?;
    lambda::run_scheduled(|tick| ctx.report_round(tick.time)).await
}
