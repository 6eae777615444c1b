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
