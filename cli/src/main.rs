//! `herald`: the whole of Herald on one machine, and the commands that manage it.

mod demo;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use herald_core::clock::SystemClock;
use herald_core::domain::{Role, TeamId};
use herald_core::http::AppState;
use herald_core::intake::Intake;
use herald_core::local::DataDir;
use herald_core::ports::Ports;
use herald_core::services::keys;
use herald_core::services::metrics::{MetricsPlan, MetricsPoller};
use herald_core::services::publisher::{
    CONCURRENCY_ENV, DEFAULT_CONCURRENCY, MAX_CONCURRENCY, Publisher, PublisherConfig,
};
use herald_core::webhooks::StandardWebhooks;

#[derive(Parser)]
#[command(name = "herald", version, about = "Social media scheduling, inbox and reports for small teams, without servers.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the background work on this machine, on an embedded SQLite store.
    Serve {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8080", env = "HERALD_ADDR")]
        addr: SocketAddr,
        #[arg(long, default_value = "./herald-data", env = "HERALD_DATA_DIR")]
        data_dir: PathBuf,
        #[command(flatten)]
        publishing: PublishingArgs,
        #[command(flatten)]
        first_run: FirstRunArgs,
    },
    /// A demo team with sandbox channels and a week of posts, some due within the minute, then
    /// `serve`, printing each post as it goes out.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080", env = "HERALD_ADDR")]
        addr: SocketAddr,
        #[arg(long, default_value = "./herald-demo")]
        data_dir: PathBuf,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write a team's report for a period: report.html, report.csv, report.json and report.pdf.
    Report {
        #[arg(long, default_value = "./herald-data", env = "HERALD_DATA_DIR")]
        data_dir: PathBuf,
        /// The team's id.
        #[arg(long)]
        team: String,
        /// First day, in the team's time zone (2027-01-04).
        #[arg(long)]
        from: String,
        /// Last day, inclusive (2027-01-10).
        #[arg(long)]
        to: String,
        /// Folder to write the files into (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// The language to write it in (en, fr); the team's when left out.
        #[arg(long)]
        language: Option<String>,
        /// The report as it could be made at this RFC 3339 instant (default: now): counters
        /// measured after it are left out, as a scheduled report made then would have them.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Webhook intake maintenance.
    Intake {
        #[command(subcommand)]
        command: IntakeCommand,
    },
}

#[derive(Subcommand)]
enum IntakeCommand {
    /// Parse the stored raw webhook bodies of a channel again (after a parser fix): what was
    /// missed is added to the inbox, what is there already is left alone.
    Replay {
        /// The channel id.
        #[arg(long)]
        channel: String,
        /// RFC 3339 instant; default 14 days ago (how long raw bodies are kept).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 instant, exclusive; default now.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "./herald-data", env = "HERALD_DATA_DIR")]
        data_dir: PathBuf,
    },
}

/// Publisher tuning (the defaults suit real networks; tests and demos shorten them).
#[derive(clap::Args)]
struct PublishingArgs {
    /// How long a claim on a delivery holds before another run may take it over.
    #[arg(long, default_value_t = 120, env = "HERALD_PUBLISH_LEASE_SECS")]
    publish_lease_secs: u32,
    /// First retry delay after a transient failure (doubles each attempt, with jitter).
    #[arg(long, default_value_t = 30_000, env = "HERALD_PUBLISH_BACKOFF_MS")]
    publish_backoff_ms: u32,
    /// Attempts before a delivery fails for good.
    #[arg(long, default_value_t = 5, env = "HERALD_PUBLISH_MAX_ATTEMPTS")]
    publish_max_attempts: u32,
    /// Most deliveries publishing at once (the others wait for a slot, earliest due first).
    #[arg(
        long,
        default_value_t = DEFAULT_CONCURRENCY,
        env = CONCURRENCY_ENV,
        value_parser = parse_concurrency
    )]
    publish_concurrency: usize,
    /// Outgoing webhook URL(s) receiving every event, signed per Standard Webhooks
    /// (comma-separated in the environment variable).
    #[arg(long = "webhook-url", env = "HERALD_WEBHOOK_URLS", value_delimiter = ',')]
    webhook_urls: Vec<String>,
    /// The `whsec_…` secret that signs outgoing webhooks (required with --webhook-url).
    #[arg(long, env = "HERALD_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Seconds between notification-polling rounds (Mastodon, Bluesky) and crisis checks.
    #[arg(long, default_value_t = 60, env = "HERALD_POLL_SECS")]
    poll_secs: u32,
    /// Seconds between metric-polling rounds (post counters, followers).
    #[arg(long, default_value_t = 300, env = "HERALD_METRICS_SECS")]
    metrics_secs: u32,
    /// Seconds between checks for due scheduled reports (each team's weekly and monthly
    /// schedule, written under the data directory's `reports/`).
    #[arg(long, default_value_t = 300, env = "HERALD_REPORTS_SECS")]
    reports_secs: u32,
}

impl PublishingArgs {
    fn timers(&self) -> Timers {
        let secs = |s: u32| Duration::from_secs(u64::from(s.max(1)));
        Timers { poll: secs(self.poll_secs), metrics: secs(self.metrics_secs), reports: secs(self.reports_secs) }
    }

    fn webhooks(&self) -> Result<Vec<(String, StandardWebhooks)>> {
        if self.webhook_urls.is_empty() {
            return Ok(vec![]);
        }
        let secret = self.webhook_secret.as_deref().context("--webhook-url needs --webhook-secret (HERALD_WEBHOOK_SECRET)")?;
        self.webhook_urls
            .iter()
            .map(|url| {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("--webhook-url {url}: must be an http(s) URL");
                }
                Ok((url.clone(), StandardWebhooks::new(secret).context("--webhook-secret")?))
            })
            .collect()
    }

    fn config(&self) -> PublisherConfig {
        PublisherConfig {
            // Runs start every second; looking three seconds ahead leaves at least two to claim
            // a burst and load what its publishes need before its second.
            lookahead: chrono::Duration::seconds(3),
            // A burst is claimed whole, 500 at a time (10,000 due within the lookahead at most).
            pages: 20,
            lease: chrono::Duration::seconds(i64::from(self.publish_lease_secs.max(1))),
            base_backoff: chrono::Duration::milliseconds(i64::from(self.publish_backoff_ms)),
            max_attempts: self.publish_max_attempts.max(1),
            concurrency: self.publish_concurrency,
            ..PublisherConfig::default()
        }
    }
}

/// How the team `herald serve` makes on its first run is set up (later: `PATCH /v1/team`).
#[derive(clap::Args)]
struct FirstRunArgs {
    /// The team's name, shown on its reports (first run only).
    #[arg(long, env = "HERALD_TEAM_NAME")]
    team_name: Option<String>,
    /// The team's IANA time zone, e.g. Europe/Paris (first run only).
    #[arg(long, default_value = "UTC", env = "HERALD_TIME_ZONE", value_parser = parse_zone)]
    time_zone: chrono_tz::Tz,
    /// The team's language: en or fr (first run only).
    #[arg(long, default_value = "en", env = "HERALD_LANGUAGE", value_parser = parse_language)]
    language: herald_core::domain::Language,
}

fn parse_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    herald_core::domain::parse_time_zone("--time-zone", s).map_err(|e| e.rule)
}

fn parse_language(s: &str) -> Result<herald_core::domain::Language, String> {
    herald_core::domain::Language::parse("--language", s).map_err(|e| e.rule)
}

/// `--publish-concurrency`: 1 to `MAX_CONCURRENCY`, as the Lambda host reads it.
fn parse_concurrency(value: &str) -> Result<usize, String> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_CONCURRENCY).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to {MAX_CONCURRENCY}"))
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an API key (and the team, if it does not exist). Prints only the key.
    Create {
        /// The team's id: lowercase letters, digits and hyphens (e.g. cafe-du-coin).
        #[arg(long)]
        team: String,
        /// admin, editor, contributor or viewer.
        #[arg(long)]
        role: String,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long, default_value = "./herald-data", env = "HERALD_DATA_DIR")]
        data_dir: PathBuf,
    },
}

/// The team `herald serve` creates on its first run.
const DEFAULT_TEAM: &str = "default";

#[tokio::main]
async fn main() -> Result<()> {
    let _log_writer = herald_core::logging::init_human();
    match Cli::parse().command {
        Command::Serve { addr, data_dir, publishing, first_run } => {
            serve(addr, &data_dir, publishing.config(), publishing.webhooks()?, publishing.timers(), first_run).await
        }
        Command::Report { data_dir, team, from, to, out, language, as_of } => {
            report(&data_dir, &team, &from, &to, &out, language.as_deref(), as_of.as_deref()).await
        }
        Command::Demo { addr, data_dir } => demo(addr, &data_dir).await,
        Command::Keys { command: KeysCommand::Create { team, role, name, data_dir } } => {
            create_key(&team, &role, &name, &data_dir).await
        }
        Command::Intake { command: IntakeCommand::Replay { channel, from, to, data_dir } } => {
            replay(&channel, from.as_deref(), to.as_deref(), &data_dir).await
        }
    }
}

async fn replay(channel: &str, from: Option<&str>, to: Option<&str>, data_dir: &Path) -> Result<()> {
    let channel = herald_core::domain::ChannelId::parse("--channel", channel)?;
    let instant = herald_core::domain::parse_instant;
    let now = chrono::Utc::now();
    let from = from.map(|s| instant("--from", s)).transpose()?.unwrap_or(now - chrono::Duration::days(14));
    let to = to.map(|s| instant("--to", s)).transpose()?.unwrap_or(now + chrono::Duration::seconds(1));
    let dir = DataDir::open(data_dir).with_context(|| format!("opening data directory {}", data_dir.display()))?;
    let intake = Intake::new(dir.ports(dir.event_sink(vec![]))?);
    let (bodies, summary) = intake.replay_channel(channel, from, to).await?;
    println!(
        "replayed {bodies} raw bodies: {} new interactions, {} already stored, {} ignored events",
        summary.created, summary.duplicates, summary.ignored
    );
    Ok(())
}

async fn serve(
    addr: SocketAddr,
    data_dir: &Path,
    publishing: PublisherConfig,
    webhooks: Vec<(String, StandardWebhooks)>,
    timers: Timers,
    first_run: FirstRunArgs,
) -> Result<()> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening on a non-loopback address: anyone who can reach it can try keys");
    }
    let dir = DataDir::open(data_dir).with_context(|| format!("opening data directory {}", data_dir.display()))?;
    let mut setup_link = None;
    if dir.first_run {
        let id = TeamId::parse("team", DEFAULT_TEAM)?;
        let (mut team, _) = keys::ensure_team(&*dir.store, &SystemClock, &id, first_run.time_zone).await?;
        team.name = herald_core::services::team::name_of(first_run.team_name.as_deref().unwrap_or(DEFAULT_TEAM))?;
        team.language = first_run.language;
        let team = herald_core::store::TeamStore::update_team(&*dir.store, &team).await?;
        let (_, secret) = keys::create_key(&*dir.store, &SystemClock, &id, Role::Admin, "first run").await?;
        println!(
            "First run: created team `{DEFAULT_TEAM}` (\"{}\", {}, {}) and its admin API key (shown once, keep it):",
            team.name,
            team.time_zone,
            team.language.as_str()
        );
        println!("  {}", secret.reveal());
        println!(
            "Lost it? `herald keys create --team {DEFAULT_TEAM} --role admin --data-dir {}` makes another.",
            data_dir.display()
        );
        // The first admin's way in for people: a one-time link, printed once the address is known.
        let setup = herald_core::services::people::setup_invite(&*dir.store, &SystemClock, &id).await?;
        setup_link = Some((setup.token.reveal().to_owned(), setup.link.expires_at));
    }
    let ports = dir.ports(dir.event_sink(webhooks))?;
    run(&dir, addr, ports, publishing, timers, |url| {
        if let Some((token, expires_at)) = &setup_link {
            println!("Setup link for the first admin (one-time, until {}): {url}/invite/{token}", expires_at.format("%Y-%m-%d %H:%M UTC"));
            println!("  (accept it with POST {url}/auth/accept {{\"token\",\"email\",\"name\",\"password\"}} until the web pages land)");
        }
    })
    .await
}

async fn demo(addr: SocketAddr, data_dir: &Path) -> Result<()> {
    let dir = DataDir::open(data_dir).with_context(|| format!("opening data directory {}", data_dir.display()))?;
    let started = std::time::Instant::now();
    match demo::seed(&dir).await? {
        Some(seeded) => {
            let past = &seeded.past;
            println!(
                "Demo team `{}` (Café du coin): 3 sandbox channels with eight weeks behind them ({} posts, {} comments, mentions \
                 and messages, {} replies; made in {:.1} s), 4 posts due within the minute and a week after that.",
                demo::DEMO_TEAM,
                past.posts,
                past.interactions,
                past.replies,
                started.elapsed().as_secs_f64()
            );
            println!("Its admin API key:  {}", seeded.key);
            println!(
                "The report of the last {} days ({} to {}), to open in a browser:\n  {}",
                demo::REPORT_DAYS,
                seeded.report.period_start,
                seeded.report.period_end,
                seeded.report_html.display()
            );
        }
        None => {
            let again = demo::again(&dir).await?;
            println!("Demo data already in {} (delete the folder to start over).", dir.path.display());
            println!("A new admin API key (the first one is kept only as a hash):  {}", again.key);
            match again.report {
                Some((report, html)) => println!(
                    "The report of {} to {}, to open in a browser:\n  {}",
                    report.period_start,
                    report.period_end,
                    html.display()
                ),
                None => println!("Its report is gone from the folder; make another with `herald report --team demo --from … --to …`."),
            }
        }
    }
    println!(
        "Published posts are written to {} (one line each) and shown below as they go out.",
        dir.outbox().join(herald_core::platforms::sandbox::JOURNAL).display()
    );
    tokio::spawn({
        let outbox = dir.outbox();
        async move { demo::watch_outbox(&outbox).await }
    });
    let config = PublisherConfig { lookahead: chrono::Duration::seconds(2), ..PublisherConfig::default() };
    let timers = Timers { poll: Duration::from_secs(60), metrics: Duration::from_secs(300), reports: Duration::from_secs(300) };
    let ports = dir.ports(dir.event_sink(vec![]))?;
    run(&dir, addr, ports, config, timers, |url| {
        println!("Try:  curl -H \"Authorization: Bearer <key>\" '{url}/v1/posts'   (the calendar)");
    })
    .await
}

/// How often `herald serve` runs what EventBridge rules run on AWS.
struct Timers {
    /// Notification polling and crisis checks.
    poll: Duration,
    /// Metric polling.
    metrics: Duration,
    /// Due scheduled reports.
    reports: Duration,
}

/// Binds, prints the URL, runs the API (webhooks included), the publisher, the notification
/// and metric pollers and the scheduled reports until Ctrl-C or SIGTERM, all on one set of
/// ports.
async fn run(
    dir: &DataDir,
    addr: SocketAddr,
    ports: Ports,
    publishing: PublisherConfig,
    timers: Timers,
    started: impl FnOnce(&str),
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    println!("Herald is listening on http://{local}  (data: {})", dir.path.display());
    started(&format!("http://{local}"));

    let poller = tokio::spawn(poll_timer(Intake::new(ports.clone()), timers.poll));
    // Report mail: HERALD_SMTP_URL and HERALD_MAIL_FROM; share links under HERALD_PUBLIC_URL,
    // or this address.
    let public_url = std::env::var("HERALD_PUBLIC_URL").ok().filter(|u| !u.trim().is_empty()).unwrap_or(format!("http://{local}"));
    let mail = herald_core::mail::smtp_from_env(|k| std::env::var(k).ok(), &public_url, ports.cipher.clone())?;
    match &mail {
        Some(m) => println!("Scheduled reports are mailed through {} from {}.", m.mailer.describe(), m.from),
        None => tracing::info!("report mail is off (set HERALD_SMTP_URL and HERALD_MAIL_FROM to mail scheduled reports)"),
    }
    let reports = tokio::spawn(reports_timer(ports.clone(), mail, timers.reports));
    let metrics = tokio::spawn(metrics_timer(MetricsPoller::new(ports.clone(), MetricsPlan::default()), timers.metrics));
    let publisher = tokio::spawn(publisher_timer(Publisher::new(ports.clone(), publishing)));
    // Connecting channels with OAuth: the apps and Herald's public address, from the environment.
    let connect = herald_core::services::connect::ConnectConfig::from_env(herald_core::platforms::NetworkPolicy::from_env()?)?;
    let app = herald_core::http::api_router(AppState::new(ports).with_connect(connect));
    // With the peer's address (the sign-in throttle counts failures per address).
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    publisher.abort();
    poller.abort();
    metrics.abort();
    reports.abort();
    Ok(())
}

/// Runs `round` every `period` (a round that overruns delays the next, never doubles it up):
/// how `herald serve` stands in for the EventBridge rules.
async fn every<F, Fut>(period: Duration, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        round().await;
    }
}

/// The local stand-in for the report generator's hourly rule: each team's due weekly and
/// monthly reports, into the data directory, mailed when `mail` is set.
async fn reports_timer(ports: Ports, mail: Option<herald_core::mail::MailSettings>, period: Duration) {
    every(period, || async {
        let now = ports.clock.now();
        let round = herald_core::services::reports::scheduled_round_with_mail(
            &*ports.store,
            &*ports.report_files,
            &*ports.events,
            mail.as_ref(),
            now,
        );
        match round.await {
            Ok(summary) if summary.generated > 0 || summary.failed > 0 || summary.mail.sent > 0 || summary.mail.failed > 0 => {
                tracing::info!(
                    generated = summary.generated,
                    failed = summary.failed,
                    mail_on = summary.mail.on,
                    mailed = summary.mail.sent,
                    mail_failed = summary.mail.failed,
                    mail_skipped = summary.mail.skipped,
                    "scheduled reports"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "scheduled reports failed"),
        }
    })
    .await
}

/// The local stand-in for the metric poller's EventBridge rule.
async fn metrics_timer(poller: MetricsPoller, period: Duration) {
    every(period, || async {
        if let Err(e) = poller.run_once().await {
            tracing::error!(error = %e, "metric polling failed");
        }
    })
    .await
}

/// `herald report`: builds the report from the data directory and writes its files.
async fn report(data_dir: &Path, team: &str, from: &str, to: &str, out: &Path, language: Option<&str>, as_of: Option<&str>) -> Result<()> {
    use herald_core::clock::Clock;
    use herald_core::services::reports;
    let team = TeamId::parse("--team", team)?;
    let day = herald_core::domain::parse_date;
    let (from, to) = (day("--from", from)?, day("--to", to)?);
    let now = match as_of {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&chrono::Utc))
            .with_context(|| format!("--as-of {s}: not an RFC 3339 instant like 2027-01-11T08:00:00Z"))?,
        None => SystemClock.now(),
    };
    let dir = DataDir::open(data_dir).with_context(|| format!("opening data directory {}", data_dir.display()))?;
    let found = herald_core::store::TeamStore::get_team(&*dir.store, &team).await?;
    let Some(found) = found else { bail!("no team `{team}` in {}", data_dir.display()) };
    let language = language.map(|l| herald_core::domain::Language::parse("--language", l)).transpose()?;
    let files = herald_core::services::reports::DirReportFiles::new(dir.path.clone());
    let data = reports::build_branded(&*dir.store, &files, &found, reports::Asked { from, to, language }, now).await?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = Vec::new();
    for (format, bytes) in reports::render_all(&data) {
        let path = out.join(format.file_name());
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        written.push(format.file_name());
    }
    eprintln!(
        "wrote {} to {} ({} posts, {} interactions, {} items read)",
        written.join(", "),
        out.display(),
        data.posts.len(),
        data.inbox.current.total,
        data.items_read.total()
    );
    Ok(())
}

/// The local stand-in for the notification poller's EventBridge rule.
async fn poll_timer(intake: Intake, period: Duration) {
    every(period, || async {
        match intake.poll_all().await {
            Ok(s) if s.ingested.created > 0 || s.failed > 0 => {
                tracing::info!(channels = s.channels, failed = s.failed, new = s.ingested.created, "notifications polled")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "notification polling failed"),
        }
    })
    .await
}

/// The local stand-in for the publisher's EventBridge rule: a run every second, each looking
/// two seconds ahead, each in its own task so a slow network never delays the next run.
/// Claims keep overlapping runs from publishing anything twice.
async fn publisher_timer(publisher: Publisher) {
    every(Duration::from_secs(1), || {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            if let Err(e) = publisher.run_once().await {
                tracing::error!(error = %e, "publisher run failed");
            }
        });
        std::future::ready(())
    })
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn create_key(team: &str, role: &str, name: &str, data_dir: &Path) -> Result<()> {
    let team = TeamId::parse("--team", team)?;
    let role = Role::parse("--role", role)?;
    if name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    let dir = DataDir::open(data_dir).with_context(|| format!("opening data directory {}", data_dir.display()))?;
    let (_, created) = keys::ensure_team(&*dir.store, &SystemClock, &team, chrono_tz::UTC).await?;
    if created {
        eprintln!("created team `{team}`");
    }
    let (key, secret) = keys::create_key(&*dir.store, &SystemClock, &team, role, name.trim()).await?;
    eprintln!("created {role} key {} for team `{team}`", key.id);
    println!("{}", secret.reveal());
    Ok(())
}
