//! Structured logs: JSON on Lambda (CloudWatch reads it), human lines in `herald serve`.
//! The level comes from `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// JSON lines, no ANSI colours, no timestamps (Lambda adds its own).
pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_current_span(true)
        .with_ansi(false)
        .without_time()
        .try_init();
}

/// Readable lines on stderr, for a person at a terminal.
/// Colours only when stderr is a terminal: a log file or a pipe gets plain text.
pub fn init_human() {
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
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
