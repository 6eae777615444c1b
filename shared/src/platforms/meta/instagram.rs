//! Instagram (professional accounts): publishing through containers (platforms.md §4.3,
//! platforms-more.md §8.1).
//!
//! 1. `GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config` (✅
//!    `{"data":[{"quota_usage":3,"config":{"quota_total":50,"quota_duration":86400}}]}`): a spent
//!    quota stops here, before anything is made.
//! 2. Containers: one image `POST /{ig-user-id}/media` with `image_url`, `caption`, `alt_text`;
//!    one video as a Reel (`media_type=REELS`, `video_url`, `caption`); a carousel (2–10 🟡) as
//!    children (`image_url` or `media_type=VIDEO&video_url` ⚠️, each with
//!    `is_carousel_item=true`), then the parent `media_type=CAROUSEL&children=<ids>&caption=`.
//!    Each answers `{"id": "<container id>"}` ✅.
//! 3. Each container is polled (`GET /{container-id}?fields=status_code,status`) until
//!    `FINISHED`, within [`MetaConfig::container_wait`]: `ERROR` is permanent (Meta could not use
//!    the media; `status` says why), `EXPIRED` and still `IN_PROGRESS` at the end of the wait are
//!    transient (a retry makes new containers).
//! 4. `POST /{ig-user-id}/media_publish?creation_id=<container id>` → `{"id": "<media id>"}` ✅,
//!    then the media's `permalink` and `timestamp` are read (best effort).
//!
//! The quota, when spent, is a [`PublishError::Transient`] with a retry after
//! [`MetaConfig::quota_retry`] (an hour by default), not a permanent failure: the window is a
//! rolling 24 hours, so a slot frees up as soon as the oldest of the last 50 posts turns a day
//! old, and the same post then goes through unchanged. Meta does not say when that is, so
//! Herald tries again an hour later; after the publisher's last attempt the delivery fails with
//! the quota as its reason.
//!
//! 5. The post's first comment, if it has one: `POST /{ig-media-id}/comments` with `message`
//!    → `{"id"}` (§8.1 ✅; not on live video), best effort ([`super::first_comment`]): a failure
//!    is logged and the delivery is still published. Its length is checked when the post is
//!    saved (2,200 like a caption ⚠️: the comment limit is not in the shared files). A post
//!    found by [`InstagramAdapter::find_published`] after a crash gets no comment.
//!
//! Credentials: `ig_user_id` and `access_token` (`instagram_basic`,
//! `instagram_content_publish`). Images must be JPEG (✅: Meta refuses others), which
//! `limits::check_upload` says when the post is saved for uploads.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    Account, ContainerFields, Created, Graph, List, MetaConfig, PublicMedia, not_before, parse_graph_time, public_media, same_text,
};
use crate::clock::Clock;
use crate::crypto::Credentials;
use crate::domain::Channel;
use crate::platforms::mastodon::permanent;
use crate::platforms::net::NetworkPolicy;
use crate::platforms::{PlatformAdapter, PublishError, PublishRequest, Published};

const PLATFORM: &str = "Instagram";
/// Carousel size (platforms-more.md §8.1 🟡).
const MAX_CAROUSEL: usize = 10;

pub struct InstagramAdapter {
    pub(super) graph: Graph,
    pub(super) config: MetaConfig,
}

impl std::fmt::Debug for InstagramAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstagramAdapter").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The channel's account: its id and token fields on this network.
pub(super) fn account(credentials: &Credentials) -> Result<Account, PublishError> {
    Account::from_credentials(credentials, "ig_user_id", "access_token", PLATFORM)
}

#[derive(Debug, Deserialize)]
struct Quota {
    #[serde(default)]
    quota_usage: u64,
    #[serde(default)]
    config: Option<QuotaConfig>,
}

#[derive(Debug, Deserialize)]
struct QuotaConfig {
    quota_total: u64,
    #[serde(default)]
    quota_duration: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    children: Option<List<serde_json::Value>>,
}

impl Media {
    fn published(self) -> Published {
        Published {
            published_at: self.timestamp.as_deref().and_then(parse_graph_time),
            url: self.permalink,
            platform_post_id: self.id,
        }
    }

    /// Pictures and videos it holds: a carousel's children (when Meta lists them), else one.
    fn media_count(&self) -> Option<usize> {
        match (self.media_type.as_deref(), &self.children) {
            (Some("CAROUSEL_ALBUM"), Some(children)) => Some(children.data.len()),
            (Some("CAROUSEL_ALBUM"), None) => None,
            _ => Some(1),
        }
    }
}

impl InstagramAdapter {
    /// The production adapter, on [`MetaConfig::from_env`].
    pub fn new(clock: Arc<dyn Clock>, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        Self::with_config(clock, MetaConfig::from_env(), network)
    }

    pub fn with_config(clock: Arc<dyn Clock>, config: MetaConfig, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        let graph = Graph::new(&config, &config.graph_url, super::GRAPH_URL_VAR, PLATFORM, clock, network)?;
        Ok(Self { graph, config })
    }

    /// Refuses to start when the 24-hour publishing quota is spent (see the module's doc).
    async fn check_quota(&self, account: &Account) -> Result<(), PublishError> {
        let list: List<Quota> = self
            .graph
            .get(
                &[&account.id, "content_publishing_limit"],
                &[("fields", "quota_usage,config")],
                &account.token,
                "reading the publishing quota",
            )
            .await?;
        let Some(quota) = list.data.first() else { return Ok(()) };
        let Some(config) = &quota.config else { return Ok(()) };
        if quota.quota_usage >= config.quota_total {
            let hours = config.quota_duration.unwrap_or(86_400) / 3600;
            return Err(PublishError::Transient {
                reason: format!(
                    "Instagram's publishing quota is spent: {} of {} posts in the last {hours} hours; \
                     Herald tries again when the window has moved",
                    quota.quota_usage, config.quota_total
                ),
                retry_after: Some(self.config.quota_retry),
            });
        }
        Ok(())
    }

    async fn container(&self, account: &Account, params: Vec<(&'static str, String)>) -> Result<String, PublishError> {
        let made: Created = self.graph.post(&[&account.id, "media"], &params, &account.token, "making a container").await?;
        Ok(made.id)
    }

    /// Waits for a container (`status_code`, with Meta's words in `status` on an `ERROR`).
    async fn wait_finished(&self, account: &Account, container: &str) -> Result<(), PublishError> {
        const FIELDS: ContainerFields = ContainerFields { state: "status_code", why: "status", holds: "the media" };
        self.graph.wait_for_container(&self.config, &account.token, container, &FIELDS).await
    }

    /// The media's own words on itself after `media_publish` (best effort: the post exists).
    async fn read_media(&self, account: &Account, id: String) -> Published {
        match self
            .graph
            .get::<Media>(&[&id], &[("fields", "id,permalink,timestamp")], &account.token, "reading the new post")
            .await
        {
            Ok(media) => media.published(),
            Err(e) => {
                tracing::warn!(media_id = %id, error = %e, "published on Instagram; its permalink could not be read");
                Published { platform_post_id: id, url: None, published_at: None }
            }
        }
    }
}

fn item_params(media: &PublicMedia, carousel_item: bool) -> Vec<(&'static str, String)> {
    let mut params = if media.video {
        vec![("media_type", if carousel_item { "VIDEO" } else { "REELS" }.to_owned()), ("video_url", media.url.clone())]
    } else {
        vec![("image_url", media.url.clone())]
    };
    if carousel_item {
        params.push(("is_carousel_item", "true".to_owned()));
    }
    if let (Some(alt), false) = (&media.alt, media.video) {
        params.push(("alt_text", alt.clone()));
    }
    params
}

#[async_trait]
impl PlatformAdapter for InstagramAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        let account = account(request.credentials)?;
        if request.media.is_empty() {
            return Err(permanent("Instagram has no text-only posts: attach at least one picture or video"));
        }
        if request.media.len() > MAX_CAROUSEL {
            return Err(permanent(format!("an Instagram carousel holds at most {MAX_CAROUSEL} pictures or videos")));
        }
        let mut media = Vec::with_capacity(request.media.len());
        for m in request.media {
            media.push(public_media(request.media_files, m, PLATFORM).await?);
        }
        self.check_quota(&account).await?;
        let caption = request.text.to_owned();
        let container = match media.as_slice() {
            [one] => {
                let mut params = item_params(one, false);
                params.push(("caption", caption));
                let id = self.container(&account, params).await?;
                self.wait_finished(&account, &id).await?;
                id
            }
            items => {
                let mut children = Vec::with_capacity(items.len());
                for item in items {
                    children.push(self.container(&account, item_params(item, true)).await?);
                }
                for child in &children {
                    self.wait_finished(&account, child).await?;
                }
                let params = vec![("media_type", "CAROUSEL".to_owned()), ("children", children.join(",")), ("caption", caption)];
                let id = self.container(&account, params).await?;
                self.wait_finished(&account, &id).await?;
                id
            }
        };
        let made: Created = self
            .graph
            .post(&[&account.id, "media_publish"], &[("creation_id", container.clone())], &account.token, "publishing the post")
            .await?;
        tracing::info!(delivery = %request.delivery.id, channel = %request.channel.id, container = %container, media_id = %made.id, "published on Instagram");
        super::first_comment(&self.graph, request, &made.id, &account.token).await;
        Ok(self.read_media(&account, made.id).await)
    }

    /// Looks for this delivery's post among the account's 25 latest media
    /// (`GET /{ig-user-id}/media?fields=id,caption,timestamp,permalink,media_type,children`,
    /// platforms-more.md §9 ⚠️). The container id would be the better handle (§9 ✅: `PUBLISHED`
    /// means done) but the publisher keeps no attempt record for it yet, so: a media matches when
    /// its `caption` equals the text (normalised: NFC, whitespace collapsed), its `timestamp` is
    /// at or after a minute before the delivery was due, and it holds as many pictures or videos
    /// as the delivery (a carousel's `children`, when Meta lists them).
    ///
    /// Limits: the same caption posted by hand in the window is taken for this one; a caption
    /// edited since is not found; more than 25 posts since the attempt and it is not found.
    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        let account = account(request.credentials)?;
        let list: List<Media> = self
            .graph
            .get(
                &[&account.id, "media"],
                &[("fields", "id,caption,timestamp,permalink,media_type,children"), ("limit", "25")],
                &account.token,
                "listing recent posts",
            )
            .await?;
        let since = not_before(request);
        let found = list.data.into_iter().find(|m| {
            let recent = m.timestamp.as_deref().and_then(parse_graph_time).is_some_and(|t| t >= since);
            let count_ok = m.media_count().is_none_or(|n| n == request.media.len());
            recent && count_ok && same_text(request.text, m.caption.as_deref())
        });
        Ok(found.map(Media::published))
    }

    /// `GET /{ig-user-id}?fields=id,username` with the token.
    async fn check_credentials(&self, _: &Channel, credentials: &Credentials) -> Result<(), PublishError> {
        let account = account(credentials)?;
        let _: serde_json::Value =
            self.graph.get(&[&account.id], &[("fields", "id,username")], &account.token, "checking the access token").await?;
        Ok(())
    }
}
