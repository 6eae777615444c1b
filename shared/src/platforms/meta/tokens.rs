//! Renewing a Threads token before it expires (platforms.md §5.4 ✅): long-lived tokens last
//! 60 days; `GET /refresh_access_token?grant_type=th_refresh_token&access_token=<token>` on
//! the Threads host gives another 60 days (`{"access_token", "token_type", "expires_in"}`),
//! for a token at least 24 hours old and not yet expired.
//!
//! Herald renews [`RENEW_BEFORE`] ahead of the expiry the credentials carry
//! ([`crate::platforms::tokens::TOKEN_EXPIRES_AT`]); a token is always more than a day old by
//! then. The path is asked under the configured Threads base (with its version), as the
//! connect flow asks `access_token`; ⚠️ the documentation writes it at the host's root, and
//! Meta's hosts answer both forms elsewhere, which was not checked for this call.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::threads::ThreadsAdapter;
use super::Account;
use crate::crypto::Credentials;
use crate::domain::Channel;
use crate::platforms::PublishError;
use crate::platforms::tokens::{TOKEN_EXPIRES_AT, TokenAdapter, expires_at};

/// How long before its expiry a token is renewed: a week leaves room for a network outage or
/// a poller that stopped for days.
pub const RENEW_BEFORE: Duration = Duration::days(7);
/// What a renewed token lasts when Meta's answer does not say (§5.4: 60 days).
const DEFAULT_LIFETIME: Duration = Duration::days(60);

#[derive(Debug, Deserialize)]
struct Renewed {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[async_trait]
impl TokenAdapter for ThreadsAdapter {
    fn renew_from(&self, credentials: &Credentials) -> Option<DateTime<Utc>> {
        expires_at(credentials).and_then(|t| t.checked_sub_signed(RENEW_BEFORE))
    }

    async fn renew(&self, _channel: &Channel, credentials: &Credentials) -> Result<Credentials, PublishError> {
        let account = Account::from_credentials(credentials, "threads_user_id", "access_token", "Threads")?;
        let renewed: Renewed = self
            .graph
            .get(&["refresh_access_token"], &[("grant_type", "th_refresh_token")], &account.token, "renewing the token")
            .await?;
        if renewed.access_token.trim().is_empty() {
            return Err(PublishError::Transient { reason: "Threads renewed the token but sent none back".into(), retry_after: None });
        }
        let lifetime = renewed
            .expires_in
            .filter(|s| *s > 0)
            .and_then(Duration::try_seconds)
            .unwrap_or(DEFAULT_LIFETIME);
        let now = self.graph.now();
        let until = now.checked_add_signed(lifetime).unwrap_or(now);
        Ok(credentials
            .clone()
            .with("access_token", renewed.access_token.trim())
            .with(TOKEN_EXPIRES_AT, &until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
    }
}
