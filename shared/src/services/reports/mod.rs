//! Reports: what a team's social media did over a period, per channel and overall, compared
//! with the period before, as JSON (everything), CSV (the per-post table), a self-contained
//! HTML page with inline SVG charts and the same on A4 as a PDF. Every figure is defined in docs/reports.md (and in the
//! report itself); `tests/system/reports.rs` checks each one against a dataset worked out by hand.
//!
//! This module holds the use cases (generate, get a report or one of its files, list, suggest
//! slots, read and change the report schedule, the scheduled round) and the renderings. The rest is split by kind: `data.rs` the
//! report's types and constants, `read.rs` the store reads ([`build`]), `kpi.rs` the arithmetic
//! (pure functions), `files.rs` where the files are kept ([`ReportFiles`]), `csv.rs`, `html.rs`
//! (with `charts.rs`) and `pdf.rs` (with `report.typ`) the renderings, [`schedule`] when scheduled reports are due. Everything a
//! caller uses is re-exported here.

mod charts;
mod csv;
mod data;
mod escape;
pub(crate) use data::midnight;
mod files;
mod html;
mod kpi;
pub mod mail;
mod pdf;
mod read;
pub mod schedule;
pub mod share;
pub mod summary;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::{ChannelId, Language, Report, ReportFormat, ReportId};
use crate::store::{PageRequest, Store};

use super::{Actor, ServiceError};

pub use self::csv::render_csv;
pub use self::data::{
    BEST_TIME_MIN_POSTS, BEST_TIME_RECOMMENDATIONS, BestTime, Cell, ChannelReport, Compared, DayRow,
    FailedRow, InboxStats, IncidentRow, ItemsRead, Kpis, MAX_PERIOD_DAYS, MEASURE_WINDOW_DAYS,
    Period, PostRow, ReportBrand, ReportData, TOP_POSTS,
};
#[cfg(feature = "aws")]
pub use self::files::S3ReportFiles;
pub use self::files::{DirReportFiles, FilesError, MemoryReportFiles, ReportFiles};
pub use self::html::render_html;
pub use self::pdf::{PdfError, PdfWords, english_words, render_pdf};
pub use self::read::build;

// ---------------------------------------------------------------------------------------------
// Renderings

/// `report.json`: everything, pretty-printed.
pub fn render_json(data: &ReportData) -> Vec<u8> {
    serde_json::to_vec_pretty(data).unwrap_or_default()
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 4] = [ReportFormat::Html, ReportFormat::Csv, ReportFormat::Json, ReportFormat::Pdf];

    pub fn file_name(self) -> &'static str {
        match self {
            ReportFormat::Html => "report.html",
            ReportFormat::Csv => "report.csv",
            ReportFormat::Json => "report.json",
            ReportFormat::Pdf => "report.pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Html => "text/html; charset=utf-8",
            ReportFormat::Csv => "text/csv; charset=utf-8",
            ReportFormat::Json => "application/json",
            ReportFormat::Pdf => "application/pdf",
        }
    }

    /// Its key in a report's `files`: `html`, `csv`, `json`, `pdf`.
    pub fn key(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
            ReportFormat::Pdf => "pdf",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

/// The renderings of a report, by format. A PDF that typst cannot make is logged and left
/// out: the report is still kept and recorded with its HTML, CSV and JSON (its `files` then
/// have no `pdf`, and `report.pdf` is a 404), rather than lost for want of one of four files.
pub fn render_all(data: &ReportData) -> Vec<(ReportFormat, Vec<u8>)> {
    let mut files = vec![
        (ReportFormat::Html, render_html(data).into_bytes()),
        (ReportFormat::Csv, render_csv(data)),
        (ReportFormat::Json, render_json(data)),
    ];
    match render_pdf(data, &pdf::words(crate::i18n::Tr::of(data.language))) {
        Ok(pdf) => files.push((ReportFormat::Pdf, pdf)),
        Err(e) => tracing::error!(team = %data.team_id, from = %data.period.from, to = %data.period.to, error = %e, "report.pdf left out"),
    }
    files
}

// ---------------------------------------------------------------------------------------------
// Use cases

/// Builds the report, keeps its files and records it: the on-demand path (API) and the
/// scheduled one share this.
pub async fn generate(
    store: &dyn Store,
    files: &dyn ReportFiles,
    actor: &Actor,
    asked: Asked,
    now: DateTime<Utc>,
) -> Result<(Report, ReportData), ServiceError> {
    generate_as(store, files, actor, asked, now, ReportId::new()).await
}

/// A report asked for now (`POST /v1/reports`, the Reports page's form): contributors and
/// above; `Report Ready` then says where the API serves its files ([`file_link`]).
pub async fn generate_on_demand(
    store: &dyn Store,
    files: &dyn ReportFiles,
    events: &dyn crate::events::EventSink,
    actor: &Actor,
    asked: Asked,
    now: DateTime<Utc>,
) -> Result<(Report, ReportData), ServiceError> {
    actor.require(crate::domain::Role::Contributor, "viewers can read reports but not generate them")?;
    let (report, data) = generate(store, files, actor, asked, now).await?;
    let Asked { from, to, .. } = asked;
    let links: BTreeMap<&str, String> = ReportFormat::ALL
        .into_iter()
        .filter(|f| report.files.contains_key(f))
        .map(|f| (f.key(), file_link(report.id, f)))
        .collect();
    let detail = serde_json::json!({"report_id": report.id, "from": from, "to": to, "files": links});
    let ready = crate::events::Event::new(crate::events::EventKind::ReportReady, &report.team_id, now, detail);
    if let Err(e) = events.emit(&ready).await {
        tracing::error!(error = %e, "Report Ready not delivered");
    }
    Ok((report, data))
}

/// Where the API serves a report's file: `/v1/reports/{id}/report.html`.
pub fn file_link(id: ReportId, format: ReportFormat) -> String {
    format!("/v1/reports/{id}/{}", format.file_name())
}

/// [`generate`] under a chosen id (the scheduled round derives it from the team and period,
/// so a second run of the same hour finds the report it made), in the team's language unless
/// another is asked for.
async fn generate_as(
    store: &dyn Store,
    files: &dyn ReportFiles,
    actor: &Actor,
    asked: Asked,
    now: DateTime<Utc>,
    id: ReportId,
) -> Result<(Report, ReportData), ServiceError> {
    let team = actor.team(store).await?;
    let data = build_branded(store, files, &team, asked, now).await?;
    let Asked { from, to, .. } = asked;
    let mut stored = BTreeMap::new();
    for (format, bytes) in render_all(&data) {
        let key = format!("reports/{}/{id}/{}", team.id, format.file_name());
        files.put(&key, bytes).await.map_err(|e| ServiceError::Store(crate::store::StoreError::backend(e)))?;
        stored.insert(format, key);
    }
    let report = Report { id, team_id: team.id.clone(), period_start: from, period_end: to, created_at: now, files: stored };
    store.put_report(&report).await?;
    Ok((report, data))
}

/// What a report is asked for: its days (inclusive, in the team's zone) and, when not the
/// team's, its language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub language: Option<Language>,
}

impl Asked {
    /// `[from, to]` in the team's language.
    pub fn days(from: NaiveDate, to: NaiveDate) -> Self {
        Self { from, to, language: None }
    }
}

/// [`build`] in the language asked for (the team's by default), with the team's logo read for
/// the page.
pub async fn build_branded(
    store: &dyn Store,
    files: &dyn ReportFiles,
    team: &crate::domain::Team,
    asked: Asked,
    now: DateTime<Utc>,
) -> Result<ReportData, ServiceError> {
    let mut team = team.clone();
    if let Some(language) = asked.language {
        team.language = language;
    }
    let mut data = build(store, &team, asked.from, asked.to, now).await?;
    data.brand.logo_data_url = logo_data_url(files, &team).await;
    Ok(data)
}

/// The team's logo as a `data:` URL for the page. A logo that cannot be read leaves the report
/// without it (and says so in the log) rather than failing the report.
async fn logo_data_url(files: &dyn ReportFiles, team: &crate::domain::Team) -> Option<String> {
    use base64::Engine as _;
    let logo = team.logo.as_ref()?;
    match files.get(&logo.key).await {
        Ok(Some(bytes)) => Some(format!("data:{};base64,{}", logo.content_type, base64::engine::general_purpose::STANDARD.encode(bytes))),
        Ok(None) => {
            tracing::warn!(key = %logo.key, "the team's logo file is missing; the report is made without it");
            None
        }
        Err(e) => {
            tracing::warn!(key = %logo.key, error = %e, "the team's logo could not be read; the report is made without it");
            None
        }
    }
}

/// One rendering of a stored report: its bytes, or `NotFound`.
pub async fn file(
    store: &dyn Store,
    files: &dyn ReportFiles,
    actor: &Actor,
    id: ReportId,
    format: ReportFormat,
) -> Result<Vec<u8>, ServiceError> {
    let report = store.get_report(&actor.team_id, id).await?.ok_or_else(|| ServiceError::not_found("no such report"))?;
    let key = report.files.get(&format).ok_or_else(|| ServiceError::not_found("this report has no such file"))?;
    files
        .get(key)
        .await
        .map_err(|e| ServiceError::Store(crate::store::StoreError::backend(e)))?
        .ok_or_else(|| ServiceError::not_found("the report's file is gone"))
}

/// A team's reports, newest first.
pub async fn list(store: &dyn Store, actor: &Actor, page: &PageRequest) -> Result<crate::store::Page<Report>, ServiceError> {
    Ok(store.list_reports(&actor.team_id, page).await?)
}

/// One of the team's reports.
pub async fn get(store: &dyn Store, actor: &Actor, id: ReportId) -> Result<Report, ServiceError> {
    store.get_report(&actor.team_id, id).await?.ok_or_else(|| ServiceError::not_found("no such report"))
}

/// How far back slot suggestions look.
pub const SUGGEST_WEEKS: i64 = 8;

/// Best posting times for one channel from its last [`SUGGEST_WEEKS`] weeks, to become queue
/// slots when the team wants (`POST /v1/channels/{id}/slots/suggest`). Same rule as reports.
pub async fn suggest_slots(
    store: &dyn Store,
    actor: &Actor,
    channel: ChannelId,
    now: DateTime<Utc>,
) -> Result<BestTime, ServiceError> {
    let team = actor.team(store).await?;
    let c = store
        .get_channel(&actor.team_id, channel)
        .await?
        .ok_or_else(|| ServiceError::NotFound { message: "no such channel in your team".into(), field: Some("id".into()) })?;
    let to = now.with_timezone(&team.time_zone).date_naive();
    let half = Duration::days(SUGGEST_WEEKS * 7 / 2);
    // A report's best time covers its period and the previous one: two halves of the window.
    let data = build(store, &team, to - half + Duration::days(1), to, now).await?;
    let best = data.channels.into_iter().find(|r| r.channel_id == c.id).map(|r| r.best_time);
    Ok(best.unwrap_or_else(|| BestTime { time_zone: c.time_zone.name().to_owned(), ..BestTime::default() }))
}


/// The team's report schedule and its time zone.
pub async fn report_schedule(store: &dyn Store, actor: &Actor) -> Result<(crate::domain::ReportSchedule, Tz), ServiceError> {
    let team = actor.team(store).await?;
    Ok((team.report_schedule, team.time_zone))
}

/// A change to a team's report schedule: `None` leaves that report as it is, `Some(None)`
/// switches it off.
#[derive(Debug, Default)]
pub struct ScheduleChange {
    pub weekly: Option<Option<crate::domain::WeeklyReport>>,
    pub monthly: Option<Option<crate::domain::MonthlyReport>>,
    /// Checked addresses ([`crate::domain::parse_recipients`]).
    pub recipients: Option<Vec<String>>,
}

/// Changes the team's report schedule (editors and above); the schedule as it now is.
pub async fn change_report_schedule(
    store: &dyn Store,
    actor: &Actor,
    change: ScheduleChange,
) -> Result<(crate::domain::ReportSchedule, Tz), ServiceError> {
    actor.require(crate::domain::Role::Editor, "the report schedule needs the editor role or above")?;
    let mut team = actor.team(store).await?;
    if let Some(weekly) = change.weekly {
        team.report_schedule.weekly = weekly;
    }
    if let Some(monthly) = change.monthly {
        team.report_schedule.monthly = monthly;
    }
    if let Some(recipients) = change.recipients {
        team.report_schedule.recipients = recipients;
    }
    store.update_team(&team).await?;
    Ok((team.report_schedule, team.time_zone))
}

/// What one round of the report generator did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScheduledSummary {
    pub teams: usize,
    /// Reports made this round.
    pub generated: usize,
    /// Due reports that existed already (a repeated run within the day they are due).
    pub existing: usize,
    /// Reports that failed (logged; the next round tries again while they are due).
    pub failed: usize,
    /// Why each of the `failed` ones failed (not part of the round's JSON summary).
    #[serde(skip)]
    pub failures: Vec<RunFailure>,
    /// The reports' e-mail: whether it is on, what was sent and refused. A refused message
    /// does not make the round incomplete (the report exists; the next round mails it).
    pub mail: mail::MailTally,
}

/// A due report the round could not make. Nothing of it was recorded (a report is recorded
/// only once its files are kept), so it is still due at the next round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailure {
    pub team: crate::domain::TeamId,
    pub cadence: schedule::Cadence,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub reason: String,
    /// A dependency failed (the file store, the table): the same run may well succeed later.
    pub retryable: bool,
}

/// A round that left due reports unmade: [`ScheduledSummary::complete`]'s error. The report
/// generator function returns it as a failed invocation, so that Lambda's Errors metric (and
/// its alarm), its retries and its dead-letter queue see it, not only a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} of the {} due reports could not be made ({} made, {} existing): {}. Nothing was recorded for them: \
     the next round makes them while they are due (until 24 h after their hour)",
    .0.failed, .0.failed + .0.generated + .0.existing, .0.generated, .0.existing, describe(&.0.failures)
)]
pub struct IncompleteRound(pub ScheduledSummary);

impl IncompleteRound {
    /// True when every failure was a dependency's (worth running again as it is).
    pub fn retryable(&self) -> bool {
        self.0.failures.iter().all(|f| f.retryable)
    }
}

fn describe(failures: &[RunFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("team {} {} {}..{}: {}", f.team, f.cadence.as_str(), f.from, f.to, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ScheduledSummary {
    /// The summary if every due report exists now, else [`IncompleteRound`].
    pub fn complete(self) -> Result<ScheduledSummary, IncompleteRound> {
        match self.failed {
            0 => Ok(self),
            _ => Err(IncompleteRound(self)),
        }
    }
}

/// The report generator's round, run hourly (and by `herald serve` on its timer): every team's
/// due reports (see [`schedule`]: weekly and monthly, on the day and from the hour the team
/// chose, in its own zone) are made once; `Report Ready` says where each is. No mail: see
/// [`scheduled_round_with_mail`].
pub async fn scheduled_round(
    store: &dyn Store,
    files: &dyn ReportFiles,
    events: &dyn crate::events::EventSink,
    now: DateTime<Utc>,
) -> Result<ScheduledSummary, ServiceError> {
    scheduled_round_with_mail(store, files, events, None, now).await
}

/// [`scheduled_round`], and each due report is mailed to its team's recipients once
/// ([`mail::deliver`]): right after it is made, or by a later round while it is due if a
/// message was refused. `mail` is `None` when no mailer is configured: reports are made all
/// the same and the summary says mail is off.
pub async fn scheduled_round_with_mail(
    store: &dyn Store,
    files: &dyn ReportFiles,
    events: &dyn crate::events::EventSink,
    mail: Option<&crate::mail::MailSettings>,
    now: DateTime<Utc>,
) -> Result<ScheduledSummary, ServiceError> {
    let mut summary = ScheduledSummary { mail: mail::MailTally { on: mail.is_some(), ..Default::default() }, ..Default::default() };
    for team in store.list_teams().await? {
        summary.teams += 1;
        for run in schedule::due(&team.report_schedule, team.time_zone, now) {
            // A team made after the period ended has nothing to say about it (a new team's
            // first start is not the time for an empty report).
            if team.created_at >= midnight(run.to + Duration::days(1), team.time_zone) {
                continue;
            }
            let id = run.report_id(&team.id);
            if let Some(existing) = store.get_report(&team.id, id).await? {
                summary.existing += 1;
                mail_report(store, files, mail, &team, run.cadence, &existing, None, now, &mut summary.mail).await;
                continue;
            }
            let actor = Actor {
                team_id: team.id.clone(),
                role: crate::domain::Role::Admin,
                key_id: crate::domain::ApiKeyId::derived("report-generator"),
            };
            match generate_as(store, files, &actor, Asked::days(run.from, run.to), now, id).await {
                Ok((report, data)) => {
                    summary.generated += 1;
                    let kept: BTreeMap<&str, &String> = report.files.iter().map(|(f, k)| (f.file_name(), k)).collect();
                    let detail = serde_json::json!({
                        "report_id": report.id, "from": run.from, "to": run.to, "files": kept,
                        "schedule": run.cadence.as_str(),
                    });
                    let event = crate::events::Event::new(crate::events::EventKind::ReportReady, &team.id, now, detail);
                    if let Err(e) = events.emit(&event).await {
                        tracing::error!(team = %team.id, error = %e, "Report Ready not delivered");
                    }
                    mail_report(store, files, mail, &team, run.cadence, &report, Some(&data), now, &mut summary.mail).await;
                }
                Err(e) => {
                    tracing::error!(team = %team.id, schedule = run.cadence.as_str(), error = %e, "scheduled report failed");
                    summary.failed += 1;
                    let retryable = matches!(
                        e,
                        ServiceError::Store(crate::store::StoreError::Backend(_) | crate::store::StoreError::Conflict)
                    );
                    summary.failures.push(RunFailure {
                        team: team.id.clone(),
                        cadence: run.cadence,
                        from: run.from,
                        to: run.to,
                        reason: e.to_string(),
                        retryable,
                    });
                }
            }
        }
    }
    Ok(summary)
}

/// Mails one due report (or counts it as skipped when mail is off); a failure is logged and
/// left to the next round, never the end of this one.
#[allow(clippy::too_many_arguments)]
async fn mail_report(
    store: &dyn Store,
    files: &dyn ReportFiles,
    mail: Option<&crate::mail::MailSettings>,
    team: &crate::domain::Team,
    cadence: schedule::Cadence,
    report: &Report,
    data: Option<&ReportData>,
    now: DateTime<Utc>,
    tally: &mut mail::MailTally,
) {
    let Some(settings) = mail else {
        if !team.report_schedule.recipients.is_empty() && data.is_some() {
            tracing::info!(team = %team.id, report = %report.id, "mail is off (no mailer configured): the report is made but not e-mailed");
            tally.skipped += 1;
        }
        return;
    };
    match mail::deliver(store, files, settings, team, cadence, report, data, now).await {
        Ok((sent, failed)) => {
            tally.sent += sent;
            tally.failed += failed;
        }
        Err(e) => {
            tracing::error!(team = %team.id, report = %report.id, error = %e, "report mail: the store failed; the next round tries again");
            tally.failed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::TeamId;
    use crate::events::MemorySink;
    use crate::store::ReportStore;
    use crate::store::sqlite::SqliteStore;

    /// Memory files that refuse every write while `down`.
    #[derive(Default)]
    struct Flaky {
        files: MemoryReportFiles,
        down: AtomicBool,
    }

    #[async_trait::async_trait]
    impl ReportFiles for Flaky {
        async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError> {
            match self.down.load(Ordering::SeqCst) {
                true => Err(FilesError(format!("S3 PutObject {key}: InternalError"))),
                false => self.files.put(key, bytes).await,
            }
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError> {
            self.files.get(key).await
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("test instant")
    }

    /// A report whose files cannot be kept is not recorded, is named in the round's
    /// [`IncompleteRound`] (retryable), and is made by the next round, once.
    #[tokio::test]
    async fn a_report_whose_files_failed_is_not_recorded_and_the_next_round_makes_it() {
        let store = SqliteStore::in_memory().expect("store");
        let team = TeamId::parse("team", "cafe").expect("team id");
        let made = ManualClock::new(utc("2026-11-02T09:00:00Z"));
        crate::services::keys::ensure_team(&store, &made, &team, chrono_tz::Europe::Paris).await.expect("team");
        let (files, events) = (Flaky::default(), MemorySink::default());
        files.down.store(true, Ordering::SeqCst);

        // Monday 2027-01-11, 08:00 in Paris.
        let round = scheduled_round(&store, &files, &events, utc("2027-01-11T07:00:00Z")).await.expect("the round runs");
        assert_eq!((round.generated, round.existing, round.failed), (0, 0, 1));
        let incomplete = round.clone().complete().expect_err("a report is missing");
        assert!(incomplete.retryable());
        let message = incomplete.to_string();
        assert!(message.contains("1 of the 1 due reports") && message.contains("team cafe weekly 2027-01-04..2027-01-10"), "{message}");
        assert!(message.contains("S3 PutObject"), "{message}");
        assert!(store.list_reports(&team, &PageRequest::first(10)).await.expect("list").items.is_empty(), "not recorded");
        assert!(events.events().is_empty(), "no Report Ready");

        files.down.store(false, Ordering::SeqCst);
        let round = scheduled_round(&store, &files, &events, utc("2027-01-11T08:00:00Z")).await.expect("the round runs");
        assert_eq!((round.generated, round.failed), (1, 0));
        assert_eq!(round.clone().complete(), Ok(round));
        let again = scheduled_round(&store, &files, &events, utc("2027-01-11T09:00:00Z")).await.expect("the round runs");
        assert_eq!((again.generated, again.existing), (0, 1), "once");
        assert_eq!(events.events().len(), 1, "one Report Ready");
    }
}
