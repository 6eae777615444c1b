//! The port for networks whose tokens expire but can be renewed without the person: the
//! metric poller asks each channel's adapter when its token should be renewed, and renews it
//! then, well before it expires (issue 14: "refreshed before expiry by the pollers").
//!
//! Which networks: Threads (60-day long-lived tokens, `th_refresh_token`, platforms.md §5.4).
//! Facebook Pages and Instagram through Facebook Login publish with a Page token derived from
//! a long-lived user token, which does not expire (platforms-more.md §1.4 🟡), so they have
//! nothing to renew; if Meta refuses one, the channel is marked for reconnecting.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PublishError;
use crate::crypto::Credentials;
use crate::domain::Channel;

/// The credential field holding when `access_token` expires (RFC 3339), written by the connect
/// flow from the network's `expires_in` and by each renewal.
pub const TOKEN_EXPIRES_AT: &str = "token_expires_at";

/// When `credentials`' token expires, if they say and it reads as a time.
pub fn expires_at(credentials: &Credentials) -> Option<DateTime<Utc>> {
    credentials
        .get(TOKEN_EXPIRES_AT)
        .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[async_trait]
pub trait TokenAdapter: Send + Sync {
    /// From when the token in `credentials` should be renewed; `None` when it does not expire
    /// or Herald does not know when (nothing is renewed then).
    fn renew_from(&self, credentials: &Credentials) -> Option<DateTime<Utc>>;

    /// A new token for the channel: the credentials to keep from now on (the old ones with the
    /// token and its expiry replaced). `Auth` means the network refused the old token, so only
    /// connecting again helps.
    async fn renew(&self, channel: &Channel, credentials: &Credentials) -> Result<Credentials, PublishError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_expiry_is_read_when_it_is_a_time() {
        let creds = |v: &str| Credentials::default().with(TOKEN_EXPIRES_AT, v);
        let t = Utc.with_ymd_and_hms(2027, 2, 1, 9, 0, 0).unwrap();
        assert_eq!(expires_at(&creds("2027-02-01T10:00:00+01:00")), Some(t));
        assert_eq!(expires_at(&creds("next month")), None);
        assert_eq!(expires_at(&Credentials::default()), None);
    }
}
