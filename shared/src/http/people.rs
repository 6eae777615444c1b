//! People: `/v1/invites`, `/v1/members` (admin), and `/auth/*`, where a person accepts an
//! invite, signs in and out, and resets a password. Signing in sets the `herald_session` cookie
//! (HttpOnly, SameSite=Lax, `Secure` when the request came over https: [`super::over_https`]).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::views::Items;
use super::{ApiError, ApiJson, AppState, Caller, over_https, session_set_cookie};
use crate::domain::{Email, LinkId, Member, MemberId, Role};
use crate::services::people::{self, NewSession, SignInError};

/// Where a request came from, for the sign-in throttle and the cookie's `Secure`.
pub struct Client {
    /// The peer's IP when Herald sees the connection (`herald serve`), else the last
    /// `X-Forwarded-For` entry (the one API Gateway appends: a client cannot forge it), else
    /// `unknown`.
    pub address: String,
    pub https: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let forwarded = || {
            parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty() && v.len() <= 64)
        };
        let address = peer.or_else(forwarded).unwrap_or_else(|| "unknown".to_owned());
        Ok(Client { address, https: over_https(&parts.headers, &parts.uri) })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: MemberId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        Self { id: m.id, email: m.email.to_string(), name: m.name.clone(), role: m.role, created_at: m.created_at }
    }
}

/// A new invite: its link, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewInvite {
    pub id: LinkId,
    pub email: String,
    pub role: Role,
    /// `/invite/<token>`, to give to the person (the token is shown only here).
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A new password-reset link, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewResetLink {
    /// `/reset/<token>`, to give to the member (the token is shown only here).
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A person just signed in: who, and the token their changes must carry in `x-csrf-token`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub member: MemberView,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// The person's e-mail (compared lower-case).
    #[schema(max_length = 254, example = "marie@example.com")]
    email: String,
    #[schema(value_type = Role)]
    role: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    /// The token of the invite link (`/invite/<token>`).
    token: String,
    /// The person's e-mail: required for the first admin's setup link, else the invite's (and
    /// may be left out).
    #[serde(default)]
    #[schema(max_length = 254, example = "marie@example.com")]
    email: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[schema(min_length = 12, max_length = 256)]
    password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The token of the reset link (`/reset/<token>`).
    token: String,
    #[schema(min_length = 12, max_length = 256)]
    password: String,
}

type WithCookie = (StatusCode, [(axum::http::HeaderName, HeaderValue); 1], Json<SignedIn>);

fn signed_in(status: StatusCode, member: &Member, new: &NewSession, https: bool) -> WithCookie {
    (
        status,
        [(SET_COOKIE, session_set_cookie(Some(new.id.reveal()), https))],
        Json(SignedIn {
            member: MemberView::from(member),
            csrf_token: new.session.csrf_token.clone(),
            expires_at: new.session.expires_at,
        }),
    )
}

#[utoipa::path(
    post,
    path = "/v1/invites",
    tag = "people",
    operation_id = "create_invite",
    summary = "Invite a person to the team with a one-time link, good for 7 days (admin)",
    request_body = InviteBody,
    security(("ApiKey" = []), ("Session" = [])),
    responses(
        (status = 201, description = "the invite, its link shown this once", body = NewInvite),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 409, description = "this e-mail is already a member's", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<NewInvite>), ApiError> {
    caller.actor().require(Role::Admin, "only an admin can invite people")?;
    let email = Email::parse("email", &body.email)?;
    let role = Role::parse("role", &body.role)?;
    let new = people::invite(&*state.store, &*state.clock, &caller.actor(), email.clone(), role).await?;
    tracing::info!(invite_id = %new.link.id, %role, "invite created");
    Ok((
        StatusCode::CREATED,
        Json(NewInvite {
            id: new.link.id,
            email: email.to_string(),
            role,
            url: format!("/invite/{}", new.token.reveal()),
            expires_at: new.link.expires_at,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/members",
    tag = "people",
    operation_id = "list_members",
    summary = "The team's members (admin)",
    security(("ApiKey" = []), ("Session" = [])),
    responses(
        (status = 200, description = "every member of the team", body = Items<MemberView>),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
    ),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Items<MemberView>>, ApiError> {
    let members = people::list_members(&*state.store, &caller.actor()).await?;
    Ok(Json(Items { items: members.iter().map(MemberView::from).collect() }))
}

#[utoipa::path(
    delete,
    path = "/v1/members/{id}",
    tag = "people",
    operation_id = "delete_member",
    summary = "Remove a member and end their sessions (admin; not yourself)",
    params(("id" = uuid::Uuid, Path, description = "the member id (a UUID)")),
    security(("ApiKey" = []), ("Session" = [])),
    responses(
        (status = 204, description = "removed"),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such member in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "this is the member making the request", body = super::error::ApiErrorBody),
    ),
)]
pub async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.actor().require(Role::Admin, "only an admin can remove members")?;
    let missing = || ApiError::Missing { message: format!("no member `{id}` in your team"), field: None };
    let member = MemberId::parse("id", &id).map_err(|_| missing())?;
    let me = caller.session.as_ref().map(|x| x.member_id);
    people::remove_member(&*state.store, &caller.actor(), me, member).await?;
    tracing::info!(member_id = %member, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/reset-link",
    tag = "people",
    operation_id = "create_reset_link",
    summary = "Make a one-time password-reset link for a member, good for 24 hours (admin)",
    params(("id" = uuid::Uuid, Path, description = "the member id (a UUID)")),
    security(("ApiKey" = []), ("Session" = [])),
    responses(
        (status = 201, description = "the link, shown this once", body = NewResetLink),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such member in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn reset_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<NewResetLink>), ApiError> {
    caller.actor().require(Role::Admin, "only an admin can make reset links")?;
    let missing = || ApiError::Missing { message: format!("no member `{id}` in your team"), field: None };
    let member = MemberId::parse("id", &id).map_err(|_| missing())?;
    let new = people::reset_link(&*state.store, &*state.clock, &caller.actor(), member).await?;
    tracing::info!(member_id = %member, "password-reset link created");
    Ok((
        StatusCode::CREATED,
        Json(NewResetLink { url: format!("/reset/{}", new.token.reveal()), expires_at: new.link.expires_at }),
    ))
}

#[utoipa::path(
    post,
    path = "/auth/accept",
    tag = "people",
    operation_id = "accept_invite",
    summary = "Accept an invite: become a member and be signed in (sets the session cookie)",
    request_body = AcceptBody,
    responses(
        (status = 201, description = "a member now, signed in; `Set-Cookie: herald_session=…`", body = SignedIn),
        (status = 404, description = "the invite is unknown, used or expired", body = super::error::ApiErrorBody),
        (status = 409, description = "the invite's e-mail is already a member's", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn accept(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<WithCookie, ApiError> {
    let (member, new) = people::accept(&*state.store, &*state.clock, &body.token, body.email.as_deref(), &body.name, &body.password).await?;
    tracing::info!(member_id = %member.id, role = %member.role, "invite accepted");
    Ok(signed_in(StatusCode::CREATED, &member, &new, client.https))
}

#[utoipa::path(
    post,
    path = "/auth/sign-in",
    tag = "people",
    operation_id = "sign_in",
    summary = "Sign in with e-mail and password (sets the session cookie); throttled",
    request_body = SignInBody,
    responses(
        (status = 200, description = "signed in; `Set-Cookie: herald_session=…`", body = SignedIn),
        (status = 401, description = "wrong e-mail or password (one answer for both)", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
        (status = 429, description = "too many failed attempts for this e-mail (5) or address (20) in 15 minutes; see `Retry-After`", body = super::error::ApiErrorBody),
    ),
)]
pub async fn sign_in(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<WithCookie, ApiError> {
    match people::sign_in(&*state.store, &*state.clock, &body.email, &body.password, &client.address).await {
        Ok((member, new)) => {
            tracing::info!(member_id = %member.id, "signed in");
            Ok(signed_in(StatusCode::OK, &member, &new, client.https))
        }
        Err(SignInError::Wrong) => Err(ApiError::Unauthorized(people::WRONG_CREDENTIALS)),
        Err(SignInError::Throttled { retry_after }) => {
            tracing::warn!(address = %client.address, "sign-in throttled");
            Err(ApiError::Throttled { retry_after })
        }
        Err(SignInError::Service(e)) => Err(e.into()),
    }
}

#[utoipa::path(
    post,
    path = "/auth/reset",
    tag = "people",
    operation_id = "reset_password",
    summary = "Set a new password with a reset link: every other session ends, this one starts",
    request_body = ResetBody,
    responses(
        (status = 200, description = "password changed, signed in; `Set-Cookie: herald_session=…`", body = SignedIn),
        (status = 404, description = "the link is unknown, used or expired", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn reset(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<WithCookie, ApiError> {
    let (member, new) = people::reset_password(&*state.store, &*state.clock, &body.token, &body.password).await?;
    tracing::info!(member_id = %member.id, "password reset");
    Ok(signed_in(StatusCode::OK, &member, &new, client.https))
}

type Cleared = (StatusCode, [(axum::http::HeaderName, HeaderValue); 1]);

fn session_of(caller: &Caller) -> Result<&super::SessionCaller, ApiError> {
    caller
        .session
        .as_ref()
        .ok_or_else(|| ApiError::Conflict("this is for signed-in people; an API key is revoked with DELETE /v1/keys/{id}".into()))
}

#[utoipa::path(
    post,
    path = "/auth/sign-out",
    tag = "people",
    operation_id = "sign_out",
    summary = "End this session (clears the cookie); needs `x-csrf-token`",
    security(("ApiKey" = []), ("Session" = [])),
    responses(
        (status = 204, description = "signed out; the cookie is cleared"),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, description = "no or wrong `x-csrf-token`", body = super::error::ApiErrorBody),
        (status = 409, description = "the caller used an API key, not a session", body = super::error::ApiErrorBody),
    ),
)]
pub async fn sign_out(State(state): State<AppState>, client: Client, caller: Caller) -> Result<Cleared, ApiError> {
    let session = session_of(&caller)?;
    state.store.delete_session(&session.session_hash).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, session_set_cookie(None, client.https))]))
}

#[utoipa::path(
    post,
    path = "/auth/sign-out-everywhere",
    tag = "people",
    operation_id = "sign_out_everywhere",
    summary = "End every session of the signed-in member, on every device; needs `x-csrf-token`",
    security(("ApiKey" = []), ("Session" = [])),
    responses(
        (status = 204, description = "every session ended; this one's cookie is cleared"),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, description = "no or wrong `x-csrf-token`", body = super::error::ApiErrorBody),
        (status = 409, description = "the caller used an API key, not a session", body = super::error::ApiErrorBody),
    ),
)]
pub async fn sign_out_everywhere(State(state): State<AppState>, client: Client, caller: Caller) -> Result<Cleared, ApiError> {
    let session = session_of(&caller)?;
    let ended = people::sign_out_everywhere(&*state.store, session.member_id, &session.session_hash).await?;
    tracing::info!(member_id = %session.member_id, ended, "signed out everywhere");
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, session_set_cookie(None, client.https))]))
}
