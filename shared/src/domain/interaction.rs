//! Interactions: comments, mentions, replies and messages that reach the inbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChannelId, InteractionId, Platform, TeamId, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    Comment,
    Mention,
    Reply,
    DirectMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}
