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

impl MetricCounters {
    /// Engagements: every interaction counter the platform reports (likes, reposts, replies,
    /// quotes, bookmarks, clicks), summed. `None` when the platform reports none of them, so a
    /// post with no numbers is never averaged in as a zero. Impressions, reach and followers are
    /// audience sizes, not engagements.
    pub fn engagements(&self) -> Option<u64> {
        let parts = [self.likes, self.reposts, self.replies, self.quotes, self.bookmarks, self.clicks];
        parts.iter().flatten().copied().reduce(u64::saturating_add)
    }

    /// Whether the platform gave any number at all.
    pub fn is_empty(&self) -> bool {
        *self == MetricCounters::default()
    }
}

impl MetricSubject {
    /// The subject's part of a store key: `D#<delivery id>` or `C#<channel id>`.
    pub fn key(&self) -> String {
        match self {
            MetricSubject::Delivery { delivery_id, .. } => format!("D#{delivery_id}"),
            MetricSubject::Channel { channel_id } => format!("C#{channel_id}"),
        }
    }
}

/// One subject's day: the last counters taken that day (the day in the team's zone). Reports
/// read these instead of raw snapshots, so a month is O(posts + days), whatever the polling.
/// Kept without expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRollup {
    pub team_id: TeamId,
    pub subject: MetricSubject,
    /// The day, in the team's time zone.
    pub day: chrono::NaiveDate,
    /// When the snapshot these counters come from was taken (the day's latest).
    pub taken_at: DateTime<Utc>,
    pub counters: MetricCounters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engagements_sum_what_exists_and_missing_stays_missing() {
        let c = MetricCounters { likes: Some(3), reposts: Some(2), replies: None, impressions: Some(100), ..Default::default() };
        assert_eq!(c.engagements(), Some(5));
        let only_audience = MetricCounters { impressions: Some(10), followers: Some(4), ..Default::default() };
        assert_eq!(only_audience.engagements(), None);
        assert_eq!(MetricCounters { likes: Some(0), ..Default::default() }.engagements(), Some(0));
    }
}
