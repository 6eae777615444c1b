//! Connecting a channel with OAuth: one flow for every network that uses it, each network
//! described by an [`OAuthDescription`] (where its consent screen and token endpoint are, which
//! scopes, whether PKCE) and a way to list the accounts a token may post to.
//!
//! 1. [`start`] (an admin) signs a `state` bound to the team, the person or key that started,
//!    the network, a nonce and an expiry ten minutes ahead, and answers the consent screen's
//!    address. The nonce is the id of the connection to come.
//! 2. The network sends the person's browser back to `/oauth/{platform}/callback?code&state`:
//!    [`callback`] checks the state (the only permission that request carries), exchanges the
//!    code, gets a long-lived token, lists the accounts, and keeps them for thirty minutes as a
//!    pending connection in the store's small key/value state, every token **sealed**.
//! 3. [`finish`] makes one channel per chosen account through [`super::channels::create_channel`],
//!    so credentials are checked and sealed exactly as when pasted.
//!
//! Meta (Facebook Pages and the Instagram professional accounts linked to them) and Threads are
//! described here; the next networks add a [`Provider`]. The app's id and secret come from the
//! host's configuration ([`ConnectConfig::from_env`]); on AWS they are not wired yet.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::channels::{NewChannel, create_channel};
use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::crypto::{CredentialCipher, Credentials};
use crate::domain::{ApiKeyId, Channel, ChannelId, ChannelName, Platform, Role, TeamId, ValidationError};
use crate::platforms::net::{HttpClient, NetworkPolicy};
use crate::platforms::{Adapters, credentials};
use crate::store::{Store, StoreError};

/// How long a consent screen's `state` is good for.
pub const STATE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);
/// How long the accounts found stay waiting for the person to pick.
pub const PENDING_LIFETIME: chrono::Duration = chrono::Duration::minutes(30);
/// Meta's Login dialog, versioned like the Graph API Herald speaks (`HERALD_META_OAUTH_URL`).
pub const DEFAULT_META_OAUTH_URL: &str = "https://www.facebook.com/v22.0";
/// The Graph API with its version, as the publishing adapters take it (`HERALD_META_GRAPH_URL`).
pub const DEFAULT_META_GRAPH_URL: &str = "https://graph.facebook.com/v22.0";
/// Threads' consent screen (`HERALD_THREADS_OAUTH_URL`).
pub const DEFAULT_THREADS_OAUTH_URL: &str = "https://www.threads.net";
/// The Threads API with its version (`HERALD_THREADS_GRAPH_URL`). Its token endpoints answer
/// under the version too, as Meta's sample app calls them (fbsamples/threads_api).
pub const DEFAULT_THREADS_GRAPH_URL: &str = "https://graph.threads.net/v1.0";
/// The most Pages read from `/me/accounts` (pages of 100, the next page followed).
const MAX_META_PAGES: usize = 10;
/// The largest answer read from a token or accounts endpoint.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

const ADMIN_ONLY: &str = "only an admin can connect channels";

/// Who runs the consent screen: Facebook Pages and Instagram share one Meta app and one
/// Facebook Login; Threads has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Meta,
    Threads,
}

impl Provider {
    /// The provider a channel of `platform` connects through, if any.
    pub fn of(platform: Platform) -> Option<Provider> {
        match platform {
            Platform::Facebook | Platform::Instagram => Some(Provider::Meta),
            Platform::Threads => Some(Provider::Threads),
            _ => None,
        }
    }

    /// The variables holding the app's id and secret.
    pub fn env_vars(self) -> (&'static str, &'static str) {
        match self {
            Provider::Meta => ("HERALD_FACEBOOK_CLIENT_ID", "HERALD_FACEBOOK_CLIENT_SECRET"),
            Provider::Threads => ("HERALD_THREADS_CLIENT_ID", "HERALD_THREADS_CLIENT_SECRET"),
        }
    }

    fn app_name(self) -> &'static str {
        match self {
            Provider::Meta => "the Meta app",
            Provider::Threads => "the Threads app",
        }
    }
}

/// A network's OAuth, as its documentation gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthDescription {
    /// The consent screen the person is sent to.
    pub authorize_url: Url,
    /// Where the code is exchanged for a token.
    pub token_url: Url,
    pub scopes: &'static [&'static str],
    /// Meta and Threads take scopes comma-separated; RFC 6749 says spaces.
    pub scope_separator: &'static str,
    /// Whether the flow sends a PKCE challenge. Meta supports PKCE only in its OIDC flow
    /// (platforms-more.md §1.5), Threads' support is not documented: neither uses it.
    pub pkce: bool,
}

/// Facebook Login scopes: publishing to Pages and their Instagram accounts, plus what the
/// metric poller and the inbox read (platforms-more.md §1.1).
pub const META_SCOPES: &[&str] = &[
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_read_user_engagement",
    "pages_manage_engagement",
    "pages_manage_metadata",
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "read_insights",
];

/// Threads scopes: publishing, insights, replies (platforms-more.md §1.1).
pub const THREADS_SCOPES: &[&str] = &[
    "threads_basic",
    "threads_content_publish",
    "threads_manage_insights",
    "threads_read_replies",
    "threads_manage_replies",
];

/// Where each provider is: the real addresses by default, a fake's in tests. The Graph ones
/// carry the API version, as the publishing adapters' same variables do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// [`DEFAULT_META_OAUTH_URL`] (the Login dialog): `HERALD_META_OAUTH_URL`.
    pub meta_oauth: Url,
    /// [`DEFAULT_META_GRAPH_URL`]: `HERALD_META_GRAPH_URL`.
    pub meta_graph: Url,
    /// [`DEFAULT_THREADS_OAUTH_URL`] (the consent screen): `HERALD_THREADS_OAUTH_URL`.
    pub threads_oauth: Url,
    /// [`DEFAULT_THREADS_GRAPH_URL`]: `HERALD_THREADS_GRAPH_URL`.
    pub threads_graph: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("a constant URL"));
        Self {
            meta_oauth: url(DEFAULT_META_OAUTH_URL),
            meta_graph: url(DEFAULT_META_GRAPH_URL),
            threads_oauth: url(DEFAULT_THREADS_OAUTH_URL),
            threads_graph: url(DEFAULT_THREADS_GRAPH_URL),
        }
    }
}

impl Endpoints {
    /// The description of `provider`'s OAuth on these hosts.
    pub fn describe(&self, provider: Provider) -> OAuthDescription {
        match provider {
            Provider::Meta => OAuthDescription {
                authorize_url: join(&self.meta_oauth, "dialog/oauth"),
                token_url: join(&self.meta_graph, "oauth/access_token"),
                scopes: META_SCOPES,
                scope_separator: ",",
                pkce: false,
            },
            Provider::Threads => OAuthDescription {
                authorize_url: join(&self.threads_oauth, "oauth/authorize"),
                token_url: join(&self.threads_graph, "oauth/access_token"),
                scopes: THREADS_SCOPES,
                scope_separator: ",",
                pkce: false,
            },
        }
    }
}

/// `base` with `path` under it (a base with a path of its own keeps it).
fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{path}"));
    url.set_query(None);
    url
}

/// An OAuth app's id and secret (the secret never printed).
#[derive(Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// A variable of the connect configuration that does not read.
#[derive(Debug, thiserror::Error)]
#[error("{var} {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

/// What connecting needs from the host: Herald's public address (the redirect URL is built
/// from it), each provider's app, where the providers are, and an HTTP client.
#[derive(Clone, Debug, Default)]
pub struct ConnectConfig {
    /// `HERALD_PUBLIC_URL`, without a trailing slash.
    pub public_url: Option<String>,
    /// Behind API Gateway without `HERALD_PUBLIC_URL`: the API's own address, learned from the
    /// first request's `Host` ([`ConnectConfig::learn_public_url`]).
    learned_public_url: Option<Arc<std::sync::OnceLock<String>>>,
    pub meta: AppSetting,
    pub threads: AppSetting,
    pub endpoints: Endpoints,
    http: Option<HttpClient>,
}

/// A provider's app as configured: both halves, or which variable is missing.
#[derive(Clone, Debug, Default)]
pub enum AppSetting {
    Set(OAuthApp),
    /// Neither variable set, or only one (named).
    #[default]
    Unset,
    Missing(&'static str),
}

impl AppSetting {
    fn read(provider: Provider, get: &impl Fn(&str) -> Option<String>) -> AppSetting {
        let (id_var, secret_var) = provider.env_vars();
        match (get(id_var), get(secret_var)) {
            (Some(client_id), Some(secret)) => {
                AppSetting::Set(OAuthApp { client_id, client_secret: SecretString::from(secret) })
            }
            (None, None) => AppSetting::Unset,
            (Some(_), None) => AppSetting::Missing(secret_var),
            (None, Some(_)) => AppSetting::Missing(id_var),
        }
    }
}

impl ConnectConfig {
    /// From the environment (`herald serve`): see [`ConnectConfig::from_vars`].
    pub fn from_env(policy: NetworkPolicy) -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok(), policy)
    }

    /// From variables: `HERALD_PUBLIC_URL`, `HERALD_FACEBOOK_CLIENT_ID`/`_SECRET`,
    /// `HERALD_THREADS_CLIENT_ID`/`_SECRET`, and the hosts `HERALD_META_OAUTH_URL`,
    /// `HERALD_META_GRAPH_URL`, `HERALD_THREADS_OAUTH_URL`, `HERALD_THREADS_GRAPH_URL`
    /// (defaults: Meta's and Threads' own). Blank counts as unset; an address that does not
    /// read is an error rather than a connect that fails later.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>, policy: NetworkPolicy) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let url = |var: &'static str, default: &Url| -> Result<Url, ConfigError> {
            match get(var) {
                None => Ok(default.clone()),
                Some(v) => Url::parse(&v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| ConfigError { var, problem: format!("must be an http(s) address, not `{v}`") }),
            }
        };
        let defaults = Endpoints::default();
        let endpoints = Endpoints {
            meta_oauth: url("HERALD_META_OAUTH_URL", &defaults.meta_oauth)?,
            meta_graph: url("HERALD_META_GRAPH_URL", &defaults.meta_graph)?,
            threads_oauth: url("HERALD_THREADS_OAUTH_URL", &defaults.threads_oauth)?,
            threads_graph: url("HERALD_THREADS_GRAPH_URL", &defaults.threads_graph)?,
        };
        let public_url = match get("HERALD_PUBLIC_URL") {
            None => None,
            Some(v) => {
                let parsed = Url::parse(&v).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if parsed.is_none() {
                    return Err(ConfigError { var: "HERALD_PUBLIC_URL", problem: format!("must be an http(s) address, not `{v}`") });
                }
                Some(v.trim_end_matches('/').to_owned())
            }
        };
        let http = HttpClient::new(Duration::from_secs(5), Duration::from_secs(20), policy)
            .map_err(|e| ConfigError { var: "HERALD_ALLOW_PRIVATE_NETWORK", problem: format!("HTTP client: {e}") })?;
        Ok(Self {
            public_url,
            learned_public_url: None,
            meta: AppSetting::read(Provider::Meta, &get),
            threads: AppSetting::read(Provider::Threads, &get),
            endpoints,
            http: Some(http),
        })
    }

    /// On a host that is reached only through a front door naming itself in `Host` (API
    /// Gateway on Lambda) and has no `HERALD_PUBLIC_URL`: the public URL becomes
    /// `https://<Host>` of the first request that names one. API Gateway routes by that name,
    /// so a request cannot reach this function under another. Put a custom domain in
    /// `HERALD_PUBLIC_URL` instead: the redirect URL must be the one registered with the network.
    /// Not for `herald serve`, where anyone on the network could send any `Host`.
    pub fn learning_public_url_from_requests(self) -> Self {
        match self.public_url {
            Some(_) => self,
            None => Self { learned_public_url: Some(Arc::default()), ..self },
        }
    }

    /// Whether [`Self::learn_public_url`] is still waiting for a host.
    pub fn learns_public_url(&self) -> bool {
        self.learned_public_url.as_ref().is_some_and(|l| l.get().is_none())
    }

    /// Takes `https://<host>` as the public URL, if this configuration learns it and has none
    /// yet, and `host` is a plain host name (letters, digits, dots, dashes, an optional port).
    pub fn learn_public_url(&self, host: &str) {
        let Some(learned) = &self.learned_public_url else { return };
        let (name, port) = host.split_once(':').unwrap_or((host, ""));
        let plain = !name.is_empty()
            && name.len() <= 253
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.len() <= 5;
        if plain && learned.set(format!("https://{}", host.to_ascii_lowercase())).is_ok() {
            tracing::info!(public_url = %format!("https://{host}"), "connect: public URL learned from the first request");
        }
    }

    /// `HERALD_PUBLIC_URL`, or the address learned from the requests.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref().or_else(|| self.learned_public_url.as_ref().and_then(|l| l.get()).map(String::as_str))
    }

    fn setting(&self, provider: Provider) -> &AppSetting {
        match provider {
            Provider::Meta => &self.meta,
            Provider::Threads => &self.threads,
        }
    }

    /// Whether `platform` can be connected with OAuth on this host (the Channels page shows
    /// its button then).
    pub fn configured(&self, platform: Platform) -> bool {
        Provider::of(platform)
            .is_some_and(|p| matches!(self.setting(p), AppSetting::Set(_)) && self.public_url().is_some() && self.http.is_some())
    }

    /// The redirect URL of `platform`: `<HERALD_PUBLIC_URL>/oauth/<platform>/callback`.
    pub fn redirect_uri(&self, platform: Platform) -> Option<String> {
        self.public_url().map(|base| format!("{base}/oauth/{}/callback", platform.as_str()))
    }

    /// The app, the redirect URL and the client for `platform`, or a 422 naming the variable
    /// to set.
    fn ready(&self, platform: Platform) -> Result<(Provider, &OAuthApp, String, &HttpClient), ServiceError> {
        let provider = Provider::of(platform).ok_or_else(|| {
            ValidationError::new(
                "platform",
                format!("{platform} cannot be connected with OAuth (yet): create the channel with its credentials (POST /v1/channels)"),
            )
        })?;
        let (id_var, secret_var) = provider.env_vars();
        let not_set = |what: String| -> ServiceError {
            ValidationError::new("platform", format!("connecting {platform} is not configured on this server: {what}")).into()
        };
        let app = match self.setting(provider) {
            AppSetting::Set(app) => app,
            AppSetting::Unset => {
                return Err(not_set(format!("set {id_var} and {secret_var} to {}'s id and secret", provider.app_name())));
            }
            AppSetting::Missing(var) => return Err(not_set(format!("{var} is not set"))),
        };
        let redirect = self
            .redirect_uri(platform)
            .ok_or_else(|| not_set("HERALD_PUBLIC_URL is not set (the address the network sends people back to)".into()))?;
        let http = self.http.as_ref().ok_or_else(|| not_set("no HTTP client".into()))?;
        Ok((provider, app, redirect, http))
    }
}

// ---------------------------------------------------------------------------------------------
// The state

/// What a `state` says: who started, for which network, until when. Signed, so it is the
/// callback's permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    pub team_id: TeamId,
    /// The key, or the signed-in person ([`Actor::key_id`]), that started it.
    pub started_by: ApiKeyId,
    pub platform: Platform,
    /// Unique per start; the id of the connection it leads to.
    pub nonce: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct StateClaims {
    t: String,
    k: String,
    p: String,
    n: String,
    e: i64,
}

/// The signed message: a label (so no other signature of the cipher's is a valid state) and
/// the claims as sent.
fn state_message(payload: &str) -> String {
    format!("herald oauth state v1\n{payload}")
}

impl OAuthState {
    /// `<claims, base64url JSON>.<HMAC-SHA256, hex>`: about 230 characters, under X's 500.
    pub fn sign(&self, cipher: &CredentialCipher) -> String {
        let claims = StateClaims {
            t: self.team_id.to_string(),
            k: self.started_by.to_string(),
            p: self.platform.as_str().to_owned(),
            n: self.nonce.simple().to_string(),
            e: self.expires_at.timestamp(),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signature = cipher.sign(&state_message(&payload));
        format!("{payload}.{signature}")
    }

    /// The state `signed` says, if Herald signed it, it is for `platform` and it has not
    /// expired at `now`.
    pub fn verify(cipher: &CredentialCipher, signed: &str, platform: Platform, now: DateTime<Utc>) -> Result<Self, StateError> {
        let (payload, signature) = signed.split_once('.').ok_or(StateError::Forged)?;
        if !cipher.verify(&state_message(payload), signature) {
            return Err(StateError::Forged);
        }
        let claims: StateClaims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(StateError::Forged)?;
        let state = OAuthState {
            team_id: TeamId::parse("state", &claims.t).map_err(|_| StateError::Forged)?,
            started_by: ApiKeyId::parse("state", &claims.k).map_err(|_| StateError::Forged)?,
            platform: Platform::parse("state", &claims.p).map_err(|_| StateError::Forged)?,
            nonce: Uuid::parse_str(&claims.n).map_err(|_| StateError::Forged)?,
            expires_at: DateTime::from_timestamp(claims.e, 0).ok_or(StateError::Forged)?,
        };
        if state.platform != platform {
            return Err(StateError::OtherNetwork);
        }
        if now >= state.expires_at {
            return Err(StateError::Expired);
        }
        Ok(state)
    }
}

/// Why a callback's `state` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the state is missing")]
    Missing,
    #[error("the state was not made by this Herald (forged or changed)")]
    Forged,
    #[error("the state was made for another network")]
    OtherNetwork,
    #[error("the state has expired (a connection must be finished within 10 minutes): connect again")]
    Expired,
}

/// The PKCE verifier of a state: derived from it with the server's key, so it is never in
/// the URL and needs no storage (64 hex characters, within RFC 7636's 43–128).
pub fn pkce_verifier(cipher: &CredentialCipher, state: &str) -> String {
    cipher.sign(&format!("herald oauth pkce v1\n{state}"))
}

/// The S256 challenge of a verifier: base64url(SHA-256(verifier)), unpadded.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Start

/// Where to send the person, and the connection it will make.
#[derive(Debug, Clone)]
pub struct Started {
    pub authorize_url: Url,
    pub connection_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Starts connecting `platform` (admins only): the consent screen's address with a fresh
/// signed state.
pub fn start(
    config: &ConnectConfig,
    cipher: &CredentialCipher,
    clock: &dyn Clock,
    actor: &Actor,
    platform: Platform,
) -> Result<Started, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    let (provider, app, redirect, _) = config.ready(platform)?;
    let state = OAuthState {
        team_id: actor.team_id.clone(),
        started_by: actor.key_id,
        platform,
        nonce: Uuid::new_v4(),
        expires_at: clock.now() + STATE_LIFETIME,
    };
    let signed = state.sign(cipher);
    let oauth = config.endpoints.describe(provider);
    let mut url = oauth.authorize_url.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", &redirect)
            .append_pair("response_type", "code")
            .append_pair("scope", &oauth.scopes.join(oauth.scope_separator))
            .append_pair("state", &signed);
        if oauth.pkce {
            q.append_pair("code_challenge", &pkce_challenge(&pkce_verifier(cipher, &signed)))
                .append_pair("code_challenge_method", "S256");
        }
    }
    tracing::info!(%platform, connection_id = %state.nonce, "connect started");
    Ok(Started { authorize_url: url, connection_id: state.nonce, expires_at: state.expires_at })
}

// ---------------------------------------------------------------------------------------------
// Callback

/// What the network sends back to the callback.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// `access_denied` when the person cancelled.
    pub error: Option<String>,
    pub error_reason: Option<String>,
    pub error_description: Option<String>,
}

/// What the callback can refuse with.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The state does not hold (400): the request is not one Herald sent the person on.
    #[error("{0}")]
    State(StateError),
    /// The person said no, or the network answered an error to the redirect (400).
    #[error("{0}")]
    Declined(String),
    /// The code is missing (400).
    #[error("the network sent no code back")]
    NoCode,
    /// The network refused the exchange or answered something else than documented (502).
    #[error("{0}")]
    Network(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// One account a connection may become a channel of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoundAccount {
    /// `<platform>:<the network's id>`: what `finish` names.
    pub id: String,
    pub platform: Platform,
    /// The network's own id of the account.
    pub account_id: String,
    /// What to call the channel: the Page's name, `@username`.
    pub name: String,
    /// The channel's credentials, sealed (with the connection's id as associated data).
    sealed: String,
}

/// A connection waiting for the person to pick, as kept in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingConnection {
    pub id: Uuid,
    pub team_id: TeamId,
    pub started_by: ApiKeyId,
    pub platform: Platform,
    pub expires_at: DateTime<Utc>,
    pub accounts: Vec<FoundAccount>,
    /// Set once its channels are made: a connection is finished once.
    #[serde(default)]
    pub finished: bool,
}

impl PendingConnection {
    /// Until when the store keeps it: a day past its expiry. By then the state that made it
    /// (ten minutes) can no longer be replayed, so its record of having been used is not needed,
    /// and its sealed tokens go with it.
    fn kept_until(&self) -> DateTime<Utc> {
        self.expires_at.checked_add_signed(chrono::Duration::days(1)).unwrap_or(self.expires_at)
    }
}

fn pending_key(id: Uuid) -> String {
    format!("oauth-connection#{}", id.simple())
}

/// The sealing context of a connection's tokens (the cipher binds a channel id).
fn seal_context(id: Uuid) -> ChannelId {
    ChannelId::from_uuid(id)
}

/// The network's redirect back: checks the state, exchanges the code, lists the accounts and
/// keeps them (sealed) for [`PENDING_LIFETIME`]. A state is used once.
pub async fn callback(
    store: &dyn Store,
    clock: &dyn Clock,
    cipher: &CredentialCipher,
    config: &ConnectConfig,
    platform: Platform,
    query: &CallbackQuery,
) -> Result<PendingConnection, ConnectError> {
    let signed = query.state.as_deref().filter(|s| !s.is_empty()).ok_or(ConnectError::State(StateError::Missing))?;
    let now = clock.now();
    let state = OAuthState::verify(cipher, signed, platform, now).map_err(ConnectError::State)?;
    if let Some(error) = &query.error {
        let why = query.error_description.as_deref().or(query.error_reason.as_deref()).unwrap_or(error);
        tracing::info!(%platform, connection_id = %state.nonce, error = %error, "connect declined");
        let what = if error == "access_denied" { "access was not granted" } else { "the network answered an error" };
        return Err(ConnectError::Declined(format!("{what}: {}; nothing was connected", clip(why))));
    }
    let code = query.code.as_deref().filter(|c| !c.is_empty()).ok_or(ConnectError::NoCode)?;
    if store.get_state(&pending_key(state.nonce)).await.map_err(ServiceError::from)?.is_some() {
        return Err(ServiceError::Conflict("this connection was already made; start again to connect more".into()).into());
    }
    let (provider, app, redirect, http) = config.ready(platform)?;
    let client = Graph { http, endpoints: &config.endpoints, now };
    let found = match provider {
        Provider::Meta => client.meta_accounts(app, &redirect, code).await?,
        Provider::Threads => client.threads_accounts(app, &redirect, code).await?,
    };
    let context = seal_context(state.nonce);
    let accounts = found
        .into_iter()
        .map(|(platform, account_id, name, creds)| FoundAccount {
            id: format!("{}:{account_id}", platform.as_str()),
            platform,
            account_id,
            name,
            sealed: cipher.seal(context, &creds).as_str().to_owned(),
        })
        .collect();
    let pending = PendingConnection {
        id: state.nonce,
        team_id: state.team_id,
        started_by: state.started_by,
        platform,
        expires_at: now + PENDING_LIFETIME,
        accounts,
        finished: false,
    };
    let value = serde_json::to_string(&pending).map_err(|e| ServiceError::Store(StoreError::Backend(Box::new(e))))?;
    store.put_state_until(&pending_key(pending.id), &value, None, pending.kept_until()).await.map_err(|e| match e {
        StoreError::Conflict | StoreError::AlreadyExists => {
            ServiceError::Conflict("this connection was already made; start again to connect more".into())
        }
        other => other.into(),
    })?;
    tracing::info!(%platform, connection_id = %pending.id, accounts = pending.accounts.len(), "connect: accounts found");
    Ok(pending)
}

fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// An account as the network described it: (platform, id, name, credentials).
type Found = (Platform, String, String, Credentials);

/// The providers' token and account endpoints, on one client.
struct Graph<'a> {
    http: &'a HttpClient,
    endpoints: &'a Endpoints,
    now: DateTime<Utc>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Seconds (a long-lived token: about 60 days). Absent for tokens that do not expire.
    #[serde(default)]
    expires_in: Option<i64>,
}

impl TokenAnswer {
    /// When the token expires, said as the credentials keep it, if the network said.
    fn expires_at(&self, now: DateTime<Utc>) -> Option<String> {
        let lifetime = chrono::Duration::try_seconds(self.expires_in.filter(|s| *s > 0)?)?;
        Some(now.checked_add_signed(lifetime)?.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }
}

#[derive(Deserialize)]
struct MetaPages {
    #[serde(default)]
    data: Vec<MetaPage>,
    #[serde(default)]
    paging: Option<MetaPaging>,
}

#[derive(Deserialize)]
struct MetaPaging {
    next: Option<String>,
}

#[derive(Deserialize)]
struct MetaPage {
    id: String,
    #[serde(default)]
    name: String,
    /// Absent when the person has no task on the Page that allows posting.
    access_token: Option<String>,
    instagram_business_account: Option<IgAccount>,
}

#[derive(Deserialize)]
struct IgAccount {
    id: String,
    username: Option<String>,
}

#[derive(Deserialize)]
struct ThreadsProfile {
    id: String,
    username: Option<String>,
}

/// A Graph error body: `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
#[derive(Deserialize)]
struct GraphError {
    error: GraphErrorDetail,
}

#[derive(Deserialize)]
struct GraphErrorDetail {
    #[serde(default)]
    message: String,
    code: Option<i64>,
    error_subcode: Option<i64>,
}

fn creds(pairs: &[(&str, &str)]) -> Credentials {
    let obj: serde_json::Map<String, serde_json::Value> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect();
    Credentials::from_json("credentials", &serde_json::Value::Object(obj)).unwrap_or_default()
}

impl Graph<'_> {
    /// Sends and reads a JSON answer of type `T`; a Graph error body is said with its codes.
    async fn call<T: serde::de::DeserializeOwned>(&self, what: &str, request: reqwest::RequestBuilder) -> Result<T, ConnectError> {
        let response = self.http.execute(request).await.map_err(|e| ServiceError::Unavailable {
            reason: format!("could not reach the network to {what}: {e}; nothing was connected, try again"),
            retry_after: None,
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| ServiceError::Unavailable {
            reason: format!("the network's answer to {what} was cut off: {e}"),
            retry_after: None,
        })?;
        if body.len() > MAX_ANSWER_BYTES {
            return Err(ConnectError::Network(format!("the network's answer to {what} is too large")));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(ServiceError::Unavailable {
                reason: format!("the network could not {what} (HTTP {status}); nothing was connected, try again"),
                retry_after: None,
            }
            .into());
        }
        if !status.is_success() {
            let said = serde_json::from_slice::<GraphError>(&body)
                .map(|e| {
                    let codes = match (e.error.code, e.error.error_subcode) {
                        (Some(c), Some(s)) => format!(" (code {c}, subcode {s})"),
                        (Some(c), None) => format!(" (code {c})"),
                        _ => String::new(),
                    };
                    format!("{}{codes}", clip(&e.error.message))
                })
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(ConnectError::Network(format!("the network refused to {what}: {said}")));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ConnectError::Network(format!("the network's answer to {what} is not what its documentation says: {e}")))
    }

    fn graph(&self, base: &Url, path: &str) -> Url {
        join(base, path)
    }

    /// Facebook Login (platforms.md §4.5, platforms-more.md §1.4): code → short-lived user
    /// token → long-lived one (`fb_exchange_token`) → the Pages (`/me/accounts`) with their
    /// Page tokens, which are long-lived when asked with a long-lived user token, and their
    /// linked Instagram professional accounts.
    async fn meta_accounts(&self, app: &OAuthApp, redirect: &str, code: &str) -> Result<Vec<Found>, ConnectError> {
        let secret = app.client_secret.expose_secret();
        let token_url = self.endpoints.describe(Provider::Meta).token_url;
        let short: TokenAnswer = self
            .call(
                "exchange the code",
                self.http.get(token_url.clone()).query(&[
                    ("client_id", app.client_id.as_str()),
                    ("redirect_uri", redirect),
                    ("client_secret", secret),
                    ("code", code),
                ]),
            )
            .await?;
        let long: TokenAnswer = self
            .call(
                "exchange the token for a long-lived one",
                self.http.get(token_url).query(&[
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", app.client_id.as_str()),
                    ("client_secret", secret),
                    ("fb_exchange_token", short.access_token.as_str()),
                ]),
            )
            .await?;
        let mut url = self.graph(&self.endpoints.meta_graph, "me/accounts");
        url.query_pairs_mut()
            .append_pair("fields", "id,name,access_token,instagram_business_account{id,username}")
            .append_pair("limit", "100")
            .append_pair("access_token", &long.access_token);
        let mut found = Vec::new();
        for _ in 0..MAX_META_PAGES {
            let page: MetaPages = self.call("list the Pages", self.http.get(url.clone())).await?;
            for p in page.data {
                let Some(page_token) = p.access_token.filter(|t| !t.is_empty()) else { continue };
                let name = if p.name.trim().is_empty() { format!("Page {}", p.id) } else { p.name.clone() };
                found.push((
                    Platform::Facebook,
                    p.id.clone(),
                    name.clone(),
                    creds(&[("page_id", &p.id), ("page_access_token", &page_token)]),
                ));
                if let Some(ig) = p.instagram_business_account {
                    let ig_name = ig.username.map_or_else(|| format!("Instagram of {name}"), |u| format!("@{u}"));
                    found.push((Platform::Instagram, ig.id.clone(), ig_name, creds(&[("ig_user_id", &ig.id), ("access_token", &page_token)])));
                }
            }
            // The next page's address, followed only on the Graph host this token was sent to.
            match page.paging.and_then(|p| p.next).and_then(|n| Url::parse(&n).ok()) {
                Some(next) if next.origin() == self.endpoints.meta_graph.origin() => url = next,
                _ => break,
            }
        }
        Ok(found)
    }

    /// Threads (platforms.md §5.4): code → short-lived token (POST, form) → long-lived one
    /// (`th_exchange_token`) → the profile (`/me?fields=id,username`).
    async fn threads_accounts(&self, app: &OAuthApp, redirect: &str, code: &str) -> Result<Vec<Found>, ConnectError> {
        let secret = app.client_secret.expose_secret();
        let token_url = self.endpoints.describe(Provider::Threads).token_url;
        let short: TokenAnswer = self
            .call(
                "exchange the code",
                self.http.post(token_url).form(&[
                    ("client_id", app.client_id.as_str()),
                    ("client_secret", secret),
                    ("grant_type", "authorization_code"),
                    ("redirect_uri", redirect),
                    ("code", code),
                ]),
            )
            .await?;
        let long: TokenAnswer = self
            .call(
                "exchange the token for a long-lived one",
                self.http.get(self.graph(&self.endpoints.threads_graph, "access_token")).query(&[
                    ("grant_type", "th_exchange_token"),
                    ("client_secret", secret),
                    ("access_token", short.access_token.as_str()),
                ]),
            )
            .await?;
        let profile: ThreadsProfile = self
            .call(
                "read the profile",
                self.http
                    .get(self.graph(&self.endpoints.threads_graph, "me"))
                    .query(&[("fields", "id,username"), ("access_token", long.access_token.as_str())]),
            )
            .await?;
        let name = profile.username.map_or_else(|| format!("Threads {}", profile.id), |u| format!("@{u}"));
        // The expiry is kept so the metric poller renews the token a week before it
        // ([`crate::platforms::TokenAdapter`]).
        let mut fields = vec![("threads_user_id", profile.id.clone()), ("access_token", long.access_token.clone())];
        fields.extend(long.expires_at(self.now).map(|at| (crate::platforms::tokens::TOKEN_EXPIRES_AT, at)));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(vec![(Platform::Threads, profile.id.clone(), name, creds(&fields))])
    }
}

// ---------------------------------------------------------------------------------------------
// List and finish

/// The actor's team's pending connection, or 404 (also when it is another team's, expired,
/// or the person has not come back yet).
pub async fn get_connection(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: Uuid,
) -> Result<PendingConnection, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    Ok(load(store, clock, actor, id).await?.0)
}

async fn load(store: &dyn Store, clock: &dyn Clock, actor: &Actor, id: Uuid) -> Result<(PendingConnection, u64), ServiceError> {
    let missing = || {
        ServiceError::NotFound {
            message: format!(
                "no connection {id} waiting in your team: the person has not come back from the network yet, or it expired (30 minutes)"
            ),
            field: Some("id".into()),
        }
    };
    let stored = store.get_state(&pending_key(id)).await?.ok_or_else(missing)?;
    let pending: PendingConnection = serde_json::from_str(&stored.value).map_err(|_| missing())?;
    if pending.team_id != actor.team_id || clock.now() >= pending.expires_at {
        return Err(missing());
    }
    Ok((pending, stored.version))
}

/// Makes one channel per chosen account (`accounts`: ids from the connection) in `time_zone`,
/// through the same path as a pasted channel. A connection is finished once.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    store: &dyn Store,
    clock: &dyn Clock,
    cipher: &CredentialCipher,
    adapters: &Adapters,
    actor: &Actor,
    id: Uuid,
    accounts: &[String],
    time_zone: Tz,
) -> Result<Vec<Channel>, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    let (mut pending, version) = load(store, clock, actor, id).await?;
    if pending.finished {
        return Err(ServiceError::Conflict("this connection is already finished; connect again to add more accounts".into()));
    }
    if accounts.is_empty() {
        return Err(ValidationError::new("accounts", "pick at least one account").into());
    }
    let mut chosen = Vec::with_capacity(accounts.len());
    for (i, wanted) in accounts.iter().enumerate() {
        let field = format!("accounts[{i}]");
        if accounts[..i].contains(wanted) {
            return Err(ValidationError::new(field, "is listed twice").into());
        }
        let account = pending.accounts.iter().find(|a| &a.id == wanted).ok_or_else(|| {
            let ids: Vec<&str> = pending.accounts.iter().map(|a| a.id.as_str()).collect();
            ValidationError::new(field.clone(), format!("is not an account of this connection ({})", ids.join(", ")))
        })?;
        let sealed = crate::domain::SealedCredentials::from_stored(account.sealed.clone());
        let creds = cipher
            .open(seal_context(id), &sealed)
            .map_err(|e| ServiceError::Store(StoreError::Backend(Box::new(e))))?;
        credentials::check_shape(account.platform, &creds).map_err(|e| ValidationError::new(field.clone(), e.to_string()))?;
        let name = channel_name(&account.name, account.platform, &account.account_id);
        chosen.push(NewChannel { platform: account.platform, name, time_zone, credentials: Some(creds), queue_slots: vec![] });
    }
    // Claimed before any channel is made, so a second click makes nothing twice.
    pending.finished = true;
    let value = serde_json::to_string(&pending).map_err(|e| ServiceError::Store(StoreError::Backend(Box::new(e))))?;
    store.put_state_until(&pending_key(id), &value, Some(version), pending.kept_until()).await.map_err(|e| match e {
        StoreError::Conflict => ServiceError::Conflict("this connection is being finished by another request".into()),
        other => other.into(),
    })?;
    let mut made = Vec::with_capacity(chosen.len());
    for new in chosen {
        made.push(create_channel(store, clock, cipher, adapters, actor, new).await?);
    }
    tracing::info!(connection_id = %id, channels = made.len(), "connect finished");
    Ok(made)
}

/// The account's name as a channel name (trimmed to the limit), or `<platform> <id>`.
fn channel_name(name: &str, platform: Platform, account_id: &str) -> ChannelName {
    let clipped: String = name.chars().filter(|c| !c.is_control()).take(ChannelName::MAX_CHARS).collect();
    ChannelName::parse("name", &clipped).or_else(|_| ChannelName::parse("name", &format!("{platform} {account_id}"))).unwrap_or_else(|_| {
        ChannelName::parse("name", platform.as_str()).unwrap_or_else(|_| unreachable!("a platform's name is a channel name"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cipher() -> CredentialCipher {
        CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap()
    }

    fn state(expires_at: DateTime<Utc>) -> OAuthState {
        OAuthState {
            team_id: TeamId::parse("t", "cafe").unwrap(),
            started_by: ApiKeyId::new(),
            platform: Platform::Facebook,
            nonce: Uuid::new_v4(),
            expires_at,
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 15, minute, 0).unwrap()
    }

    #[test]
    fn a_signed_state_reads_back_until_it_expires() {
        let c = cipher();
        let s = state(at(10));
        let signed = s.sign(&c);
        assert!(signed.len() < 500, "{}", signed.len());
        assert_eq!(OAuthState::verify(&c, &signed, Platform::Facebook, at(9)).unwrap(), s);
        assert_eq!(OAuthState::verify(&c, &signed, Platform::Facebook, at(10)), Err(StateError::Expired));
        assert_eq!(OAuthState::verify(&c, &signed, Platform::Threads, at(9)), Err(StateError::OtherNetwork));
    }

    #[test]
    fn a_state_of_another_key_or_changed_is_forged() {
        let c = cipher();
        let signed = state(at(10)).sign(&c);
        assert_eq!(OAuthState::verify(&cipher(), &signed, Platform::Facebook, at(0)), Err(StateError::Forged));
        // Another team in the claims, the old signature kept.
        let (payload, sig) = signed.split_once('.').unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["t"] = "other-team".into();
        let changed = format!("{}.{sig}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()));
        assert_eq!(OAuthState::verify(&c, &changed, Platform::Facebook, at(0)), Err(StateError::Forged));
        // A later expiry is a change too.
        claims["t"] = "cafe".into();
        claims["e"] = (at(59).timestamp()).into();
        let later = format!("{}.{sig}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()));
        assert_eq!(OAuthState::verify(&c, &later, Platform::Facebook, at(0)), Err(StateError::Forged));
        for junk in ["", ".", "abc", "abc.def", &format!("{payload}.")] {
            assert_eq!(OAuthState::verify(&c, junk, Platform::Facebook, at(0)), Err(StateError::Forged), "{junk}");
        }
        // Another signature of the same cipher (a media link's) is no state.
        let other_use = format!("{payload}.{}", c.sign(payload));
        assert_eq!(OAuthState::verify(&c, &other_use, Platform::Facebook, at(0)), Err(StateError::Forged));
    }

    #[test]
    fn the_pkce_verifier_is_derived_and_its_challenge_is_s256() {
        let c = cipher();
        let v = pkce_verifier(&c, "a-state");
        assert_eq!(v, pkce_verifier(&c, "a-state"));
        assert_ne!(v, pkce_verifier(&c, "another-state"));
        assert_ne!(v, pkce_verifier(&cipher(), "a-state"));
        assert!((43..=128).contains(&v.len()));
        // RFC 7636 appendix B's example.
        assert_eq!(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    fn admin() -> Actor {
        Actor { team_id: TeamId::parse("t", "cafe").unwrap(), role: Role::Admin, key_id: ApiKeyId::new() }
    }

    #[test]
    fn an_unconfigured_network_names_the_variable_to_set() {
        let c = cipher();
        let clock = crate::clock::ManualClock::new(at(0));
        let refusal = |pairs: &'static [(&'static str, &'static str)], platform| {
            let config = ConnectConfig::from_vars(vars(pairs), NetworkPolicy::PublicOnly).unwrap();
            match start(&config, &c, &clock, &admin(), platform) {
                Err(ServiceError::Invalid(v)) => (v.field, v.rule),
                other => panic!("{other:?}"),
            }
        };
        let (field, rule) = refusal(&[("HERALD_PUBLIC_URL", "https://h.example")], Platform::Facebook);
        assert_eq!(field, "platform");
        assert!(rule.contains("HERALD_FACEBOOK_CLIENT_ID") && rule.contains("HERALD_FACEBOOK_CLIENT_SECRET"), "{rule}");
        let (_, rule) = refusal(&[("HERALD_THREADS_CLIENT_ID", "1")], Platform::Threads);
        assert!(rule.contains("HERALD_THREADS_CLIENT_SECRET is not set"), "{rule}");
        let (_, rule) = refusal(&[("HERALD_THREADS_CLIENT_ID", "1"), ("HERALD_THREADS_CLIENT_SECRET", "s")], Platform::Threads);
        assert!(rule.contains("HERALD_PUBLIC_URL"), "{rule}");
        let (_, rule) = refusal(&[], Platform::Mastodon);
        assert!(rule.contains("POST /v1/channels"), "{rule}");
        assert!(ConnectConfig::from_vars(vars(&[("HERALD_META_GRAPH_URL", "not a url")]), NetworkPolicy::PublicOnly).is_err());
    }

    #[test]
    fn the_authorize_url_carries_the_documented_parameters_and_a_state_that_verifies() {
        let c = cipher();
        let clock = crate::clock::ManualClock::new(at(0));
        let config = ConnectConfig::from_vars(
            vars(&[
                ("HERALD_PUBLIC_URL", "https://h.example/"),
                ("HERALD_FACEBOOK_CLIENT_ID", "123"),
                ("HERALD_FACEBOOK_CLIENT_SECRET", "s3cret"),
            ]),
            NetworkPolicy::PublicOnly,
        )
        .unwrap();
        assert!(config.configured(Platform::Instagram) && !config.configured(Platform::Threads));
        let started = start(&config, &c, &clock, &admin(), Platform::Instagram).unwrap();
        let url = &started.authorize_url;
        assert_eq!(url.as_str().split('?').next().unwrap(), "https://www.facebook.com/v22.0/dialog/oauth");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "123");
        assert_eq!(q["redirect_uri"], "https://h.example/oauth/instagram/callback");
        assert_eq!(q["response_type"], "code");
        assert!(q["scope"].split(',').any(|s| s == "instagram_content_publish"));
        assert!(!url.as_str().contains("s3cret") && !q.contains_key("code_challenge"));
        let state = OAuthState::verify(&c, &q["state"], Platform::Instagram, at(9)).unwrap();
        assert_eq!((state.nonce, state.expires_at, state.team_id.as_str()), (started.connection_id, at(10), "cafe"));
        let viewer = Actor { role: Role::Viewer, ..admin() };
        assert!(matches!(start(&config, &c, &clock, &viewer, Platform::Facebook), Err(ServiceError::Forbidden(_))));
    }
}
