//! The report generator, invoked hourly by an EventBridge schedule: every team for which the
//! event's hour is Monday 08:00 in its own zone gets last week's report (HTML, CSV, JSON) in the
//! reports bucket (`HERALD_REPORTS_BUCKET`; it does not start without one), once, and a
//! `Report Ready` event on the bus.
//!
//! A due report that could not be made (the bucket or the table failed) fails the invocation
//! (`Herald.Transient`), after the round has made every other one: the failures alarm sees it,
//! Lambda retries the event (template.yaml: twice), then sends it to the dead-letter queue; the
//! report was not recorded, so every later round (and a redrive) makes it while it is due.
//!
//! With `HERALD_MAIL_FROM` set, each report is also mailed through SES to its team's recipients,
//! once (a refused message is tried again by the next round; it does not fail the invocation).
//!
//! Init reads the environment only (a missing bucket or a wrong `HERALD_MAIL_FROM` stops it
//! there); the SDK clients and the credentials key that signs share links come with the first
//! tick (`lambda::Deferred`).

use herald_core::aws::{ConfigError, FunctionEnv};
use herald_core::lambda::{self, FunctionError};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let env = lambda::init(async { FunctionEnv::from_env()?.requiring_reports_bucket()?.with_report_mail() }).await;
    let setup = lambda::Deferred::new(|| async {
        let ctx = env.connect().await;
        let files = ctx.report_files()?;
        let mail = ctx.report_mail().await?;
        Ok::<_, ConfigError>((ctx, files, mail))
    });
    let setup = &setup;
    lambda::run_scheduled(move |tick| async move {
        let (ctx, files, mail) = setup.get().await?;
        let summary = ctx.report_round(&**files, mail.as_ref(), tick.time).await.map_err(FunctionError::from)?;
        summary.complete().map_err(FunctionError::from)
    })
    .await
}
