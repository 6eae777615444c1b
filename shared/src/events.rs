//! Everything notable becomes an event: EventBridge `PutEvents` on AWS, a JSON-lines log (plus
//! optional outgoing webhooks) in `herald serve`. Services only see the [`EventSink`] port.

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::domain::TeamId;

/// The `source` of every Herald event on the bus.
pub const SOURCE: &str = "herald";

/// The kinds of event, by their EventBridge `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    #[serde(rename = "Post Published")]
    PostPublished,
    #[serde(rename = "Post Failed")]
    PostFailed,
    #[serde(rename = "Channel Needs Reconnect")]
    ChannelNeedsReconnect,
}

impl EventKind {
    pub fn detail_type(self) -> &'static str {
        match self {
            EventKind::PostPublished => "Post Published",
            EventKind::PostFailed => "Post Failed",
            EventKind::ChannelNeedsReconnect => "Channel Needs Reconnect",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub kind: EventKind,
    pub team_id: TeamId,
    pub time: DateTime<Utc>,
    /// The event's body; always carries `team_id` too, so bus rules can match on it.
    pub detail: Value,
}

impl Event {
    pub fn new(kind: EventKind, team_id: &TeamId, time: DateTime<Utc>, mut detail: Value) -> Self {
        if let Value::Object(map) = &mut detail {
            map.insert("team_id".into(), Value::String(team_id.to_string()));
        }
        Self { kind, team_id: team_id.clone(), time, detail }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("event not delivered: {0}")]
pub struct EventError(pub String);

#[async_trait]
pub trait EventSink: Send + Sync {
    async fn emit(&self, event: &Event) -> Result<(), EventError>;
}

/// Appends one JSON object per line to a file (`<data-dir>/events.jsonl` in `herald serve`).
pub struct JsonLinesSink {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl JsonLinesSink {
    pub fn new(path: PathBuf) -> Self {
        Self { path, lock: tokio::sync::Mutex::new(()) }
    }
}

#[async_trait]
impl EventSink for JsonLinesSink {
    async fn emit(&self, event: &Event) -> Result<(), EventError> {
        use tokio::io::AsyncWriteExt;
        let mut line = serde_json::to_vec(&serde_json::json!({
            "source": SOURCE,
            "detail-type": event.kind.detail_type(),
            "time": event.time,
            "detail": event.detail,
        }))
        .map_err(|e| EventError(e.to_string()))?;
        line.push(b'\n');
        let _guard = self.lock.lock().await;
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| EventError(format!("{}: {e}", self.path.display())))?;
        f.write_all(&line).await.map_err(|e| EventError(e.to_string()))
    }
}

/// Keeps events in memory, for tests and for hosts that want to look at what happened.
#[derive(Default)]
pub struct MemorySink(Mutex<Vec<Event>>);

impl MemorySink {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl EventSink for MemorySink {
    async fn emit(&self, event: &Event) -> Result<(), EventError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
        Ok(())
    }
}

/// Puts events on an EventBridge bus (`source` = "herald", `detail-type` = the event's kind).
#[cfg(feature = "aws")]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

#[cfg(feature = "aws")]
impl EventBridgeSink {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl EventSink for EventBridgeSink {
    async fn emit(&self, event: &Event) -> Result<(), EventError> {
        use aws_sdk_eventbridge::error::DisplayErrorContext;
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.kind.detail_type())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(event.time.timestamp_millis()))
            .detail(event.detail.to_string())
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| EventError(DisplayErrorContext(e).to_string()))?;
        // PutEvents answers 200 even when an entry was refused: look at the entry itself.
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(EventError(format!("EventBridge refused the event: {why}")));
        }
        Ok(())
    }
}
