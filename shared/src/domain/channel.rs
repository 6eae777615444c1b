//! Channels: one connected social account of a team.

use std::fmt;

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{ChannelId, TeamId, ValidationError};

/// Every network Herald knows. `Sandbox` publishes to a local folder; `Generic` receives
/// interactions from any tool speaking Standard Webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Sandbox,
    Mastodon,
    Bluesky,
    X,
    Linkedin,
    Threads,
    Instagram,
    Facebook,
    Tiktok,
    Generic,
}

impl Platform {
    pub const ALL: [Platform; 10] = [
        Platform::Sandbox,
        Platform::Mastodon,
        Platform::Bluesky,
        Platform::X,
        Platform::Linkedin,
        Platform::Threads,
        Platform::Instagram,
        Platform::Facebook,
        Platform::Tiktok,
        Platform::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Sandbox => "sandbox",
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
            Platform::X => "x",
            Platform::Linkedin => "linkedin",
            Platform::Threads => "threads",
            Platform::Instagram => "instagram",
            Platform::Facebook => "facebook",
            Platform::Tiktok => "tiktok",
            Platform::Generic => "generic",
        }
    }

    /// Whether Herald publishes to this network yet. The others are intake-only until their
    /// adapter lands: their channels receive webhooks and feed the inbox and reports, and a post
    /// to them is refused at creation rather than failing at publish time. Kept in step with
    /// [`crate::platforms::network_adapters`] (and the local sandbox) by a test there.
    pub fn can_publish(self) -> bool {
        matches!(
            self,
            Platform::Sandbox | Platform::Mastodon | Platform::Bluesky | Platform::Facebook | Platform::Instagram | Platform::Threads
        )
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|p| p.as_str()).collect();
            ValidationError::new(field, format!("must be one of {}", names.join(", ")))
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What people call the channel ("@cafe@mastodon.social", "Café du coin – Instagram").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelName(String);

impl ChannelName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(field, format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if t.chars().any(char::is_control) {
            return Err(ValidationError::new(field, "must not contain control characters"));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChannelName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("name", &s)
    }
}

impl From<ChannelName> for String {
    fn from(n: ChannelName) -> String {
        n.0
    }
}

/// A weekly publishing slot in the channel's own zone (e.g. Monday 09:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueueSlot {
    pub weekday: Weekday,
    pub time: NaiveTime,
}

/// Channel credentials as stored: AES-256-GCM ciphertext, base64 (`nonce ‖ ciphertext ‖ tag`).
/// Only [`crate::crypto::CredentialCipher`] can open it; stores and logs see ciphertext only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedCredentials(String);

impl SealedCredentials {
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedCredentials(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub team_id: TeamId,
    pub platform: Platform,
    pub name: ChannelName,
    /// The zone local times, queue slots and best-time figures of this channel are in.
    pub time_zone: Tz,
    pub credentials: Option<SealedCredentials>,
    #[serde(default)]
    pub queue_slots: Vec<QueueSlot>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_round_trip_through_their_names() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse("platform", p.as_str()), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.as_str()));
        }
        let err = Platform::parse("platform", "myspace").unwrap_err();
        assert!(err.rule.contains("mastodon"));
    }

    #[test]
    fn channel_names_are_trimmed_and_bounded() {
        assert_eq!(ChannelName::parse("name", "  @cafe  ").unwrap().as_str(), "@cafe");
        assert!(ChannelName::parse("name", "   ").is_err());
        assert!(ChannelName::parse("name", &"é".repeat(201)).is_err());
        assert!(ChannelName::parse("name", "a\u{0007}b").is_err());
    }

    #[test]
    fn sealed_credentials_do_not_show_in_debug() {
        let s = SealedCredentials::from_stored("c2VjcmV0".into());
        assert_eq!(format!("{s:?}"), "SealedCredentials(..)");
    }
}
