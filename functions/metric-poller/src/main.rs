//! The metric poller, invoked by an EventBridge schedule.
//! Its service comes with a later issue: until then each run answers that nothing was done.

use herald_core::lambda::{self, FunctionError};
use herald_core::services::scheduled;

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    lambda::run_scheduled(|_tick| async { Ok::<_, FunctionError>(scheduled::not_yet_implemented("metric-poller")) }).await
}
