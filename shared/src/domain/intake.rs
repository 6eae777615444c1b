//! What intake keeps besides interactions: the raw webhook bodies (for replay) and crisis
//! incidents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChannelId, IncidentId, Platform, RawEventId, TeamId};

/// A verified webhook body exactly as it arrived, kept (with an expiry) before it is parsed, so
/// that a parser bug loses nothing: `herald intake replay` parses it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    pub id: RawEventId,
    pub team_id: TeamId,
    pub channel_id: ChannelId,
    pub platform: Platform,
    pub received_at: DateTime<Utc>,
    /// The body, base64 (standard alphabet): webhook bodies are bytes, not always UTF-8.
    pub body: String,
    /// Removed after this instant (DynamoDB TTL; swept locally).
    pub expires_at: DateTime<Utc>,
}

/// A wave of negative interactions on one channel, from detection until calm returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub team_id: TeamId,
    pub channel_id: ChannelId,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Negative interactions in the detection window when it opened.
    pub negatives_in_window: u32,
    /// What the channel's baseline expected in that window.
    pub expected: f64,
}
