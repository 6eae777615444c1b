//! Outgoing e-mail: the [`Mailer`] port and its adapters. `herald serve` sends through an SMTP
//! server (`HERALD_SMTP_URL`, with lettre); the report generator on Lambda through Amazon SES
//! v2 (`SendEmail` with the raw MIME message lettre formats, so both paths send the very same
//! bytes). Tests keep what was sent in memory ([`MemoryMailer`]).
//!
//! Mail is optional: with no mailer configured, scheduled reports are still made and the round
//! says that mail is off ([`MailSettings`] is then `None` where the hosts hold it).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::crypto::CredentialCipher;
use crate::domain::ReportFormat;

/// A message the mail server or SES did not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MailError {
    pub message: String,
    /// The server refused this message for good (an SMTP 5xx, an SES `MessageRejected`):
    /// sending it again as it is will not help. Still retried by the next round, which is cheap
    /// and covers a recipient fixed in the meantime.
    pub permanent: bool,
}

impl MailError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false }
    }
}

/// Sends one message, already addressed (its `To` says to whom).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, message: &Message) -> Result<(), MailError>;
    /// What it sends through, for the logs: `SMTP 127.0.0.1:2525`, `SES`.
    fn describe(&self) -> String;
}

/// What a host needs to mail reports: the mailer, the sender, the address share links point at,
/// and the key share links are signed with.
#[derive(Clone)]
pub struct MailSettings {
    pub mailer: Arc<dyn Mailer>,
    /// `HERALD_MAIL_FROM`: `reports@example.com` or `Herald <reports@example.com>`.
    pub from: Mailbox,
    /// Herald's public address, without a trailing slash: share links are `<it>/share/<token>`.
    pub public_url: String,
    pub signer: CredentialCipher,
    /// The report's files attached to its mail, by format ([`DEFAULT_ATTACHMENTS`]).
    pub attach: Vec<ReportFormat>,
}

/// What a report's mail carries: its PDF (a report whose PDF could not be made is mailed
/// without an attachment; the share link still opens its page).
pub const DEFAULT_ATTACHMENTS: &[ReportFormat] = &[ReportFormat::Pdf];

impl MailSettings {
    /// Settings with the default attachments.
    pub fn new(mailer: Arc<dyn Mailer>, from: Mailbox, public_url: &str, signer: CredentialCipher) -> Self {
        Self { mailer, from, public_url: public_url.trim_end_matches('/').to_owned(), signer, attach: DEFAULT_ATTACHMENTS.to_vec() }
    }
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("mailer", &self.mailer.describe())
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .field("attach", &self.attach)
            .finish_non_exhaustive()
    }
}

/// A mail variable that is set but wrong (or set without its partner).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct MailConfigError {
    pub var: &'static str,
    pub problem: String,
}

/// `HERALD_MAIL_FROM` as a mailbox.
pub fn parse_from(value: &str) -> Result<Mailbox, MailConfigError> {
    value.trim().parse::<Mailbox>().map_err(|e| MailConfigError {
        var: "HERALD_MAIL_FROM",
        problem: format!("`{value}` is not an e-mail address or `Name <address>` ({e})"),
    })
}

/// `herald serve`'s mail, from `HERALD_SMTP_URL` and `HERALD_MAIL_FROM` (read through `get`):
/// `None` when neither is set; an error when only one is, or either is wrong.
pub fn smtp_from_env(
    get: impl Fn(&str) -> Option<String>,
    public_url: &str,
    signer: CredentialCipher,
) -> Result<Option<MailSettings>, MailConfigError> {
    let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    match (set("HERALD_SMTP_URL"), set("HERALD_MAIL_FROM")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(MailConfigError { var: "HERALD_MAIL_FROM", problem: "must be set with HERALD_SMTP_URL (the sender of report mail)".into() }),
        (None, Some(_)) => Err(MailConfigError { var: "HERALD_SMTP_URL", problem: "must be set with HERALD_MAIL_FROM (smtp://host:port or smtps://user:password@host)".into() }),
        (Some(url), Some(from)) => {
            Ok(Some(MailSettings::new(Arc::new(SmtpMailer::from_url(&url)?), parse_from(&from)?, public_url, signer)))
        }
    }
}

/// SMTP through lettre: `smtp://host:port` (plain, or STARTTLS with `?tls=required`),
/// `smtps://user:password@host:465` (TLS from the first byte), with rustls.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Host and port only: the URL may hold a password.
    shown: String,
}

impl SmtpMailer {
    pub fn from_url(url: &str) -> Result<Self, MailConfigError> {
        let bad = |problem: String| MailConfigError { var: "HERALD_SMTP_URL", problem };
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(bad(format!("must start with smtp:// or smtps://, not {}://", parsed.scheme())));
        }
        let shown = format!("SMTP {}:{}", parsed.host_str().unwrap_or("?"), parsed.port().map_or_else(|| "default".to_owned(), |p| p.to_string()));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim())
            .map_err(|e| bad(format!("not usable ({e})")))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Self { transport, shown })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        match self.transport.send(message.clone()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(MailError { permanent: e.is_permanent(), message: format!("{}: {e}", self.shown) }),
        }
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// Amazon SES v2: `SendEmail` with `Content.Raw` = the formatted MIME message (attachments
/// need the raw form), the envelope's recipients as `Destination.ToAddresses`.
#[cfg(feature = "aws")]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
}

#[cfg(feature = "aws")]
impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        Self { client }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
        let raw = RawMessage::builder()
            .data(aws_sdk_sesv2::primitives::Blob::new(message.formatted()))
            .build()
            .map_err(|e| MailError::transient(format!("SES raw message: {e}")))?;
        let to: Vec<String> = message.envelope().to().iter().map(ToString::to_string).collect();
        let from = message.envelope().from().map(ToString::to_string);
        let mut send = self
            .client
            .send_email()
            .content(EmailContent::builder().raw(raw).build())
            .destination(Destination::builder().set_to_addresses(Some(to)).build());
        if let Some(from) = from {
            send = send.from_email_address(from);
        }
        match send.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                // Rejected content or an unverified sender: the same message will fail again.
                let permanent = e.is_message_rejected() || e.is_mail_from_domain_not_verified_exception();
                Err(MailError { message: format!("SES SendEmail: {}", aws_sdk_sesv2::error::DisplayErrorContext(&e)), permanent })
            }
        }
    }

    fn describe(&self) -> String {
        "SES".to_owned()
    }
}

/// Keeps every message sent (and can be told to refuse them): the tests' mailer.
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Message>>,
    refusing: std::sync::atomic::AtomicBool,
}

impl MemoryMailer {
    /// The messages sent so far, in order.
    pub fn sent(&self) -> Vec<Message> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// From now on every send fails (`true`) or works again (`false`).
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        if self.refusing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(MailError::transient("451 4.3.0 the test mailer is refusing mail"));
        }
        self.sent.lock().map_err(|_| MailError::transient("memory mailer poisoned"))?.push(message.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    fn signer() -> CredentialCipher {
        CredentialCipher::from_base64(&CredentialCipher::generate_key()).expect("key")
    }

    #[tokio::test]
    async fn smtp_settings_need_both_variables_and_name_the_wrong_one() {
        assert!(smtp_from_env(env(&[]), "http://h", signer()).expect("no mail").is_none(), "mail off");
        let only_url = smtp_from_env(env(&[("HERALD_SMTP_URL", "smtp://127.0.0.1:2525")]), "http://h", signer());
        assert_eq!(only_url.expect_err("no sender").var, "HERALD_MAIL_FROM");
        let only_from = smtp_from_env(env(&[("HERALD_MAIL_FROM", "r@x.example")]), "http://h", signer());
        assert_eq!(only_from.expect_err("no server").var, "HERALD_SMTP_URL");
        let bad_url = smtp_from_env(env(&[("HERALD_SMTP_URL", "http://x"), ("HERALD_MAIL_FROM", "r@x.example")]), "http://h", signer());
        assert_eq!(bad_url.expect_err("not smtp").var, "HERALD_SMTP_URL");
        let bad_from = smtp_from_env(env(&[("HERALD_SMTP_URL", "smtp://127.0.0.1:2525"), ("HERALD_MAIL_FROM", "nobody")]), "http://h", signer());
        assert_eq!(bad_from.expect_err("not an address").var, "HERALD_MAIL_FROM");

        let vars = [("HERALD_SMTP_URL", "smtps://user:s3cret@mail.example:465"), ("HERALD_MAIL_FROM", "Herald <reports@cafe.example>")];
        let settings = smtp_from_env(env(&vars), "https://herald.example/", signer()).expect("valid").expect("mail on");
        assert_eq!(settings.public_url, "https://herald.example");
        assert_eq!(settings.from.email.to_string(), "reports@cafe.example");
        let shown = format!("{settings:?}");
        assert!(shown.contains("SMTP mail.example:465") && !shown.contains("s3cret"), "{shown}");
    }
}
