//! The report generator, invoked hourly by an EventBridge schedule: every team for which the
//! event's hour is Monday 08:00 in its own zone gets last week's report (HTML, CSV, JSON) in the
//! reports bucket (`HERALD_REPORTS_BUCKET`; it does not start without one), once, and a
//! `Report Ready` event on the bus.

use herald_core::aws::{AwsContext, ConfigError};
use herald_core::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let (ctx, files) = lambda::init(async {
        let ctx = AwsContext::from_env().await?;
        let files = ctx.report_files()?;
        Ok::<_, ConfigError>((ctx, files))
    })
    .await?;
    lambda::run_scheduled(|tick| ctx.report_round(&*files, tick.time)).await
}
