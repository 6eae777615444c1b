//! What intake keeps besides interactions: the raw webhook bodies (for replay), the
//! fingerprints of erased interactions, and crisis incidents.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// What Herald remembers of an interaction it erased, and until when: a fingerprint of the event
/// (SHA-256 of its channel and the platform's id of it), nothing of the person in clear. Meta, X
/// and LinkedIn sign no timestamp, so a captured delivery stays valid for ever; while its
/// fingerprint is remembered, intake skips the event instead of bringing the erased person's
/// message back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasedEvent {
    /// Lowercase hex SHA-256 of `<channel id>/<external id>` ([`ErasedEvent::fingerprint`]).
    pub fingerprint: String,
    pub erased_at: DateTime<Utc>,
    /// It blocks until this instant (then DynamoDB's TTL removes it, some days later).
    pub expires_at: DateTime<Utc>,
}

impl ErasedEvent {
    /// The fingerprint of the event that made an interaction: its channel and its platform id.
    pub fn fingerprint(channel: ChannelId, external_id: &str) -> String {
        hex::encode(Sha256::digest(format!("{channel}/{external_id}").as_bytes()))
    }

    /// The interaction `external_id` of `channel`, erased at `at`, remembered for `keep`.
    pub fn new(channel: ChannelId, external_id: &str, at: DateTime<Utc>, keep: Duration) -> Self {
        Self { fingerprint: Self::fingerprint(channel, external_id), erased_at: at, expires_at: at + keep }
    }

    /// Whether it still keeps its event out at `now` (stores may return it after it expired).
    pub fn blocks(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn an_erased_events_fingerprint_names_the_event_and_nothing_else() {
        let (a, b) = (ChannelId::new(), ChannelId::new());
        let f = ErasedEvent::fingerprint(a, "1234567890_9876543210");
        assert_eq!(f.len(), 64);
        assert!(f.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(f, ErasedEvent::fingerprint(a, "1234567890_9876543210"), "stable");
        assert_ne!(f, ErasedEvent::fingerprint(b, "1234567890_9876543210"), "per channel");
        assert_ne!(f, ErasedEvent::fingerprint(a, "1234567890_9876543211"));
        assert!(!f.contains("9876543210"));
    }

    #[test]
    fn it_blocks_until_it_expires() {
        let at = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap();
        let e = ErasedEvent::new(ChannelId::new(), "x", at, Duration::days(14));
        assert_eq!(e.expires_at, at + Duration::days(14));
        assert!(e.blocks(at));
        assert!(e.blocks(at + Duration::days(14) - Duration::seconds(1)));
        assert!(!e.blocks(at + Duration::days(14)));
    }
}
