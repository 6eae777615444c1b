//! What each network's channel credentials hold, checked when a channel is connected or its
//! credentials replaced, so that a post never fails later for a field that was missing all
//! along. This is the shape check; the network's own word on the values comes from
//! [`super::PlatformAdapter::check_credentials`] (one cheap authenticated call).
//!
//! The README's "Channel credentials" table says the same as [`fields`]; a test keeps the two
//! in step.

use crate::crypto::Credentials;
use crate::domain::{Platform, ValidationError};

/// One field of a network's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub required: bool,
    /// What it is and where to find it.
    pub about: &'static str,
}

const fn required(name: &'static str, about: &'static str) -> Field {
    Field { name, required: true, about }
}

const fn optional(name: &'static str, about: &'static str) -> Field {
    Field { name, required: false, about }
}

/// The platform's own id of the connected account, so its own posts and replies are not
/// taken for interactions (`crate::intake::OWN_ACCOUNT_ID`).
const ACCOUNT_ID: Field = optional("account_id", "the account's own id on the network, so its own posts are not read as interactions");

/// The webhook fields intake reads for Meta's networks (`crate::intake::webhooks::meta`):
/// optional, since a channel may publish without receiving webhooks (intake answers that the
/// channel is not configured for them until they are set).
const META_APP_SECRET: Field =
    optional("app_secret", "the Meta app's secret (App settings → Basic): signs webhooks");
const META_VERIFY_TOKEN: Field =
    optional("verify_token", "any string you choose and paste into the app's webhook settings");

const FACEBOOK: &[Field] = &[
    required("page_id", "the Page's numeric id (Page → About → Page transparency, or `GET /me/accounts`)"),
    required("page_access_token", "a Page access token with `pages_manage_posts` and `pages_read_engagement`"),
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    ACCOUNT_ID,
];

const INSTAGRAM: &[Field] = &[
    required("ig_user_id", "the Instagram professional account's id (`GET /{page-id}?fields=instagram_business_account`)"),
    required("access_token", "a token with `instagram_basic` and `instagram_content_publish`"),
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    ACCOUNT_ID,
];

const THREADS: &[Field] = &[
    required("threads_user_id", "the Threads profile's id (`GET /me` on graph.threads.net)"),
    required("access_token", "a token with `threads_basic` and `threads_content_publish`"),
    optional("token_expires_at", "when `access_token` expires (RFC 3339); Herald renews it a week before (set by Connect)"),
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    ACCOUNT_ID,
];

const SANDBOX: &[Field] = &[
    optional("fail_with", "`transient`, `permanent` or `auth`: every publish fails that way (to rehearse)"),
    optional("ack_delay_ms", "0–60000: the post is made at once but the answer comes that much later"),
    optional("metrics_fail_with", "`rate_limited`, `auth` or `failed`: metric reads fail that way"),
];

const MASTODON: &[Field] = &[
    required("instance_url", "the server's address, `https://mastodon.social`"),
    required("access_token", "a token of an application made under Preferences → Development (scopes `read write`)"),
    optional("webhook_secret", "the secret of an admin webhook (Administration → Webhooks), if the server sends them"),
    ACCOUNT_ID,
];

const BLUESKY: &[Field] = &[
    required("identifier", "the handle, `cafe.bsky.social`, or the account's DID"),
    required("app_password", "an app password (Settings → Privacy and security → App passwords), never the account password"),
    optional("service", "the PDS address; default `https://bsky.social`"),
];

const X: &[Field] = &[required("consumer_secret", "the app's API secret (Keys and tokens): signs webhooks and the CRC check"), ACCOUNT_ID];
const LINKEDIN: &[Field] = &[required("client_secret", "the app's primary client secret (Auth tab): signs webhooks"), ACCOUNT_ID];
const TIKTOK: &[Field] = &[required("client_secret", "the app's client secret: signs webhooks"), ACCOUNT_ID];
const GENERIC: &[Field] = &[
    required("webhook_secret", "a Standard Webhooks secret, `whsec_` then base64; the sending tool signs with it"),
    ACCOUNT_ID,
];

/// Every field a channel of `platform` may hold; anything else is refused as a likely typo.
pub fn fields(platform: Platform) -> &'static [Field] {
    match platform {
        Platform::Sandbox => SANDBOX,
        Platform::Mastodon => MASTODON,
        Platform::Bluesky => BLUESKY,
        Platform::Facebook => FACEBOOK,
        Platform::Instagram => INSTAGRAM,
        Platform::Threads => THREADS,
        Platform::X => X,
        Platform::Linkedin => LINKEDIN,
        Platform::Tiktok => TIKTOK,
        Platform::Generic => GENERIC,
    }
}

/// Whether a channel of `platform` needs credentials at all.
pub fn needs_credentials(platform: Platform) -> bool {
    fields(platform).iter().any(|f| f.required)
}

/// The shape of `credentials` for `platform`: every required field there and not blank, no
/// unknown field, and the values whose form Herald knows (addresses, secrets, numbers) well
/// formed. Field names in errors are `credentials.<name>`.
pub fn check_shape(platform: Platform, credentials: &Credentials) -> Result<(), ValidationError> {
    let known = fields(platform);
    if let Some(unknown) = credentials.field_names().find(|n| known.iter().all(|f| f.name != *n)) {
        let names: Vec<&str> = known.iter().map(|f| f.name).collect();
        return Err(ValidationError::new(
            format!("credentials.{unknown}"),
            format!("is not a {platform} credential; a {platform} channel takes {}", names.join(", ")),
        ));
    }
    for f in known.iter().filter(|f| f.required) {
        if credentials.get(f.name).is_none_or(|v| v.trim().is_empty()) {
            return Err(ValidationError::new(format!("credentials.{}", f.name), format!("is required for {platform}: {}", f.about)));
        }
    }
    let value = |name: &str| credentials.get(name).map(str::trim);
    match platform {
        Platform::Sandbox => {
            one_of(value("fail_with"), "fail_with", &["transient", "permanent", "auth"])?;
            one_of(value("metrics_fail_with"), "metrics_fail_with", &["rate_limited", "auth", "failed"])?;
            if let Some(ms) = value("ack_delay_ms")
                && ms.parse::<u32>().ok().filter(|ms| *ms <= 60_000).is_none()
            {
                return Err(ValidationError::new("credentials.ack_delay_ms", "must be a whole number of milliseconds, 0 to 60000"));
            }
        }
        Platform::Threads
            if value(super::tokens::TOKEN_EXPIRES_AT).is_some_and(|v| chrono::DateTime::parse_from_rfc3339(v).is_err()) =>
        {
            return Err(ValidationError::new("credentials.token_expires_at", "must be an RFC 3339 time: 2027-02-01T09:00:00Z"));
        }
        Platform::Mastodon => address(value("instance_url"), "instance_url", None, platform)?,
        Platform::Bluesky => address(value("service"), "service", Some(super::bluesky::DEFAULT_SERVICE), platform)?,
        Platform::Generic => {
            if let Some(secret) = value("webhook_secret") {
                crate::webhooks::StandardWebhooks::new(secret).map_err(|e| {
                    ValidationError::new("credentials.webhook_secret", format!("{e}: expected `whsec_` then base64"))
                })?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn one_of(value: Option<&str>, name: &str, allowed: &[&str]) -> Result<(), ValidationError> {
    match value {
        Some(v) if !allowed.contains(&v) => {
            Err(ValidationError::new(format!("credentials.{name}"), format!("must be one of {}", allowed.join(", "))))
        }
        _ => Ok(()),
    }
}

/// The same check the adapters make before each call, said as a field error.
fn address(value: Option<&str>, name: &str, default: Option<&str>, platform: Platform) -> Result<(), ValidationError> {
    super::mastodon::service_base(value, name, default, platform.as_str())
        .map(drop)
        .map_err(|e| ValidationError::new(format!("credentials.{name}"), e.to_string().trim_end_matches("; reconnect it").to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds(v: serde_json::Value) -> Credentials {
        Credentials::from_json("credentials", &v).unwrap()
    }

    fn field_of(p: Platform, v: serde_json::Value) -> Option<String> {
        check_shape(p, &creds(v)).err().map(|e| e.field)
    }

    #[test]
    fn missing_blank_unknown_and_malformed_fields_are_named() {
        let bsky = Platform::Bluesky;
        assert_eq!(field_of(bsky, json!({"identifier": "cafe.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"})), None);
        assert_eq!(field_of(bsky, json!({"identifier": "cafe.bsky.social"})).as_deref(), Some("credentials.app_password"));
        assert_eq!(field_of(bsky, json!({"identifier": " ", "app_password": "x"})).as_deref(), Some("credentials.identifier"));
        assert_eq!(
            field_of(bsky, json!({"identifier": "a", "app_pasword": "x", "app_password": "x"})).as_deref(),
            Some("credentials.app_pasword")
        );
        assert_eq!(
            field_of(bsky, json!({"identifier": "a", "app_password": "x", "service": "ftp://pds"})).as_deref(),
            Some("credentials.service")
        );
        let m = Platform::Mastodon;
        assert_eq!(field_of(m, json!({"instance_url": "mastodon.social", "access_token": "t"})).as_deref(), Some("credentials.instance_url"));
        assert_eq!(field_of(m, json!({"instance_url": "https://mastodon.social", "access_token": "t"})), None);
        assert_eq!(field_of(Platform::Generic, json!({"webhook_secret": "hunter2"})).as_deref(), Some("credentials.webhook_secret"));
        assert_eq!(field_of(Platform::Sandbox, json!({})), None);
        assert_eq!(field_of(Platform::Sandbox, json!({"fail_with": "sometimes"})).as_deref(), Some("credentials.fail_with"));
        assert_eq!(field_of(Platform::Sandbox, json!({"ack_delay_ms": "-1"})).as_deref(), Some("credentials.ack_delay_ms"));
        assert_eq!(field_of(Platform::Instagram, json!({"app_secret": "s"})).as_deref(), Some("credentials.ig_user_id"));
        assert_eq!(field_of(Platform::Instagram, json!({"ig_user_id": "1784", "access_token": "t"})), None);
        assert_eq!(field_of(Platform::Facebook, json!({"page_id": "1", "access_token": "t"})).as_deref(), Some("credentials.access_token"));
        assert_eq!(field_of(Platform::Facebook, json!({"page_id": "1", "page_access_token": " "})).as_deref(), Some("credentials.page_access_token"));
        assert_eq!(field_of(Platform::Threads, json!({"threads_user_id": "7", "access_token": "t", "app_secret": "s", "verify_token": "v"})), None);
        let expiring = |at: &str| json!({"threads_user_id": "7", "access_token": "t", "token_expires_at": at});
        assert_eq!(field_of(Platform::Threads, expiring("2027-02-01T09:00:00Z")), None);
        assert_eq!(field_of(Platform::Threads, expiring("in 60 days")).as_deref(), Some("credentials.token_expires_at"));
    }

    #[test]
    fn only_the_sandbox_goes_without_credentials() {
        for p in Platform::ALL {
            assert_eq!(needs_credentials(p), p != Platform::Sandbox, "{p}");
        }
    }

    /// The names intake reads are the names this table accepts.
    #[test]
    fn the_table_names_what_intake_reads() {
        use crate::intake::webhooks::{generic, mastodon};
        assert!(fields(Platform::Generic).iter().any(|f| f.name == generic::WEBHOOK_SECRET));
        assert!(fields(Platform::Mastodon).iter().any(|f| f.name == mastodon::WEBHOOK_SECRET));
        assert!(fields(Platform::X).iter().any(|f| f.name == "account_id" && f.name == crate::intake::OWN_ACCOUNT_ID));
        use crate::intake::webhooks::meta;
        for p in [Platform::Facebook, Platform::Instagram, Platform::Threads] {
            for name in [meta::APP_SECRET, meta::VERIFY_TOKEN, crate::intake::OWN_ACCOUNT_ID] {
                assert!(fields(p).iter().any(|f| f.name == name && !f.required), "{p}: {name}");
            }
        }
    }

    /// The README's table, as [`fields`] and [`Platform::can_publish`] say it.
    fn readme_table() -> String {
        let list = |required: bool, p: Platform| {
            let described: Vec<String> =
                fields(p).iter().filter(|f| f.required == required).map(|f| format!("`{}`: {}", f.name, f.about)).collect();
            if described.is_empty() { "—".to_owned() } else { described.join("; ") }
        };
        let mut table = String::from("| network | publishes | required credentials | optional |\n|---|---|---|---|\n");
        for p in Platform::ALL {
            let publishes = match p {
                _ if p.can_publish() => "yes",
                Platform::Generic => "no: interactions in, replies out as events",
                _ => "not yet: intake only",
            };
            table.push_str(&format!("| `{p}` | {publishes} | {} | {} |\n", list(true, p), list(false, p)));
        }
        table
    }

    #[test]
    fn the_readme_lists_every_networks_credentials_as_the_code_checks_them() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
        let table = readme_table();
        assert!(readme.contains(&table), "README.md's \"Networks and their credentials\" table should read:\n\n{table}");
    }
}
