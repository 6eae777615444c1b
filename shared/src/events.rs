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
    #[serde(rename = "Crisis Detected")]
    CrisisDetected,
    #[serde(rename = "Crisis Resolved")]
    CrisisResolved,
    #[serde(rename = "Report Ready")]
    ReportReady,
    /// A post awaits an editor's approval.
    #[serde(rename = "Approval Requested")]
    ApprovalRequested,
    /// An editor sent a post back to its author, with a comment.
    #[serde(rename = "Post Rejected")]
    PostRejected,
    /// A comment, mention, reply or message reached the inbox.
    #[serde(rename = "Interaction Received")]
    InteractionReceived,
    /// A reply to an interaction of a `generic` channel, for the tool that sent it to deliver.
    #[serde(rename = "Interaction Reply Requested")]
    InteractionReplyRequested,
}

impl EventKind {
    pub fn detail_type(self) -> &'static str {
        match self {
            EventKind::PostPublished => "Post Published",
            EventKind::PostFailed => "Post Failed",
            EventKind::ChannelNeedsReconnect => "Channel Needs Reconnect",
            EventKind::CrisisDetected => "Crisis Detected",
            EventKind::CrisisResolved => "Crisis Resolved",
            EventKind::ReportReady => "Report Ready",
            EventKind::ApprovalRequested => "Approval Requested",
            EventKind::PostRejected => "Post Rejected",
            EventKind::InteractionReceived => "Interaction Received",
            EventKind::InteractionReplyRequested => "Interaction Reply Requested",
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
/// The file stays open between events (opened on the first, again after a failed write), and
/// each line is one `write` of an append-mode file on the blocking pool: lines never
/// interleave, and an event costs one hop off the async threads, not an open, a write and a
/// close.
pub struct JsonLinesSink {
    path: PathBuf,
    file: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
}

impl JsonLinesSink {
    pub fn new(path: PathBuf) -> Self {
        Self { path, file: Default::default() }
    }
}

#[async_trait]
impl EventSink for JsonLinesSink {
    async fn emit(&self, event: &Event) -> Result<(), EventError> {
        let mut line = serde_json::to_vec(&serde_json::json!({
            "source": SOURCE,
            "detail-type": event.kind.detail_type(),
            "time": event.time,
            "detail": event.detail,
        }))
        .map_err(|e| EventError(e.to_string()))?;
        line.push(b'\n');
        let (path, file) = (self.path.clone(), std::sync::Arc::clone(&self.file));
        tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let open = match file.take() {
                Some(f) => f,
                None => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| EventError(format!("{}: {e}", path.display())))?,
            };
            let written = (&open).write_all(&line);
            // Kept for the next event only when this one went in whole.
            if written.is_ok() {
                *file = Some(open);
            }
            written.map_err(|e| EventError(format!("{}: {e}", path.display())))
        })
        .await
        .map_err(|e| EventError(e.to_string()))?
    }
}

/// Sends every event to each sink in turn; one sink's failure does not stop the others.
pub struct FanoutSink(pub Vec<std::sync::Arc<dyn EventSink>>);

#[async_trait]
impl EventSink for FanoutSink {
    async fn emit(&self, event: &Event) -> Result<(), EventError> {
        let mut errors = vec![];
        for sink in &self.0 {
            if let Err(e) = sink.emit(event).await {
                errors.push(e.0);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(EventError(errors.join("; "))) }
    }
}

/// Outgoing webhooks, signed per Standard Webhooks: `POST` of
/// `{"type":"post.published","timestamp":…,"data":{…}}` with `webhook-id`, `webhook-timestamp`
/// and `webhook-signature` headers. Sending happens in the background with a few retries, so a
/// slow receiver never delays publishing; the JSON-lines log stays the durable record.
pub struct WebhookSink {
    client: reqwest::Client,
    url: String,
    signer: std::sync::Arc<crate::webhooks::StandardWebhooks>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl WebhookSink {
    /// Delays before each attempt (Standard Webhooks suggests immediately, then 5 s, …).
    const ATTEMPTS: [u64; 3] = [0, 5, 30];

    pub fn new(url: String, signer: crate::webhooks::StandardWebhooks, clock: std::sync::Arc<dyn crate::clock::Clock>) -> Self {
        // Not the networks' guarded client (platforms/net.rs): the operator sets these URLs
        // (`--webhook-url`), and a receiver on loopback or the private network is legitimate.
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { client, url, signer: std::sync::Arc::new(signer), clock }
    }

    /// The `type` of an event in webhook payloads.
    pub fn event_type(kind: EventKind) -> &'static str {
        match kind {
            EventKind::PostPublished => "post.published",
            EventKind::PostFailed => "post.failed",
            EventKind::ChannelNeedsReconnect => "channel.needs_reconnect",
            EventKind::CrisisDetected => "crisis.detected",
            EventKind::CrisisResolved => "crisis.resolved",
            EventKind::ReportReady => "report.ready",
            EventKind::ApprovalRequested => "approval.requested",
            EventKind::PostRejected => "post.rejected",
            EventKind::InteractionReceived => "interaction.received",
            EventKind::InteractionReplyRequested => "interaction.reply_requested",
        }
    }
}

#[async_trait]
impl EventSink for WebhookSink {
    async fn emit(&self, event: &Event) -> Result<(), EventError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "type": Self::event_type(event.kind),
            "timestamp": event.time,
            "data": event.detail,
        }))
        .map_err(|e| EventError(e.to_string()))?;
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let (client, url, signer, clock) = (self.client.clone(), self.url.clone(), self.signer.clone(), self.clock.clone());
        tokio::spawn(async move {
            for delay in Self::ATTEMPTS {
                tokio::time::sleep(std::time::Duration::from_secs(delay)).await;
                // The timestamp is the attempt's, per the spec; the id stays the same.
                let ts = clock.now().timestamp();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", signer.sign(&id, ts, &body))
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) if r.status() == reqwest::StatusCode::GONE => {
                        tracing::warn!(%url, "webhook endpoint answered 410 Gone; not retrying");
                        return;
                    }
                    Ok(r) => tracing::warn!(%url, status = %r.status(), "webhook delivery refused"),
                    Err(e) => tracing::warn!(%url, error = %e, "webhook delivery failed"),
                }
            }
            tracing::error!(%url, webhook_id = %id, "webhook not delivered after every attempt");
        });
        Ok(())
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

/// The mark of the one log line (level ERROR) written for an event that could not be put on
/// the bus: template.yaml's metric filters count the lines carrying it (metric
/// `Herald/<stage>` `Failures`, with failed invocations; alarm `FailuresAlarm`). The line carries the
/// whole entry (bus, source, detail-type, time, detail), so the event can be put again from
/// the logs (docs/reliability.md says how).
pub const UNDELIVERED_MARK: &str = "herald.events.undelivered";

/// Puts events on an EventBridge bus (`source` = "herald", `detail-type` = the event's kind).
///
/// `PutEvents` answers 200 even when it refused the entry (`FailedEntryCount` > 0 with an
/// `ErrorCode` per entry): an entry refused with `ThrottlingException` or `InternalFailure`,
/// or a call that failed after the SDK's own retries (throttled, 5xx, timed out), is put
/// again, [`EventBridgeSink::PUT_ATTEMPTS`] times in all. An event still not delivered is logged at
/// ERROR with [`UNDELIVERED_MARK`] and the whole entry, and `emit` returns the error.
#[cfg(feature = "aws")]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

#[cfg(feature = "aws")]
impl EventBridgeSink {
    /// Puts of one event at most (each `PutEvents` call being itself retried by the SDK on
    /// throttling, 5xx and timeouts)…
    pub const PUT_ATTEMPTS: u32 = 4;
    /// …the first pause between two, doubled each time, with jitter: 200, 400, 800 ms (at
    /// most 1.4 s of waiting in all).
    pub const FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }

    /// One `PutEvents` of one entry: `Ok(())`, or why not and whether trying again may help.
    async fn put_once(&self, entry: aws_sdk_eventbridge::types::PutEventsRequestEntry) -> Result<(), (String, bool)> {
        use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
        match self.client.put_events().entries(entry).send().await {
            Ok(out) if out.failed_entry_count() == 0 => Ok(()),
            // PutEvents answers 200 even when it refused the entry: look at the entry itself.
            Ok(out) => {
                let refused = out.entries().iter().find(|e| e.error_code().is_some());
                let code = refused.and_then(|e| e.error_code()).unwrap_or("unknown");
                let message = refused.and_then(|e| e.error_message()).unwrap_or("no message");
                let retryable = matches!(code, "ThrottlingException" | "InternalFailure" | "InternalException");
                Err((format!("EventBridge refused the event: {code}: {message}"), retryable))
            }
            Err(e) => {
                let retryable = match &e {
                    SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
                    SdkError::ServiceError(ctx) => {
                        ctx.raw().status().is_server_error()
                            || e.code().is_some_and(|c| c.contains("Throttl") || c == "InternalException")
                    }
                    _ => false,
                };
                Err((DisplayErrorContext(e).to_string(), retryable))
            }
        }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl EventSink for EventBridgeSink {
    async fn emit(&self, event: &Event) -> Result<(), EventError> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let detail = event.detail.to_string();
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.kind.detail_type())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(event.time.timestamp_millis()))
            .detail(&detail)
            .build();
        let mut pause = Self::FIRST_PAUSE;
        let mut tried = 0;
        let why = loop {
            tried += 1;
            let (why, retryable) = match self.put_once(entry.clone()).await {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            if !retryable || tried >= Self::PUT_ATTEMPTS {
                break why;
            }
            tracing::warn!(detail_type = event.kind.detail_type(), attempt = tried, error = %why, "event refused by the bus; trying again");
            // Anywhere in [pause/2, pause]: several functions refused at once spread out.
            let ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX);
            let jittered = rand::Rng::gen_range(&mut rand::thread_rng(), ms / 2..=ms);
            tokio::time::sleep(std::time::Duration::from_millis(jittered)).await;
            pause = pause.saturating_mul(2);
        };
        tracing::error!(
            bus = %self.bus,
            source = SOURCE,
            detail_type = event.kind.detail_type(),
            time = %event.time.to_rfc3339(),
            detail = %detail,
            attempts = tried,
            error = %why,
            "{UNDELIVERED_MARK}: the event could not be put on the bus; this line holds it whole",
        );
        Err(EventError(why))
    }
}
