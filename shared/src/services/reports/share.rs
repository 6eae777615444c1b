//! Share links: a report's HTML for someone without a key (a client, a boss), at
//! `/share/<token>`, until the link expires or is revoked.
//!
//! The token is `<report>.<share>.<expiry>.<signature>`: the report and share ids (UUIDs in
//! their 32-digit form), the expiry in Unix seconds and an HMAC-SHA256 over the three, keyed
//! from the credentials key ([`CredentialCipher::sign`], compared in constant time). The
//! signature makes a token unguessable and unforgeable; the store says whether the share still
//! stands: a report's shares are one state item, `report-shares#<report>`, written with the
//! state store's version check so that two changes at once cannot undo each other.
//!
//! Opening a link answers the report only when everything holds; otherwise "not found" for a
//! bad signature, an unknown share and a revoked one alike (a visitor learns nothing about
//! which), and "expired" only for a genuine link past its time.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::CredentialCipher;
use crate::domain::{ReportFormat, ReportId, Role, TeamId, ValidationError};
use crate::services::{Actor, ServiceError};
use crate::store::{StateStore, Store, StoreError};

use super::ReportFiles;

/// How long a link lasts when nobody says.
pub const DEFAULT_SHARE_DAYS: u64 = 30;
/// The longest a link may last.
pub const MAX_SHARE_DAYS: u64 = 90;
/// Links of one report that may stand at once (revoked and expired ones do not count).
pub const MAX_LIVE_SHARES: usize = 50;
/// Who made the link a report's e-mail carries.
pub const MAILED_BY: &str = "report e-mail";

/// One share link of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub id: Uuid,
    pub report_id: ReportId,
    pub created_at: DateTime<Utc>,
    /// Whole seconds (the token carries them as such).
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The API key that made it, or [`MAILED_BY`].
    pub created_by: String,
}

impl Share {
    /// The link's token (the same every time for the same share and key).
    pub fn token(&self, signer: &CredentialCipher) -> String {
        let unsigned = unsigned(self.report_id.uuid(), self.id, self.expires_at.timestamp());
        let signature = signer.sign(&signed_text(&unsigned));
        format!("{unsigned}.{signature}")
    }

    /// `<base>/share/<token>`.
    pub fn url(&self, base: &str, signer: &CredentialCipher) -> String {
        format!("{}/share/{}", base.trim_end_matches('/'), self.token(signer))
    }

    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

fn unsigned(report: Uuid, share: Uuid, expires: i64) -> String {
    format!("{}.{}.{expires}", report.simple(), share.simple())
}

/// What is signed: the token's fields under a label, so a signature made for another of
/// Herald's links (the media upload address) never passes for a share.
fn signed_text(unsigned: &str) -> String {
    format!("report-share v1 {unsigned}")
}

/// A report's shares as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Shares {
    team: Option<TeamId>,
    shares: Vec<Share>,
}

fn key(report: ReportId) -> String {
    format!("report-shares#{report}")
}

async fn read(store: &dyn StateStore, report: ReportId) -> Result<(Shares, Option<u64>), ServiceError> {
    match store.get_state(&key(report)).await? {
        None => Ok((Shares::default(), None)),
        Some(v) => {
            let shares = serde_json::from_str(&v.value).map_err(|e| StoreError::Corrupt(format!("{}: {e}", key(report))))?;
            Ok((shares, Some(v.version)))
        }
    }
}

async fn write(store: &dyn StateStore, report: ReportId, shares: &Shares, expected: Option<u64>) -> Result<(), ServiceError> {
    let value = serde_json::to_string(shares).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.put_state(&key(report), &value, expected).await?;
    Ok(())
}

/// `expires_in_days` as given (1 to 90; absent: 30).
pub fn lifetime(days: Option<u64>) -> Result<Duration, ValidationError> {
    let days = days.unwrap_or(DEFAULT_SHARE_DAYS);
    if !(1..=MAX_SHARE_DAYS).contains(&days) {
        return Err(ValidationError::new("expires_in_days", format!("must be a whole number of days from 1 to {MAX_SHARE_DAYS}")));
    }
    // In range, so the cast and the arithmetic cannot overflow.
    Ok(Duration::days(days as i64))
}

/// A new link to a report of `team`, recorded before it is handed out. Used by the API
/// ([`share`]) and by the report's e-mail.
pub(crate) async fn mint(
    store: &dyn StateStore,
    team: &TeamId,
    report: ReportId,
    lasts: Duration,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<Share, ServiceError> {
    let (mut shares, version) = read(store, report).await?;
    let live = shares.shares.iter().filter(|s| s.live(now)).count();
    if live >= MAX_LIVE_SHARES {
        return Err(ServiceError::Conflict(format!(
            "this report has {live} share links standing (at most {MAX_LIVE_SHARES}): revoke one first"
        )));
    }
    // Whole seconds: what the token carries is what is stored.
    let expires_at = Utc.timestamp_opt((now + lasts).timestamp(), 0).single().unwrap_or(now + lasts);
    let share = Share { id: Uuid::new_v4(), report_id: report, created_at: now, expires_at, revoked_at: None, created_by: created_by.to_owned() };
    // Links dead for more than the longest lifetime are dropped, so the item stays small.
    let forget = now - Duration::days(MAX_SHARE_DAYS as i64);
    shares.shares.retain(|s| s.expires_at > forget && s.revoked_at.is_none_or(|r| r > forget));
    shares.team = Some(team.clone());
    shares.shares.push(share.clone());
    write(store, report, &shares, version).await?;
    Ok(share)
}

/// `POST /v1/reports/{id}/shares`: editors and admins.
pub async fn share(
    store: &dyn Store,
    actor: &Actor,
    report: ReportId,
    expires_in_days: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Share, ServiceError> {
    actor.require(Role::Editor, "sharing a report needs the editor role or above")?;
    let lasts = lifetime(expires_in_days)?;
    super::get(store, actor, report).await?;
    mint(store, &actor.team_id, report, lasts, &actor.key_id.to_string(), now).await
}

/// `GET /v1/reports/{id}/shares`: every role; newest first, revoked and expired ones included
/// (with their dates) until they are forgotten.
pub async fn shares(store: &dyn Store, actor: &Actor, report: ReportId) -> Result<Vec<Share>, ServiceError> {
    super::get(store, actor, report).await?;
    let (shares, _) = read(store, report).await?;
    // Kept in the order they were made: reversed, then a stable sort keeps that for ties.
    let mut all = shares.shares;
    all.reverse();
    all.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    Ok(all)
}

/// `DELETE /v1/reports/{id}/shares/{share}`: editors and admins. Revoking twice is no error.
pub async fn revoke(store: &dyn Store, actor: &Actor, report: ReportId, id: Uuid, now: DateTime<Utc>) -> Result<(), ServiceError> {
    actor.require(Role::Editor, "revoking a share link needs the editor role or above")?;
    super::get(store, actor, report).await?;
    let (mut shares, version) = read(store, report).await?;
    let share = shares
        .shares
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| ServiceError::NotFound { message: "no such share link of this report".into(), field: Some("share".into()) })?;
    if share.revoked_at.is_some() {
        return Ok(());
    }
    share.revoked_at = Some(now);
    write(store, report, &shares, version).await
}

/// Why a link opens nothing.
#[derive(Debug, thiserror::Error)]
pub enum ShareRefused {
    /// A bad or tampered token, an unknown or revoked share, a report gone: all alike.
    #[error("no such link")]
    NotFound,
    /// A genuine link past its expiry.
    #[error("this link has expired")]
    Expired,
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// The checked parts of a token, or `None` when its form or signature is wrong.
fn verify(token: &str, signer: &CredentialCipher) -> Option<(ReportId, Uuid, i64)> {
    let (unsigned, signature) = token.rsplit_once('.')?;
    if !signer.verify(&signed_text(unsigned), signature) {
        return None;
    }
    let mut parts = unsigned.split('.');
    let (report, share, expires) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((ReportId::from_uuid(Uuid::try_parse(report).ok()?), Uuid::try_parse(share).ok()?, expires.parse().ok()?))
}

/// `GET /share/{token}`: the shared report's HTML.
pub async fn open(
    store: &dyn Store,
    files: &dyn ReportFiles,
    signer: &CredentialCipher,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, ShareRefused> {
    let (report, id, expires) = verify(token, signer).ok_or(ShareRefused::NotFound)?;
    let (shares, _) = read(store, report).await?;
    let share = shares.shares.iter().find(|s| s.id == id).ok_or(ShareRefused::NotFound)?;
    if share.revoked_at.is_some() || share.expires_at.timestamp() != expires {
        return Err(ShareRefused::NotFound);
    }
    if now >= share.expires_at {
        return Err(ShareRefused::Expired);
    }
    let team = shares.team.ok_or(ShareRefused::NotFound)?;
    // As the report generator: the link is the permission, for this report of this team only.
    let actor = Actor { team_id: team, role: Role::Viewer, key_id: crate::domain::ApiKeyId::derived("share-link") };
    match super::file(store, files, &actor, report, ReportFormat::Html).await {
        Ok(bytes) => Ok(bytes),
        Err(ServiceError::NotFound { .. }) => Err(ShareRefused::NotFound),
        Err(e) => Err(ShareRefused::Failed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::services::reports::{MemoryReportFiles, generate};
    use crate::store::sqlite::SqliteStore;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("test instant")
    }

    fn signer() -> CredentialCipher {
        CredentialCipher::from_base64(&CredentialCipher::generate_key()).expect("key")
    }

    struct World {
        store: SqliteStore,
        files: MemoryReportFiles,
        editor: Actor,
        report: ReportId,
    }

    async fn world() -> World {
        let store = SqliteStore::in_memory().expect("store");
        let team = TeamId::parse("team", "cafe").expect("team");
        let made = ManualClock::new(utc("2026-11-02T09:00:00Z"));
        crate::services::keys::ensure_team(&store, &made, &team, chrono_tz::Europe::Paris).await.expect("team");
        let files = MemoryReportFiles::default();
        let editor = Actor { team_id: team, role: Role::Editor, key_id: crate::domain::ApiKeyId::new() };
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day");
        let (report, _) =
            generate(&store, &files, &editor, super::super::Asked::days(day("2026-11-23"), day("2026-11-29")), utc("2026-11-30T08:00:00Z")).await.expect("report");
        World { store, files, editor, report: report.id }
    }

    async fn opens(w: &World, s: &CredentialCipher, token: &str, at: &str) -> Result<Vec<u8>, ShareRefused> {
        open(&w.store, &w.files, s, token, utc(at)).await
    }

    #[tokio::test]
    async fn a_link_opens_the_html_until_it_expires_and_says_expired_after() {
        let (w, s) = (world().await, signer());
        let share = share(&w.store, &w.editor, w.report, Some(2), utc("2026-12-01T10:00:00Z")).await.expect("shared");
        assert_eq!(share.expires_at, utc("2026-12-03T10:00:00Z"));
        let token = share.token(&s);
        let html = opens(&w, &s, &token, "2026-12-03T09:59:59Z").await.expect("opens before expiry");
        assert!(String::from_utf8_lossy(&html).contains("<html"), "the report's HTML");
        assert!(matches!(opens(&w, &s, &token, "2026-12-03T10:00:00Z").await, Err(ShareRefused::Expired)));
        assert_eq!(share.url("https://h.example/", &s), format!("https://h.example/share/{token}"));
    }

    #[tokio::test]
    async fn tampered_foreign_and_revoked_links_are_all_just_not_found() {
        let (w, s) = (world().await, signer());
        let now = utc("2026-12-01T10:00:00Z");
        let share = share(&w.store, &w.editor, w.report, None, now).await.expect("shared");
        assert_eq!(share.expires_at, now + Duration::days(DEFAULT_SHARE_DAYS as i64));
        let token = share.token(&s);
        let at = "2026-12-02T00:00:00Z";
        assert!(opens(&w, &s, &token, at).await.is_ok());

        // A later expiry with the old signature, another share id, a flipped signature digit,
        // another key's signature, and garbage: not found, never "expired".
        let (unsigned, sig) = token.rsplit_once('.').expect("signed");
        let later = token.replace(&share.expires_at.timestamp().to_string(), &(share.expires_at.timestamp() + 86_400).to_string());
        let other_share = token.replace(&share.id.simple().to_string(), &Uuid::new_v4().simple().to_string());
        let flipped = format!("{unsigned}.{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]);
        let foreign = share.token(&signer());
        for bad in [later.as_str(), other_share.as_str(), flipped.as_str(), foreign.as_str(), "", "a.b.c.d", "....", "zz"] {
            assert!(matches!(opens(&w, &s, bad, at).await, Err(ShareRefused::NotFound)), "{bad}");
        }
        // Even past the expiry, a forged token is not found rather than expired.
        assert!(matches!(opens(&w, &s, &flipped, "2027-06-01T00:00:00Z").await, Err(ShareRefused::NotFound)));

        revoke(&w.store, &w.editor, w.report, share.id, utc("2026-12-02T01:00:00Z")).await.expect("revoked");
        revoke(&w.store, &w.editor, w.report, share.id, utc("2026-12-02T02:00:00Z")).await.expect("revoking twice is fine");
        assert!(matches!(opens(&w, &s, &token, "2026-12-02T03:00:00Z").await, Err(ShareRefused::NotFound)), "revoked");
        let listed = shares(&w.store, &w.editor, w.report).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, Some(utc("2026-12-02T01:00:00Z")), "the first revocation's time stays");
    }

    #[tokio::test]
    async fn viewers_list_editors_share_and_revoke_and_lifetimes_are_checked() {
        let w = world().await;
        let now = utc("2026-12-01T10:00:00Z");
        let viewer = Actor { role: Role::Viewer, ..w.editor.clone() };
        let contributor = Actor { role: Role::Contributor, ..w.editor.clone() };
        assert!(matches!(share(&w.store, &viewer, w.report, None, now).await, Err(ServiceError::Forbidden(_))));
        assert!(matches!(share(&w.store, &contributor, w.report, None, now).await, Err(ServiceError::Forbidden(_))));
        for bad in [0, 91, u64::MAX] {
            match share(&w.store, &w.editor, w.report, Some(bad), now).await {
                Err(ServiceError::Invalid(e)) => assert_eq!(e.field, "expires_in_days"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let made = share(&w.store, &w.editor, w.report, Some(90), now).await.expect("90 days is allowed");
        assert_eq!(shares(&w.store, &viewer, w.report).await.expect("viewers list").len(), 1);
        assert!(matches!(revoke(&w.store, &viewer, w.report, made.id, now).await, Err(ServiceError::Forbidden(_))));
        assert!(matches!(revoke(&w.store, &w.editor, w.report, Uuid::new_v4(), now).await, Err(ServiceError::NotFound { .. })));
        let stranger = Actor { team_id: TeamId::parse("team", "other").expect("team"), ..w.editor.clone() };
        assert!(matches!(share(&w.store, &stranger, w.report, None, now).await, Err(ServiceError::NotFound { .. })), "another team's report");
    }
}
