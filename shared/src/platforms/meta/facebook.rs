//! Facebook Pages: publishing with the Graph API and a Page access token (platforms.md §4.2).
//!
//! - text, with or without a link: `POST /{page-id}/feed` with `message` (and `link`: the first
//!   http(s) URL of the text, so the post carries its preview) → `{"id": "{page-id}_{post-id}"}` ✅;
//! - one photo: `POST /{page-id}/photos` with `url` and `message` → `{"id", "post_id"}` ✅
//!   (the caption parameter is ❓ `message`/`caption` in the docs: `message`);
//! - several photos: each `POST /{page-id}/photos` with `published=false` (an unpublished photo
//!   Meta keeps for a post), then `POST /{page-id}/feed` with `attached_media[i]={"media_fbid":…}`
//!   (Meta's multi-photo recipe; not in platforms.md ⚠️);
//! - one video: `POST /{page-id}/videos` with `file_url` and `description` → `{"id"}` (the
//!   video's id; ⚠️ not in platforms.md). A video with photos is refused: Facebook has no such post.
//!
//! Then the post's first comment, if it has one: `POST /{post-id}/comments` with `message` →
//! `{"id"}` on the id above (a video's own id for a video; ⚠️ Meta's comments reference, not in
//! the shared files), best effort ([`super::first_comment`]): a failure is logged and the
//! delivery is still published. A post found by [`FacebookAdapter::find_published`] after a
//! crash gets no comment.
//!
//! Credentials: `page_id` and `page_access_token` (with `pages_manage_posts`,
//! `pages_read_engagement`). Exactly once: Facebook has no idempotency key, so after a crash
//! [`FacebookAdapter::find_published`] reads the Page's recent posts.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Account, Created, Graph, List, MetaConfig, PublicMedia, not_before, parse_graph_time, public_media, same_text};
use crate::clock::Clock;
use crate::crypto::Credentials;
use crate::domain::Channel;
use crate::platforms::mastodon::permanent;
use crate::platforms::net::NetworkPolicy;
use crate::platforms::{PlatformAdapter, PublishError, PublishRequest, Published};

const PLATFORM: &str = "Facebook";

pub struct FacebookAdapter {
    pub(super) graph: Graph,
}

impl std::fmt::Debug for FacebookAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookAdapter").finish_non_exhaustive()
    }
}

/// The Page a channel publishes as: its id and its Page access token.
pub(super) fn page(credentials: &Credentials) -> Result<Account, PublishError> {
    Account::from_credentials(credentials, "page_id", "page_access_token", PLATFORM)
}

#[derive(Debug, Deserialize)]
struct PagePost {
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    permalink_url: Option<String>,
    #[serde(default)]
    attachments: Option<Attachments>,
}

#[derive(Debug, Deserialize)]
struct Attachments {
    #[serde(default)]
    data: Vec<Attachment>,
}

#[derive(Debug, Deserialize)]
struct Attachment {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    subattachments: Option<Attachments>,
}

impl PagePost {
    /// Photos and videos the post shows: an album's sub-attachments, else one per photo or
    /// video attachment (a link's preview is not a media).
    fn media_count(&self) -> usize {
        let Some(a) = &self.attachments else { return 0 };
        a.data
            .iter()
            .map(|x| match &x.subattachments {
                Some(sub) if !sub.data.is_empty() => sub.data.len(),
                _ => usize::from(matches!(x.media_type.as_deref(), Some("photo" | "video"))),
            })
            .sum()
    }
}

fn post_url(id: &str) -> String {
    format!("https://www.facebook.com/{id}")
}

fn published(id: String) -> Published {
    Published { url: Some(post_url(&id)), platform_post_id: id, published_at: None }
}

/// The first http(s) URL of `text`, for the post's link preview.
fn first_link(text: &str) -> Option<&str> {
    text.split_whitespace()
        .map(|w| w.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']))
        .find(|w| (w.starts_with("https://") || w.starts_with("http://")) && w.len() > "https://".len())
}

impl FacebookAdapter {
    /// The production adapter, on [`MetaConfig::from_env`].
    pub fn new(clock: Arc<dyn Clock>, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        Self::with_config(clock, MetaConfig::from_env(), network)
    }

    pub fn with_config(clock: Arc<dyn Clock>, config: MetaConfig, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        Ok(Self { graph: Graph::new(&config, &config.graph_url, super::GRAPH_URL_VAR, PLATFORM, clock, network)? })
    }

    async fn photo(&self, page: &Account, photo: &PublicMedia, params: &[(&'static str, String)]) -> Result<Created, PublishError> {
        let mut form = vec![("url", photo.url.clone())];
        form.extend(params.iter().cloned());
        self.graph.post(&[&page.id, "photos"], &form, &page.token, "uploading a photo").await
    }
}

#[async_trait]
impl PlatformAdapter for FacebookAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        let page = page(request.credentials)?;
        let mut media = Vec::with_capacity(request.media.len());
        for m in request.media {
            media.push(public_media(request.media_files, m, PLATFORM).await?);
        }
        let text = request.text.to_owned();
        let videos = media.iter().filter(|m| m.video).count();
        let id = match media.as_slice() {
            [] => {
                let mut form = vec![("message", text.clone())];
                if let Some(link) = first_link(&text) {
                    form.push(("link", link.to_owned()));
                }
                let made: Created = self.graph.post(&[&page.id, "feed"], &form, &page.token, "publishing the post").await?;
                made.id
            }
            [video] if video.video => {
                let form = vec![("file_url", video.url.clone()), ("description", text)];
                let made: Created = self.graph.post(&[&page.id, "videos"], &form, &page.token, "publishing the video").await?;
                made.id
            }
            _ if videos > 0 => {
                return Err(permanent("Facebook takes one video, or photos, in a post; not a video with other media"));
            }
            [photo] => {
                let made = self.photo(&page, photo, &[("message", text)]).await?;
                made.post_id.unwrap_or(made.id)
            }
            photos => {
                let names: Vec<String> = (0..photos.len()).map(|i| format!("attached_media[{i}]")).collect();
                let mut form = vec![("message", text)];
                for (name, photo) in names.iter().zip(photos) {
                    let made = self.photo(&page, photo, &[("published", "false".to_owned())]).await?;
                    form.push((name.as_str(), serde_json::json!({ "media_fbid": made.id }).to_string()));
                }
                let made: Created = self.graph.post(&[&page.id, "feed"], &form, &page.token, "publishing the post").await?;
                made.id
            }
        };
        tracing::info!(delivery = %request.delivery.id, channel = %request.channel.id, post_id = %id, "published on Facebook");
        super::first_comment(&self.graph, request, &id, &page.token).await;
        Ok(published(id))
    }

    /// Looks for this delivery's post among the Page's 25 latest published posts since a
    /// minute before it was due (`GET /{page-id}/published_posts?since=<unix>`, platforms-more.md
    /// §9 ⚠️): a post matches when its `message` equals the text (normalised: NFC, whitespace
    /// collapsed), it was created in that window, and it shows as many photos or videos as the
    /// delivery has media (counted from `attachments`, whose shape is ⚠️: when Meta leaves
    /// `attachments` out, media are not compared).
    ///
    /// Limits: no marker can be hidden in a Page post, so the same text posted by hand in the
    /// window is taken for this one; a post edited since is not found; more than 25 posts
    /// since the attempt and it is not found.
    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        let page = page(request.credentials)?;
        let since = not_before(request);
        let since_unix = since.timestamp().to_string();
        let list: List<PagePost> = self
            .graph
            .get(
                &[&page.id, "published_posts"],
                &[
                    ("fields", "id,message,created_time,permalink_url,attachments{media_type,subattachments}"),
                    ("since", &since_unix),
                    ("limit", "25"),
                ],
                &page.token,
                "listing the Page's recent posts",
            )
            .await?;
        let found = list.data.into_iter().find(|p| {
            let recent = p.created_time.as_deref().and_then(parse_graph_time).is_some_and(|t| t >= since);
            let media_ok = p.attachments.is_none() || p.media_count() == request.media.len();
            recent && media_ok && same_text(request.text, p.message.as_deref())
        });
        Ok(found.map(|p| Published {
            url: p.permalink_url.clone().or_else(|| Some(post_url(&p.id))),
            published_at: p.created_time.as_deref().and_then(parse_graph_time),
            platform_post_id: p.id,
        }))
    }

    /// `GET /{page-id}?fields=id,name` with the Page token.
    async fn check_credentials(&self, _: &Channel, credentials: &Credentials) -> Result<(), PublishError> {
        let page = page(credentials)?;
        let _: serde_json::Value =
            self.graph.get(&[&page.id], &[("fields", "id,name")], &page.token, "checking the Page access token").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_link_of_the_text_is_the_posts_link() {
        assert_eq!(first_link("New menu! https://cafe.example/menu."), Some("https://cafe.example/menu"));
        assert_eq!(first_link("no link here, only https://"), None);
        assert_eq!(first_link("(see http://a.example/x)"), Some("http://a.example/x"));
    }
}
