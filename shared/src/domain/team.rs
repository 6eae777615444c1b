//! Teams, API keys and roles.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ValidationError;

/// A team's identifier is a short slug its people choose ("cafe-du-coin"): it is what
/// `herald keys create --team` takes. Lowercase ASCII letters, digits and hyphens, 1–63 long,
/// not starting or ending with a hyphen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct TeamId(String);

impl TeamId {
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                field,
                "must be 1–63 lowercase letters, digits or hyphens, not starting or ending with a hyphen",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TeamId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("team_id", &s)
    }
}

impl From<TeamId> for String {
    fn from(t: TeamId) -> String {
        t.0
    }
}

impl fmt::Display for TeamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// The zone reports and defaults use when a channel has none of its own.
    pub time_zone: Tz,
    pub created_at: DateTime<Utc>,
    /// The SHA-256 of the team's calendar feed token (`GET /v1/calendar.ics?token=…`), when
    /// one was made; the token itself is shown once and never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_token_hash: Option<KeyHash>,
    /// Watch list: terms (brand and competitor names, hashtags) that tag interactions whose
    /// text contains them, compared case- and accent-insensitively.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch_terms: Vec<String>,
    /// When the team's weekly and monthly reports are made (teams stored before there was a
    /// choice read as the default).
    #[serde(default)]
    pub report_schedule: super::ReportSchedule,
    /// Bumped by every stored update: a write carrying an older version is refused, so a change
    /// made from a stale read (a watch list saved after the calendar token was rotated) cannot
    /// undo another. Teams stored before versions existed read as 0.
    #[serde(default)]
    pub version: u64,
    /// The language reports (and later the web app) speak to this team.
    #[serde(default)]
    pub language: Language,
    /// The team's logo, shown on its reports: where the file is kept and what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Logo>,
    /// How the team's reports look: its accent colour, and whether they mention Herald. Not
    /// stored while it is Herald's own look, so a team item stays what `infra/first-key`
    /// writes.
    #[serde(default, skip_serializing_if = "Brand::is_herald")]
    pub brand: Brand,
}

/// Herald's own accent colour, used when a team has chosen none.
pub const HERALD_ACCENT: &str = "#2563eb";

/// A team's look on its reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    /// Headings, rules and the main chart colour; Herald's blue when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<AccentColor>,
    /// Reports carry no mention of Herald (white label).
    #[serde(default)]
    pub white_label: bool,
}

impl Brand {
    /// Herald's own look: no colour of the team's, Herald named.
    pub fn is_herald(&self) -> bool {
        *self == Brand::default()
    }

    /// The accent colour to draw with.
    pub fn accent(&self) -> &str {
        self.accent_color.as_ref().map_or(HERALD_ACCENT, AccentColor::as_str)
    }
}

/// A colour as `#rrggbb` (lower case), dark enough to be read on white.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^#[0-9a-fA-F]{6}$", example = "#0f766e")]
pub struct AccentColor(String);

impl AccentColor {
    /// Headings and chart marks in this colour must stand out from the white page: WCAG's 3:1
    /// for graphics and large text.
    pub const MIN_CONTRAST: f64 = 3.0;

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let t = s.trim();
        let hex = t
            .strip_prefix('#')
            .filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| ValidationError::new(field, "must be a colour written #rrggbb, like #0f766e"))?;
        let colour = Self(format!("#{}", hex.to_ascii_lowercase()));
        let contrast = colour.contrast_with_white();
        if contrast < Self::MIN_CONTRAST {
            return Err(ValidationError::new(
                field,
                format!("is too light to read on white (contrast {contrast:.1}:1, at least {:.0}:1 is needed)", Self::MIN_CONTRAST),
            ));
        }
        Ok(colour)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// WCAG 2 contrast ratio against white.
    pub fn contrast_with_white(&self) -> f64 {
        let channel = |i: usize| {
            let v = f64::from(u8::from_str_radix(self.0.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0)) / 255.0;
            if v <= 0.03928 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
        };
        let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
        1.05 / (luminance + 0.05)
    }
}

impl TryFrom<String> for AccentColor {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("accent_color", &s)
    }
}

impl From<AccentColor> for String {
    fn from(c: AccentColor) -> Self {
        c.0
    }
}

/// A language Herald speaks: English and French for now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    En,
    Fr,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Fr];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }

    /// The language's name in itself, as a language menu shows it.
    pub fn own_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Fr => "Français",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| ValidationError::new(field, "must be one of en, fr"))
    }
}

/// A stored logo: its key in the file store and its media type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logo {
    pub key: String,
    pub content_type: String,
}

/// What a key may do. Ordered: each role may do everything the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of the team.
    Viewer,
    /// Writes drafts that an editor must approve.
    Contributor,
    /// Schedules posts and approves others' drafts.
    Editor,
    /// Manages channels, credentials and keys.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Contributor, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Contributor => "contributor",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ValidationError::new(field, "must be one of admin, editor, contributor, viewer"))
    }

    /// True when this role includes everything `other` may do.
    pub fn includes(self, other: Role) -> bool {
        self >= other
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SHA-256 of a full API key, hex-encoded. Keys are 192 random bits, so a fast hash is
/// enough: there is nothing to brute-force that a slow hash would protect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Rebuilds a hash read back from a store.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A freshly minted key, shown once to its owner and never stored.
pub struct ApiKeySecret(SecretString);

impl ApiKeySecret {
    /// Prefix of every Herald key, so secret scanners and people can recognise one.
    pub const PREFIX: &'static str = "hrld_";

    pub fn generate() -> Self {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(SecretString::from(format!("{}{}", Self::PREFIX, hex::encode(bytes))))
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(self.0.expose_secret())
    }

    /// The key itself, for the one moment it is shown to its owner.
    pub fn reveal(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret([REDACTED])")
    }
}

/// A team's calendar feed token, fresh: shown once to an admin (inside the feed URL), stored
/// only as its hash. Calendar apps cannot send headers, so the token travels in the URL and is
/// the feed's only credential; rotating it makes the old URL answer 404.
pub struct CalendarToken(SecretString);

impl CalendarToken {
    /// Prefix of every calendar token, so people and secret scanners can recognise one.
    pub const PREFIX: &'static str = "hcal_";

    pub fn generate() -> Self {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(SecretString::from(format!("{}{}", Self::PREFIX, hex::encode(bytes))))
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(self.0.expose_secret())
    }

    /// The token itself, for the one moment it is shown.
    pub fn reveal(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for CalendarToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CalendarToken([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: super::ApiKeyId,
    pub team_id: TeamId,
    pub role: Role,
    /// A label for people ("ci", "Marie's laptop").
    pub name: String,
    pub hash: KeyHash,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod brand_tests {
    use super::*;

    #[test]
    fn an_accent_colour_is_hex_and_dark_enough_for_a_white_page() {
        assert_eq!(AccentColor::parse("accent_color", " #0F766E ").map(|c| c.as_str().to_owned()), Ok("#0f766e".to_owned()));
        assert!(AccentColor::parse("accent_color", "#2563eb").is_ok(), "Herald's blue (5.2:1)");
        let e = AccentColor::parse("accent_color", "#ffff00").unwrap_err();
        assert!(e.rule.contains("too light") && e.rule.contains("1.1:1"), "{}", e.rule);
        assert!(AccentColor::parse("accent_color", "teal").unwrap_err().rule.contains("#rrggbb"));
        assert!(AccentColor::parse("accent_color", "#12345").is_err());
        assert!((AccentColor::parse("c", "#000000").expect("black").contrast_with_white() - 21.0).abs() < 0.01);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_ids_are_slugs() {
        assert!(TeamId::parse("team", "cafe-du-coin").is_ok());
        assert!(TeamId::parse("team", "a").is_ok());
        for bad in ["", "-a", "a-", "Café", "a b", &"x".repeat(64)] {
            assert!(TeamId::parse("team", bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Admin.includes(Role::Editor));
        assert!(Role::Editor.includes(Role::Contributor));
        assert!(!Role::Contributor.includes(Role::Editor));
        assert!(!Role::Viewer.includes(Role::Contributor));
        assert_eq!(Role::parse("role", "editor"), Ok(Role::Editor));
        assert!(Role::parse("role", "owner").is_err());
    }

    #[test]
    fn keys_are_random_prefixed_and_hash_stably() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert!(a.reveal().starts_with("hrld_"));
        assert_eq!(a.reveal().len(), 5 + 48);
        assert_ne!(a.reveal(), b.reveal());
        assert_eq!(a.hash(), KeyHash::of(a.reveal()));
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(a.reveal()));
    }

    #[test]
    fn calendar_tokens_are_random_url_safe_and_redacted() {
        let a = CalendarToken::generate();
        assert!(a.reveal().starts_with("hcal_"));
        assert!(a.reveal().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_ne!(a.reveal(), CalendarToken::generate().reveal());
        assert_eq!(a.hash(), KeyHash::of(a.reveal()));
        assert!(!format!("{a:?}").contains(a.reveal()));
    }

    #[test]
    fn teams_stored_before_calendar_tokens_still_read() {
        let old = r#"{"id":"cafe","name":"Café","time_zone":"Europe/Paris","created_at":"2027-01-04T09:00:00Z"}"#;
        let team: Team = serde_json::from_str(old).unwrap();
        assert_eq!(team.calendar_token_hash, None);
        assert!(!serde_json::to_string(&team).unwrap().contains("calendar_token_hash"));
    }
}
