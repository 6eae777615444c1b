//! The work the scheduled functions do (EventBridge rules on AWS, timers in `herald serve`).
//! Each returns a summary that the Lambda returns as its result and `serve` logs.

use chrono::Duration;
use serde::Serialize;

use crate::clock::Clock;
use crate::store::{PostStore, StoreResult};

/// How far ahead the publisher looks for due deliveries.
pub const PUBLISH_LOOKAHEAD_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PublisherSummary {
    /// Deliveries due within the lookahead (scheduled, or publishing with an expired lease).
    pub due: usize,
    /// Deliveries published in this run.
    pub published: usize,
}

/// One publisher run. This foundation finds the due work with the one-query due index;
/// claiming and publishing it arrive with the publishing issue.
pub async fn run_publisher(posts: &dyn PostStore, clock: &dyn Clock) -> StoreResult<PublisherSummary> {
    let until = clock.now() + Duration::seconds(PUBLISH_LOOKAHEAD_SECS);
    let due = posts.due_deliveries(until, 1000).await?;
    if due.is_empty() {
        tracing::debug!("publisher run: nothing due");
    } else {
        tracing::info!(due = due.len(), "publisher run");
    }
    Ok(PublisherSummary { due: due.len(), published: 0 })
}

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
