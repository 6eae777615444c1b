//! The work the scheduled functions do (EventBridge rules on AWS, timers in `herald serve`).
//! Each returns a summary that the Lambda returns as its result and `serve` logs. The
//! publisher has its own module, [`super::publisher`].

use serde::Serialize;

/// Summary of a scheduled function whose service a later issue fills in (metric polling,
/// notification polling, report generation). It says so instead of pretending to work.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PendingSummary {
    pub function: &'static str,
    pub implemented: bool,
}

pub fn not_yet_implemented(function: &'static str) -> PendingSummary {
    tracing::warn!(function, "this scheduled function has no service yet; nothing was done");
    PendingSummary { function, implemented: false }
}
