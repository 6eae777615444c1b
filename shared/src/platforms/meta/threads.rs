//! Threads: publishing through containers (platforms.md §5.2, platforms-more.md §8.1).
//!
//! 1. `POST /{threads-user-id}/threads` with `media_type=TEXT|IMAGE|VIDEO`, `text`, `image_url` /
//!    `video_url`, `alt_text` → `{"id": "<container id>"}` ✅. A carousel (2–20 🟡): children with
//!    `is_carousel_item=true`, then `media_type=CAROUSEL&children=<ids>&text=` ✅.
//! 2. `GET /{container-id}?fields=status,error_message` until `FINISHED` (🟡; Meta suggests
//!    waiting about 30 s on average before publishing), within [`MetaConfig::container_wait`]:
//!    `ERROR` is permanent, `EXPIRED` and still `IN_PROGRESS` at the end are transient.
//! 3. `POST /{threads-user-id}/threads_publish?creation_id=<id>` → `{"id": "<threads media id>"}`
//!    ✅, then its `permalink` and `timestamp` (best effort).
//!
//! The post's `reply_control` (who may reply: `everyone`, `accounts_you_follow`,
//! `mentioned_only`, `parent_post_author_only`, `followers_only`, §8.1 ✅) is sent on the post's
//! container (a carousel's parent, not its children).
//!
//! 4. The post's first reply, if it has one (§8.1 ✅, §5.2): a `TEXT` container with `text` and
//!    `reply_to_id` = the new post's id, waited for like the post's, then `threads_publish`.
//!    Best effort: any failure is logged (`warn`) and the delivery is still published (a retry
//!    would post twice; Threads takes no idempotency key). It runs inside the publisher's
//!    bound on the attempt; should that bound fire during the reply, the post is found by
//!    reconciling and the reply is not made again. A post found by
//!    [`ThreadsAdapter::find_published`] after a crash gets no reply. The reply counts against
//!    Threads' 1,000 replies a day, not the 250 posts.
//!
//! Not done here: the 250-a-day quota (`threads_publishing_limit`): Meta refuses
//! `threads_publish` over quota with a Graph error, which is reported as it comes.
//!
//! Credentials: `threads_user_id` and `access_token` (`threads_basic`,
//! `threads_content_publish`).

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

const PLATFORM: &str = "Threads";
/// Carousel size (platforms-more.md §8.1 🟡).
const MAX_CAROUSEL: usize = 20;

pub struct ThreadsAdapter {
    pub(super) graph: Graph,
    pub(super) config: MetaConfig,
}

impl std::fmt::Debug for ThreadsAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadsAdapter").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The channel's account: its id and token fields on this network.
pub(super) fn account(credentials: &Credentials) -> Result<Account, PublishError> {
    Account::from_credentials(credentials, "threads_user_id", "access_token", PLATFORM)
}

#[derive(Debug, Deserialize)]
struct Thread {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    children: Option<List<serde_json::Value>>,
}

impl Thread {
    fn published(self) -> Published {
        Published {
            published_at: self.timestamp.as_deref().and_then(parse_graph_time),
            url: self.permalink,
            platform_post_id: self.id,
        }
    }

    /// Pictures and videos it holds, when the listing says (`TEXT_POST` none, a carousel its
    /// `children` when listed, anything else one).
    fn media_count(&self) -> Option<usize> {
        match (self.media_type.as_deref(), &self.children) {
            (Some("TEXT_POST"), _) => Some(0),
            (Some("CAROUSEL_ALBUM"), Some(children)) => Some(children.data.len()),
            (Some("CAROUSEL_ALBUM"), None) | (None, _) => None,
            _ => Some(1),
        }
    }
}

fn item_params(media: &PublicMedia) -> Vec<(&'static str, String)> {
    let mut params = if media.video {
        vec![("media_type", "VIDEO".to_owned()), ("video_url", media.url.clone())]
    } else {
        vec![("media_type", "IMAGE".to_owned()), ("image_url", media.url.clone())]
    };
    if let Some(alt) = &media.alt {
        params.push(("alt_text", alt.clone()));
    }
    params
}

impl ThreadsAdapter {
    /// The production adapter, on [`MetaConfig::from_env`].
    pub fn new(clock: Arc<dyn Clock>, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        Self::with_config(clock, MetaConfig::from_env(), network)
    }

    pub fn with_config(clock: Arc<dyn Clock>, config: MetaConfig, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        let graph = Graph::new(&config, &config.threads_url, super::THREADS_URL_VAR, PLATFORM, clock, network)?;
        Ok(Self { graph, config })
    }

    async fn container(&self, account: &Account, params: Vec<(&'static str, String)>) -> Result<String, PublishError> {
        let made: Created = self.graph.post(&[&account.id, "threads"], &params, &account.token, "making a container").await?;
        Ok(made.id)
    }

    /// Replies `text` to the post `to`: a `TEXT` container with `reply_to_id`, waited for, then
    /// `threads_publish`; the reply's id. A post's first reply (step 4 of the module's doc) and
    /// a reply from the inbox (`inbox.rs`) both go this way; `what` names it in errors.
    pub(super) async fn reply_to(&self, account: &Account, to: &str, text: &str, what: &str) -> Result<String, PublishError> {
        let params = vec![("media_type", "TEXT".to_owned()), ("text", text.to_owned()), ("reply_to_id", to.to_owned())];
        let container: Created =
            self.graph.post(&[&account.id, "threads"], &params, &account.token, &format!("making {what}'s container")).await?;
        self.wait_finished(account, &container.id).await?;
        let made: Created = self
            .graph
            .post(&[&account.id, "threads_publish"], &[("creation_id", container.id)], &account.token, &format!("publishing {what}"))
            .await?;
        Ok(made.id)
    }

    /// Waits for a container (`status`, with Meta's words in `error_message` on an `ERROR`).
    async fn wait_finished(&self, account: &Account, container: &str) -> Result<(), PublishError> {
        const FIELDS: ContainerFields = ContainerFields { state: "status", why: "error_message", holds: "the post" };
        self.graph.wait_for_container(&self.config, &account.token, container, &FIELDS).await
    }
}

#[async_trait]
impl PlatformAdapter for ThreadsAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        let account = account(request.credentials)?;
        if request.media.len() > MAX_CAROUSEL {
            return Err(permanent(format!("a Threads carousel holds at most {MAX_CAROUSEL} pictures or videos")));
        }
        let mut media = Vec::with_capacity(request.media.len());
        for m in request.media {
            media.push(public_media(request.media_files, m, PLATFORM).await?);
        }
        let text = request.text.to_owned();
        // Who may reply: on the post's own container only (a carousel's parent).
        let reply_control = request.reply_control.map(|r| ("reply_control", r.as_str().to_owned()));
        let container = match media.as_slice() {
            [] => {
                let params = [("media_type", "TEXT".to_owned()), ("text", text)].into_iter().chain(reply_control).collect();
                self.container(&account, params).await?
            }
            [one] => {
                let mut params = item_params(one);
                params.push(("text", text));
                params.extend(reply_control);
                self.container(&account, params).await?
            }
            items => {
                let mut children = Vec::with_capacity(items.len());
                for item in items {
                    let mut params = item_params(item);
                    params.push(("is_carousel_item", "true".to_owned()));
                    children.push(self.container(&account, params).await?);
                }
                for child in &children {
                    self.wait_finished(&account, child).await?;
                }
                let mut params = vec![("media_type", "CAROUSEL".to_owned()), ("children", children.join(",")), ("text", text)];
                params.extend(reply_control);
                self.container(&account, params).await?
            }
        };
        self.wait_finished(&account, &container).await?;
        let made: Created = self
            .graph
            .post(&[&account.id, "threads_publish"], &[("creation_id", container.clone())], &account.token, "publishing the post")
            .await?;
        tracing::info!(delivery = %request.delivery.id, channel = %request.channel.id, container = %container, thread_id = %made.id, "published on Threads");
        if let Some(reply) = request.first_comment {
            match self.reply_to(&account, &made.id, reply, "the first reply").await {
                Ok(id) => tracing::info!(delivery = %request.delivery.id, thread_id = %made.id, reply_id = %id, "first reply made on Threads"),
                Err(e) => tracing::warn!(delivery = %request.delivery.id, thread_id = %made.id, error = %e, "published on Threads; its first reply failed and is not retried"),
            }
        }
        let read = self
            .graph
            .get::<Thread>(&[&made.id], &[("fields", "id,permalink,timestamp")], &account.token, "reading the new post")
            .await;
        Ok(match read {
            Ok(thread) => thread.published(),
            Err(e) => {
                tracing::warn!(thread_id = %made.id, error = %e, "published on Threads; its permalink could not be read");
                Published { platform_post_id: made.id, url: None, published_at: None }
            }
        })
    }

    /// Looks for this delivery's post among the profile's 25 latest
    /// (`GET /{threads-user-id}/threads?fields=id,text,timestamp,permalink,media_type,children&since=<unix>`,
    /// platforms-more.md §9 ✅ for the endpoint): a post matches when its `text` equals the
    /// delivery's (normalised: NFC, whitespace collapsed), its `timestamp` is at or after a minute
    /// before the delivery was due, and, where the listing says, it holds as many pictures or
    /// videos (`TEXT_POST` none, a carousel's `children`).
    ///
    /// Limits: the same text posted by hand in the window is taken for this one; more than 25
    /// posts since the attempt and it is not found.
    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        let account = account(request.credentials)?;
        let since = not_before(request);
        let since_unix = since.timestamp().to_string();
        let list: List<Thread> = self
            .graph
            .get(
                &[&account.id, "threads"],
                &[("fields", "id,text,timestamp,permalink,media_type,children"), ("since", &since_unix), ("limit", "25")],
                &account.token,
                "listing recent posts",
            )
            .await?;
        let found = list.data.into_iter().find(|t| {
            let recent = t.timestamp.as_deref().and_then(parse_graph_time).is_some_and(|at| at >= since);
            let count_ok = t.media_count().is_none_or(|n| n == request.media.len());
            recent && count_ok && same_text(request.text, t.text.as_deref())
        });
        Ok(found.map(Thread::published))
    }

    /// `GET /{threads-user-id}?fields=id,username` with the token.
    async fn check_credentials(&self, _: &Channel, credentials: &Credentials) -> Result<(), PublishError> {
        let account = account(credentials)?;
        let _: serde_json::Value =
            self.graph.get(&[&account.id], &[("fields", "id,username")], &account.token, "checking the access token").await?;
        Ok(())
    }
}
