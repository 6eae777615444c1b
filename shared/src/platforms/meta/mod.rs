//! Meta's networks: Facebook Pages, Instagram (professional accounts) and Threads, all spoken
//! to through a Graph API (platforms.md §4–5, platforms-more.md §8–9).
//!
//! What the three share lives here: the configuration (base URLs, timeouts, how long to wait
//! for a container), one small Graph client that sends the token as the documented
//! `access_token` parameter (in the form body of a `POST`; in the query of a `GET`, which is why
//! no URL is ever logged or put in an error), the reading of Graph error bodies and throttling
//! headers, and the turning of a post's media into the public URLs Meta fetches them from.
//!
//! Errors (§4.3 ✅): `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
//! - code 190 (token expired, revoked, password changed…) and 102 (session) → [`PublishError::Auth`]:
//!   the channel needs reconnecting; 10 and 200–299 (a permission is missing) too, since only a
//!   new token with that permission fixes them;
//! - throttling codes 4, 17, 32, 613 and 80000–80099 (§4.3: "4 (app) and others (17, 32, 613,
//!   80001…) ❓ codes beyond 4"), HTTP 429, or a usage header at 100 % →
//!   [`PublishError::Transient`] with a wait read from `X-Business-Use-Case-Usage`'s
//!   `estimated_time_to_regain_access` (minutes) or `Retry-After`, else [`RATE_LIMIT_PAUSE`];
//! - codes 1 and 2 (unknown / temporary), `is_transient: true`, and 5xx → transient;
//! - anything else → [`PublishError::Permanent`], with Meta's own words and its `fbtrace_id`.

pub mod facebook;
pub mod inbox;
pub mod insights;
pub mod instagram;
pub mod threads;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::mastodon::{Reply, auth, normalise_for_match, one_line, permanent, send, transient};
use super::net::{HttpClient, NetworkPolicy};
use super::PublishError;
use crate::clock::Clock;
use crate::crypto::Credentials;
use crate::domain::MediaRef;
use crate::media::MediaFiles;

/// The Graph API Herald speaks to for Facebook and Instagram. platforms.md writes `{ver}`; the
/// only version it names is v22 (the insights deprecations), so that is the default. Meta
/// retires a version about two years after its release: move this forward then (⚠️ not a
/// platform fact that was checked for late 2026).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com/v22.0";
/// The Threads API (§5.2 ✅).
pub const DEFAULT_THREADS_URL: &str = "https://graph.threads.net/v1.0";
/// Where a fake or a proxy stands in for the Graph API.
pub const GRAPH_URL_VAR: &str = "HERALD_META_GRAPH_URL";
pub const THREADS_URL_VAR: &str = "HERALD_THREADS_GRAPH_URL";

/// How long a throttled call waits when Meta says nothing of when access comes back (the
/// app-level `X-App-Usage` has no reset time; its window is a rolling hour).
pub const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(5 * 60);
/// How long an uploaded file's public address stays valid: Meta fetches it while the
/// container is made and processed, well within the hour.
pub const PUBLIC_URL_VALIDITY: Duration = Duration::from_secs(3600);

/// Tunables of the three Meta adapters; [`MetaConfig::from_env`] is what production uses.
#[derive(Debug, Clone)]
pub struct MetaConfig {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// `https://graph.facebook.com/v22.0`, or a fake's `http://127.0.0.1:…`.
    pub graph_url: String,
    /// `https://graph.threads.net/v1.0`, or a fake's.
    pub threads_url: String,
    /// Longest wait for a container to be `FINISHED` (Instagram, Threads). Meta suggests
    /// polling "once a minute for up to 5 minutes" (⚠️) and "about 30 s" for Threads (🟡); a
    /// publisher run has less time than that, so a container still processing after this is a
    /// transient failure (its retry makes new containers; the old ones expire after 24 h).
    pub container_wait: Duration,
    /// Pause between two status reads of a container.
    pub container_poll_interval: Duration,
    /// When the Instagram quota is spent: how long until the next try (see `instagram.rs`).
    pub quota_retry: Duration,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            graph_url: DEFAULT_GRAPH_URL.to_owned(),
            threads_url: DEFAULT_THREADS_URL.to_owned(),
            container_wait: Duration::from_secs(90),
            container_poll_interval: Duration::from_secs(3),
            quota_retry: Duration::from_secs(3600),
        }
    }
}

impl MetaConfig {
    /// [`Default`], with the base URLs from `HERALD_META_GRAPH_URL` and
    /// `HERALD_THREADS_GRAPH_URL` when set (a fake Graph API in tests).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut config = Self::default();
        if let Some(url) = var(GRAPH_URL_VAR) {
            config.graph_url = url;
        }
        if let Some(url) = var(THREADS_URL_VAR) {
            config.threads_url = url;
        }
        config
    }
}

/// One Graph API host: its base URL, the HTTP client, and the network's name for messages.
pub(crate) struct Graph {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    base: String,
    /// The setting `base` came from, named when it is unusable.
    base_var: &'static str,
    pub platform: &'static str,
}

impl Graph {
    pub fn new(
        config: &MetaConfig,
        base: &str,
        base_var: &'static str,
        platform: &'static str,
        clock: Arc<dyn Clock>,
        network: NetworkPolicy,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new(config.connect_timeout, config.timeout, network)?,
            clock,
            base: base.trim_end_matches('/').to_owned(),
            base_var,
            platform,
        })
    }

    /// `base` + `/` + the path segments, each an id Meta gave or the channel holds. The base
    /// must be `https://` (or `http://` to loopback, for fakes).
    fn url(&self, segments: &[&str]) -> Result<String, PublishError> {
        let parsed = reqwest::Url::parse(&self.base).ok();
        let loopback = parsed.as_ref().and_then(|u| u.host_str()).is_some_and(|h| {
            h == "localhost" || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        });
        let ok = parsed.as_ref().is_some_and(|u| u.scheme() == "https" || (u.scheme() == "http" && loopback));
        if !ok {
            return Err(permanent(format!(
                "{} is not an https:// address ({}); Herald cannot reach {}",
                self.base_var, self.base, self.platform
            )));
        }
        let mut url = self.base.clone();
        for s in segments {
            url.push('/');
            url.push_str(path_segment(s, self.platform)?);
        }
        Ok(url)
    }

    /// `GET` with `params` and the token; the answer read as `T`.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        params: &[(&str, &str)],
        token: &SecretString,
        doing: &str,
    ) -> Result<T, PublishError> {
        let reply = self.get_reply(segments, params, token, doing).await?;
        if !reply.status.is_success() {
            return Err(self.error(&reply, doing));
        }
        reply.json(self.platform, doing)
    }

    /// `GET` with `params` and the token; the whole answer, whatever its status, for a caller
    /// that sorts failures its own way or reads the usage headers of a success (metrics).
    pub async fn get_reply(
        &self,
        segments: &[&str],
        params: &[(&str, &str)],
        token: &SecretString,
        doing: &str,
    ) -> Result<Reply, PublishError> {
        let mut query: Vec<(&str, &str)> = params.to_vec();
        query.push(("access_token", token.expose_secret()));
        let request = self.http.get(self.url(segments)?).query(&query);
        send(&self.http, request, self.platform, doing).await
    }

    /// `POST` with `params` as a form, the token among them.
    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        params: &[(&str, String)],
        token: &SecretString,
        doing: &str,
    ) -> Result<T, PublishError> {
        let mut form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("access_token", token.expose_secret()));
        let request = self.http.post(self.url(segments)?).form(&form);
        let reply = send(&self.http, request, self.platform, doing).await?;
        if !reply.status.is_success() {
            return Err(self.error(&reply, doing));
        }
        reply.json(self.platform, doing)
    }

    /// Now, on the adapters' clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// What a failed answer means (the module's doc says how it is sorted).
    pub fn error(&self, reply: &Reply, doing: &str) -> PublishError {
        graph_error(reply.status, &reply.headers, &reply.body, self.clock.now(), self.platform, doing)
    }
}

/// A path segment from an id: digits on Meta (`123`, `123_456` for a Page post); anything that
/// would change the path is refused rather than escaped.
fn path_segment<'a>(id: &'a str, platform: &str) -> Result<&'a str, PublishError> {
    if !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        Ok(id)
    } else {
        Err(permanent(format!("{platform}: `{}` is not an id Herald can use", id.chars().take(64).collect::<String>())))
    }
}

/// The Graph error body (§4.3 ✅).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

impl GraphError {
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<GraphErrorBody>(body).ok().map(|b| b.error)
    }

    /// "Invalid OAuth access token (code 190, subcode 463, fbtrace_id Abc)".
    fn words(&self) -> String {
        let message = self
            .error_user_msg
            .as_deref()
            .or(self.message.as_deref())
            .map(one_line)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "no message".to_owned());
        let mut details = Vec::new();
        if let Some(code) = self.code {
            details.push(format!("code {code}"));
        }
        if let Some(sub) = self.error_subcode {
            details.push(format!("subcode {sub}"));
        }
        if let Some(trace) = self.fbtrace_id.as_deref().filter(|t| !t.is_empty()) {
            details.push(format!("fbtrace_id {}", one_line(trace)));
        }
        if details.is_empty() { message } else { format!("{message} ({})", details.join(", ")) }
    }
}

/// Throttling codes (§4.3 🟡/❓ beyond 4): app (4), user (17), page (32), a call-specific
/// limit (613), business use case (80000–80099).
fn is_rate_limit_code(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80_000..=80_099)
}

/// A Graph API failure sorted by what the publisher must do (see the module's doc).
pub(crate) fn graph_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    platform: &str,
    doing: &str,
) -> PublishError {
    let error = GraphError::parse(body);
    let code = error.as_ref().and_then(|e| e.code);
    let words = match &error {
        Some(e) => e.words(),
        None => format!("HTTP {}", status.as_u16()),
    };
    let usage = usage(headers);
    let throttled = code.is_some_and(is_rate_limit_code) || status == StatusCode::TOO_MANY_REQUESTS || usage.spent;
    if matches!(code, Some(190 | 102 | 10 | 200..=299)) {
        return auth(format!("{platform} refused the token while {doing}: {words}; reconnect the channel"));
    }
    if throttled {
        let wait = usage
            .regain
            .or_else(|| super::mastodon::retry_after(headers, now, super::mastodon::ResetHeader::EpochSeconds))
            .unwrap_or(RATE_LIMIT_PAUSE);
        return PublishError::Transient {
            reason: format!("{platform} rate limit reached while {doing}: {words}"),
            retry_after: Some(wait),
        };
    }
    let temporary = matches!(code, Some(1 | 2)) || error.as_ref().and_then(|e| e.is_transient) == Some(true);
    if temporary || status.is_server_error() || matches!(status.as_u16(), 408 | 409 | 425) {
        return transient(format!("{platform} failed while {doing}: {words}"));
    }
    if status == StatusCode::UNAUTHORIZED {
        return auth(format!("{platform} refused the token while {doing}: {words}; reconnect the channel"));
    }
    permanent(format!("{platform} refused it while {doing}: {words}"))
}

/// What the usage headers say (§4.3 🟡): `spent` when any percentage is at 100 or more, and
/// the longest `estimated_time_to_regain_access` (minutes) of the business use cases.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub spent: bool,
    pub regain: Option<Duration>,
}

pub(crate) fn usage(headers: &HeaderMap) -> Usage {
    let json = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
    };
    let at_limit = |o: &serde_json::Value| {
        ["call_count", "total_cputime", "total_time"].iter().any(|k| o.get(*k).and_then(|v| v.as_f64()).is_some_and(|p| p >= 100.0))
    };
    let mut out = Usage::default();
    if let Some(app) = json("x-app-usage") {
        out.spent |= at_limit(&app);
    }
    if let Some(serde_json::Value::Object(businesses)) = json("x-business-use-case-usage") {
        for entry in businesses.values().filter_map(|v| v.as_array()).flatten() {
            out.spent |= at_limit(entry);
            let minutes = entry.get("estimated_time_to_regain_access").and_then(|v| v.as_u64()).unwrap_or(0);
            if minutes > 0 {
                // Capped at a day, like every other wait a platform asks for.
                let wait = Duration::from_secs(minutes.min(24 * 60) * 60);
                out.regain = Some(out.regain.map_or(wait, |w| w.max(wait)));
                out.spent = true;
            }
        }
    }
    out
}

/// The highest percentage the usage headers report (`call_count`, `total_cputime`,
/// `total_time` of `X-App-Usage` and of every `X-Business-Use-Case-Usage` entry), `None` when
/// neither header is there or readable: how close the app is to being throttled.
pub(crate) fn usage_peak(headers: &HeaderMap) -> Option<f64> {
    let json = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
    };
    let peak = |o: &serde_json::Value| {
        ["call_count", "total_cputime", "total_time"].iter().filter_map(|k| o.get(*k).and_then(|v| v.as_f64())).reduce(f64::max)
    };
    let mut entries: Vec<serde_json::Value> = json("x-app-usage").into_iter().collect();
    if let Some(serde_json::Value::Object(businesses)) = json("x-business-use-case-usage") {
        entries.extend(businesses.values().filter_map(|v| v.as_array()).flatten().cloned());
    }
    entries.iter().filter_map(peak).reduce(f64::max)
}

/// One credential field, trimmed and not blank; missing is the channel's to fix.
pub(crate) fn field(credentials: &Credentials, name: &str, platform: &str) -> Result<String, PublishError> {
    credentials
        .get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| auth(format!("the {platform} channel has no {name}; reconnect it")))
}

pub(crate) fn token(credentials: &Credentials, name: &str, platform: &str) -> Result<SecretString, PublishError> {
    field(credentials, name, platform).map(SecretString::from)
}

/// The account a channel publishes as: its id on the network and its token, read from the
/// credential fields each network names (`page_id` and `page_access_token`, `ig_user_id` and
/// `access_token`, `threads_user_id` and `access_token`).
pub(crate) struct Account {
    pub id: String,
    pub token: SecretString,
}

impl Account {
    pub fn from_credentials(credentials: &Credentials, id: &str, token_field: &str, platform: &str) -> Result<Self, PublishError> {
        Ok(Self { id: field(credentials, id, platform)?, token: token(credentials, token_field, platform)? })
    }
}

/// A Graph listing: `{"data": [...]}` (its paging is not followed: Herald reads one page).
#[derive(Debug, Deserialize)]
pub(crate) struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

/// A media as Meta fetches it: a public URL, and whether it is a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicMedia {
    pub url: String,
    pub video: bool,
    pub alt: Option<String>,
}

/// The public URL Meta fetches `media` from. A URL passes through as it is (Meta fetches it,
/// not Herald, so Herald's own network guard does not apply); an upload (`herald-media:`) is
/// given a short-lived public address by where it is kept ([`MediaFiles::public_url`]: a
/// presigned S3 `GET` on AWS), and without one it cannot go to Meta at all.
pub(crate) async fn public_media(
    files: &dyn MediaFiles,
    media: &MediaRef,
    platform: &str,
) -> Result<PublicMedia, PublishError> {
    let alt = media.alt.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
    let Some(key) = media.uploaded() else {
        return Ok(PublicMedia { url: media.url.clone(), video: url_is_video(&media.url), alt });
    };
    let url = match files.public_url(&key, PUBLIC_URL_VALIDITY).await {
        Ok(Some(url)) => url,
        Ok(None) => {
            return Err(permanent(format!(
                "{platform} fetches media from a public address, and this Herald has none for its uploads \
                 (set HERALD_PUBLIC_URL when running locally, or give the media by URL)"
            )));
        }
        Err(e) => return Err(transient(format!("could not make a public address for an upload for {platform}: {e}"))),
    };
    // The type found when the post was saved, else the one the reference's extension names.
    let video = match &media.upload {
        Some(u) => u.content_type.starts_with("video/"),
        None => key.media_type.video,
    };
    Ok(PublicMedia { url, video, alt })
}

/// Whether a media URL names a video. Herald does not fetch URL media for Meta (Meta does), so
/// all it has is the URL: by its path's extension, defensively. Anything not known as a video
/// is sent as an image, and Meta says so if it is not one.
pub(crate) fn url_is_video(url: &str) -> bool {
    let path = reqwest::Url::parse(url).map(|u| u.path().to_ascii_lowercase()).unwrap_or_default();
    [".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv"].iter().any(|ext| path.ends_with(ext))
}

/// Meta's times: `2026-11-20T10:00:00+0000` (no colon in the offset), or RFC 3339.
pub(crate) fn parse_graph_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Both sides of a text comparison when reconciling (NFC, whitespace collapsed, trimmed).
pub(crate) fn same_text(sent: &str, read: Option<&str>) -> bool {
    normalise_for_match(sent) == normalise_for_match(read.unwrap_or(""))
}

/// The window a reconciled post must fall in: from a minute before the delivery was due.
pub(crate) fn not_before(request: &super::PublishRequest<'_>) -> DateTime<Utc> {
    let at = request.delivery.publish_at;
    at.checked_sub_signed(chrono::Duration::minutes(1)).unwrap_or(at)
}

/// Says a post's first comment under it: `POST /{post-id}/comments` with `message` → `{"id"}`
/// (Instagram media: platforms-more.md §8.1 ✅; a Facebook Page post or video: Meta's comments
/// reference ⚠️, not in the shared files). Best effort, by design: the post exists, and the
/// delivery is about the post; a failed comment is logged (`warn`) and not retried (a retry of
/// the delivery would post twice). Meta takes no idempotency key here either.
pub(crate) async fn first_comment(graph: &Graph, request: &super::PublishRequest<'_>, post_id: &str, token: &SecretString) {
    let Some(message) = request.first_comment else { return };
    let made = graph
        .post::<Created>(&[post_id, "comments"], &[("message", message.to_owned())], token, "commenting under the new post")
        .await;
    match made {
        Ok(c) => tracing::info!(delivery = %request.delivery.id, post_id = %post_id, comment_id = %c.id, "first comment made on {}", graph.platform),
        Err(e) => tracing::warn!(delivery = %request.delivery.id, post_id = %post_id, error = %e, "published on {}; its first comment failed and is not retried", graph.platform),
    }
}

/// `{"id": "..."}`, what every Graph create call answers.
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub id: String,
    /// `/photos` also gives the Page post it made.
    #[serde(default)]
    pub post_id: Option<String>,
}

/// Where a network says how its container is doing: the field holding the state, the one
/// saying why it is in `ERROR`, and what the container holds, for messages.
pub(crate) struct ContainerFields {
    pub state: &'static str,
    pub why: &'static str,
    pub holds: &'static str,
}

impl Graph {
    /// Polls `container` until `FINISHED` (or `PUBLISHED`), within [`MetaConfig::container_wait`]:
    /// `ERROR` is permanent (the network could not use what was sent; its words say why),
    /// `EXPIRED` and still in progress at the end of the wait are transient (a retry makes new
    /// containers).
    pub async fn wait_for_container(
        &self,
        config: &MetaConfig,
        token: &SecretString,
        container: &str,
        fields: &ContainerFields,
    ) -> Result<(), PublishError> {
        let asked = format!("{},{}", fields.state, fields.why);
        let started = tokio::time::Instant::now();
        loop {
            let status: serde_json::Map<String, serde_json::Value> =
                self.get(&[container], &[("fields", &asked)], token, "checking a container").await?;
            let text = |name: &str| status.get(name).and_then(serde_json::Value::as_str).unwrap_or("");
            match ContainerState::parse(text(fields.state)) {
                ContainerState::Finished | ContainerState::Published => return Ok(()),
                ContainerState::Error => {
                    let why = one_line(text(fields.why));
                    return Err(permanent(format!(
                        "{} could not use {} (container {container} is in ERROR{}{why}); nothing was published",
                        self.platform,
                        fields.holds,
                        if why.is_empty() { "" } else { ": " }
                    )));
                }
                ContainerState::Expired => {
                    return Err(transient(format!("{} container {container} expired before it was published", self.platform)));
                }
                ContainerState::InProgress | ContainerState::Unknown => {}
            }
            if started.elapsed() + config.container_poll_interval > config.container_wait {
                return Err(transient(format!(
                    "{} was still processing {} after {} s; will try again",
                    self.platform,
                    fields.holds,
                    config.container_wait.as_secs()
                )));
            }
            tokio::time::sleep(config.container_poll_interval).await;
        }
    }
}

/// A container's state, read as `status_code` (Instagram) or `status` (Threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerState {
    InProgress,
    Finished,
    Published,
    Error,
    Expired,
    Unknown,
}

impl ContainerState {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "IN_PROGRESS" => Self::InProgress,
            "FINISHED" => Self::Finished,
            "PUBLISHED" => Self::Published,
            "ERROR" => Self::Error,
            "EXPIRED" => Self::Expired,
            _ => Self::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
    }

    #[test]
    fn code_190_is_a_reconnect_and_names_meta_words() {
        let body = br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#;
        let e = graph_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, now(), "Instagram", "publishing");
        let PublishError::Auth { reason } = e else { panic!("{e:?}") };
        assert!(reason.contains("Session has expired (code 190, subcode 463, fbtrace_id AbC)"), "{reason}");
    }

    #[test]
    fn throttling_is_transient_with_the_wait_meta_gives() {
        let body = br#"{"error":{"message":"Application request limit reached","type":"OAuthException","code":4,"fbtrace_id":"x"}}"#;
        let e = graph_error(StatusCode::FORBIDDEN, &HeaderMap::new(), body, now(), "Facebook", "publishing");
        assert_eq!(e, PublishError::Transient {
            reason: "Facebook rate limit reached while publishing: Application request limit reached (code 4, fbtrace_id x)".into(),
            retry_after: Some(RATE_LIMIT_PAUSE),
        });
        let buc = headers(&[(
            "x-business-use-case-usage",
            r#"{"1234":[{"type":"pages","call_count":100,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":7}]}"#,
        )]);
        let body = br#"{"error":{"message":"User request limit reached","code":17}}"#;
        let PublishError::Transient { retry_after, .. } = graph_error(StatusCode::BAD_REQUEST, &buc, body, now(), "Facebook", "x") else {
            panic!()
        };
        assert_eq!(retry_after, Some(Duration::from_secs(7 * 60)));
        // An error of another code, while the app-level usage is spent, is throttling too.
        let app = headers(&[("x-app-usage", r#"{"call_count":100,"total_cputime":5,"total_time":5}"#)]);
        let body = br#"{"error":{"message":"(#9) odd","code":9}}"#;
        assert!(matches!(graph_error(StatusCode::BAD_REQUEST, &app, body, now(), "Facebook", "x"), PublishError::Transient { .. }));
        assert_eq!(usage(&headers(&[("x-app-usage", r#"{"call_count":42}"#)])), Usage::default());
    }

    #[test]
    fn server_errors_are_transient_and_refusals_permanent() {
        let e = graph_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>", now(), "Threads", "publishing");
        assert!(matches!(e, PublishError::Transient { retry_after: None, .. }), "{e:?}");
        let body = br#"{"error":{"message":"Service temporarily unavailable","code":2,"is_transient":true}}"#;
        assert!(matches!(graph_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, now(), "Threads", "x"), PublishError::Transient { .. }));
        let body = br#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2207052,"error_user_msg":"The media could not be fetched from this URI","fbtrace_id":"F"}}"#;
        let e = graph_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, now(), "Instagram", "making a container");
        assert_eq!(e, PublishError::Permanent {
            reason: "Instagram refused it while making a container: The media could not be fetched from this URI (code 100, subcode 2207052, fbtrace_id F)".into()
        });
    }

    #[test]
    fn graph_times_have_no_colon_in_their_offset() {
        assert_eq!(parse_graph_time("2026-11-20T10:00:00+0000"), Some(now()));
        assert_eq!(parse_graph_time("2026-11-20T11:00:00+01:00"), Some(now()));
        assert_eq!(parse_graph_time("yesterday"), None);
    }

    #[test]
    fn videos_are_told_by_their_extension() {
        assert!(url_is_video("https://cdn.example/clip.MP4?sig=1"));
        assert!(url_is_video("https://cdn.example/a/b.mov"));
        assert!(!url_is_video("https://cdn.example/cat.jpg"));
        assert!(!url_is_video("https://cdn.example/mp4"));
    }
}
