//! Authentication: an API key (`Authorization: Bearer hrld_…`, looked up by its SHA-256) for
//! machines, or a session cookie (`herald_session`, looked up by its SHA-256) for people. A
//! request authenticated by its cookie that changes something (any method but GET, HEAD and
//! OPTIONS) must also carry the session's CSRF token in `x-csrf-token`: a page of another site
//! can make the browser send the cookie, but cannot read the token.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};

use super::{ApiError, AppState};
use crate::domain::{ApiKeyId, KeyHash, MemberId, Role, TeamId};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "herald_session";
/// The header a cookie-authenticated change carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub team_id: TeamId,
    pub role: Role,
    /// The API key, or for a person the id of the member (the same UUID): what posts, reviews
    /// and notes record as their author.
    pub key_id: ApiKeyId,
    /// Set when a person is signed in with a session cookie rather than an API key.
    pub session: Option<SessionCaller>,
}

/// A person signed in with a session cookie.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    pub member_id: MemberId,
    pub session_hash: KeyHash,
    pub csrf_token: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        authenticate(&parts.headers, state, if safe { Csrf::NotNeeded } else { Csrf::Sent(sent) }).await
    }
}

/// What a request proves against cross-site forgery, checked when it is authenticated by its
/// session cookie (an API key needs no such proof: a browser never sends one by itself).
#[derive(Debug, Clone, Copy)]
pub enum Csrf<'a> {
    /// A request that changes nothing (GET, HEAD, OPTIONS).
    NotNeeded,
    /// The token the request carries: the `x-csrf-token` header of an API call, or the `csrf`
    /// field of a page's form (a page cannot set headers on a form post).
    Sent(&'a str),
}

/// The caller of a request, from its `Authorization` header (an API key) or else its session
/// cookie; a session's change must carry the session's CSRF token (`csrf`).
pub async fn authenticate(headers: &HeaderMap, state: &AppState, csrf: Csrf<'_>) -> Result<Caller, ApiError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return match session_cookie(headers) {
            Some(id) => session_caller(state, &id, csrf).await,
            None => Err(ApiError::Unauthorized("missing Authorization: Bearer <api key>")),
        };
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized("Authorization must be `Bearer <api key>`"))?;
    let key = state
        .store
        .api_key_by_hash(&KeyHash::of(token))
        .await?
        .ok_or(ApiError::Unauthorized("unknown or revoked API key"))?;
    Ok(Caller { team_id: key.team_id, role: key.role, key_id: key.id, session: None })
}

async fn session_caller(state: &AppState, id: &str, csrf: Csrf<'_>) -> Result<Caller, ApiError> {
    let (session, member) = crate::services::people::session_member(&*state.store, &*state.clock, id)
        .await?
        .ok_or(ApiError::Unauthorized("your session has ended; sign in again"))?;
    if let Csrf::Sent(sent) = csrf
        && !constant_time_eq(sent.as_bytes(), session.csrf_token.as_bytes())
    {
        return Err(ApiError::Csrf);
    }
    Ok(Caller {
        team_id: member.team_id,
        role: member.role,
        key_id: ApiKeyId::from_uuid(member.id.uuid()),
        session: Some(SessionCaller { member_id: member.id, session_hash: session.hash, csrf_token: session.csrf_token }),
    })
}

/// Equal, in a time that does not depend on where the bytes differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of the `herald_session` cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the cookie `name`, if the request carries one that is not empty.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, value)| *n == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// Whether the request reached Herald over https, so its cookies must be `Secure`: the request
/// URI says `https` (absolute-form), or a proxy in front said so in `X-Forwarded-Proto` (API
/// Gateway in front of the `api` function; a TLS-terminating proxy in front of `herald serve`).
/// `herald serve` reached directly over plain http sets cookies without `Secure`, or the browser
/// would never send them back.
pub fn over_https(headers: &HeaderMap, uri: &Uri) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    forwarded || uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value that carries a session id (`None`: the one that removes it).
pub fn session_set_cookie(id: Option<&str>, secure: bool) -> HeaderValue {
    let max_age = match id {
        Some(_) => crate::domain::SESSION_LIFETIME.num_seconds(),
        None => 0,
    };
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", id.unwrap_or(""));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("herald_session=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_exactly_when_the_request_came_over_https() {
        let plain = HeaderMap::new();
        let path: Uri = "/auth/sign-in".parse().unwrap();
        assert!(!over_https(&plain, &path));
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(over_https(&proxied, &path));
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert!(!over_https(&proxied, &path));
        assert!(over_https(&plain, &"https://abc.execute-api.eu-west-1.amazonaws.com/auth/sign-in".parse().unwrap()));

        let set = session_set_cookie(Some("hses_x"), true);
        assert_eq!(set, "herald_session=hses_x; Path=/; HttpOnly; SameSite=Lax; Max-Age=1209600; Secure");
        let set = session_set_cookie(None, false);
        assert_eq!(set, "herald_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; herald_session=hses_abc; b=2"));
        assert_eq!(session_cookie(&h).as_deref(), Some("hses_abc"));
        h.insert(COOKIE, HeaderValue::from_static("herald_session="));
        assert_eq!(session_cookie(&h), None);
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc"));
    }
}
