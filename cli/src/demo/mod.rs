//! `herald demo`: a café's team with three sandbox channels, eight weeks of history (posts,
//! engagement, an inbox, one bad evening), a report of the last four weeks, and a week of posts
//! ahead, some due within the next minute; then the whole stack running so a newcomer sees
//! posts go out.

mod history;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine as _;
use chrono::{Duration, NaiveTime, TimeZone, Utc};
use herald_core::clock::{Clock, ManualClock, SystemClock};
use herald_core::domain::{ChannelName, Platform, PostText, PublishAt, Report, ReportFormat, Role, TeamId};
use herald_core::local::DataDir;
use herald_core::services::Actor;
use herald_core::services::channels::{NewChannel, create_channel};
use herald_core::services::keys;
use herald_core::services::posts::{NewPost, create_post};
use herald_core::services::reports::{self, DirReportFiles};
use tracing::instrument::WithSubscriber;

pub const DEMO_TEAM: &str = "demo";

const CHANNELS: [&str; 3] = ["Café du coin · Instagram", "Café du coin · Mastodon", "Café du coin · Bluesky"];

/// Soon: seconds from now, text. Enough to watch the publisher at work within a minute.
const SOON: [(i64, &str); 4] = [
    (10, "☕ We're open! First espresso of the day is on us until 9:30."),
    (20, "🥐 Fresh croissants just out of the oven."),
    (35, "Jazz night on Friday: live trio from 20:00, no cover charge. 🎷"),
    (50, "Thank you for 1,000 followers! Show this post for a free cookie 🍪"),
];

const WEEK: [&str; 7] = [
    "Monday special: soup of the day with sourdough bread.",
    "Tuesday tip: ask for our oat milk flat white.",
    "Wednesday: board games night from 18:00. 🎲",
    "Thursday: new single-origin beans from Ethiopia.",
    "Friday: jazz trio from 20:00. 🎷",
    "Saturday brunch is back, 10:00–14:00.",
    "Sunday: closed for a family day. See you Monday!",
];

/// What `seed` made, for the demo to print.
pub struct Seeded {
    /// The admin API key, shown once.
    pub key: String,
    pub past: history::Past,
    /// The report of the last four weeks, and where its HTML page is.
    pub report: Report,
    pub report_html: PathBuf,
}

/// Creates the demo content in `dir` (once): eight weeks of history, then the coming week's
/// plan, then the report of the last four weeks. `None` when the demo team exists already.
pub async fn seed(dir: &DataDir) -> Result<Option<Seeded>> {
    // Eight weeks of publishing and polling would fill the terminal: only warnings are shown.
    seed_quietly(dir).with_subscriber(herald_core::logging::warnings_only()).await
}

/// What a second `herald demo` on the same folder shows: a new admin key (the first one is kept
/// only as a hash) and the demo's report, if it is still there.
pub struct Again {
    pub key: String,
    pub report: Option<(Report, PathBuf)>,
}

/// For a demo team made by an earlier run: a new admin key, and the newest report.
pub async fn again(dir: &DataDir) -> Result<Again> {
    use herald_core::store::{PageRequest, ReportStore};
    let team_id = TeamId::parse("team", DEMO_TEAM)?;
    let (_, secret) = keys::create_key(&*dir.store, &SystemClock, &team_id, Role::Admin, "demo (again)").await?;
    let reports = dir.store.list_reports(&team_id, &PageRequest::first(PageRequest::MAX_PAGE)).await?;
    let report = reports.items.into_iter().max_by_key(|r| r.created_at).and_then(|r| {
        let html = dir.path.join(r.files.get(&ReportFormat::Html)?);
        html.is_file().then_some((r, html))
    });
    Ok(Again { key: secret.reveal().to_owned(), report })
}

async fn seed_quietly(dir: &DataDir) -> Result<Option<Seeded>> {
    let zone = chrono_tz::Europe::Paris;
    let now = SystemClock.now();
    let today = now.with_timezone(&zone).date_naive();
    let start = zone
        .from_local_datetime(&(today - Duration::weeks(history::WEEKS)).and_time(NaiveTime::MIN))
        .earliest()
        .context("the demo's first day")?
        .with_timezone(&Utc);
    // The team and its channels were made eight weeks ago, so followers have grown since.
    let past_clock = Arc::new(ManualClock::new(start));
    let team_id = TeamId::parse("team", DEMO_TEAM)?;
    let (mut team, created) = keys::ensure_team(&*dir.store, &*past_clock, &team_id, zone).await?;
    if !created {
        return Ok(None);
    }
    team.name = "Café du coin".to_owned();
    team.watch_terms = vec!["brunch".to_owned(), "croissant".to_owned()];
    herald_core::store::TeamStore::update_team(&*dir.store, &team).await?;
    let (key, secret) = keys::create_key(&*dir.store, &*past_clock, &team_id, Role::Admin, "demo").await?;
    let actor = Actor { team_id: team_id.clone(), role: Role::Admin, key_id: key.id };
    // The café's look on its reports: its logo and its coffee brown.
    let files = DirReportFiles::new(dir.path.clone());
    let logo = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(include_bytes!("logo.png")));
    let brand = herald_core::services::team::TeamChanges {
        logo: Some(Some(herald_core::services::team::LogoUpload::from_data_url("logo", &logo)?)),
        accent_color: Some(Some(herald_core::domain::AccentColor::parse("accent_color", "#9a3412")?)),
        ..Default::default()
    };
    let team = herald_core::services::team::update(&*dir.store, &files, &actor, brand)
        .await
        .map_err(|e| anyhow::anyhow!("the demo team's brand: {e}"))?;
    let mut channels = vec![];
    for name in CHANNELS {
        let channel = create_channel(
            &*dir.store,
            &*past_clock,
            &dir.cipher,
            &herald_core::platforms::Adapters::default(),
            &actor,
            NewChannel {
                platform: Platform::Sandbox,
                name: ChannelName::parse("name", name)?,
                time_zone: zone,
                credentials: None,
                queue_slots: vec![],
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating channel {name}: {e}"))?;
        channels.push(channel);
    }
    let past = history::live(dir, past_clock, &actor, &team, &channels, now).await?;

    let clock = SystemClock;
    let now = clock.now();
    let channel_ids: Vec<_> = channels.iter().map(|c| c.id).collect();
    let mut plan: Vec<(chrono::DateTime<Utc>, String)> =
        SOON.iter().map(|(s, text)| (now + Duration::seconds(*s), (*text).to_owned())).collect();
    // Then a week of posts at 09:00 Paris time.
    let nine = NaiveTime::from_hms_opt(9, 0, 0).context("09:00")?;
    for (day, text) in WEEK.iter().enumerate() {
        let date = (now + Duration::days(day as i64 + 1)).with_timezone(&zone).date_naive();
        if let Some(at) = zone.from_local_datetime(&date.and_time(nine)).earliest() {
            plan.push((at.with_timezone(&Utc), (*text).to_owned()));
        }
    }
    let events = dir.event_sink(vec![]);
    for (at, text) in plan {
        create_post(
            &*dir.store,
            &clock,
            &*events,
            &actor,
            NewPost {
                text: PostText::parse("text", &text)?,
                channel_ids: channel_ids.clone(),
                publish_at: PublishAt::Instant(at),
                variants: BTreeMap::new(),
                media: vec![],
                draft: false,
                first_comment: None,
                reply_control: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("scheduling a demo post: {e}"))?;
    }

    // The report you would send a client: the last four full weeks, against the four before.
    let to = today - Duration::days(1);
    let from = to - Duration::days(REPORT_DAYS - 1);
    let (report, _) = reports::generate(&*dir.store, &files, &actor, reports::Asked::days(from, to), now)
        .await
        .map_err(|e| anyhow::anyhow!("the demo report: {e}"))?;
    let html = report.files.get(&ReportFormat::Html).context("the report has no HTML file")?;
    let report_html = dir.path.join(html);
    Ok(Some(Seeded { key: secret.reveal().to_owned(), past, report, report_html }))
}

/// The demo report's length in days.
pub const REPORT_DAYS: i64 = 28;

/// Prints each sandbox post as its journal line appears (not the demo's past ones).
pub async fn watch_outbox(outbox: &Path) {
    use herald_core::platforms::sandbox::{JOURNAL, Publication, parse_lines};
    let since = Utc::now();
    let path = outbox.join(JOURNAL);
    let mut read_to = 0;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(300));
    loop {
        tick.tick().await;
        let Ok(bytes) = tokio::fs::read(&path).await else { continue };
        // A journal made again from scratch (deleted by hand) is read from its start.
        let new = bytes.get(read_to..).unwrap_or(&bytes[..]);
        let (read, used) = parse_lines(new);
        read_to = bytes.len() - new.len() + used;
        for publication in read {
            let Publication::Post(post) = publication else { continue };
            if post.published_at < since {
                continue;
            }
            let late_ms = (post.published_at - post.scheduled_for).num_milliseconds();
            println!("📤 {} → {}  \"{}\"  (+{late_ms} ms)", post.published_at.format("%H:%M:%S"), post.channel_name, post.text);
        }
    }
}
