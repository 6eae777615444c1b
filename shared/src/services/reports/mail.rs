//! Scheduled reports by e-mail: once a scheduled report's files are kept, each of the team's
//! recipients gets one message with the summary in its body (text and a simple HTML part), a
//! share link to the HTML ([`super::share`]) and the report's files of the formats
//! [`MailSettings::attach`] names.
//!
//! One message per recipient, not one with everyone in `To`: recipients are often from
//! different organisations (the team, its client), who need not see each other's addresses,
//! and a mailbox the server refuses fails its own message only, retried on its own.
//!
//! Once per report: what was sent to whom is a state item, `report-mail#<report>`, changed
//! with the state store's version check. A round first claims the recipients still to send to
//! (marked `sending` with its time), sends, then marks each `sent`, or back to `pending` if the
//! server refused (the next round, while the report is due, tries again). A claim older than
//! [`CLAIM_LEASE`] is taken over: that round died. So a second round, or a retried one, sends
//! nothing twice, and two rounds at once do not both send.
//!
//! If the process dies between a message going out and its `sent` mark, the claim expires and
//! the next round sends that message again: delivery is **at least once**. Neither SMTP nor SES
//! has an idempotency key or a way to ask whether a message went, so the only alternative would
//! be at most once (mark before sending), where that same crash loses the mail for good; a
//! second copy of a weekly report is the lesser harm, and the window is one store write wide.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

use crate::domain::{Report, ReportFormat, Team};
use crate::i18n::Tr;
use crate::mail::MailSettings;
use crate::services::ServiceError;
use crate::store::{StateStore, Store, StoreError};

use super::share::{self, Share};
use super::{ReportData, ReportFiles, schedule::Cadence};

/// A round's claim on a recipient lasts this long; after it, another round may send (the
/// first one died before marking what it sent).
pub const CLAIM_LEASE: Duration = Duration::minutes(15);
/// How long the mailed share link works.
pub const MAILED_LINK_DAYS: i64 = share::DEFAULT_SHARE_DAYS as i64;

/// What the round did about mail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailTally {
    /// Whether a mailer is configured (`HERALD_SMTP_URL` locally, `HERALD_MAIL_FROM` on AWS).
    pub on: bool,
    /// Messages sent this round.
    pub sent: usize,
    /// Messages the server refused (tried again by the next round while the report is due).
    pub failed: usize,
    /// Due reports with recipients that were not mailed because mail is off.
    pub skipped: usize,
}

/// Where one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Status {
    Pending,
    Sending { since: DateTime<Utc> },
    Sent { at: DateTime<Utc> },
}

/// A report's mailing: its link and each recipient's status. The recipients are the team's
/// when the report was first mailed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Mailing {
    share: Share,
    recipients: BTreeMap<String, Status>,
}

fn key(report: &Report) -> String {
    format!("report-mail#{}", report.id)
}

async fn read(store: &dyn StateStore, report: &Report) -> Result<Option<(Mailing, u64)>, ServiceError> {
    let Some(v) = store.get_state(&key(report)).await? else { return Ok(None) };
    let mailing = serde_json::from_str(&v.value).map_err(|e| StoreError::Corrupt(format!("{}: {e}", key(report))))?;
    Ok(Some((mailing, v.version)))
}

async fn write(store: &dyn StateStore, report: &Report, mailing: &Mailing, expected: Option<u64>) -> Result<u64, StoreError> {
    let value = serde_json::to_string(mailing).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.put_state(&key(report), &value, expected).await
}

/// The summary in the mail's body: the report's plain-words summary, in its language, one
/// sentence a line.
pub fn mail_summary(data: &ReportData) -> String {
    super::summary::sentences(&data.summary, Tr::of(data.language)).join("\n")
}

/// `weekly report, 23 Nov – 29 Nov 2026`, in the mail's language.
fn period_words(tr: &Tr, cadence: Cadence, report: &Report) -> String {
    let id = match cadence {
        Cadence::Weekly => "mail-weekly",
        Cadence::Monthly => "mail-monthly",
    };
    tr.t_with(id, &[("from", tr.day_month(report.period_start).into()), ("to", tr.date(report.period_end).into())])
}

/// The message to one recipient.
#[allow(clippy::too_many_arguments)]
fn message(
    tr: &Tr,
    settings: &MailSettings,
    to: Mailbox,
    team: &Team,
    cadence: Cadence,
    report: &Report,
    summary: &str,
    link: &str,
    link_until: DateTime<Utc>,
    attachments: &[(ReportFormat, Vec<u8>)],
) -> Result<Message, String> {
    let period = period_words(tr, cadence, report);
    let until = tr.date(link_until.with_timezone(&team.time_zone).date_naive());
    let files: Vec<&str> = attachments.iter().map(|(f, _)| f.file_name()).collect();
    let attached = (!files.is_empty()).then(|| tr.t_with("mail-attached", &[("files", files.join(", ").into())]));
    let intro = tr.t_with("mail-intro", &[("team", team.name.as_str().into()), ("period", period.as_str().into())]);
    let (read, until_words) = (tr.t("mail-read"), tr.t_with("mail-read-until", &[("until", until.into())]));
    let text = format!(
        "{intro}\n\n{summary}\n\n{read} {until_words}\n{link}{}\n",
        attached.as_ref().map_or_else(String::new, |a| format!("\n\n{a}"))
    );
    let html = maud::html! {
        p { (intro) }
        ul { @for line in summary.lines() { li { (line) } } }
        p { a href=(link) { (read) } " " (until_words) }
        @if let Some(a) = &attached { p { (a) } }
    };
    let mut body = MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, html.into_string()));
    for (format, bytes) in attachments {
        let kind = ContentType::parse(format.content_type()).map_err(|e| format!("content type of {}: {e}", format.file_name()))?;
        let part: SinglePart = Attachment::new(format.file_name().to_owned()).body(bytes.clone(), kind);
        body = body.singlepart(part);
    }
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(tr.t_with("mail-subject", &[("team", team.name.as_str().into()), ("period", period.as_str().into())]))
        .multipart(body)
        .map_err(|e| e.to_string())
}

/// Mails `report` to the team's recipients as this module says. `data` is the report's data
/// when the caller has it (the round that made it); otherwise its `report.json` is read.
/// Returns (sent, failed) for this call. Store failures are errors; a refused message is not.
#[allow(clippy::too_many_arguments)]
pub async fn deliver(
    store: &dyn Store,
    files: &dyn ReportFiles,
    settings: &MailSettings,
    team: &Team,
    cadence: Cadence,
    report: &Report,
    data: Option<&ReportData>,
    now: DateTime<Utc>,
) -> Result<(usize, usize), ServiceError> {
    // The plan: the link and the recipients, made once.
    let (mut mailing, mut version) = match read(store, report).await? {
        Some(found) => found,
        None => {
            if team.report_schedule.recipients.is_empty() {
                return Ok((0, 0));
            }
            let share = share::mint(store, &team.id, report.id, Duration::days(MAILED_LINK_DAYS), share::MAILED_BY, now).await?;
            let recipients = team.report_schedule.recipients.iter().map(|r| (r.clone(), Status::Pending)).collect();
            let mailing = Mailing { share, recipients };
            match write(store, report, &mailing, None).await {
                Ok(v) => (mailing, v),
                // Another round planned it first: follow its plan (this round's link stays unused).
                Err(StoreError::Conflict) => read(store, report).await?.ok_or(StoreError::Conflict)?,
                Err(e) => return Err(e.into()),
            }
        }
    };

    // The claim: every recipient not sent to, unless another round is on it.
    let due: Vec<String> = mailing
        .recipients
        .iter()
        .filter(|(_, s)| match s {
            Status::Pending => true,
            Status::Sending { since } => *since + CLAIM_LEASE <= now,
            Status::Sent { .. } => false,
        })
        .map(|(r, _)| r.clone())
        .collect();
    if due.is_empty() {
        return Ok((0, 0));
    }
    for r in &due {
        mailing.recipients.insert(r.clone(), Status::Sending { since: now });
    }
    version = match write(store, report, &mailing, Some(version)).await {
        Ok(v) => v,
        Err(StoreError::Conflict) => return Ok((0, 0)),
        Err(e) => return Err(e.into()),
    };

    // The content, the same for every recipient.
    let owned;
    let data = match data {
        Some(d) => Some(d),
        None => {
            owned = read_data(files, report).await;
            owned.as_ref()
        }
    };
    let tr = Tr::of(data.map_or(team.language, |d| d.language));
    let summary = data.map_or_else(|| tr.t("mail-no-figures"), mail_summary);
    let link = mailing.share.url(&settings.public_url, &settings.signer);
    let mut attachments = Vec::new();
    for format in &settings.attach {
        let Some(file) = report.files.get(format) else { continue };
        match files.get(file).await {
            Ok(Some(bytes)) => attachments.push((*format, bytes)),
            Ok(None) => tracing::warn!(report = %report.id, file = %file, "report file gone: mailed without it"),
            Err(e) => return Err(ServiceError::Store(StoreError::backend(e))),
        }
    }

    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    for r in due {
        let sent = match r.parse::<Mailbox>() {
            Err(e) => Err(format!("not an address: {e}")),
            Ok(to) => match message(tr, settings, to, team, cadence, report, &summary, &link, mailing.share.expires_at, &attachments) {
                Err(e) => Err(e),
                Ok(m) => settings.mailer.send(&m).await.map_err(|e| e.to_string()),
            },
        };
        if let Err(e) = &sent {
            tracing::error!(team = %team.id, report = %report.id, mailer = %settings.mailer.describe(), error = %e, "report mail not sent; the next round tries again");
        }
        results.push((r, sent));
    }

    // The marks; a conflict means the store changed under us: read again and mark ours.
    for _ in 0..3 {
        for (r, result) in &results {
            let ours = matches!(mailing.recipients.get(r), Some(Status::Sending { since }) if *since == now);
            let status = match result {
                Ok(()) => Status::Sent { at: now },
                Err(_) if ours => Status::Pending,
                Err(_) => continue,
            };
            mailing.recipients.insert(r.clone(), status);
        }
        match write(store, report, &mailing, Some(version)).await {
            Ok(_) => break,
            Err(StoreError::Conflict) => match read(store, report).await? {
                Some((m, v)) => (mailing, version) = (m, v),
                None => break,
            },
            Err(e) => return Err(e.into()),
        }
    }
    let sent = results.iter().filter(|(_, r)| r.is_ok()).count();
    Ok((sent, results.len() - sent))
}

/// The report's data from its `report.json`, when it is there and readable.
async fn read_data(files: &dyn ReportFiles, report: &Report) -> Option<ReportData> {
    let key = report.files.get(&ReportFormat::Json)?;
    let bytes = files.get(key).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::crypto::CredentialCipher;
    use crate::domain::TeamId;
    use crate::events::MemorySink;
    use crate::mail::MemoryMailer;
    use crate::services::reports::{MemoryReportFiles, scheduled_round, scheduled_round_with_mail};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{PageRequest, ReportStore, TeamStore};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("test instant")
    }

    /// Team `cafe` (Paris, made in November: weekly reports on Mondays at 08:00) with two recipients.
    async fn team(store: &SqliteStore) -> TeamId {
        let id = TeamId::parse("team", "cafe").expect("team id");
        let made = ManualClock::new(utc("2026-11-02T09:00:00Z"));
        crate::services::keys::ensure_team(store, &made, &id, chrono_tz::Europe::Paris).await.expect("team");
        let mut t = store.get_team(&id).await.expect("read").expect("team");
        t.report_schedule.recipients = vec!["boss@cafe.example".into(), "client@agency.example".into()];
        store.update_team(&t).await.expect("recipients");
        id
    }

    fn settings(mailer: Arc<MemoryMailer>) -> MailSettings {
        let signer = CredentialCipher::from_base64(&CredentialCipher::generate_key()).expect("key");
        let from = crate::mail::parse_from("Herald <reports@herald.example>").expect("from");
        MailSettings::new(mailer, from, "https://herald.example/", signer)
    }

    /// Monday 2027-01-11 at 08:00 in Paris, and `minutes` after.
    fn monday(minutes: i64) -> DateTime<Utc> {
        utc("2027-01-11T07:00:00Z") + Duration::minutes(minutes)
    }

    #[tokio::test]
    async fn each_recipient_gets_the_report_once_and_a_refused_message_goes_at_the_next_round() {
        let store = SqliteStore::in_memory().expect("store");
        let team = team(&store).await;
        let (files, events, mailer) = (MemoryReportFiles::default(), MemorySink::default(), Arc::new(MemoryMailer::default()));
        let mail = settings(mailer.clone());

        mailer.refuse(true);
        let first = scheduled_round_with_mail(&store, &files, &events, Some(&mail), monday(0)).await.expect("round");
        assert_eq!((first.generated, first.failed), (1, 0), "the report is made whatever the mail does");
        assert_eq!(first.mail, MailTally { on: true, sent: 0, failed: 2, skipped: 0 });
        assert_eq!(first.clone().complete().map(|s| s.generated), Ok(1), "refused mail does not fail the round");

        mailer.refuse(false);
        let second = scheduled_round_with_mail(&store, &files, &events, Some(&mail), monday(60)).await.expect("round");
        assert_eq!((second.generated, second.existing, second.mail.sent, second.mail.failed), (0, 1, 2, 0));
        for later in [61, 120, 600] {
            let again = scheduled_round_with_mail(&store, &files, &events, Some(&mail), monday(later)).await.expect("round");
            assert_eq!((again.mail.sent, again.mail.failed), (0, 0), "nothing twice ({later} min)");
        }

        let sent = mailer.sent();
        let mut to: Vec<String> = sent.iter().flat_map(|m| m.envelope().to().iter().map(ToString::to_string)).collect();
        to.sort();
        assert_eq!(to, ["boss@cafe.example", "client@agency.example"], "one message each");
        assert!(sent.iter().all(|m| m.envelope().to().len() == 1), "nobody sees the other's address");
        let subject = sent[0].headers().get_raw("Subject").expect("a subject");
        assert_eq!(subject, "cafe: weekly report, 4 Jan – 10 Jan 2027");
        let raw = String::from_utf8_lossy(&sent[0].formatted()).into_owned();
        assert!(raw.contains("filename=\"report.pdf\""), "the PDF attached");

        // The link the mail carries is recorded, made by the mail, and opens the report.
        let report = store.list_reports(&team, &PageRequest::first(10)).await.expect("list").items.remove(0);
        let (mailing, _) = read(&store, &report).await.expect("read").expect("a mailing");
        assert_eq!(mailing.share.created_by, share::MAILED_BY);
        assert_eq!(mailing.share.expires_at, monday(0) + Duration::days(MAILED_LINK_DAYS));
        let token = mailing.share.token(&mail.signer);
        let html = share::open(&store, &files, &mail.signer, &token, monday(60)).await.expect("the link opens");
        assert!(String::from_utf8_lossy(&html).contains("<html"));
    }

    /// A round that died after claiming (and maybe sending): its claim holds other rounds off
    /// for [`CLAIM_LEASE`], then the next round sends (at least once).
    #[tokio::test]
    async fn a_claim_left_by_a_dead_round_is_taken_over_after_the_lease() {
        let store = SqliteStore::in_memory().expect("store");
        let team = team(&store).await;
        let (files, events, mailer) = (MemoryReportFiles::default(), MemorySink::default(), Arc::new(MemoryMailer::default()));
        let mail = settings(mailer.clone());
        // The report made with mail off: nothing planned, nothing sent, the summary says so.
        let off = scheduled_round(&store, &files, &events, monday(0)).await.expect("round");
        assert_eq!((off.generated, off.mail.clone()), (1, MailTally { on: false, sent: 0, failed: 0, skipped: 1 }));
        let report = store.list_reports(&team, &PageRequest::first(10)).await.expect("list").items.remove(0);
        assert!(read(&store, &report).await.expect("read").is_none(), "no mailing while mail is off");

        // A round plans and claims both recipients at 08:05, then dies.
        let t = store.get_team(&team).await.expect("read").expect("team");
        let share = share::mint(&store, &team, report.id, Duration::days(30), share::MAILED_BY, monday(5)).await.expect("share");
        let claimed = Mailing {
            share,
            recipients: t.report_schedule.recipients.iter().map(|r| (r.clone(), Status::Sending { since: monday(5) })).collect(),
        };
        write(&store, &report, &claimed, None).await.expect("claim");

        let held = scheduled_round_with_mail(&store, &files, &events, Some(&mail), monday(19)).await.expect("round");
        assert_eq!(held.mail.sent, 0, "the claim still holds at 08:19");
        let taken = scheduled_round_with_mail(&store, &files, &events, Some(&mail), monday(20)).await.expect("round");
        assert_eq!(taken.mail.sent, 2, "taken over at 08:20 (15 min lease)");
        assert_eq!(mailer.sent().len(), 2);
        let (after, _) = read(&store, &report).await.expect("read").expect("mailing");
        assert!(after.recipients.values().all(|s| *s == Status::Sent { at: monday(20) }), "{:?}", after.recipients);
    }

    #[test]
    fn the_mails_summary_is_the_reports_in_its_language() {
        let mut data = sample();
        data.summary = super::super::summary::facts(&data);
        data.language = crate::domain::Language::Fr;
        let text = mail_summary(&data);
        let sentences = super::super::summary::sentences(&data.summary, Tr::of(crate::domain::Language::Fr));
        assert!(!sentences.is_empty());
        assert_eq!(text.lines().collect::<Vec<_>>(), sentences, "one sentence a line");
        assert!(text.contains("période"), "in French: {text}");
    }

    fn sample() -> ReportData {
        let period = super::super::Period::new(
            chrono::NaiveDate::from_ymd_opt(2027, 1, 4).expect("day"),
            chrono::NaiveDate::from_ymd_opt(2027, 1, 10).expect("day"),
            chrono_tz::Europe::Paris,
        )
        .expect("period");
        let mut data: ReportData = serde_json::from_value(serde_json::json!({
            "team_id": "cafe", "team_name": "cafe", "time_zone": "Europe/Paris",
            "period": period, "previous_period": period, "generated_at": "2027-01-11T07:00:00Z",
            "measured_until": "2027-01-11T07:00:00Z", "engagement_rate_definition": "",
            "overall": {"current": super::super::Kpis::default(), "previous": super::super::Kpis::default()},
            "channels": [], "posts": [], "top_posts": [], "bottom_posts": [], "daily": [],
            "best_time": super::super::BestTime::default(),
            "inbox": {"current": super::super::InboxStats::default(), "previous": super::super::InboxStats::default()},
            "incidents": [], "incidents_previous": 0, "failed_deliveries": [], "items_read": super::super::ItemsRead::default(),
        }))
        .expect("a report's data");
        data.overall.current.posts_published = 12_345;
        data.overall.previous.posts_published = 10;
        data.overall.current.engagement_rate = Some(0.034);
        (data.overall.current.followers_start, data.overall.current.followers_end, data.overall.current.follower_growth) =
            (Some(1000), Some(1050), Some(50));
        data.inbox.current.median_first_response_seconds = Some(3900);
        data
    }
}
