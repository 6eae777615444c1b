//! Metrics for Meta's networks: what a Facebook Page post, an Instagram media and a Threads post
//! have gathered, and each account's followers ([`MetricsAdapter`] for the three adapters,
//! through their own [`Graph`] client and credential fields).
//!
//! | Herald counter | Facebook post (§4.4 🟡) | Instagram media insights (§4.4 ✅) | Threads post insights (§5.3 ✅) |
//! |---|---|---|---|
//! | `likes` | `reactions.summary.total_count` (every reaction: Facebook's one-tap approval) | `likes` | `likes` |
//! | `replies` | `comments.summary.total_count` | `comments` | `replies` |
//! | `reposts` | `shares.count` (a share re-posts it to a timeline) | `shares` (Instagram has no repost counter; sharing is how a post spreads) | `reposts` |
//! | `quotes` | — | — | `quotes` |
//! | `bookmarks` | — | `saved` | — |
//! | `impressions` | — (`/{post-id}/insights` names are ❓: not read) | `views` (it replaced `impressions`, deprecated since v22) | `views` |
//! | `reach` | — | `reach` | — |
//! | `clicks` | — | — | — (Threads counts clicks per account, not per post) |
//! | `followers` | Page `followers_count`, else `fan_count` (❓) | `followers_count` of the account | `threads_insights?metric=followers_count` → `total_value` |
//!
//! Instagram's `total_interactions` is not asked for: engagements are the sum of the parts
//! ([`MetricCounters::engagements`]), and it would count them twice. Threads' `shares` (posts sent
//! on) has no Herald counter and is not asked for either. A metric Meta leaves out of its answer
//! is `None`, never 0: Instagram answers "an empty data set instead of 0" when it has no data
//! (Instagram Media Insights reference, "Limitations":
//! <https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights>).
//!
//! Insights answers are `{"data": [{"name", "period", "values": [{"value"}], "title", "id"}]}`
//! (that reference, and the Threads Insights API:
//! <https://developers.facebook.com/documentation/threads/insights>); account metrics such as
//! Threads' `followers_count` carry `total_value: {"value"}` instead (🟡: the Threads reference
//! and client libraries agree). Both forms are read for every metric.
//!
//! A metric Meta no longer has (Instagram retired `impressions`, `plays` and `video_views`, and
//! may retire more) makes Meta refuse the whole request with code 100. Rather than fail every
//! read until Herald is changed, a refused many-metric read is asked again one metric at a time:
//! the refused one is `None`, the others are kept. Instagram's code 10 "Not enough viewers for the
//! media to show insights" is no insights yet (all `None`), not a token to reconnect.
//!
//! Errors (the Graph sorting of [`super`], in the poller's terms): code 190 and the permission
//! codes → [`MetricsError::Auth`]; throttling → [`MetricsError::RateLimited`] with the wait of
//! `estimated_time_to_regain_access` or `Retry-After`; HTTP 404, or code 100 with subcode 33
//! ("Object with ID … does not exist, cannot be loaded due to missing permissions, or does not
//! support this operation") → [`MetricsError::Gone`] (⚠️ the subcode for a deleted post is what
//! Graph answers for any unreadable object, not a documented "deleted" signal; a post hidden by a
//! lost permission is then taken for gone too); anything else → [`MetricsError::Failed`].
//!
//! Throttling is also avoided before it happens: a successful answer whose `X-App-Usage` or
//! `X-Business-Use-Case-Usage` already shows [`USAGE_STOP_PERCENT`] of any budget ends the batch
//! there (the posts after it answer `RateLimited`, so the poller keeps what was read and backs
//! off). That is why the adapters take batches ([`POST_BATCH`]) although each post is still one
//! request.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::facebook::{self, FacebookAdapter};
use super::instagram::{self, InstagramAdapter};
use super::threads::{self, ThreadsAdapter};
use super::{Account, Graph, GraphError, List, RATE_LIMIT_PAUSE, usage, usage_peak};
use crate::crypto::Credentials;
use crate::domain::{Channel, MetricCounters};
use crate::platforms::mastodon::Reply;
use crate::platforms::metrics::{MetricsAdapter, MetricsError, PostAnswer, PostRef, read_as_batch_of_one};

/// From this share of any usage budget (percent), the rest of a batch waits for a later round.
pub const USAGE_STOP_PERCENT: f64 = 90.0;
/// How many posts one batch hands an adapter: each is one request, the batch is what lets a
/// high usage header stop the requests after it.
pub const POST_BATCH: usize = 25;

/// Which network a read is for: the three differ in their post and account reads only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    Facebook,
    Instagram,
    Threads,
}

/// How close the app is to Meta's limits after a successful answer.
#[derive(Debug, Clone, Copy, Default)]
struct Pressure {
    /// The highest percentage of the usage headers.
    peak: Option<f64>,
    /// `estimated_time_to_regain_access`, when Meta gave one.
    regain: Option<Duration>,
}

impl Pressure {
    fn of(reply: &Reply) -> Self {
        Self { peak: usage_peak(&reply.headers), regain: usage(&reply.headers).regain }
    }

    fn max(self, other: Self) -> Self {
        let peak = match (self.peak, other.peak) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Self { peak, regain: self.regain.max(other.regain) }
    }

    /// A rate limit to stop at, when the budget is nearly spent.
    fn stop(self) -> Option<MetricsError> {
        let high = self.peak.is_some_and(|p| p >= USAGE_STOP_PERCENT);
        high.then(|| MetricsError::RateLimited { retry_after: Some(self.regain.unwrap_or(RATE_LIMIT_PAUSE)) })
    }
}

/// A read Meta refused: what it means to the poller, and Meta's code and words, for the
/// callers that make something else of a few of them (a retired metric, too few viewers).
#[derive(Debug)]
struct Refused {
    error: MetricsError,
    code: Option<i64>,
    message: String,
}

impl From<MetricsError> for Refused {
    fn from(error: MetricsError) -> Self {
        Self { error, code: None, message: String::new() }
    }
}

/// `GET` read as `T`, with the pressure the answer's headers show; a failed answer sorted for
/// metrics (see the module's doc).
async fn read<T: serde::de::DeserializeOwned>(
    graph: &Graph,
    segments: &[&str],
    params: &[(&str, &str)],
    token: &secrecy::SecretString,
    doing: &str,
) -> Result<(T, Pressure), Refused> {
    let reply = graph.get_reply(segments, params, token, doing).await.map_err(MetricsError::from)?;
    if !reply.status.is_success() {
        let meta = GraphError::parse(&reply.body).unwrap_or_default();
        let gone = reply.status == reqwest::StatusCode::NOT_FOUND || (meta.code == Some(100) && meta.error_subcode == Some(33));
        let error = if gone { MetricsError::Gone } else { graph.error(&reply, doing).into() };
        return Err(Refused { error, code: meta.code, message: meta.message.unwrap_or_default() });
    }
    let body = reply.json(graph.platform, doing).map_err(MetricsError::from)?;
    Ok((body, Pressure::of(&reply)))
}

/// One insights metric: a lifetime metric's `values`, or an account metric's `total_value`.
#[derive(Debug, Deserialize)]
struct Insight {
    #[serde(default)]
    name: String,
    #[serde(default)]
    values: Vec<InsightValue>,
    #[serde(default)]
    total_value: Option<InsightValue>,
}

#[derive(Debug, Deserialize)]
struct InsightValue {
    #[serde(default)]
    value: Option<serde_json::Value>,
}

impl Insight {
    /// `total_value.value`, else the latest of `values`; anything but a whole number (a
    /// breakdown object, a negative) is no number.
    fn value(&self) -> Option<u64> {
        let total = self.total_value.as_ref().and_then(|v| v.value.as_ref());
        total.or_else(|| self.values.last().and_then(|v| v.value.as_ref())).and_then(serde_json::Value::as_u64)
    }
}

/// `GET /{id}/{edge}?metric=a,b,c` → each metric Meta answered with a number, by name.
/// Refused with code 100 (⚠️ a retired or unknown metric: the code Meta gives for an invalid
/// parameter), the metrics are asked one by one and the refused ones left out. Each read pays
/// that again: which metrics a media has depends on its kind (feed, reel, story), so a metric
/// refused for one media is not taken as refused for all. The one-by-one reads all happen even
/// when the usage climbs, so the post's answer is whole; the batch stops after it.
async fn insights(
    graph: &Graph,
    account: &Account,
    id: &str,
    edge: &str,
    metrics: &[&str],
    doing: &str,
) -> Result<(HashMap<String, u64>, Pressure), MetricsError> {
    let numbers = |list: List<Insight>| -> HashMap<String, u64> {
        list.data.iter().filter_map(|i| Some((i.name.clone(), i.value()?))).collect()
    };
    let all = metrics.join(",");
    match read::<List<Insight>>(graph, &[id, edge], &[("metric", &all)], &account.token, doing).await {
        Ok((list, pressure)) => return Ok((numbers(list), pressure)),
        Err(r) if too_few_viewers(&r) => return Ok((HashMap::new(), Pressure::default())),
        Err(r) if r.code == Some(100) && r.error != MetricsError::Gone && metrics.len() > 1 => {
            tracing::info!(platform = graph.platform, reason = %r.error, "insights refused; asking each metric alone");
        }
        Err(r) => return Err(r.error),
    }
    let mut found = HashMap::new();
    let mut pressure = Pressure::default();
    for metric in metrics {
        match read::<List<Insight>>(graph, &[id, edge], &[("metric", metric)], &account.token, doing).await {
            Ok((list, p)) => {
                found.extend(numbers(list));
                pressure = pressure.max(p);
            }
            Err(r) if too_few_viewers(&r) || (r.code == Some(100) && r.error != MetricsError::Gone) => {
                tracing::warn!(platform = graph.platform, metric, reason = %r.error, "metric refused; counted as missing");
            }
            Err(r) => return Err(r.error),
        }
    }
    Ok((found, pressure))
}

/// Instagram's "(#10) Not enough viewers for the media to show insights" (Instagram Media
/// Insights reference): the media has no insights yet; code 10 otherwise is a missing permission.
fn too_few_viewers(r: &Refused) -> bool {
    r.code == Some(10) && r.message.to_ascii_lowercase().contains("not enough viewers")
}

/// `shares`, `reactions` and `comments` of a Page post (§4.4 🟡).
#[derive(Debug, Deserialize)]
struct PagePostCounts {
    #[serde(default)]
    shares: Option<ShareCount>,
    #[serde(default)]
    reactions: Option<Edge>,
    #[serde(default)]
    comments: Option<Edge>,
}

#[derive(Debug, Deserialize)]
struct ShareCount {
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Edge {
    #[serde(default)]
    summary: Option<Summary>,
}

#[derive(Debug, Deserialize)]
struct Summary {
    #[serde(default)]
    total_count: Option<u64>,
}

impl Edge {
    fn total(edge: Option<&Edge>) -> Option<u64> {
        edge.and_then(|e| e.summary.as_ref()).and_then(|s| s.total_count)
    }
}

/// Instagram media insights asked for (§4.4 ✅; see the module's table).
const INSTAGRAM_METRICS: &[&str] = &["reach", "likes", "comments", "shares", "saved", "views"];
/// Threads post insights asked for (§5.3 ✅).
const THREADS_METRICS: &[&str] = &["views", "likes", "replies", "reposts", "quotes"];

impl Network {
    /// One post's counters and the pressure after reading them.
    async fn post(self, graph: &Graph, account: &Account, id: &str) -> Result<(MetricCounters, Pressure), MetricsError> {
        const DOING: &str = "reading a post's metrics";
        match self {
            Network::Facebook => {
                // Publishing records a Page post as `{page-id}_{post-id}`, but a video as the
                // video's own id. A Video node has `reactions` and `comments` but no `shares`
                // (⚠️ from Meta's Video reference, not platforms.md), and asking for a field a
                // node lacks fails the whole read: a video is read without it.
                let fields = if id.contains('_') {
                    "shares,reactions.summary(total_count),comments.summary(true)"
                } else {
                    "reactions.summary(total_count),comments.summary(true)"
                };
                let (post, pressure) =
                    read::<PagePostCounts>(graph, &[id], &[("fields", fields)], &account.token, DOING).await.map_err(|r| r.error)?;
                let counters = MetricCounters {
                    likes: Edge::total(post.reactions.as_ref()),
                    replies: Edge::total(post.comments.as_ref()),
                    reposts: post.shares.and_then(|s| s.count),
                    ..Default::default()
                };
                Ok((counters, pressure))
            }
            Network::Instagram => {
                let (m, pressure) = insights(graph, account, id, "insights", INSTAGRAM_METRICS, DOING).await?;
                let counters = MetricCounters {
                    likes: m.get("likes").copied(),
                    replies: m.get("comments").copied(),
                    reposts: m.get("shares").copied(),
                    bookmarks: m.get("saved").copied(),
                    impressions: m.get("views").copied(),
                    reach: m.get("reach").copied(),
                    ..Default::default()
                };
                Ok((counters, pressure))
            }
            Network::Threads => {
                let (m, pressure) = insights(graph, account, id, "insights", THREADS_METRICS, DOING).await?;
                let counters = MetricCounters {
                    likes: m.get("likes").copied(),
                    replies: m.get("replies").copied(),
                    reposts: m.get("reposts").copied(),
                    quotes: m.get("quotes").copied(),
                    impressions: m.get("views").copied(),
                    ..Default::default()
                };
                Ok((counters, pressure))
            }
        }
    }

    /// The account's followers now.
    async fn followers(self, graph: &Graph, account: &Account) -> Result<Option<u64>, MetricsError> {
        const DOING: &str = "reading the account's followers";
        let count = |v: &serde_json::Value, name: &str| v.get(name).and_then(serde_json::Value::as_u64);
        let fields = |fields: &'static str| async move {
            let params = [("fields", fields)];
            read::<serde_json::Value>(graph, &[&account.id], &params, &account.token, DOING).await.map(|(v, _)| v)
        };
        match self {
            Network::Facebook => {
                let page = fields("followers_count,fan_count").await.map_err(|r| r.error)?;
                Ok(count(&page, "followers_count").or_else(|| count(&page, "fan_count")))
            }
            Network::Instagram => {
                let user = fields("followers_count").await.map_err(|r| r.error)?;
                Ok(count(&user, "followers_count"))
            }
            Network::Threads => {
                let (m, _) = insights(graph, account, &account.id, "threads_insights", &["followers_count"], DOING).await?;
                Ok(m.get("followers_count").copied())
            }
        }
    }

    /// The posts one after the other. A refused token or a rate limit (Meta's, or a usage
    /// header at [`USAGE_STOP_PERCENT`]) ends the reads: before any answer it is the batch's
    /// error, after some it is the answer of every post not read, so the poller keeps the
    /// answers it has and leaves the channel alone.
    async fn batch(self, graph: &Graph, account: &Account, posts: &[PostRef<'_>]) -> Result<Vec<PostAnswer>, MetricsError> {
        let mut answers: Vec<PostAnswer> = Vec::with_capacity(posts.len());
        let mut stopped: Option<MetricsError> = None;
        for post in posts {
            if let Some(e) = &stopped {
                answers.push(Err(e.clone()));
                continue;
            }
            match self.post(graph, account, post.platform_post_id).await {
                Ok((counters, pressure)) => {
                    answers.push(Ok(counters));
                    if let Some(e) = pressure.stop() {
                        let peak = pressure.peak;
                        tracing::info!(platform = graph.platform, ?peak, "Meta usage is high; the rest of the batch waits");
                        stopped = Some(e);
                    }
                }
                Err(e @ (MetricsError::RateLimited { .. } | MetricsError::Auth { .. })) => {
                    if answers.is_empty() {
                        return Err(e);
                    }
                    answers.push(Err(e.clone()));
                    stopped = Some(e);
                }
                Err(e) => answers.push(Err(e)),
            }
        }
        Ok(answers)
    }
}

/// The impl of [`MetricsAdapter`] for one Meta adapter: its network, `Graph` and credentials.
macro_rules! meta_metrics {
    ($adapter:ty, $network:expr, $account:path) => {
        #[async_trait]
        impl MetricsAdapter for $adapter {
            async fn post_counters(
                &self,
                channel: &Channel,
                credentials: &Credentials,
                platform_post_id: &str,
                published_at: DateTime<Utc>,
            ) -> Result<MetricCounters, MetricsError> {
                read_as_batch_of_one(self, channel, credentials, platform_post_id, published_at).await
            }

            fn max_batch(&self) -> usize {
                POST_BATCH
            }

            async fn post_counters_batch(
                &self,
                _channel: &Channel,
                credentials: &Credentials,
                posts: &[PostRef<'_>],
            ) -> Result<Vec<PostAnswer>, MetricsError> {
                let account = $account(credentials)?;
                $network.batch(&self.graph, &account, posts).await
            }

            async fn followers(&self, _channel: &Channel, credentials: &Credentials) -> Result<Option<u64>, MetricsError> {
                let account = $account(credentials)?;
                $network.followers(&self.graph, &account).await
            }
        }
    };
}

meta_metrics!(FacebookAdapter, Network::Facebook, facebook::page);
meta_metrics!(InstagramAdapter, Network::Instagram, instagram::account);
meta_metrics!(ThreadsAdapter, Network::Threads, threads::account);

#[cfg(test)]
mod tests {
    use super::*;

    fn insight(json: serde_json::Value) -> Insight {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn an_insight_is_its_total_value_or_its_latest_value() {
        let lifetime = insight(serde_json::json!({
            "name": "reach", "period": "lifetime", "values": [{"value": 12}], "title": "Reach", "id": "1/insights/reach/lifetime"
        }));
        assert_eq!(lifetime.value(), Some(12));
        let account = insight(serde_json::json!({"name": "followers_count", "period": "day", "total_value": {"value": 480}}));
        assert_eq!(account.value(), Some(480));
        let series =
            insight(serde_json::json!({"name": "views", "values": [{"value": 3, "end_time": "a"}, {"value": 9, "end_time": "b"}]}));
        assert_eq!(series.value(), Some(9));
        assert_eq!(insight(serde_json::json!({"name": "views", "values": []})).value(), None, "no value is missing, not 0");
        assert_eq!(insight(serde_json::json!({"name": "x", "values": [{"value": {"a": 1}}]})).value(), None);
        assert_eq!(insight(serde_json::json!({"name": "x", "values": [{"value": -1}]})).value(), None);
    }

    #[test]
    fn pressure_stops_at_the_threshold_with_metas_wait() {
        let at = |peak: f64, regain: Option<u64>| Pressure { peak: Some(peak), regain: regain.map(|m| Duration::from_secs(m * 60)) };
        assert_eq!(at(89.9, None).stop(), None);
        assert_eq!(Pressure::default().stop(), None);
        assert_eq!(at(90.0, None).stop(), Some(MetricsError::RateLimited { retry_after: Some(RATE_LIMIT_PAUSE) }));
        assert_eq!(at(95.0, Some(3)).stop(), Some(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(180)) }));
        assert_eq!(at(10.0, None).max(at(92.0, Some(2))).max(Pressure::default()).peak, Some(92.0));
    }
}
