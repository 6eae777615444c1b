//! The report generator, invoked hourly by an EventBridge schedule: every team for which the
//! event's hour is Monday 08:00 in its own zone gets last week's report (HTML, CSV, JSON) in the
//! reports bucket (`HERALD_REPORTS_BUCKET`; it does not start without one), once, and a
//! `Report Ready` event on the bus.
//!
//! A due report that could not be made (the bucket or the table failed) fails the invocation
//! (`Herald.Transient`), after the round has made every other one: the Errors alarm sees it,
//! Lambda retries the event (template.yaml: twice), then sends it to the dead-letter queue; the
//! report was not recorded, so every later round (and a redrive) makes it while it is due.
//!
//! With `HERALD_MAIL_FROM` set, each report is also mailed through SES to its team's recipients,
//! once (a refused message is tried again by the next round; it does not fail the invocation).

use herald_core::aws::{AwsContext, ConfigError};
use herald_core::lambda::{self, FunctionError};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let (ctx, files, mail) = lambda::init(async {
        let ctx = AwsContext::from_env().await?;
        let files = ctx.report_files()?;
        let mail = ctx.report_mail().await?;
        Ok::<_, ConfigError>((ctx, files, mail))
    })
    .await;
    let (ctx, files, mail) = (&ctx, &*files, mail.as_ref());
    lambda::run_scheduled(|tick| async move {
        let summary = ctx.report_round(files, mail, tick.time).await.map_err(FunctionError::from)?;
        summary.complete().map_err(FunctionError::from)
    })
    .await
}
