//! People: invites, accepting one, signing in and out, password resets, and the throttle on
//! sign-in. The HTTP layer (`http/people.rs`) only reads requests and sets cookies.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use rand::RngCore;

use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{
    Email, INVITE_LIFETIME, KeyHash, LinkId, MAX_MEMBER_NAME, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Member, MemberId,
    OneTimeToken, RESET_LIFETIME, Role, SESSION_LIFETIME, Secret, Session, TeamId, TokenPurpose, ValidationError,
    throttle,
};
use crate::store::{Store, StoreError};

const ADMIN_ONLY: &str = "only an admin can manage members and invites";
/// One message for every failed sign-in: it must not say whether the e-mail is a member's.
pub const WRONG_CREDENTIALS: &str = "wrong e-mail or password";
const DEAD_LINK: &str = "this link is unknown, already used or expired; ask an admin for a new one";

/// Prefixes of the secrets, so people and secret scanners can recognise them.
pub const INVITE_PREFIX: &str = "hinv_";
pub const RESET_PREFIX: &str = "hrst_";
pub const SESSION_PREFIX: &str = "hses_";

/// A one-time link just made: what is stored, and its token (shown once, in the URL).
#[derive(Debug)]
pub struct NewLink {
    pub link: OneTimeToken,
    pub token: Secret,
}

/// A session just started: what is stored, and its id (for the cookie, shown once).
#[derive(Debug)]
pub struct NewSession {
    pub session: Session,
    pub id: Secret,
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong e-mail or password (one answer for both).
    #[error("{WRONG_CREDENTIALS}")]
    Wrong,
    /// Too many failed attempts for this e-mail or address in this window.
    #[error("too many sign-in attempts; try again later")]
    Throttled { retry_after: std::time::Duration },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::Service(e.into())
    }
}

/// A password as a person chose it: 12 to 256 characters.
pub fn check_password(field: &str, password: &str) -> Result<(), ValidationError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(ValidationError::new(field, format!("must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(ValidationError::new(field, format!("must be at most {MAX_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

/// A member's name: 1 to 100 characters, no control characters.
pub fn check_name(field: &str, name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if name.chars().count() > MAX_MEMBER_NAME {
        return Err(ValidationError::new(field, format!("must be at most {MAX_MEMBER_NAME} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// argon2id with the crate's default parameters, a random salt; a PHC string. Runs on the
/// blocking pool (it is meant to be slow).
pub async fn hash_password(password: &str) -> Result<String, ServiceError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| ServiceError::Store(StoreError::backend(e)))?
}

fn hash_now(password: &str) -> Result<String, ServiceError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServiceError::Store(StoreError::Corrupt(e.to_string())))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Store(StoreError::Corrupt(e.to_string())))
}

/// Whether `password` matches the PHC string `hash` (false for an unreadable hash).
pub async fn verify_password(hash: &str, password: &str) -> bool {
    let (hash, password) = (hash.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || verify_now(&hash, &password)).await.unwrap_or(false)
}

fn verify_now(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Spends on a password what checking it against a member's hash would (the outcome is
/// thrown away), on the blocking pool: the decoy hash itself is made there on first use.
async fn verify_against_decoy(password: &str) {
    let password = password.to_owned();
    let _ = tokio::task::spawn_blocking(move || verify_now(decoy_hash(), &password)).await;
}

/// A hash no password is checked against successfully, verified when the e-mail is nobody's so
/// that a wrong e-mail costs the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default())
}

/// Makes an invite: `email` may join the actor's team as `role` within 7 days (admin).
pub async fn invite(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    email: Email,
    role: Role,
) -> Result<NewLink, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    if store.member_by_email(&email).await?.is_some() {
        return Err(ServiceError::Conflict(format!("{email} is already a member")));
    }
    make_link(store, clock, &actor.team_id, TokenPurpose::Invite { email: Some(email), role }).await
}

/// The first admin's setup link on a fresh deployment (`herald serve`'s first run): an admin
/// invite to `team` for whoever opens it first, who gives their e-mail on accepting.
pub async fn setup_invite(store: &dyn Store, clock: &dyn Clock, team: &TeamId) -> Result<NewLink, ServiceError> {
    make_link(store, clock, team, TokenPurpose::Invite { email: None, role: Role::Admin }).await
}

/// Makes a password-reset link for one of the team's members, good for 24 hours (admin).
pub async fn reset_link(store: &dyn Store, clock: &dyn Clock, actor: &Actor, member: MemberId) -> Result<NewLink, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    if store.get_member(&actor.team_id, member).await?.is_none() {
        return Err(ServiceError::not_found(format!("no member `{member}` in your team")));
    }
    make_link(store, clock, &actor.team_id, TokenPurpose::Reset { member_id: member }).await
}

async fn make_link(store: &dyn Store, clock: &dyn Clock, team: &TeamId, purpose: TokenPurpose) -> Result<NewLink, ServiceError> {
    let (prefix, lifetime) = match purpose {
        TokenPurpose::Invite { .. } => (INVITE_PREFIX, INVITE_LIFETIME),
        TokenPurpose::Reset { .. } => (RESET_PREFIX, RESET_LIFETIME),
    };
    let token = Secret::generate(prefix);
    let now = clock.now();
    let link =
        OneTimeToken { id: LinkId::new(), hash: token.hash(), team_id: team.clone(), purpose, created_at: now, expires_at: now + lifetime };
    store.put_link(&link).await?;
    Ok(NewLink { link, token })
}

/// Reads a live link of the wanted kind without using it.
async fn live_link(
    store: &dyn Store,
    now: DateTime<Utc>,
    hash: &KeyHash,
    invite: bool,
) -> Result<OneTimeToken, ServiceError> {
    let dead = || ServiceError::NotFound { message: DEAD_LINK.into(), field: Some("token".into()) };
    let link = store.link_by_hash(hash).await?.filter(|l| l.is_live(now)).ok_or_else(dead)?;
    match (&link.purpose, invite) {
        (TokenPurpose::Invite { .. }, true) | (TokenPurpose::Reset { .. }, false) => Ok(link),
        _ => Err(dead()),
    }
}

/// Uses an invite: the person becomes a member (named `name`, with `password`) and is signed
/// in. `email` is needed for a setup link (an invite without one), and must be the invite's
/// when given for an invite with one.
pub async fn accept(
    store: &dyn Store,
    clock: &dyn Clock,
    token: &str,
    email: Option<&str>,
    name: &str,
    password: &str,
) -> Result<(Member, NewSession), ServiceError> {
    let given = email.map(|e| Email::parse("email", e)).transpose()?;
    let name = check_name("name", name)?;
    check_password("password", password)?;
    let hash = KeyHash::of(token.trim());
    let now = clock.now();
    let link = live_link(store, now, &hash, true).await?;
    let TokenPurpose::Invite { email: invited, role } = link.purpose else {
        return Err(ServiceError::not_found(DEAD_LINK));
    };
    let email = match (invited, given) {
        (Some(invited), Some(given)) if invited != given => {
            return Err(ValidationError::new("email", "is not the e-mail this invite is for; leave it out").into());
        }
        (Some(invited), _) => invited,
        (None, Some(given)) => given,
        (None, None) => return Err(ValidationError::new("email", "is required: this setup link is for whoever gives theirs").into()),
    };
    // Checked before the link is used, so an invite to a taken e-mail is not burnt.
    if store.member_by_email(&email).await?.is_some() {
        return Err(ServiceError::Conflict(format!("{email} is already a member; sign in instead")));
    }
    let password_hash = hash_password(password).await?;
    if store.take_link(&hash, now).await?.is_none() {
        return Err(ServiceError::NotFound { message: DEAD_LINK.into(), field: Some("token".into()) });
    }
    let member = Member { id: MemberId::new(), team_id: link.team_id, email, name, role, password_hash, created_at: now };
    match store.create_member(&member).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists) => {
            return Err(ServiceError::Conflict(format!("{} is already a member; sign in instead", member.email)));
        }
        Err(e) => return Err(e.into()),
    }
    let session = start_session(store, clock, &member).await?;
    Ok((member, session))
}

/// Uses a reset link: the member's password becomes `password`, every session of theirs ends,
/// and a new one starts.
pub async fn reset_password(
    store: &dyn Store,
    clock: &dyn Clock,
    token: &str,
    password: &str,
) -> Result<(Member, NewSession), ServiceError> {
    check_password("password", password)?;
    let hash = KeyHash::of(token.trim());
    let now = clock.now();
    let link = live_link(store, now, &hash, false).await?;
    let TokenPurpose::Reset { member_id } = link.purpose else {
        return Err(ServiceError::not_found(DEAD_LINK));
    };
    let gone = || ServiceError::NotFound { message: "this member no longer exists".into(), field: Some("token".into()) };
    let member = store.get_member(&link.team_id, member_id).await?.ok_or_else(gone)?;
    let password_hash = hash_password(password).await?;
    if store.take_link(&hash, now).await?.is_none() {
        return Err(ServiceError::NotFound { message: DEAD_LINK.into(), field: Some("token".into()) });
    }
    let member = Member { password_hash, ..member };
    store.update_member(&member).await.map_err(|e| match e {
        StoreError::NotFound => gone(),
        e => e.into(),
    })?;
    store.delete_sessions_of(member.id).await?;
    let session = start_session(store, clock, &member).await?;
    Ok((member, session))
}

/// Signs in with an e-mail and a password, throttled per e-mail and per client address.
///
/// Each attempt is counted before the password is checked (a conditional increment in the
/// store, so concurrent attempts on several hosts cannot overshoot), and given back when it
/// succeeds: only failures stay counted.
pub async fn sign_in(
    store: &dyn Store,
    clock: &dyn Clock,
    email: &str,
    password: &str,
    address: &str,
) -> Result<(Member, NewSession), SignInError> {
    let now = clock.now();
    let (window, ends) = throttle::window(now);
    let retry_after = (ends - now).to_std().unwrap_or_default().max(std::time::Duration::from_secs(1));
    // An address that is not an e-mail is throttled under its text, lower-cased.
    let email_key = format!("signin:email:{}:{window}", Email::parse("email", email).map(|e| e.to_string()).unwrap_or_else(|_| email.trim().to_lowercase()));
    let address_key = format!("signin:address:{address}:{window}");
    if !store.take_attempt(&email_key, throttle::PER_EMAIL, ends).await? {
        return Err(SignInError::Throttled { retry_after });
    }
    if !store.take_attempt(&address_key, throttle::PER_ADDRESS, ends).await? {
        store.give_back_attempt(&email_key).await?;
        return Err(SignInError::Throttled { retry_after });
    }
    let member = match Email::parse("email", email) {
        Ok(e) if password.chars().count() <= MAX_PASSWORD_CHARS => store.member_by_email(&e).await?,
        _ => None,
    };
    let ok = match &member {
        Some(m) => verify_password(&m.password_hash, password).await,
        None => {
            verify_against_decoy(password).await;
            false
        }
    };
    let Some(member) = member.filter(|_| ok) else {
        return Err(SignInError::Wrong);
    };
    store.give_back_attempt(&email_key).await?;
    store.give_back_attempt(&address_key).await?;
    Ok((member.clone(), start_session(store, clock, &member).await?))
}

/// Starts a session for `member`: a fresh id and CSRF token, stored for 14 days.
pub async fn start_session(store: &dyn Store, clock: &dyn Clock, member: &Member) -> Result<NewSession, ServiceError> {
    let id = Secret::generate(SESSION_PREFIX);
    let now = clock.now();
    let session = Session {
        hash: id.hash(),
        member_id: member.id,
        team_id: member.team_id.clone(),
        email: member.email.clone(),
        csrf_token: Secret::generate("").reveal().to_owned(),
        created_at: now,
        expires_at: now + SESSION_LIFETIME,
    };
    store.put_session(&session).await?;
    Ok(NewSession { session, id })
}

/// The live session a cookie's id names, and its member (who must still exist with the same id).
pub async fn session_member(store: &dyn Store, clock: &dyn Clock, id: &str) -> Result<Option<(Session, Member)>, StoreError> {
    let Some(session) = store.session_by_hash(&KeyHash::of(id)).await?.filter(|x| x.is_live(clock.now())) else {
        return Ok(None);
    };
    let member = store.member_by_email(&session.email).await?.filter(|m| m.id == session.member_id);
    Ok(member.map(|m| (session, m)))
}

/// Removes a member of the actor's team (admin), and with them every session of theirs. The
/// caller cannot remove themselves.
pub async fn remove_member(store: &dyn Store, actor: &Actor, me: Option<MemberId>, id: MemberId) -> Result<(), ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    if me == Some(id) {
        return Err(ServiceError::Conflict("you cannot remove yourself; ask another admin".into()));
    }
    match store.delete_member(&actor.team_id, id).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(ServiceError::not_found(format!("no member `{id}` in your team"))),
        Err(e) => Err(e.into()),
    }
}

/// The team's members (admin).
pub async fn list_members(store: &dyn Store, actor: &Actor) -> Result<Vec<Member>, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    Ok(store.list_members(&actor.team_id).await?)
}

/// Ends every session of `member` on every device, the current one (`current`) included even if
/// the sessions' index has not shown it yet; how many the index listed.
pub async fn sign_out_everywhere(store: &dyn Store, member: MemberId, current: &KeyHash) -> Result<usize, ServiceError> {
    let ended = store.delete_sessions_of(member).await?;
    store.delete_session(current).await?;
    Ok(ended)
}

/// The names of the team's members, for anyone of the team (who wrote a post, a reply, a note):
/// names only, no e-mail or role (those are the admins' [`list_members`]).
pub async fn member_names(store: &dyn Store, actor: &Actor) -> Result<Vec<(MemberId, String)>, ServiceError> {
    actor.require(Role::Viewer, ADMIN_ONLY)?;
    Ok(store.list_members(&actor.team_id).await?.into_iter().map(|m| (m.id, m.name)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse battery").await);
        assert!(!verify_password(&h, "correct horse batterY").await);
        assert!(!verify_password("not a hash", "x").await);
        assert_ne!(h, hash_password("correct horse battery").await.unwrap(), "salted");
    }

    #[test]
    fn passwords_are_12_to_256_characters() {
        assert!(check_password("password", &"é".repeat(11)).is_err());
        assert!(check_password("password", &"é".repeat(12)).is_ok());
        assert!(check_password("password", &"x".repeat(256)).is_ok());
        assert_eq!(check_password("password", &"x".repeat(257)).unwrap_err().field, "password");
    }
}
