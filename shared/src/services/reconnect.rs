//! A channel whose token the network refused needs reconnecting. Three workers can find out:
//! the publisher, the metric poller and the inbox poller. Whichever finds out first marks the
//! channel, and only that one raises `Channel Needs Reconnect`; the others, and every later
//! refusal, find the mark and stay quiet.
//!
//! The mark is kept under `reconnect#<channel>` in the state store. It names the credentials
//! it is about by a digest of their sealed form, so it has no other writer and never races a
//! change to the channel. Replacing the credentials (by hand, by connecting again, or by a
//! token refresh) clears it without a write. Sealing draws a fresh nonce, so even the same
//! token pasted again counts as new credentials and may be refused (and raised) once more.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Channel;
use crate::store::{StateStore, StoreError, StoreResult};

/// Why and since when a channel needs reconnecting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedsReconnect {
    pub since: DateTime<Utc>,
    /// The network's words, as the worker that found out heard them.
    pub reason: String,
    /// A digest of the sealed credentials the network refused.
    credentials: String,
}

fn key(channel: &Channel) -> String {
    format!("reconnect#{}", channel.id)
}

/// The first 16 bytes of SHA-256 over the sealed credentials, in hex (`-` without any).
fn credentials_digest(channel: &Channel) -> String {
    match &channel.credentials {
        None => "-".to_owned(),
        Some(sealed) => Sha256::digest(sealed.as_str().as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Marks `channel` (with the credentials it has now) as refused. `true` when this call made the
/// mark, so the caller raises `Channel Needs Reconnect`; `false` when these credentials were
/// marked already, by this worker earlier or by another one (a lost race included).
pub async fn mark(store: &dyn StateStore, channel: &Channel, reason: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    let key = key(channel);
    let credentials = credentials_digest(channel);
    let stored = store.get_state(&key).await?;
    let expected = match stored {
        None => None,
        Some(v) => match serde_json::from_str::<NeedsReconnect>(&v.value) {
            Ok(mark) if mark.credentials == credentials => return Ok(false),
            // A mark about credentials since replaced (or unreadable): this refusal is news.
            _ => Some(v.version),
        },
    };
    let mark = NeedsReconnect { since: now, reason: reason.to_owned(), credentials };
    let value = serde_json::to_string(&mark).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    match store.put_state(&key, &value, expected).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the network refused the credentials `channel` has now.
pub async fn needs_reconnect(store: &dyn StateStore, channel: &Channel) -> StoreResult<Option<NeedsReconnect>> {
    let Some(stored) = store.get_state(&key(channel)).await? else { return Ok(None) };
    let credentials = credentials_digest(channel);
    Ok(serde_json::from_str::<NeedsReconnect>(&stored.value).ok().filter(|m| m.credentials == credentials))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CredentialCipher, Credentials};
    use crate::domain::{ChannelId, ChannelName, Platform, TeamId};
    use crate::store::sqlite::SqliteStore;
    use chrono::TimeZone;

    fn channel(cipher: &CredentialCipher, token: &str) -> Channel {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let id = ChannelId::new();
        let credentials = Credentials::from_json("credentials", &serde_json::json!({"access_token": token})).unwrap();
        Channel {
            id,
            team_id: TeamId::parse("team", "cafe").unwrap(),
            platform: Platform::Threads,
            name: ChannelName::parse("name", "cafe").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: Some(cipher.seal(id, &credentials)),
            queue_slots: vec![],
            created_at: t,
            updated_at: t,
        }
    }

    #[tokio::test]
    async fn marked_once_per_set_of_credentials() {
        let store = SqliteStore::in_memory().unwrap();
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap();
        let c = channel(&cipher, "old");
        assert_eq!(needs_reconnect(&store, &c).await.unwrap(), None);

        assert!(mark(&store, &c, "Error validating access token", now).await.unwrap(), "the first refusal marks");
        assert!(!mark(&store, &c, "again", now).await.unwrap(), "a second refusal of the same credentials is quiet");
        let m = needs_reconnect(&store, &c).await.unwrap().expect("marked");
        assert_eq!((m.since, m.reason.as_str()), (now, "Error validating access token"));

        // New credentials: not marked any more, and a refusal of them is news again.
        let renewed = Channel { credentials: channel(&cipher, "new").credentials, ..c.clone() };
        assert_eq!(needs_reconnect(&store, &renewed).await.unwrap(), None);
        assert!(mark(&store, &renewed, "refused too", now).await.unwrap());
        assert_eq!(needs_reconnect(&store, &c).await.unwrap(), None, "the mark is about the new credentials");
    }
}
