//! Interactions: comments, mentions, replies and messages that reach the inbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChannelId, InteractionId, Platform, RawEventId, TeamId, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    Comment,
    Mention,
    Reply,
    DirectMessage,
}

impl InteractionKind {
    pub const ALL: [InteractionKind; 4] =
        [InteractionKind::Comment, InteractionKind::Mention, InteractionKind::Reply, InteractionKind::DirectMessage];

    pub fn as_str(self) -> &'static str {
        match self {
            InteractionKind::Comment => "comment",
            InteractionKind::Mention => "mention",
            InteractionKind::Reply => "reply",
            InteractionKind::DirectMessage => "direct_message",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ValidationError::new(field, "must be one of comment, mention, reply, direct_message"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractionStatus {
    Open,
    Assigned,
    Answered,
    Closed,
}

impl InteractionStatus {
    pub const ALL: [InteractionStatus; 4] = [
        InteractionStatus::Open,
        InteractionStatus::Assigned,
        InteractionStatus::Answered,
        InteractionStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InteractionStatus::Open => "open",
            InteractionStatus::Assigned => "assigned",
            InteractionStatus::Answered => "answered",
            InteractionStatus::Closed => "closed",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ValidationError::new(field, "must be one of open, assigned, answered, closed"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: InteractionId,
    pub team_id: TeamId,
    pub channel_id: ChannelId,
    pub platform: Platform,
    pub kind: InteractionKind,
    /// The platform's own id of this comment or message.
    pub external_id: String,
    /// The conversation it belongs to (the platform's root id; its own id when it starts one).
    pub thread_id: String,
    pub parent_id: Option<String>,
    pub author_id: String,
    pub author_name: String,
    pub text: String,
    /// When the platform says it was written.
    pub created_at: DateTime<Utc>,
    /// When Herald received it.
    pub received_at: DateTime<Utc>,
    /// Link to the post it is about, when known.
    pub post_url: Option<String>,
    pub status: InteractionStatus,
    pub assignee: Option<String>,
    /// What the platform needs to answer it, opaque to everything but that platform's adapter
    /// (Bluesky: the root and parent strong refs as JSON; Mastodon: nothing beyond the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<Sentiment>,
    /// Watch-list tags (brand, competitor, hashtag) that matched its text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Internal notes of the team, oldest first; never sent to the platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// When the team first answered it through Herald (first-response time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// The webhook body it came from, when it came by webhook (erased with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_event_id: Option<RawEventId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    Positive,
    Neutral,
    Negative,
}

impl SentimentLabel {
    pub const ALL: [SentimentLabel; 3] = [SentimentLabel::Positive, SentimentLabel::Neutral, SentimentLabel::Negative];

    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Positive => "positive",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Negative => "negative",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| ValidationError::new(field, "must be one of positive, neutral, negative"))
    }
}

/// The tone of a text: `score` in -1.0..=1.0 (VADER's compound score) and its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub score: f32,
    pub label: SentimentLabel,
    /// ISO 639-1 code of the language the score was computed for ("en", "fr").
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Note {
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// Longest platform id an interaction keeps (`external_id`, `thread_id`, `parent_id`,
/// `author_id`, `post_external_id`), in UTF-8 bytes. `author_id` and `thread_id` are part of
/// DynamoDB index partition keys (`AUTHOR#<team>#<platform>#<author id>`,
/// `THREAD#<team>#<channel>#<thread id>`, at most 2048 bytes, the prefix being at most 120), and
/// one over the limit is refused by DynamoDB on every retry. Real ids are far shorter: an X id
/// is 19 digits, a LinkedIn comment URN about 80 bytes, a Bluesky `at://` URI about 90.
pub const MAX_ID_BYTES: usize = 1024;
/// Longest author display name kept, in UTF-8 bytes (Bluesky's limit, the largest, is 640).
pub const MAX_AUTHOR_NAME_BYTES: usize = 1024;
/// Longest interaction text kept, in UTF-8 bytes: X's longest post (25,000 characters) fits even
/// at 4 bytes a character, and the interaction stays well inside a 400 KB DynamoDB item.
pub const MAX_TEXT_BYTES: usize = 128 * 1024;
/// Longest `post_url` and `reply_ref` kept, in UTF-8 bytes.
pub const MAX_LINK_BYTES: usize = 4096;

/// An interaction as a platform payload describes it, before Herald gives it an id, a team and
/// a status. Webhook parsers and notification pollers produce these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionDraft {
    pub kind: InteractionKind,
    pub external_id: String,
    pub thread_id: String,
    pub parent_id: Option<String>,
    pub author_id: String,
    pub author_name: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// The platform's id of the post it is about, when known.
    pub post_external_id: Option<String>,
    pub post_url: Option<String>,
    pub reply_ref: Option<String>,
}

impl InteractionDraft {
    /// Whether every field is within its bound ([`MAX_ID_BYTES`], [`MAX_AUTHOR_NAME_BYTES`],
    /// [`MAX_TEXT_BYTES`], [`MAX_LINK_BYTES`]); the error names the first field over its bound.
    /// Intake refuses such a draft alone (the rest of its delivery is stored).
    pub fn check_bounds(&self) -> Result<(), ValidationError> {
        let fields: [(&str, Option<&str>, usize); 9] = [
            ("external_id", Some(&self.external_id), MAX_ID_BYTES),
            ("thread_id", Some(&self.thread_id), MAX_ID_BYTES),
            ("parent_id", self.parent_id.as_deref(), MAX_ID_BYTES),
            ("author_id", Some(&self.author_id), MAX_ID_BYTES),
            ("post_external_id", self.post_external_id.as_deref(), MAX_ID_BYTES),
            ("author_name", Some(&self.author_name), MAX_AUTHOR_NAME_BYTES),
            ("text", Some(&self.text), MAX_TEXT_BYTES),
            ("post_url", self.post_url.as_deref(), MAX_LINK_BYTES),
            ("reply_ref", self.reply_ref.as_deref(), MAX_LINK_BYTES),
        ];
        for (field, value, max) in fields {
            if let Some(v) = value
                && v.len() > max
            {
                return Err(ValidationError::new(field, format!("must be at most {max} bytes, not {}", v.len())));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn draft() -> InteractionDraft {
        InteractionDraft {
            kind: InteractionKind::Comment,
            external_id: "c1".into(),
            thread_id: "p1".into(),
            parent_id: Some("p1".into()),
            author_id: "u1".into(),
            author_name: "Camille".into(),
            text: "Bonjour".into(),
            created_at: Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap(),
            post_external_id: Some("p1".into()),
            post_url: Some("https://example.org/p1".into()),
            reply_ref: Some("{}".into()),
        }
    }

    #[test]
    fn every_field_is_bounded_in_bytes_up_to_and_including_its_limit() {
        assert_eq!(draft().check_bounds(), Ok(()));
        type Setter = fn(&mut InteractionDraft, String);
        let setters: [(&str, usize, Setter); 9] = [
            ("external_id", MAX_ID_BYTES, |d, v| d.external_id = v),
            ("thread_id", MAX_ID_BYTES, |d, v| d.thread_id = v),
            ("parent_id", MAX_ID_BYTES, |d, v| d.parent_id = Some(v)),
            ("author_id", MAX_ID_BYTES, |d, v| d.author_id = v),
            ("post_external_id", MAX_ID_BYTES, |d, v| d.post_external_id = Some(v)),
            ("author_name", MAX_AUTHOR_NAME_BYTES, |d, v| d.author_name = v),
            ("text", MAX_TEXT_BYTES, |d, v| d.text = v),
            ("post_url", MAX_LINK_BYTES, |d, v| d.post_url = Some(v)),
            ("reply_ref", MAX_LINK_BYTES, |d, v| d.reply_ref = Some(v)),
        ];
        for (field, max, set) in setters {
            let mut at = draft();
            set(&mut at, "a".repeat(max));
            assert_eq!(at.check_bounds(), Ok(()), "{field} at its bound");
            let mut over = draft();
            set(&mut over, "a".repeat(max + 1));
            assert_eq!(over.check_bounds().map_err(|e| e.field), Err(field.to_owned()), "{field} over its bound");
            // Bytes, not characters: a 3-byte character counts 3.
            let mut wide = draft();
            set(&mut wide, "✨".repeat(max / 3 + 1));
            assert!(wide.check_bounds().is_err(), "{field} in bytes");
        }
    }

    #[test]
    fn the_bounded_keys_fit_dynamodb_partition_keys() {
        // gsi3pk = AUTHOR#<team ≤ 63>#<platform ≤ 9>#<author id>; gsi4pk = THREAD#<team>#<36>#<thread>.
        assert!("AUTHOR#".len() + 63 + 1 + "instagram".len() + 1 + MAX_ID_BYTES <= 2048);
        assert!("THREAD#".len() + 63 + 1 + 36 + 1 + MAX_ID_BYTES <= 2048);
    }
}
