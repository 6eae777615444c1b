//! Bluesky (AT Protocol): publishing as records in the account's repository on its PDS.
//!
//! Flow (platforms.md §2.2 ✅): a session from `com.atproto.server.createSession` with an app
//! password, cached per channel and renewed with `refreshSession` when the access token is
//! refused; links, @-mentions and #hashtags turned into facets (UTF-8 byte offsets — the
//! client must do it, Bluesky detects nothing); each picture downloaded, checked (the PDS does
//! not enforce Bluesky's 1 MB / image type rules, peers-bluesky.md) and sent with `uploadBlob`;
//! then `com.atproto.repo.createRecord` with an `rkey` chosen before the first attempt.
//!
//! Images are read whole into memory, not streamed to `uploadBlob` as Mastodon's media are,
//! though it takes a raw body: an image is at most 1 MB (four per post), and Herald needs its
//! bytes anyway — its type and pixel size are read from them (a JPEG's size may be far from its
//! start), its EXIF block is cut out (which rewrites it), and the upload is sent a second time
//! when the access token is refused and the session renewed (a stream cannot be replayed). So
//! a Bluesky publish holds at most 4 × 1 MB, plus one copy while a JPEG is stripped.
//!
//! Idempotency: Bluesky has no idempotency header. The record key is derived from the delivery
//! ([`rkey_for`]), so a retry writes to the same key and cannot make a second post. The
//! reference PDS answers such a collision with a `500 InternalServerError` (bluesky-social/atproto
//! issue 3718; platforms.md lists the error name as ❓), so after any failed `createRecord` the
//! adapter reads the record at that key: if it is there with this text, the post is published.
//!
//! Sessions: an access token past its lifetime (read from its JWT claims, measured on Herald's
//! clock) is refreshed before use; one refused anyway (`400 InvalidToken`/`ExpiredToken` on a
//! real PDS) is refreshed once and the request sent again; a refused refresh token means a new
//! session. A token cannot be revoked on the PDS (`deleteSession` only revokes the refresh
//! token), which `tests/system/bluesky_network.rs` works around with a proxy that spoils it in flight.
//!
//! Inbox ([`InboxAdapter`]): `listNotifications` through the PDS, read from the newest down to
//! the stored cursor (`InboxCursor`); replies are posts with `reply: {root, parent}` at a record
//! key derived from the interaction and the text ([`reply_rkey`]), so a retry does not post twice.
//!
//! Credentials: `service` (the PDS, default `https://bsky.social`, which works as an entryway
//! for accounts hosted by Bluesky), `identifier` (handle or DID) and `app_password`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::inbox::{InboxAdapter, Polled, reply_digest};
use super::metrics::{MetricsAdapter, MetricsError, PostAnswer, PostRef};
use super::mastodon::{
    Fetched, Reply, ResetHeader, auth, fetch_media, one_line, parse_instant, permanent, redact_url, retry_after, send,
    service_base, transient,
};
use super::net::{HttpClient, NetworkPolicy};
use super::{PlatformAdapter, PublishError, PublishRequest, Published};
use crate::clock::Clock;
use crate::crypto::Credentials;
use crate::domain::{Channel, ChannelId, Delivery, Interaction, InteractionDraft, InteractionKind, MetricCounters};

const PLATFORM: &str = "Bluesky";
pub(crate) const DEFAULT_SERVICE: &str = "https://bsky.social";
const POST_COLLECTION: &str = "app.bsky.feed.post";
/// Bluesky's limit per image (§2.2 ✅), which the PDS itself does not enforce.
pub const MAX_IMAGE_BYTES: u64 = 1_000_000;
/// Images per post (§2.2 ✅).
pub const MAX_IMAGES: usize = 4;
const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/// Tunables of [`BlueskyAdapter`]; [`Default`] is what production uses.
#[derive(Debug, Clone)]
pub struct BlueskyConfig {
    pub connect_timeout: Duration,
    /// Time for one whole HTTP exchange.
    pub timeout: Duration,
}

impl Default for BlueskyConfig {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(5), timeout: Duration::from_secs(30) }
    }
}

/// A channel's session: the access and refresh JWTs, never printed (`secrecy`).
#[derive(Clone, Debug)]
struct Session {
    /// When the access token stops working, by Herald's clock: its lifetime (`exp - iat` of
    /// the JWT) from when Herald received it, less a minute, so clock skew does not matter.
    /// `None` when the token is not a JWT Herald can read: then only a refusal renews it.
    expires_at: Option<DateTime<Utc>>,
    /// Which session this is, to tell "someone else already renewed it" from "renew it".
    generation: u64,
    /// The credentials it was made with (hash), so that new credentials get a new session.
    fingerprint: [u8; 32],
    did: String,
    handle: String,
    access: SecretString,
    refresh: SecretString,
}

type Slot = Arc<tokio::sync::Mutex<Option<Session>>>;

pub struct BlueskyAdapter {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    /// One slot per channel; its async lock is held while a session is created or renewed, so
    /// concurrent posts on one channel make one `createSession` (limited to 30 per 5 min, §2.2).
    sessions: Mutex<HashMap<ChannelId, Slot>>,
    generations: AtomicU64,
}

impl std::fmt::Debug for BlueskyAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlueskyAdapter").finish_non_exhaustive()
    }
}

/// A channel's Bluesky credentials, checked.
struct Account {
    base: String,
    identifier: String,
    password: SecretString,
    fingerprint: [u8; 32],
}

impl Account {
    fn from_credentials(credentials: &Credentials) -> Result<Self, PublishError> {
        let base = service_base(credentials.get("service"), "service", Some(DEFAULT_SERVICE), PLATFORM)?;
        let field = |name: &str| {
            credentials
                .get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| auth(format!("the Bluesky channel has no {name}; reconnect it")))
        };
        let identifier = field("identifier")?.trim_start_matches('@').to_owned();
        let password = field("app_password")?;
        let mut h = Sha256::new();
        for part in [base.as_str(), identifier.as_str(), password] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        Ok(Self {
            base,
            identifier,
            password: SecretString::from(password.to_owned()),
            fingerprint: h.finalize().into(),
        })
    }

    fn xrpc(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.base)
    }
}

#[derive(Deserialize)]
struct SessionJson {
    did: String,
    handle: String,
    #[serde(rename = "accessJwt")]
    access_jwt: String,
    #[serde(rename = "refreshJwt")]
    refresh_jwt: String,
}

#[derive(Deserialize)]
struct RecordJson {
    uri: String,
    #[serde(default)]
    value: Value,
}

/// `{"error": "<ErrorName>", "message": "<human text>"}` (§2.2 ✅).
fn xrpc_error(reply: &Reply) -> (String, Option<String>) {
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let error = v.get("error").and_then(Value::as_str).map(one_line).unwrap_or_default();
    let message = v.get("message").and_then(Value::as_str).map(one_line).filter(|m| !m.is_empty());
    (error, message)
}

/// Error name and message together, for a reason: "grapheme too big (InvalidRequest)".
fn xrpc_detail(reply: &Reply) -> String {
    match xrpc_error(reply) {
        (e, Some(m)) if !e.is_empty() => format!("{m} ({e})"),
        (_, Some(m)) => m,
        (e, None) if !e.is_empty() => e,
        _ => format!("HTTP {}", reply.status.as_u16()),
    }
}

/// The access token was refused: `401`, or `400` with `ExpiredToken` / `InvalidToken` (a real
/// PDS answers a bad token with 400 `InvalidToken`, peers-bluesky.md).
fn token_rejected(reply: &Reply) -> bool {
    match reply.status.as_u16() {
        401 => true,
        400 => matches!(xrpc_error(reply).0.as_str(), "ExpiredToken" | "InvalidToken"),
        _ => false,
    }
}

fn record_not_found(reply: &Reply) -> bool {
    let (error, message) = xrpc_error(reply);
    matches!(reply.status.as_u16(), 400 | 404)
        && (error == "RecordNotFound" || message.is_some_and(|m| m.starts_with("Could not locate record")))
}

enum RefreshFailure {
    /// The refresh token is refused too: a new session is needed.
    Rejected,
    Other(PublishError),
}

/// A checked image, ready for `uploadBlob`. `Bytes`, so that sending it again after a session
/// renewal shares the buffer instead of copying it.
struct Image {
    bytes: bytes::Bytes,
    mime: &'static str,
    /// Width and height as displayed (EXIF rotation applied).
    size: Option<(u32, u32)>,
    alt: String,
}

impl BlueskyAdapter {
    /// The production adapter. `network` says whether the PDS (`service`) and media URLs may be
    /// private addresses ([`NetworkPolicy`]).
    pub fn new(clock: Arc<dyn Clock>, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        Self::with_config(clock, BlueskyConfig::default(), network)
    }

    pub fn with_config(
        clock: Arc<dyn Clock>,
        config: BlueskyConfig,
        network: NetworkPolicy,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new(config.connect_timeout, config.timeout, network)?,
            clock,
            sessions: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(1),
        })
    }

    fn slot(&self, channel: ChannelId) -> Slot {
        let mut map = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(channel).or_default())
    }

    fn new_session(&self, account: &Account, json: SessionJson) -> Session {
        let expires_at = jwt_lifetime(&json.access_jwt)
            .filter(|life| *life > chrono::Duration::minutes(2))
            .map(|life| self.clock.now() + life - chrono::Duration::minutes(1));
        Session {
            expires_at,
            generation: self.generations.fetch_add(1, Ordering::Relaxed),
            fingerprint: account.fingerprint,
            did: json.did,
            handle: json.handle,
            access: SecretString::from(json.access_jwt),
            refresh: SecretString::from(json.refresh_jwt),
        }
    }

    /// The cached session of the channel, or a new one. A session whose access token has run
    /// its lifetime is refreshed first (a new session if the refresh token is refused too),
    /// rather than sending a request Bluesky would refuse.
    async fn session(&self, account: &Account, slot: &Slot) -> Result<Session, PublishError> {
        let mut guard = slot.lock().await;
        if let Some(s) = guard.as_ref().filter(|s| s.fingerprint == account.fingerprint).cloned() {
            if s.expires_at.is_none_or(|t| self.clock.now() < t) {
                return Ok(s);
            }
            tracing::debug!(identifier = %account.identifier, "Bluesky access token at the end of its life: refreshing");
            match self.refresh_session(account, &s).await {
                Ok(new) => {
                    *guard = Some(new.clone());
                    return Ok(new);
                }
                Err(RefreshFailure::Rejected) => {}
                // The token may still work (its lifetime is Herald's estimate): let Bluesky say.
                Err(RefreshFailure::Other(e)) => {
                    tracing::info!(error = %e, "could not refresh the Bluesky session; trying the old token");
                    return Ok(s);
                }
            }
        }
        *guard = None;
        let s = self.create_session(account).await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// After the access token of session `stale` was refused: refresh it, or sign in again if
    /// the refresh token is refused too. Someone else may have renewed it meanwhile.
    async fn renew(&self, account: &Account, slot: &Slot, stale: u64) -> Result<Session, PublishError> {
        let mut guard = slot.lock().await;
        let current = guard.as_ref().filter(|s| s.fingerprint == account.fingerprint).cloned();
        if let Some(s) = current {
            if s.generation != stale {
                return Ok(s);
            }
            match self.refresh_session(account, &s).await {
                Ok(new) => {
                    *guard = Some(new.clone());
                    return Ok(new);
                }
                Err(RefreshFailure::Rejected) => {}
                Err(RefreshFailure::Other(e)) => return Err(e),
            }
        }
        *guard = None;
        let new = self.create_session(account).await?;
        *guard = Some(new.clone());
        Ok(new)
    }

    async fn create_session(&self, account: &Account) -> Result<Session, PublishError> {
        let body = json!({ "identifier": account.identifier, "password": account.password.expose_secret() });
        let request = self.http.post(account.xrpc("com.atproto.server.createSession")).json(&body);
        let reply = send(&self.http, request, PLATFORM, "signing in").await?;
        if reply.status.is_success() {
            tracing::info!(identifier = %account.identifier, "new Bluesky session");
            return Ok(self.new_session(account, reply.json(PLATFORM, "the new session")?));
        }
        let (error, _) = xrpc_error(&reply);
        let detail = xrpc_detail(&reply);
        Err(match reply.status.as_u16() {
            401 => auth(format!(
                "Bluesky app password rejected for {}: {detail}; reconnect the channel",
                account.identifier
            )),
            400 if error == "AuthFactorTokenRequired" => auth(format!(
                "Bluesky asks {} for a sign-in code: connect the channel with an app password, not the account password",
                account.identifier
            )),
            400 | 403 => auth(format!("Bluesky refused to sign in {}: {detail}", account.identifier)),
            _ => self.error_from(&reply, "signing in"),
        })
    }

    async fn refresh_session(&self, account: &Account, s: &Session) -> Result<Session, RefreshFailure> {
        let reply = send(
            &self.http,
            self.http.post(account.xrpc("com.atproto.server.refreshSession")).bearer_auth(s.refresh.expose_secret()),
            PLATFORM,
            "refreshing the session",
        )
        .await
        .map_err(RefreshFailure::Other)?;
        if reply.status.is_success() {
            tracing::info!(identifier = %account.identifier, "refreshed Bluesky session");
            let json = reply.json(PLATFORM, "the refreshed session").map_err(RefreshFailure::Other)?;
            return Ok(self.new_session(account, json));
        }
        match reply.status.as_u16() {
            400 | 401 | 403 => Err(RefreshFailure::Rejected),
            _ => Err(RefreshFailure::Other(self.error_from(&reply, "refreshing the session"))),
        }
    }

    /// Sends an authenticated request made by `make` for the current session; when the access
    /// token is refused, renews the session once and sends again.
    async fn call<F>(
        &self,
        account: &Account,
        slot: &Slot,
        doing: &str,
        make: F,
    ) -> Result<(Session, Reply), PublishError>
    where
        F: Fn(&Session) -> reqwest::RequestBuilder + Send + Sync,
    {
        let session = self.session(account, slot).await?;
        let reply = send(&self.http, make(&session), PLATFORM, doing).await?;
        if !token_rejected(&reply) {
            return Ok((session, reply));
        }
        tracing::info!(identifier = %account.identifier, "Bluesky refused the access token; renewing the session");
        let session = self.renew(account, slot, session.generation).await?;
        let reply = send(&self.http, make(&session), PLATFORM, doing).await?;
        if token_rejected(&reply) {
            let mut guard = slot.lock().await;
            if guard.as_ref().is_some_and(|s| s.generation == session.generation) {
                *guard = None;
            }
            return Err(auth(format!("Bluesky: token expired or revoked ({})", xrpc_detail(&reply))));
        }
        Ok((session, reply))
    }

    /// What a non-success answer means; `what` names the object ("the post", "image 2").
    fn error_from(&self, reply: &Reply, what: &str) -> PublishError {
        let detail = xrpc_detail(reply);
        let status = reply.status.as_u16();
        let retry = || retry_after(&reply.headers, self.clock.now(), ResetHeader::EpochSeconds);
        match status {
            429 => PublishError::Transient {
                reason: format!("Bluesky rate limit reached: {detail}"),
                retry_after: retry(),
            },
            401 => auth(format!("Bluesky: token expired or revoked ({detail})")),
            403 => auth(format!("Bluesky refused access while {what}: {detail}")),
            408 | 409 | 425 => PublishError::Transient {
                reason: format!("Bluesky answered HTTP {status} for {what}: {detail}"),
                retry_after: retry(),
            },
            400..=499 => permanent(format!("Bluesky refused {what}: {detail}")),
            _ => PublishError::Transient {
                reason: format!("Bluesky answered HTTP {status} for {what}: {detail}"),
                retry_after: retry(),
            },
        }
    }

    /// The DID of `handle`, or `None` when Bluesky cannot resolve it (no facet then).
    async fn resolve_handle(&self, account: &Account, handle: &str) -> Result<Option<String>, PublishError> {
        let reply = send(
            &self.http,
            self.http.get(account.xrpc("com.atproto.identity.resolveHandle")).query(&[("handle", handle)]),
            PLATFORM,
            "resolving a mention",
        )
        .await?;
        if reply.status.is_success() {
            let v: Value = reply.json(PLATFORM, "a resolved handle")?;
            return Ok(v.get("did").and_then(Value::as_str).filter(|d| d.starts_with("did:")).map(str::to_owned));
        }
        if reply.status == StatusCode::BAD_REQUEST || reply.status == StatusCode::NOT_FOUND {
            tracing::debug!(handle, "mention not resolvable: no facet");
            return Ok(None);
        }
        Err(self.error_from(&reply, &format!("resolving @{handle}")))
    }

    /// Facets for the text: links and hashtags as found, mentions once resolved.
    async fn facets(&self, account: &Account, text: &str) -> Result<Vec<Value>, PublishError> {
        let mut resolved: HashMap<String, Option<String>> = HashMap::new();
        let mut facets = Vec::new();
        for span in detect_facets(text) {
            let feature = match &span.kind {
                FacetKind::Link(uri) => json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri }),
                FacetKind::Tag(tag) => json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag }),
                FacetKind::Mention(handle) => {
                    let did = match resolved.get(handle) {
                        Some(did) => did.clone(),
                        None => {
                            let did = self.resolve_handle(account, handle).await?;
                            resolved.insert(handle.clone(), did.clone());
                            did
                        }
                    };
                    let Some(did) = did else { continue };
                    json!({ "$type": "app.bsky.richtext.facet#mention", "did": did })
                }
            };
            facets.push(json!({
                "index": { "byteStart": span.byte_start, "byteEnd": span.byte_end },
                "features": [feature],
            }));
        }
        Ok(facets)
    }

    /// Downloads and checks every picture before anything is sent to Bluesky.
    async fn images(&self, request: &PublishRequest<'_>) -> Result<Vec<Image>, PublishError> {
        if request.media.len() > MAX_IMAGES {
            return Err(permanent(format!(
                "media rejected: {} images attached; Bluesky takes at most {MAX_IMAGES}",
                request.media.len()
            )));
        }
        let mut images = Vec::with_capacity(request.media.len());
        for media in request.media {
            let fetched = fetch_media(&self.http, request.media_files, media, MAX_IMAGE_BYTES, PLATFORM).await?;
            let mut image = checked_image(fetched, &media.url)?;
            image.alt = media.alt.clone().unwrap_or_default();
            images.push(image);
        }
        Ok(images)
    }

    /// The post at this delivery's record key, if it is there with this text.
    async fn existing_post(
        &self,
        account: &Account,
        slot: &Slot,
        rkey: &str,
        text: &str,
    ) -> Result<Option<Published>, PublishError> {
        let (session, reply) = self
            .call(account, slot, "looking for the post", |s| {
                self.http
                    .get(account.xrpc("com.atproto.repo.getRecord"))
                    .bearer_auth(s.access.expose_secret())
                    .query(&[("repo", s.did.as_str()), ("collection", POST_COLLECTION), ("rkey", rkey)])
            })
            .await?;
        if record_not_found(&reply) {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(self.error_from(&reply, "looking for the post"));
        }
        let record: RecordJson = reply.json(PLATFORM, "the post record")?;
        let found_text = record.value.get("text").and_then(Value::as_str).unwrap_or("");
        if found_text != text {
            return Err(permanent(format!(
                "another Bluesky post already uses this delivery's record key {rkey} ({}); it was not published",
                record.uri
            )));
        }
        let published_at = record.value.get("createdAt").and_then(Value::as_str).and_then(parse_instant);
        Ok(Some(published(&session, record.uri, rkey, published_at)))
    }
}

impl BlueskyAdapter {
    /// `createRecord` of a post at `rkey`; after a failure (other than a rate limit or refused
    /// credentials) looks at that key, since an earlier attempt may have written it: the
    /// reference PDS answers a taken rkey with 500. `what` names it in errors ("the post").
    async fn write_post(
        &self,
        account: &Account,
        slot: &Slot,
        rkey: &str,
        record: &Value,
        text: &str,
        what: &str,
    ) -> Result<Published, PublishError> {
        let (session, reply) = self
            .call(account, slot, "publishing", |s| {
                let body = json!({ "repo": s.did, "collection": POST_COLLECTION, "rkey": rkey, "record": record });
                self.http
                    .post(account.xrpc("com.atproto.repo.createRecord"))
                    .bearer_auth(s.access.expose_secret())
                    .json(&body)
            })
            .await?;
        if reply.status.is_success() {
            let v: Value = reply.json(PLATFORM, "the new post")?;
            let uri = v
                .get("uri")
                .and_then(Value::as_str)
                .map_or_else(|| format!("at://{}/{POST_COLLECTION}/{rkey}", session.did), str::to_owned);
            let created_at = record.get("createdAt").and_then(Value::as_str).and_then(parse_instant);
            return Ok(published(&session, uri, rkey, created_at));
        }
        let error = self.error_from(&reply, what);
        if reply.status == StatusCode::TOO_MANY_REQUESTS || matches!(error, PublishError::Auth { .. }) {
            return Err(error);
        }
        match self.existing_post(account, slot, rkey, text).await {
            Ok(Some(found)) => {
                tracing::info!(uri = %found.platform_post_id, "Bluesky post was already there");
                Ok(found)
            }
            Ok(None) => Err(error),
            Err(PublishError::Permanent { reason }) if reason.starts_with("another Bluesky post") => {
                Err(PublishError::Permanent { reason })
            }
            Err(other) => {
                tracing::debug!(error = %other, "could not check for an earlier attempt's post");
                Err(error)
            }
        }
    }
}

/// The lifetime of a JWT (`exp - iat` of its payload), without checking anything else: the
/// server checks the token, Herald only wants to know when to renew it.
fn jwt_lifetime(jwt: &str) -> Option<chrono::Duration> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let (iat, exp) = (claims.get("iat")?.as_i64()?, claims.get("exp")?.as_i64()?);
    (exp > iat).then(|| chrono::Duration::seconds(exp - iat))
}

fn published(
    session: &Session,
    uri: String,
    rkey: &str,
    published_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Published {
    let profile =
        if session.handle.is_empty() || session.handle == "handle.invalid" { &session.did } else { &session.handle };
    Published {
        platform_post_id: uri,
        url: Some(format!("https://bsky.app/profile/{profile}/post/{rkey}")),
        published_at,
    }
}

#[async_trait]
impl PlatformAdapter for BlueskyAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        let account = Account::from_credentials(request.credentials)?;
        let slot = self.slot(request.channel.id);
        let rkey = rkey_for(request.delivery);
        let images = self.images(request).await?;
        let facets = self.facets(&account, request.text).await?;

        let mut blobs = Vec::with_capacity(images.len());
        for (k, image) in images.iter().enumerate() {
            let what = format!("image {}", k + 1);
            let (_, reply) = self
                .call(&account, &slot, "uploading an image", |s| {
                    self.http
                        .post(account.xrpc("com.atproto.repo.uploadBlob"))
                        .bearer_auth(s.access.expose_secret())
                        .header(reqwest::header::CONTENT_TYPE, image.mime)
                        .body(image.bytes.clone()) // a reference count, not a copy
                })
                .await?;
            if !reply.status.is_success() {
                return Err(self.error_from(&reply, &what));
            }
            let v: Value = reply.json(PLATFORM, "an uploaded image")?;
            let blob = v.get("blob").cloned().ok_or_else(|| transient("Bluesky's uploadBlob answer has no blob"))?;
            let mut entry = json!({ "alt": image.alt, "image": blob });
            if let Some((w, h)) = image.size {
                entry["aspectRatio"] = json!({ "width": w, "height": h });
            }
            blobs.push(entry);
        }

        let created_at = self.clock.now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut record = json!({ "$type": POST_COLLECTION, "text": request.text, "createdAt": created_at });
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if !blobs.is_empty() {
            record["embed"] = json!({ "$type": "app.bsky.embed.images", "images": blobs });
        }
        let published = self.write_post(&account, &slot, &rkey, &record, request.text, "the post").await?;
        tracing::info!(delivery = %request.delivery.id, channel = %request.channel.id, uri = %published.platform_post_id, "published on Bluesky");
        Ok(published)
    }

    /// Reads the record at this delivery's key ([`rkey_for`]): there → published, `RecordNotFound`
    /// → `None`. Exact, unlike Mastodon's search, since the key is the delivery's own.
    /// Signs in (`createSession`) and keeps the session for the channel, so its first post
    /// does not sign in again (sign-ins are limited to 30 per 5 minutes).
    async fn check_credentials(&self, channel: &Channel, credentials: &Credentials) -> Result<(), PublishError> {
        let account = Account::from_credentials(credentials)?;
        self.session(&account, &self.slot(channel.id)).await.map(drop)
    }

    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        let account = Account::from_credentials(request.credentials)?;
        let slot = self.slot(request.channel.id);
        self.existing_post(&account, &slot, &rkey_for(request.delivery), request.text).await
    }
}

// ---------------------------------------------------------------------------------------------
// Inbox: notifications in, replies out

/// Notification reasons that become interactions (platforms.md §2.1 ✅): `reply` is a
/// [`InteractionKind::Reply`], `mention` and `quote` are mentions. Likes, reposts, follows and
/// the rest are not interactions.
const INBOX_REASONS: [&str; 3] = ["mention", "reply", "quote"];
/// Notifications read on a first run: the most recent page only, no backfill.
const FIRST_POLL_PAGE: usize = 50;
/// Page size of later polls (the lexicon's maximum, §2.1 ✅).
const POLL_PAGE: usize = 100;
/// Pages one poll reads at most; an account with more new notifications than that between two
/// polls loses the oldest ones (logged).
const MAX_POLL_PAGES: usize = 10;
/// How far below the newest notification seen a poll looks again. The list is ordered by
/// `indexedAt`, which the AppView sets to the earlier of the post's own `createdAt` and the time
/// it indexed it: a post from a client whose clock is behind lands a little below notifications
/// already seen. Those within this window are still found; what was already returned is
/// recognised by the cursor's `seen` list.
const POLL_OVERLAP_MINUTES: i64 = 10;
/// At most this many recent posts are remembered in the cursor (12 hex characters each).
const MAX_SEEN: usize = 500;

/// The stored cursor of a Bluesky channel (JSON, opaque to the caller): the newest `indexedAt`
/// seen and a short hash of every post returned within `POLL_OVERLAP_MINUTES` of it.
///
/// Bluesky's own `cursor` pages towards *older* notifications (the AppView's is the `indexedAt`
/// of the last item), so it cannot say "newer than": each poll reads from the newest down to
/// where it stopped last time.
#[derive(Debug, Serialize, Deserialize)]
struct InboxCursor {
    at: DateTime<Utc>,
    #[serde(default)]
    seen: Vec<String>,
}

fn seen_hash(uri: &str) -> String {
    hex::encode(&Sha256::digest(uri.as_bytes())[..6])
}

/// A notification worth an interaction, as read from `listNotifications`.
struct Notified {
    sort_at: DateTime<Utc>,
    uri: String,
    draft: InteractionDraft,
}

/// A `com.atproto.repo.strongRef`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StrongRef {
    uri: String,
    cid: String,
}

impl StrongRef {
    fn from_json(v: &Value) -> Option<Self> {
        let uri = v.get("uri")?.as_str()?;
        let cid = v.get("cid")?.as_str()?;
        (uri.starts_with("at://") && !cid.is_empty()).then(|| Self { uri: uri.to_owned(), cid: cid.to_owned() })
    }
}

/// What a reply needs (`app.bsky.feed.post#replyRef`), kept in [`Interaction::reply_ref`] as
/// JSON: `{"root": {"uri", "cid"}, "parent": {"uri", "cid"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReplyRefs {
    root: StrongRef,
    parent: StrongRef,
}

impl ReplyRefs {
    fn parse(json: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(json).ok()?;
        Some(Self { root: StrongRef::from_json(v.get("root")?)?, parent: StrongRef::from_json(v.get("parent")?)? })
    }

    /// Answering the post `this` (whose own record is `record`): same root as it, or it is the root.
    fn answering(this: StrongRef, record: &Value) -> Self {
        let root = record.get("reply").and_then(|r| r.get("root")).and_then(StrongRef::from_json);
        Self { root: root.unwrap_or_else(|| this.clone()), parent: this }
    }
}

/// `https://bsky.app/profile/<did>/post/<rkey>` for the post `at://<did>/app.bsky.feed.post/<rkey>`.
fn post_link(at_uri: &str) -> Option<String> {
    let rest = at_uri.strip_prefix("at://")?;
    let (did, rkey) = rest.split_once(&format!("/{POST_COLLECTION}/"))?;
    (!did.is_empty() && !rkey.is_empty() && !rkey.contains('/'))
        .then(|| format!("https://bsky.app/profile/{did}/post/{rkey}"))
}

/// One `notification` of `listNotifications` (§2.1 ✅ fields) as a draft; `None` for reasons
/// that are not interactions and for entries Herald cannot read.
fn notified(n: &Value) -> Option<Notified> {
    let reason = n.get("reason")?.as_str()?;
    let kind = match reason {
        "reply" => InteractionKind::Reply,
        "mention" | "quote" => InteractionKind::Mention,
        _ => return None,
    };
    let this = StrongRef::from_json(n)?;
    let sort_at = n.get("indexedAt").and_then(Value::as_str).and_then(parse_instant)?;
    let author = n.get("author")?;
    let did = author.get("did")?.as_str()?.to_owned();
    let handle = author.get("handle").and_then(Value::as_str).unwrap_or("").to_owned();
    let display = author.get("displayName").and_then(Value::as_str).map(str::trim).unwrap_or("");
    let author_name = if !display.is_empty() {
        display.to_owned()
    } else if !handle.is_empty() && handle != "handle.invalid" {
        handle
    } else {
        did.clone()
    };
    let record = n.get("record").cloned().unwrap_or(Value::Null);
    let text = record.get("text").and_then(Value::as_str).unwrap_or("").to_owned();
    let created_at =
        record.get("createdAt").and_then(Value::as_str).and_then(parse_instant).map_or(sort_at, |t| t.min(sort_at)); // a clock ahead does not write in the future
    let refs = ReplyRefs::answering(this.clone(), &record);
    let parent_id = record.get("reply").and_then(|r| r.get("parent")).and_then(StrongRef::from_json).map(|p| p.uri);
    let post_external_id =
        n.get("reasonSubject").and_then(Value::as_str).map(str::to_owned).or_else(|| parent_id.clone());
    Some(Notified {
        sort_at,
        uri: this.uri.clone(),
        draft: InteractionDraft {
            kind,
            external_id: this.uri.clone(),
            thread_id: refs.root.uri.clone(),
            parent_id,
            author_id: did,
            author_name,
            text,
            created_at,
            post_url: post_external_id.as_deref().and_then(post_link),
            post_external_id,
            reply_ref: serde_json::to_string(&refs).ok(),
        },
    })
}

/// The record key of a reply: a TID made of the interaction's `received_at` plus a hash of
/// (interaction, text), so that a retry of the same reply collides instead of duplicating,
/// while another reply, or a reply to another interaction, gets another key.
pub fn reply_rkey(to: &Interaction, text: &str) -> String {
    let d = reply_digest(to, text);
    let offset = (u64::from(d[0]) << 12) | (u64::from(d[1]) << 4) | (u64::from(d[2]) >> 4); // 20 bits: ≤ 1.05 s
    let micros = u64::try_from(to.received_at.timestamp_micros()).unwrap_or(0).saturating_add(offset) & ((1 << 53) - 1);
    let clock_id = ((u64::from(d[3]) << 8) | u64::from(d[4])) & 0x3FF;
    encode_tid((micros << 10) | clock_id)
}

impl BlueskyAdapter {
    /// The strong refs to answer the post `uri`, from `app.bsky.feed.getPosts` (§2.3 ✅), for an
    /// interaction that came without them.
    async fn reply_refs_of(&self, account: &Account, slot: &Slot, uri: &str) -> Result<ReplyRefs, PublishError> {
        if !uri.starts_with("at://") {
            return Err(permanent(format!("`{}` is not a Bluesky post to answer", one_line(uri))));
        }
        let (_, reply) = self
            .call(account, slot, "reading the post to answer", |s| {
                self.http
                    .get(account.xrpc("app.bsky.feed.getPosts"))
                    .bearer_auth(s.access.expose_secret())
                    .query(&[("uris", uri)])
            })
            .await?;
        if !reply.status.is_success() {
            return Err(self.error_from(&reply, "the post to answer"));
        }
        let v: Value = reply.json(PLATFORM, "the post to answer")?;
        let post = v.get("posts").and_then(Value::as_array).and_then(|p| p.first());
        let this = post.and_then(StrongRef::from_json).ok_or_else(|| {
            permanent(format!(
                "the Bluesky post {uri} is gone (deleted, or hidden from this account): cannot answer it"
            ))
        })?;
        let record = post.and_then(|p| p.get("record")).cloned().unwrap_or(Value::Null);
        Ok(ReplyRefs::answering(this, &record))
    }
}

#[async_trait]
impl InboxAdapter for BlueskyAdapter {
    /// `app.bsky.notification.listNotifications` through the PDS (which hands `app.bsky.*` to its
    /// AppView), with `reasons` mention, reply and quote, newest first, page after page down to
    /// the cursor (see `InboxCursor`). Each post is one draft whose dedupe id is its `at://`
    /// URI; a post that is both a reply and a mention is a reply. Its thread is the root of its
    /// `reply` (itself when it starts one), and `reply_ref` holds the root and parent strong
    /// refs that [`InboxAdapter::reply`] needs.
    async fn poll(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        cursor: Option<&str>,
    ) -> Result<Polled, PublishError> {
        let account = Account::from_credentials(credentials)?;
        let slot = self.slot(channel.id);
        let state = cursor.map(str::trim).filter(|c| !c.is_empty()).and_then(|c| {
            serde_json::from_str::<InboxCursor>(c)
                .inspect_err(|e| tracing::warn!(error = %e, "unreadable Bluesky inbox cursor: reading the latest page"))
                .ok()
        });
        let overlap = chrono::Duration::minutes(POLL_OVERLAP_MINUTES);
        let floor = state.as_ref().map(|s| s.at - overlap);
        let limit = if state.is_some() { POLL_PAGE } else { FIRST_POLL_PAGE }.to_string();

        let mut scanned: Vec<Notified> = Vec::new();
        let mut page_cursor: Option<String> = None;
        for page in 1..=MAX_POLL_PAGES {
            let (_, reply) = self
                .call(&account, &slot, "reading notifications", |s| {
                    let mut query: Vec<(&str, &str)> = vec![("limit", limit.as_str())];
                    query.extend(INBOX_REASONS.iter().map(|r| ("reasons", *r)));
                    if let Some(c) = &page_cursor {
                        query.push(("cursor", c.as_str()));
                    }
                    self.http
                        .get(account.xrpc("app.bsky.notification.listNotifications"))
                        .bearer_auth(s.access.expose_secret())
                        .query(&query)
                })
                .await?;
            if !reply.status.is_success() {
                return Err(self.error_from(&reply, "the notifications"));
            }
            let body: Value = reply.json(PLATFORM, "the notifications")?;
            let list = body.get("notifications").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut reached_floor = false;
            for n in &list {
                let sort_at = n.get("indexedAt").and_then(Value::as_str).and_then(parse_instant);
                if floor.is_some_and(|f| sort_at.is_some_and(|t| t < f)) {
                    reached_floor = true;
                    break;
                }
                scanned.extend(notified(n));
            }
            page_cursor = body.get("cursor").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_owned);
            if state.is_none() || reached_floor || list.is_empty() || page_cursor.is_none() {
                break;
            }
            if page == MAX_POLL_PAGES {
                tracing::warn!(channel = %channel.id, "more new Bluesky notifications than one poll reads: the oldest are skipped");
            }
        }

        let seen_before: std::collections::HashSet<&str> =
            state.as_ref().map(|s| s.seen.iter().map(String::as_str).collect()).unwrap_or_default();
        let newest = scanned.iter().map(|n| n.sort_at).max();
        let at = match (state.as_ref().map(|s| s.at), newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let mut seen: Vec<String> = Vec::new();
        let mut items: Vec<Notified> = Vec::new();
        for n in scanned {
            let hash = seen_hash(&n.uri);
            if at.is_some_and(|at| n.sort_at >= at - overlap) && !seen.contains(&hash) && seen.len() < MAX_SEEN {
                seen.push(hash.clone());
            }
            if seen_before.contains(hash.as_str()) {
                continue;
            }
            match items.iter_mut().find(|i| i.uri == n.uri) {
                Some(same) if n.draft.kind == InteractionKind::Reply => same.draft.kind = InteractionKind::Reply,
                Some(_) => {}
                None => items.push(n),
            }
        }
        items.sort_by(|a, b| a.sort_at.cmp(&b.sort_at).then_with(|| a.uri.cmp(&b.uri)));
        let cursor = match at {
            Some(at) => Some(
                serde_json::to_string(&InboxCursor { at, seen })
                    .map_err(|e| transient(format!("Bluesky inbox cursor: {e}")))?,
            ),
            None => None,
        };
        tracing::debug!(channel = %channel.id, found = items.len(), "polled Bluesky notifications");
        Ok(Polled { items: items.into_iter().map(|n| (n.uri, n.draft)).collect(), cursor })
    }

    /// A post with `reply: {root, parent}` from the interaction's `reply_ref` (or, without one,
    /// from `getPosts` of the post it is), facets as for any post, at the record key
    /// [`reply_rkey`] so that a retried reply is not posted twice.
    async fn reply(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        to: &Interaction,
        text: &str,
    ) -> Result<Published, PublishError> {
        let account = Account::from_credentials(credentials)?;
        let slot = self.slot(channel.id);
        let refs = match to.reply_ref.as_deref().and_then(ReplyRefs::parse) {
            Some(refs) => refs,
            None => self.reply_refs_of(&account, &slot, &to.external_id).await?,
        };
        let facets = self.facets(&account, text).await?;
        let created_at = self.clock.now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": created_at,
            "reply": { "root": refs.root, "parent": refs.parent },
        });
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        let rkey = reply_rkey(to, text);
        let published = self.write_post(&account, &slot, &rkey, &record, text, "the reply").await?;
        tracing::info!(channel = %channel.id, interaction = %to.id, uri = %published.platform_post_id, "replied on Bluesky");
        Ok(published)
    }
}

/// A picture Bluesky takes: PNG, JPEG, WebP or GIF by its bytes (not its declared type), JPEG
/// metadata stripped (§2.2 ✅ "strip EXIF client-side": camera photos carry GPS positions).
fn checked_image(fetched: Fetched, url: &str) -> Result<Image, PublishError> {
    let shown = redact_url(url);
    let sniffed = fetched.sniffed.filter(|s| IMAGE_TYPES.contains(&s.mime));
    let Some(sniffed) = sniffed else {
        let declared = fetched.declared.as_deref().unwrap_or("");
        let is_video = declared.starts_with("video/") || fetched.sniffed.is_some_and(|s| s.mime.starts_with("video/"));
        return Err(permanent(if is_video {
            format!("media rejected: {shown} is a video; Herald cannot post videos to Bluesky yet")
        } else {
            let what = if declared.is_empty() { "not an image Herald recognises" } else { declared };
            format!("media rejected: {shown} is {what}; Bluesky takes PNG, JPEG, WebP or GIF images")
        }));
    };
    let mut size = sniffed.size;
    let bytes = if sniffed.mime == "image/jpeg" {
        match strip_jpeg_metadata(&fetched.bytes) {
            Some((stripped, orientation)) => {
                if matches!(orientation, Some(5..=8)) {
                    size = size.map(|(w, h)| (h, w)); // shown rotated by a quarter turn
                }
                stripped
            }
            None => fetched.bytes,
        }
    } else {
        fetched.bytes
    };
    Ok(Image { bytes: bytes.into(), mime: sniffed.mime, size, alt: String::new() })
}

// ---------------------------------------------------------------------------------------------
// Record keys

const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The record key of a delivery's post: a TID (13 characters of base32-sortable, first one of
/// `234567abcdefghij`) made of the delivery's `created_at` in microseconds (53 bits) and a
/// 10-bit clock id from a SHA-256 of the delivery id. The same on every attempt; two deliveries
/// share it only if created in the same microsecond *and* their hashes agree on 10 bits (and
/// then [`BlueskyAdapter`] notices the text differs and refuses).
pub fn rkey_for(delivery: &Delivery) -> String {
    let micros = u64::try_from(delivery.created_at.timestamp_micros()).unwrap_or(0) & ((1 << 53) - 1);
    let digest = Sha256::digest(delivery.id.to_string().as_bytes());
    let clock_id = ((u64::from(digest[0]) << 8) | u64::from(digest[1])) & 0x3FF;
    encode_tid((micros << 10) | clock_id)
}

fn encode_tid(v: u64) -> String {
    (0..13u32).map(|k| char::from(TID_ALPHABET[((v >> (60 - 5 * k)) & 31) as usize])).collect()
}

/// Is `s` a syntactically valid TID?
pub fn is_valid_tid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13
        && b.first().is_some_and(|c| b"234567abcdefghij".contains(c))
        && b.iter().all(|c| TID_ALPHABET.contains(c))
}

// ---------------------------------------------------------------------------------------------
// Rich-text facets

/// What a facet points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacetKind {
    /// An `http(s)://` link, as written.
    Link(String),
    /// A handle (lowercase, without `@`), to be resolved to a DID.
    Mention(String),
    /// A hashtag, without `#`.
    Tag(String),
}

/// A facet's place in the text, in UTF-8 bytes (`byte_end` exclusive), as Bluesky wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetSpan {
    pub byte_start: usize,
    pub byte_end: usize,
    pub kind: FacetKind,
}

/// Links, mentions and hashtags in `text`, left to right, never overlapping. The rules follow
/// the reference client's `detectFacets` (@atproto/api), which is what people see in the app:
/// - a link starts with `http://` or `https://` at the start, after a space or `(`, and runs to
///   the next space, less trailing `.,;:!?"'` and a `)` that opens nowhere in it;
/// - a mention is `@handle.domain` at the start, after a space or `(`; a trailing `.` or `-`
///   is not part of it;
/// - a hashtag is `#` (or `＃`) at the start or after a space, then anything up to the next
///   space, less trailing punctuation; it needs a character that is not a digit or punctuation,
///   and at most 64 characters. "Punctuation" here is ASCII punctuation and the common Unicode
///   ones (an approximation of `\p{P}`).
pub fn detect_facets(text: &str) -> Vec<FacetSpan> {
    let mut spans = Vec::new();
    let mut prev: Option<char> = None;
    let mut i = 0;
    while let Some(c) = text.get(i..).and_then(|s| s.chars().next()) {
        let after_space = prev.is_none_or(char::is_whitespace);
        let after_space_or_paren = after_space || prev == Some('(');
        let found = match c {
            'h' | 'H' if after_space_or_paren => link_at(text, i),
            '@' if after_space_or_paren => mention_at(text, i),
            '#' | '＃' if after_space => tag_at(text, i),
            _ => None,
        };
        if let Some(span) = found {
            i = span.byte_end;
            prev = text.get(..i).and_then(|s| s.chars().next_back());
            spans.push(span);
            continue;
        }
        i += c.len_utf8();
        prev = Some(c);
    }
    spans
}

fn non_space_end(text: &str, from: usize) -> usize {
    let rest = text.get(from..).unwrap_or("");
    from + rest.char_indices().find(|&(_, c)| c.is_whitespace()).map_or(rest.len(), |(j, _)| j)
}

fn link_at(text: &str, i: usize) -> Option<FacetSpan> {
    let rest = text.get(i..)?;
    let has_scheme =
        ["https://", "http://"].iter().any(|s| rest.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
    if !has_scheme {
        return None;
    }
    let mut uri = text.get(i..non_space_end(text, i))?;
    loop {
        let last = uri.chars().next_back()?;
        let drop = ".,;:!?\"'".contains(last) || (last == ')' && !uri.contains('('));
        if !drop {
            break;
        }
        uri = uri.get(..uri.len() - last.len_utf8())?;
    }
    let parsed = Url::parse(uri).ok()?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return None;
    }
    Some(FacetSpan { byte_start: i, byte_end: i + uri.len(), kind: FacetKind::Link(uri.to_owned()) })
}

fn mention_at(text: &str, i: usize) -> Option<FacetSpan> {
    let start = i + 1;
    let rest = text.get(start..)?;
    let len = rest
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .map_or(rest.len(), |(j, _)| j);
    let handle = rest.get(..len)?.trim_end_matches(['.', '-']);
    if !is_valid_handle(handle) {
        return None;
    }
    Some(FacetSpan {
        byte_start: i,
        byte_end: start + handle.len(),
        kind: FacetKind::Mention(handle.to_ascii_lowercase()),
    })
}

/// atproto handle syntax: a domain name of at least two labels, each 1–63 letters, digits or
/// inner hyphens, the last one starting with a letter; 253 characters at most.
fn is_valid_handle(h: &str) -> bool {
    let labels: Vec<&str> = h.split('.').collect();
    h.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels.last().and_then(|l| l.chars().next()).is_some_and(|c| c.is_ascii_alphabetic())
}

fn tag_at(text: &str, i: usize) -> Option<FacetSpan> {
    let hash_len = text.get(i..)?.chars().next()?.len_utf8();
    let start = i + hash_len;
    let rest = text.get(start..)?;
    let excluded = |c: char| {
        c.is_whitespace()
            || matches!(c, '\u{AD}' | '\u{2060}' | '\u{200A}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{20E2}')
    };
    let len = rest.char_indices().find(|&(_, c)| excluded(c)).map_or(rest.len(), |(j, _)| j);
    let mut tag = rest.get(..len)?;
    if tag.starts_with('\u{FE0F}') {
        return None;
    }
    tag = tag.trim_end_matches(is_punctuation);
    let meaningful = tag.chars().any(|c| !c.is_ascii_digit() && !c.is_numeric() && !is_punctuation(c));
    if !meaningful || tag.chars().count() > 64 {
        return None;
    }
    Some(FacetSpan { byte_start: i, byte_end: start + tag.len(), kind: FacetKind::Tag(tag.to_owned()) })
}

/// ASCII punctuation (not the symbols `$+<=>^`|~`) and the common Unicode punctuation.
fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    matches!(u32::from(c),
        0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF
        | 0x2010..=0x2027 | 0x2030..=0x205E
        | 0x3001..=0x3003 | 0x3008..=0x3011 | 0x3014..=0x301F
        | 0xFF01..=0xFF03 | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F | 0xFF1A | 0xFF1B | 0xFF1F | 0xFF20
        | 0xFF3B..=0xFF3D | 0xFF3F | 0xFF5B | 0xFF5D | 0xFF5F..=0xFF65)
}

// ---------------------------------------------------------------------------------------------
// JPEG metadata

/// The JPEG without its metadata segments — EXIF (APP1, which holds GPS positions, camera
/// serials), XMP (APP1), IPTC/Photoshop (APP13) and comments — keeping everything the picture
/// needs (JFIF, ICC colour profile, Adobe, tables, frames, data) and the EXIF orientation, which
/// is written back as a minimal EXIF segment so a phone photo is not shown sideways.
/// `None` when the segment structure cannot be read (the bytes are then sent as they are).
pub(crate) fn strip_jpeg_metadata(b: &[u8]) -> Option<(Vec<u8>, Option<u16>)> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut orientation = None;
    let mut exif_at = None;
    let mut i = 2;
    loop {
        let seg_start = i;
        if *b.get(i)? != 0xFF {
            return None;
        }
        while *b.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *b.get(i)?;
        i += 1;
        if marker == 0xDA || marker == 0xD9 {
            out.extend_from_slice(b.get(seg_start..)?); // scan data and the rest, untouched
            break;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            out.extend_from_slice(b.get(seg_start..i)?);
            continue;
        }
        let len = usize::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        let payload = b.get(i + 2..i + len)?;
        let end = i + len;
        match marker {
            0xE1 => {
                if let Some(tiff) = payload.strip_prefix(b"Exif\0\0") {
                    orientation = orientation.or_else(|| exif_orientation(tiff));
                    exif_at.get_or_insert(out.len());
                }
            }
            0xED | 0xFE => {}
            _ => out.extend_from_slice(b.get(seg_start..end)?),
        }
        i = end;
    }
    if let (Some(o), Some(at)) = (orientation.filter(|&o| o != 1), exif_at) {
        let mut seg = vec![0xFF, 0xE1, 0, 34];
        seg.extend_from_slice(b"Exif\0\0MM\0\x2A\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01");
        seg.extend_from_slice(&o.to_be_bytes());
        seg.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        out.splice(at..at, seg);
    }
    Some((out, orientation))
}

/// Tag 0x0112 (Orientation) of IFD0 in a TIFF-structured EXIF block, if valid (1–8).
fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let big = match tiff.get(0..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |i: usize| {
        tiff.get(i..i + 2)
            .map(|s| if big { u16::from_be_bytes([s[0], s[1]]) } else { u16::from_le_bytes([s[0], s[1]]) })
    };
    let u32_at = |i: usize| {
        tiff.get(i..i + 4).map(|s| {
            let a = [s[0], s[1], s[2], s[3]];
            if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    (0..count.min(512))
        .find_map(|k| {
            let e = ifd + 2 + 12 * k;
            (u16_at(e)? == 0x0112 && u16_at(e + 2)? == 3).then(|| u16_at(e + 8)).flatten()
        })
        .filter(|o| (1..=8).contains(o))
}

// ---------------------------------------------------------------------------------------------
// Metrics (platforms.md §2.3 ✅): a post view's counts, the profile's followers. Read through
// the PDS like every other `app.bsky.*` read of this adapter (it hands them to its AppView).

/// URIs one `app.bsky.feed.getPosts` call takes (§2.3 ✅, `maxLength: 25` in the lexicon).
pub const GET_POSTS_MAX_URIS: usize = 25;

impl BlueskyAdapter {
    /// A failed metrics read in the poller's terms: 429 is a rate limit (with `RateLimit-Reset`),
    /// the rest as for publishing.
    fn metrics_error(&self, reply: &Reply, what: &str) -> MetricsError {
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return MetricsError::RateLimited {
                retry_after: retry_after(&reply.headers, self.clock.now(), ResetHeader::EpochSeconds),
            };
        }
        self.error_from(reply, what).into()
    }

    /// One `getPosts` call for `uris` (at most [`GET_POSTS_MAX_URIS`]), through the channel's
    /// session (renewed once if the access token is refused).
    async fn get_posts(&self, account: &Account, slot: &Slot, uris: &[&str]) -> Result<Reply, MetricsError> {
        let query: Vec<(&str, &str)> = uris.iter().map(|uri| ("uris", *uri)).collect();
        let (_, reply) = self
            .call(account, slot, "reading posts' counts", |s| {
                self.http
                    .get(account.xrpc("app.bsky.feed.getPosts"))
                    .bearer_auth(s.access.expose_secret())
                    .query(&query)
            })
            .await?;
        Ok(reply)
    }

    /// The answer of each of `uris` (at most [`GET_POSTS_MAX_URIS`]) from one `getPosts` call,
    /// in order: its counters, or `Gone` when the answer leaves it out (deleted, or hidden from
    /// this account). The error is the call's. One malformed URI makes Bluesky refuse the whole
    /// request (400): then each URI is asked alone, so that it holds back nobody but itself.
    async fn read_post_views(
        &self,
        account: &Account,
        slot: &Slot,
        uris: &[&str],
    ) -> Result<Vec<PostAnswer>, MetricsError> {
        let reply = self.get_posts(account, slot, uris).await?;
        if reply.status != StatusCode::BAD_REQUEST || uris.len() < 2 {
            return self.post_views_answers(&reply, uris);
        }
        tracing::info!(
            detail = %xrpc_detail(&reply),
            uris = uris.len(),
            "Bluesky refused a batch of posts; reading them one by one"
        );
        let mut answers = Vec::with_capacity(uris.len());
        for uri in uris {
            let one = std::slice::from_ref(uri);
            let reply = self.get_posts(account, slot, one).await?;
            match self.post_views_answers(&reply, one) {
                Ok(mut answer) => answers.push(answer.pop().unwrap_or(Err(MetricsError::Gone))),
                Err(e @ (MetricsError::RateLimited { .. } | MetricsError::Auth { .. })) => return Err(e),
                Err(e) => answers.push(Err(e)),
            }
        }
        Ok(answers)
    }

    /// Reads a `getPosts` answer: each of `uris`, in order, found (its counters) or not (`Gone`).
    fn post_views_answers(&self, reply: &Reply, uris: &[&str]) -> Result<Vec<PostAnswer>, MetricsError> {
        if !reply.status.is_success() {
            return Err(self.metrics_error(reply, "the posts' counts"));
        }
        let v: Value = reply.json(PLATFORM, "the posts' counts")?;
        let views: HashMap<&str, &Value> = v
            .get("posts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|view| Some((view.get("uri").and_then(Value::as_str)?, view)))
            .collect();
        let answer = |uri: &&str| views.get(uri).map(|view| post_view_counters(view)).ok_or(MetricsError::Gone);
        Ok(uris.iter().map(answer).collect())
    }
}

/// A count of a post view, `None` when the AppView leaves it out.
fn count(v: &Value, field: &str) -> Option<u64> {
    v.get(field).and_then(Value::as_u64)
}

/// The counters of a `postView` (§2.3 ✅): `likeCount`, `repostCount`, `replyCount`,
/// `quoteCount`, `bookmarkCount`. No impressions, reach or clicks exist (§2.3 ✅ absent).
fn post_view_counters(view: &Value) -> MetricCounters {
    MetricCounters {
        likes: count(view, "likeCount"),
        reposts: count(view, "repostCount"),
        replies: count(view, "replyCount"),
        quotes: count(view, "quoteCount"),
        bookmarks: count(view, "bookmarkCount"),
        ..Default::default()
    }
}

#[async_trait]
impl MetricsAdapter for BlueskyAdapter {
    /// `app.bsky.feed.getPosts?uris=<at-uri>`: the batched read of one post.
    async fn post_counters(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        platform_post_id: &str,
        published_at: DateTime<Utc>,
    ) -> Result<MetricCounters, MetricsError> {
        super::metrics::read_as_batch_of_one(self, channel, credentials, platform_post_id, published_at).await
    }

    fn max_batch(&self) -> usize {
        GET_POSTS_MAX_URIS
    }

    /// `app.bsky.feed.getPosts?uris=<at-uri>&uris=…`, one call per [`GET_POSTS_MAX_URIS`]
    /// distinct URIs. A post missing from the answer is gone (deleted or hidden); an id that is
    /// not an AT URI is gone without asking. A rate limit or a refused token stops the batch;
    /// another failure of one call is the answer of its posts only.
    async fn post_counters_batch(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        posts: &[PostRef<'_>],
    ) -> Result<Vec<PostAnswer>, MetricsError> {
        let mut distinct = std::collections::HashSet::with_capacity(posts.len());
        let uris: Vec<&str> = posts
            .iter()
            .map(|post| post.platform_post_id)
            .filter(|uri| uri.starts_with("at://") && distinct.insert(*uri))
            .collect();
        let mut read: HashMap<&str, PostAnswer> = HashMap::with_capacity(uris.len());
        if !uris.is_empty() {
            let account = Account::from_credentials(credentials)?;
            let slot = self.slot(channel.id);
            for chunk in uris.chunks(GET_POSTS_MAX_URIS) {
                match self.read_post_views(&account, &slot, chunk).await {
                    Ok(answers) => read.extend(chunk.iter().copied().zip(answers)),
                    Err(e @ (MetricsError::RateLimited { .. } | MetricsError::Auth { .. })) => return Err(e),
                    Err(e) => read.extend(chunk.iter().map(|uri| (*uri, Err(e.clone())))),
                }
            }
        }
        let answer = |post: &PostRef<'_>| read.get(post.platform_post_id).cloned().unwrap_or(Err(MetricsError::Gone));
        Ok(posts.iter().map(answer).collect())
    }

    /// `app.bsky.actor.getProfile?actor=<the session's DID>` → `followersCount`.
    async fn followers(
        &self,
        channel: &Channel,
        credentials: &Credentials,
    ) -> Result<Option<u64>, MetricsError> {
        let account = Account::from_credentials(credentials)?;
        let slot = self.slot(channel.id);
        let (_, reply) = self
            .call(&account, &slot, "reading the profile", |s| {
                self.http
                    .get(account.xrpc("app.bsky.actor.getProfile"))
                    .bearer_auth(s.access.expose_secret())
                    .query(&[("actor", s.did.as_str())])
            })
            .await?;
        if !reply.status.is_success() {
            return Err(self.metrics_error(&reply, "the profile"));
        }
        let v: Value = reply.json(PLATFORM, "the profile")?;
        Ok(count(&v, "followersCount"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn spans(text: &str) -> Vec<(usize, usize, FacetKind)> {
        detect_facets(text).into_iter().map(|s| (s.byte_start, s.byte_end, s.kind)).collect()
    }

    /// A PDS on a loopback port for the metrics reads: `createSession`, and `getPosts` answering
    /// every URI except those whose record key starts with `gone` (deleted), with counters made
    /// from the record key's number n: likes n, reposts 2n, replies 3n, quotes 4n, no bookmarks.
    /// A URI with a space in it makes the whole request a 400, as the lexicon check would.
    /// Returns its base URL and the URIs of each `getPosts` call, in order.
    async fn fake_pds() -> (String, Arc<Mutex<Vec<Vec<String>>>>) {
        use axum::extract::Request;
        use axum::http::StatusCode as Status;
        let calls: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let seen = calls.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let seen = seen.clone();
            async move {
                let url = Url::parse(&format!("http://pds{}", req.uri())).unwrap();
                match url.path() {
                    "/xrpc/com.atproto.server.createSession" => (
                        Status::OK,
                        axum::Json(json!({"did": "did:plc:cafe", "handle": "cafe.test", "accessJwt": "a", "refreshJwt": "r"})),
                    ),
                    "/xrpc/app.bsky.feed.getPosts" => {
                        let uris: Vec<String> =
                            url.query_pairs().filter(|(k, _)| k == "uris").map(|(_, v)| v.into_owned()).collect();
                        seen.lock().unwrap().push(uris.clone());
                        if uris.iter().any(|u| u.contains(' ')) {
                            let error = json!({"error": "InvalidRequest", "message": "uris/0 must be a valid at-uri"});
                            return (Status::BAD_REQUEST, axum::Json(error));
                        }
                        let posts: Vec<Value> = uris
                            .iter()
                            .filter_map(|uri| {
                                let rkey = uri.rsplit('/').next()?;
                                let n: u64 = rkey.strip_prefix("post")?.parse().ok()?;
                                Some(json!({"uri": uri, "cid": "bafy", "likeCount": n, "repostCount": 2 * n,
                                    "replyCount": 3 * n, "quoteCount": 4 * n, "indexedAt": "2026-11-20T09:00:00Z"}))
                            })
                            .collect();
                        (Status::OK, axum::Json(json!({ "posts": posts })))
                    }
                    _ => (Status::NOT_FOUND, axum::Json(json!({"error": "NotFound"}))),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), calls)
    }

    fn metrics_rig(base: &str) -> (BlueskyAdapter, Channel, Credentials) {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        // The fake PDS is on loopback.
        let clock = Arc::new(crate::clock::ManualClock::new(t));
        let adapter = BlueskyAdapter::new(clock, NetworkPolicy::AllowPrivate).unwrap();
        let channel = Channel {
            id: ChannelId::new(),
            team_id: crate::domain::TeamId::parse("team", "cafe").unwrap(),
            platform: crate::domain::Platform::Bluesky,
            name: crate::domain::ChannelName::parse("name", "cafe").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: None,
            queue_slots: vec![],
            created_at: t,
            updated_at: t,
        };
        let creds = Credentials::from_json(
            "c",
            &json!({"service": base, "identifier": "cafe.test", "app_password": "abcd-efgh-ijkl-mnop"}),
        )
        .unwrap();
        (adapter, channel, creds)
    }

    fn expected(n: u64) -> MetricCounters {
        MetricCounters {
            likes: Some(n),
            reposts: Some(2 * n),
            replies: Some(3 * n),
            quotes: Some(4 * n),
            bookmarks: None,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn thirty_posts_are_read_with_two_get_posts_calls() {
        let (base, calls) = fake_pds().await;
        let (adapter, channel, creds) = metrics_rig(&base);
        assert_eq!(adapter.max_batch(), 25);
        let published_at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        let mut ids: Vec<String> = (1..=30).map(|n| format!("at://did:plc:cafe/app.bsky.feed.post/post{n}")).collect();
        ids[6] = "at://did:plc:cafe/app.bsky.feed.post/gone7".into();
        let posts: Vec<PostRef<'_>> = ids.iter().map(|id| PostRef { platform_post_id: id, published_at }).collect();

        let answers = adapter.post_counters_batch(&channel, &creds, &posts).await.unwrap();

        let sizes: Vec<usize> = calls.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![25, 5], "one getPosts per 25 URIs");
        assert_eq!(calls.lock().unwrap().concat(), ids, "every URI asked once, in order");
        assert_eq!(answers.len(), 30);
        for (i, answer) in answers.iter().enumerate() {
            let n = i as u64 + 1;
            if n == 7 {
                assert_eq!(answer, &Err(MetricsError::Gone), "absent from the answer: deleted or hidden");
            } else {
                assert_eq!(answer, &Ok(expected(n)), "post {n}");
            }
        }
        // The single read maps a post view the same way, with one call of one URI.
        let single = adapter.post_counters(&channel, &creds, &ids[11], published_at).await;
        assert_eq!(single, Ok(expected(12)));
        assert_eq!(adapter.post_counters(&channel, &creds, &ids[6], published_at).await, Err(MetricsError::Gone));
        assert_eq!(calls.lock().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn odd_ids_in_a_batch_hold_back_only_themselves() {
        let (base, calls) = fake_pds().await;
        let (adapter, channel, creds) = metrics_rig(&base);
        let published_at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        let ids = [
            "at://did:plc:cafe/app.bsky.feed.post/post1",
            "not-a-uri",
            "at://did:plc:cafe/app.bsky.feed.post/post 2",
            "at://did:plc:cafe/app.bsky.feed.post/post3",
            "at://did:plc:cafe/app.bsky.feed.post/post1",
        ];
        let posts: Vec<PostRef<'_>> = ids.iter().map(|id| PostRef { platform_post_id: id, published_at }).collect();

        let answers = adapter.post_counters_batch(&channel, &creds, &posts).await.unwrap();

        assert_eq!(answers[0], Ok(expected(1)));
        assert_eq!(answers[1], Err(MetricsError::Gone), "not an AT URI: never asked");
        assert!(matches!(&answers[2], Err(MetricsError::Failed { reason }) if reason.contains("InvalidRequest")), "{:?}", answers[2]);
        assert_eq!(answers[3], Ok(expected(3)));
        assert_eq!(answers[4], Ok(expected(1)), "the same post twice is asked once");
        // The batch of three distinct URIs was refused as a whole, then each was asked alone.
        let sizes: Vec<usize> = calls.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![3, 1, 1, 1]);
        // Nothing to ask: no call at all.
        let none = adapter.post_counters_batch(&channel, &creds, &posts[1..2]).await;
        assert_eq!(none, Ok(vec![Err(MetricsError::Gone)]));
        assert_eq!(calls.lock().unwrap().len(), 4);
    }

    #[test]
    fn tids_are_13_sortable_characters() {
        assert_eq!(encode_tid(0), "2222222222222");
        assert!(is_valid_tid("3jzfcijpj2z2a"));
        assert!(!is_valid_tid("kjzfcijpj2z2a")); // first character carries only 4 bits
        assert!(!is_valid_tid("3jzfcijpj2z2"));
        assert!(!is_valid_tid("3jzfcijpj2z21"));
        let max = encode_tid(u64::MAX >> 1);
        assert!(is_valid_tid(&max), "{max}");
        // Later instants sort later, as strings.
        assert!(encode_tid(1_700_000_000_000_000 << 10) < encode_tid(1_700_000_000_000_001 << 10));
    }

    #[test]
    fn rkey_is_stable_per_delivery_and_differs_between_deliveries() {
        let post = crate::domain::Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: crate::domain::PostId::new(),
            team_id: crate::domain::TeamId::parse("team", "cafe").unwrap(),
            text: crate::domain::PostText::parse("text", "hi").unwrap(),
            variants: Default::default(),
            media: vec![],
            series_id: None,
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let a = Delivery::new(
            &post,
            ChannelId::new(),
            crate::domain::Platform::Bluesky,
            crate::domain::DeliveryState::Scheduled,
            at,
            at,
        );
        let b = Delivery::new(
            &post,
            ChannelId::new(),
            crate::domain::Platform::Bluesky,
            crate::domain::DeliveryState::Scheduled,
            at,
            at,
        );
        let ka = rkey_for(&a);
        assert!(is_valid_tid(&ka), "{ka}");
        assert_eq!(ka, rkey_for(&a.clone()));
        // Same microsecond: only the clock id (10 bits of the hash) can tell them apart.
        assert_eq!(ka[..11], rkey_for(&b)[..11]);
        let mut c = a.clone();
        c.created_at = at + chrono::Duration::microseconds(1);
        assert_ne!(rkey_for(&c), ka);
        // Before 1970 (impossible, but no panic): the timestamp part is zero.
        c.created_at = Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap();
        assert!(is_valid_tid(&rkey_for(&c)));
    }

    #[test]
    fn the_lifetime_of_an_access_token_is_read_from_its_claims() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = |claims: &str| format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", URL_SAFE_NO_PAD.encode(claims));
        assert_eq!(jwt_lifetime(&jwt(r#"{"iat":1796098521,"exp":1796105721}"#)), Some(chrono::Duration::hours(2)));
        assert_eq!(jwt_lifetime(&jwt(r#"{"iat":5,"exp":5}"#)), None);
        assert_eq!(jwt_lifetime(&jwt(r#"{"exp":5}"#)), None);
        assert_eq!(jwt_lifetime("access-1"), None);
        assert_eq!(jwt_lifetime("a.!!!.c"), None);
    }

    #[test]
    fn post_links_and_reply_refs() {
        assert_eq!(
            post_link("at://did:plc:abc/app.bsky.feed.post/3kabc").as_deref(),
            Some("https://bsky.app/profile/did:plc:abc/post/3kabc")
        );
        assert_eq!(post_link("at://did:plc:abc/app.bsky.feed.like/3kabc"), None);
        assert_eq!(post_link("https://bsky.app/x"), None);
        let r = r#"{"root":{"uri":"at://a/app.bsky.feed.post/1","cid":"c1"},"parent":{"uri":"at://b/app.bsky.feed.post/2","cid":"c2"}}"#;
        let refs = ReplyRefs::parse(r).unwrap();
        assert_eq!((refs.root.uri.as_str(), refs.parent.cid.as_str()), ("at://a/app.bsky.feed.post/1", "c2"));
        assert!(ReplyRefs::parse(r#"{"root":{"uri":"x","cid":"c"},"parent":{"uri":"at://b","cid":"c"}}"#).is_none());
        assert!(ReplyRefs::parse("not json").is_none());
    }

    #[test]
    fn facets_use_utf8_byte_offsets() {
        let text = "Café ✨ https://example.com/menu et @alice.test #café!";
        let got = spans(text);
        let link_start = "Café ✨ ".len();
        assert_eq!(link_start, 10); // C a f é(2) space ✨(3) space
        let link_end = link_start + "https://example.com/menu".len();
        let mention_start = text.find("@alice").unwrap();
        let tag_start = text.find("#café").unwrap();
        assert_eq!(
            got,
            vec![
                (link_start, link_end, FacetKind::Link("https://example.com/menu".into())),
                (mention_start, mention_start + "@alice.test".len(), FacetKind::Mention("alice.test".into())),
                (tag_start, tag_start + "#café".len(), FacetKind::Tag("café".into())),
            ]
        );
        assert_eq!(&text[link_start..link_end], "https://example.com/menu");
    }

    #[test]
    fn links_drop_trailing_punctuation_and_unopened_parentheses() {
        let link = |t: &str| {
            detect_facets(t).into_iter().find_map(|s| match s.kind {
                FacetKind::Link(u) => Some(u),
                _ => None,
            })
        };
        assert_eq!(link("see https://example.com/a."), Some("https://example.com/a".into()));
        assert_eq!(link("(https://example.com/a)"), Some("https://example.com/a".into()));
        assert_eq!(
            link("https://en.wikipedia.org/wiki/Rust_(language)"),
            Some("https://en.wikipedia.org/wiki/Rust_(language)".into())
        );
        assert_eq!(link("HTTPS://EXAMPLE.COM/x?!"), Some("HTTPS://EXAMPLE.COM/x".into()));
        assert_eq!(link("xhttps://example.com"), None);
        assert_eq!(link("https://"), None);
        assert_eq!(link("example.com"), None); // bare domains are not links here
    }

    #[test]
    fn mentions_need_a_domain_and_tags_need_a_letter() {
        assert_eq!(spans("hi @bob."), vec![]);
        assert_eq!(spans("mail a@b.com"), vec![]);
        assert_eq!(spans("@Bob.Example.com."), vec![(0, 16, FacetKind::Mention("bob.example.com".into()))]);
        assert_eq!(spans("@-bad.com"), vec![]);
        assert_eq!(spans("#123 #1a #, C#sharp #\u{FE0F}x"), vec![(5, 8, FacetKind::Tag("1a".into()))]);
        assert_eq!(spans("＃日本"), vec![(0, "＃日本".len(), FacetKind::Tag("日本".into()))]);
        assert_eq!(spans(&format!("#{}", "a".repeat(65))), vec![]);
        assert_eq!(spans("#tag… next"), vec![(0, 4, FacetKind::Tag("tag".into()))]);
    }

    #[test]
    fn odd_texts_never_panic() {
        for t in
            ["", "@", "#", "h", "http", "https://", "(@", "＃", "#\u{301}", "@.", "@a..b", "https://[::1", "é@é.é #é"]
        {
            let _ = detect_facets(t);
        }
    }

    fn jpeg_with_exif(orientation: u16) -> Vec<u8> {
        // SOI, APP0 JFIF, APP1 Exif (II, IFD0 with Orientation and a fake GPS pointer), COM,
        // APP2 ICC, SOF0 400x300, SOS + data, EOI.
        let mut tiff = b"II\x2A\0\x08\0\0\0".to_vec();
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0]);
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 0x26, 0, 0, 0]); // GPS IFD pointer
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(b"GPS-SECRET-48.8566N-2.3522E");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let seg = |marker: u8, payload: &[u8]| {
            let mut s = vec![0xFF, marker];
            s.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
            s.extend_from_slice(payload);
            s
        };
        let mut j = vec![0xFF, 0xD8];
        j.extend(seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        j.extend(seg(0xE1, &app1));
        j.extend(seg(0xFE, b"shot on my phone at home"));
        j.extend(seg(0xE2, b"ICC_PROFILE\0\x01\x01colour"));
        j.extend(seg(0xC0, &[8, 0x01, 0x2C, 0x01, 0x90, 1, 1, 0x11, 0]));
        j.extend(seg(0xDA, &[1, 1, 0, 0, 0x3F, 0]));
        j.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn jpeg_metadata_is_stripped_but_orientation_kept() {
        let original = jpeg_with_exif(6);
        let (stripped, orientation) = strip_jpeg_metadata(&original).unwrap();
        assert_eq!(orientation, Some(6));
        let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(has(&original, b"GPS-SECRET") && !has(&stripped, b"GPS-SECRET"));
        assert!(!has(&stripped, b"shot on my phone"));
        assert!(has(&stripped, b"ICC_PROFILE") && has(&stripped, b"JFIF"));
        assert!(stripped.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]));
        // The orientation survives in a minimal EXIF block that a reader finds again.
        let (again, o2) = strip_jpeg_metadata(&stripped).unwrap();
        assert_eq!(o2, Some(6));
        assert_eq!(again, stripped);
        assert_eq!(crate::media::sniff(&stripped).and_then(|s| s.size), Some((400, 300)));

        // Upright photos lose the EXIF block entirely.
        let (upright, o) = strip_jpeg_metadata(&jpeg_with_exif(1)).unwrap();
        assert_eq!(o, Some(1));
        assert!(!has(&upright, b"Exif"));

        // Truncated or odd files: no panic, no result.
        for n in 0..original.len() {
            let _ = strip_jpeg_metadata(&original[..n]);
        }
        assert!(strip_jpeg_metadata(b"not a jpeg").is_none());
    }

    #[test]
    fn rotated_photos_get_a_swapped_aspect_ratio() {
        let fetched = Fetched {
            bytes: jpeg_with_exif(6),
            declared: Some("image/jpeg".into()),
            sniffed: crate::media::sniff(&jpeg_with_exif(6)),
        };
        let image = checked_image(fetched, "https://example.com/p.jpg").unwrap_or_else(|_| panic!("refused"));
        assert_eq!(image.size, Some((300, 400)));
        assert_eq!(image.mime, "image/jpeg");
    }

    #[test]
    fn only_the_four_image_types_are_taken() {
        let refuse = |bytes: &[u8], declared: &str| {
            let fetched = Fetched {
                bytes: bytes.to_vec(),
                declared: Some(declared.into()),
                sniffed: crate::media::sniff(bytes),
            };
            match checked_image(fetched, "https://example.com/x?sig=secret") {
                Err(PublishError::Permanent { reason }) => reason,
                _ => panic!("accepted"),
            }
        };
        let svg = refuse(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml");
        assert_eq!(
            svg,
            "media rejected: https://example.com/x is image/svg+xml; Bluesky takes PNG, JPEG, WebP or GIF images"
        );
        let video = refuse(b"\0\0\0\x18ftypisom", "video/mp4");
        assert!(video.contains("is a video"), "{video}");
        // A PNG declared as JPEG is taken as the PNG it is.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x01".to_vec();
        let ok = checked_image(
            Fetched {
                bytes: png.clone(),
                declared: Some("image/jpeg".into()),
                sniffed: crate::media::sniff(&png),
            },
            "https://example.com/x",
        );
        assert!(matches!(ok, Ok(Image { mime: "image/png", size: Some((2, 1)), .. })));
    }
}
