//! Structured logs: JSON on Lambda (CloudWatch reads it), human lines in `herald serve`.
//! The level comes from `RUST_LOG` (default `info`).
//!
//! ## The invocation's request id on every line (Lambda)
//!
//! While a Lambda function serves an invocation ([`invocation`], entered by `herald_core::lambda`
//! for the whole of each invocation), every JSON line carries that invocation's request id as a
//! top-level `requestId` (the name Lambda itself uses in its `START`/`END`/`REPORT` records), so
//! `filter requestId = "…"` in CloudWatch Logs Insights finds all of it. Not through a span: a
//! task a handler spawns (the publisher settles each delivery in its own task) does not inherit
//! the spawner's span, and its lines would go out without the id. A process-wide value is exact
//! here because a Lambda execution environment serves one invocation at a time (the functions
//! use `lambda_runtime::run`, never `run_concurrent`): every line written between the start and
//! the end of an invocation belongs to it, whichever task writes it. `lambda_runtime` adds its
//! own span (`Lambda runtime invoke`, with `requestId`) too: its own lines written after the
//! handler returned (the error it reports) carry the id there, in `spans`.

use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The request id of the invocation this process is serving, if any.
static INVOCATION: Mutex<Option<Arc<str>>> = Mutex::new(None);

fn current_invocation() -> Option<Arc<str>> {
    INVOCATION.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Marks every JSON log line written until the guard is dropped, by any task or thread of the
/// process, with `"requestId": request_id` (see the module documentation).
#[must_use = "the request id is on log lines only while the guard lives"]
pub fn invocation(request_id: &str) -> InvocationGuard {
    *INVOCATION.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::from(request_id));
    InvocationGuard(())
}

/// Ends the invocation's marking when dropped.
pub struct InvocationGuard(());

impl Drop for InvocationGuard {
    fn drop(&mut self) {
        *INVOCATION.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The JSON format with the current invocation's `requestId` first on the line.
struct WithRequestId<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &tracing::Event<'_>) -> std::fmt::Result {
        // Formatted apart (a writer with no ANSI escapes: JSON has no colours), then written
        // with the request id first when there is one.
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match (current_invocation(), line.strip_prefix('{')) {
            (Some(id), Some(rest)) => {
                // A request id is Lambda's (a UUID); quoted as JSON whatever it holds.
                let quoted = serde_json::to_string(&*id).map_err(|_| std::fmt::Error)?;
                write!(writer, "{{\"requestId\":{quoted},{rest}")
            }
            _ => writer.write_str(&line),
        }
    }
}

/// The JSON subscriber of [`init_json`], writing to `writer` (tests read it back).
pub fn json_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::format().json().with_current_span(true).with_span_list(true).without_time();
    tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(WithRequestId(format))
        .with_env_filter(filter())
        .with_writer(writer)
        .finish()
}

/// JSON lines on stdout, no ANSI colours, no timestamps (Lambda adds its own); each line of an
/// invocation carries its `requestId` (see the module documentation).
pub fn init_json() {
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stdout));
}

/// Readable lines on stderr, for a person at a terminal.
/// Colours only when stderr is a terminal: a log file or a pipe gets plain text.
///
/// Lines are written by a thread of their own, not by the task that logs: `herald serve` logs
/// every webhook it stores, and writing each line to stderr on the request's path was a
/// visible share of the intake's p99 (docs/performance.md, "Webhook intake"). Nothing is
/// dropped (a full queue of 128,000 lines makes the logger wait); keep the returned guard until
/// the process ends: dropping it writes what is still queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init_human() -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("herald-log")
        .finish(std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    guard
}

/// Readable lines on stderr, warnings and errors only: for work a person should not have to
/// read through (the demo's eight weeks of history), attached to a future with
/// `tracing::instrument::WithSubscriber::with_subscriber`.
pub fn warnings_only() -> impl tracing::Subscriber + Send + Sync {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
        }
    }

    /// One test (the invocation is process-wide): lines inside an invocation carry its id, from
    /// another thread too and in no span at all; lines outside carry none.
    #[test]
    fn every_line_of_an_invocation_carries_its_request_id_and_no_other_does() {
        let buffer = Buffer::default();
        let dispatch = tracing::Dispatch::new(json_subscriber(buffer.clone()));
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!("before");
            {
                let _guard = invocation("8f5c0b7e-0d4e-4b8e-9d51-6f1f7b0f4d2a");
                tracing::info_span!("request", request_id = "r-1").in_scope(|| tracing::info!(delivery = 7, "inside a span"));
                let d = dispatch.clone();
                std::thread::spawn(move || tracing::dispatcher::with_default(&d, || tracing::warn!("from another thread")))
                    .join()
                    .unwrap();
            }
            tracing::info!("after");
        });
        let lines = buffer.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0].get("requestId"), None);
        for line in &lines[1..3] {
            assert_eq!(line["requestId"], "8f5c0b7e-0d4e-4b8e-9d51-6f1f7b0f4d2a", "{line}");
            assert!(line["fields"]["message"].is_string(), "still the JSON format: {line}");
        }
        assert_eq!(lines[1]["span"]["request_id"], "r-1", "spans are kept: {}", lines[1]);
        assert_eq!(lines[3].get("requestId"), None);
    }
}
