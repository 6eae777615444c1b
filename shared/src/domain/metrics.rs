//! Metric snapshots: what a platform said about a post or an account at one instant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChannelId, DeliveryId, TeamId};

/// Counters as the platform reported them. A counter the platform does not offer is `None`,
/// never 0: reports must not average a missing number as a zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricCounters {
    pub likes: Option<u64>,
    pub reposts: Option<u64>,
    pub replies: Option<u64>,
    pub quotes: Option<u64>,
    pub bookmarks: Option<u64>,
    pub impressions: Option<u64>,
    pub reach: Option<u64>,
    pub clicks: Option<u64>,
    pub followers: Option<u64>,
}

/// What a snapshot measures: one published delivery, or a whole channel (followers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricSubject {
    Delivery { channel_id: ChannelId, delivery_id: DeliveryId },
    Channel { channel_id: ChannelId },
}

impl MetricSubject {
    pub fn channel_id(&self) -> ChannelId {
        match *self {
            MetricSubject::Delivery { channel_id, .. } | MetricSubject::Channel { channel_id } => channel_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricSnapshot {
    pub team_id: TeamId,
    pub subject: MetricSubject,
    pub taken_at: DateTime<Utc>,
    pub counters: MetricCounters,
    /// Raw snapshots expire; daily roll-ups keep what reports need.
    pub expires_at: Option<DateTime<Utc>>,
}
