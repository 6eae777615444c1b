//! People: team members who sign in with an e-mail and a password, the one-time links that let
//! them in (invites, password resets), their sessions, and the sign-in throttle's windows.
//!
//! Every secret here (invite and reset tokens, session ids) is 256 random bits shown once and
//! stored only as its SHA-256 ([`KeyHash`]): like API keys, there is nothing for a slow hash to
//! protect. Passwords are the one human-chosen secret, and are kept as argon2id PHC strings.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{KeyHash, LinkId, MemberId, Role, TeamId, ValidationError};

/// An invite link is good for this long.
pub const INVITE_LIFETIME: Duration = Duration::days(7);
/// A password-reset link is good for this long.
pub const RESET_LIFETIME: Duration = Duration::hours(24);
/// A session lasts this long after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::days(14);
/// Passwords are at least this many characters…
pub const MIN_PASSWORD_CHARS: usize = 12;
/// …and at most this many.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The longest member name.
pub const MAX_MEMBER_NAME: usize = 100;
/// The longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// An e-mail address, normalised: trimmed and lower-case. Unique per deployment among members.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let e = s.trim().to_lowercase();
        let bad = || ValidationError::new(field, "must be an e-mail address, like marie@example.com");
        if e.is_empty() || e.len() > MAX_EMAIL_BYTES || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || domain.is_empty() || local.contains('@') || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(bad());
        }
        Ok(Self(e))
    }

    /// Rebuilds an address read back from a store.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team member: a person who signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub team_id: TeamId,
    pub email: Email,
    pub name: String,
    pub role: Role,
    /// argon2id, as a PHC string (`$argon2id$v=19$…`): salt and parameters included.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// What a one-time link is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Join `team_id` as `role` with this e-mail; with none (the first admin's setup link)
    /// the person gives theirs on accepting.
    Invite {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<Email>,
        role: Role,
    },
    /// Set a new password for this member.
    Reset { member_id: MemberId },
}

/// A one-time link's stored half: the hash of its token, what it is for, when it lapses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeToken {
    /// Public id (an invite's id in the API).
    pub id: LinkId,
    pub hash: KeyHash,
    pub team_id: TeamId,
    #[serde(flatten)]
    pub purpose: TokenPurpose,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl OneTimeToken {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// A signed-in browser. The cookie holds the session id; the store keeps its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub hash: KeyHash,
    pub member_id: MemberId,
    pub team_id: TeamId,
    /// The member's e-mail: the member is read back by it (one key read).
    pub email: Email,
    /// Sent back by the browser in `x-csrf-token` on every change.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// A fresh 256-bit secret (invite token, reset token, session id, CSRF token), hex, with a
/// prefix saying what it is. Shown once; [`Secret::hash`] is what is stored.
pub struct Secret(SecretString);

impl Secret {
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(SecretString::from(format!("{prefix}{}", hex::encode(bytes))))
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(self.0.expose_secret())
    }

    pub fn reveal(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// The sign-in throttle: a fixed window of 15 minutes, at most 5 failed attempts per e-mail and
/// 20 per client address in each.
pub mod throttle {
    use chrono::{DateTime, Duration, Utc};

    pub const WINDOW: Duration = Duration::minutes(15);
    pub const PER_EMAIL: u32 = 5;
    pub const PER_ADDRESS: u32 = 20;

    /// The window `now` falls in: its number and the instant it ends.
    pub fn window(now: DateTime<Utc>) -> (i64, DateTime<Utc>) {
        let secs = WINDOW.num_seconds();
        let n = now.timestamp().div_euclid(secs);
        let end = DateTime::<Utc>::from_timestamp((n + 1) * secs, 0).unwrap_or(now + WINDOW);
        (n, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("email", "  Marie@Example.COM ").unwrap().as_str(), "marie@example.com");
        for bad in ["", "marie", "@example.com", "marie@", "marie@example", "a b@example.com", "a@b@c.com", "marie@.com"] {
            assert!(Email::parse("email", bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Email::parse("email", &format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn secrets_are_256_bits_and_redacted() {
        let a = Secret::generate("hinv_");
        assert_eq!(a.reveal().len(), 5 + 64);
        assert_ne!(a.reveal(), Secret::generate("hinv_").reveal());
        assert_eq!(a.hash(), KeyHash::of(a.reveal()));
        assert!(!format!("{a:?}").contains(a.reveal()));
    }

    #[test]
    fn throttle_windows_are_fixed_quarter_hours() {
        let t = DateTime::parse_from_rfc3339("2027-01-04T09:07:30Z").unwrap().with_timezone(&Utc);
        let (n, end) = throttle::window(t);
        assert_eq!(end.to_rfc3339(), "2027-01-04T09:15:00+00:00");
        assert_eq!(throttle::window(end).0, n + 1);
    }
}
