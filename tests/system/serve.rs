//! `herald serve`, `herald keys create` and `herald report` through the real binary: what a
//! newcomer does first; and serve's timers, which stand in for the EventBridge rules.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::clock::ManualClock;
use herald_core::domain::{
    Channel, ChannelId, ChannelName, Delivery, DeliveryState, MetricSubject, Platform, Post, PostId, PostText, Role,
    Team, TeamId,
};
use herald_core::services::keys::create_key;
use herald_core::store::sqlite::SqliteStore;
use herald_core::store::{ChannelStore, MetricStore, PostStore, TeamStore};
use serde_json::{Value, json};

use crate::common::process::{OutputLines, http_client, kill, output_within};
use crate::common::serve::{Client, Serve, herald_bin};

/// `herald <args> --data-dir <data_dir>`, to its end (a minute at most).
fn herald(args: &[&str], data_dir: &Path) -> std::process::Output {
    output_within(Command::new(herald_bin()).args(args).arg("--data-dir").arg(data_dir), Duration::from_secs(60))
}

fn keys_create(data_dir: &Path, team: &str, role: &str) -> std::process::Output {
    herald(&["keys", "create", "--team", team, "--role", role], data_dir)
}

async fn get(url: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = http_client().get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.expect("request reaches herald");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn serve_answers_health_and_authenticates_its_first_run_key() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(dir.path(), &[("RUST_LOG", "info")]);
    assert!(serve.url.starts_with("http://127.0.0.1:"), "binds loopback: {}", serve.url);

    let (status, body) = get(&format!("{}/health", serve.url), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    let key = serve.key.clone().expect("the first run prints an admin key");
    let (status, me) = get(&format!("{}/v1/me", serve.url), Some(&key)).await;
    assert_eq!(status, 200);
    assert_eq!((me["team_id"].as_str(), me["role"].as_str()), (Some("default"), Some("admin")));

    let (status, err) = get(&format!("{}/v1/me", serve.url), None).await;
    assert_eq!(status, 401);
    assert_eq!(err["error"]["code"], "unauthorized");
    let (status, _) = get(&format!("{}/v1/me", serve.url), Some("hrld_0000")).await;
    assert_eq!(status, 401);
    let (status, err) = get(&format!("{}/v1/nothing-here", serve.url), Some(&key)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")));

    // Its output is a pipe here, as under systemd or `> serve.log`: plain text, no colour codes.
    let created = crate::common::process::http_client()
        .post(format!("{}/v1/channels", serve.url))
        .bearer_auth(&key)
        .json(&json!({"platform": "sandbox", "name": "Logged", "time_zone": "UTC"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201, "a channel, which logs at INFO");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut said = serve.transcript.text();
    while !said.contains("INFO") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        said = serve.transcript.text();
    }
    assert!(said.contains("INFO"), "serve logs: {said}");
    assert!(!said.contains('\u{1b}'), "ANSI escape codes in piped output: {said:?}");
}

#[tokio::test]
async fn keys_create_prints_only_the_key_and_serve_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = keys_create(dir.path(), "cafe-du-coin", "viewer");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the key alone: {stdout:?}");
    let key = lines[0];
    assert!(key.starts_with("hrld_") && key.len() == 53, "{key}");

    // The database existed already: no first-run key this time.
    let serve = Serve::start(dir.path());
    assert_eq!(serve.key, None);
    let (status, me) = get(&format!("{}/v1/me", serve.url), Some(key)).await;
    assert_eq!(status, 200);
    assert_eq!((me["team_id"].as_str(), me["role"].as_str()), (Some("cafe-du-coin"), Some("viewer")));

    // A second key for the same team, while serve runs on the same database.
    let second = keys_create(dir.path(), "cafe-du-coin", "admin");
    assert!(second.status.success());
    let key2 = String::from_utf8(second.stdout).unwrap().trim().to_owned();
    assert_ne!(key2, key);
    let (status, me) = get(&format!("{}/v1/me", serve.url), Some(&key2)).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")));
}

#[test]
fn keys_create_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = keys_create(dir.path(), "cafe", "owner");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role"));
    let out = keys_create(dir.path(), "Café!", "admin");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--team"));
}

/// `HERALD_ALLOW_PRIVATE_NETWORK` is a security switch: a value that is neither 1 nor 0 stops
/// serve with a clear message instead of being guessed at.
#[tokio::test]
async fn serve_refuses_to_start_on_an_unreadable_private_network_switch() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(herald_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("HERALD_ALLOW_PRIVATE_NETWORK", "maybe")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("herald serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve kept running with HERALD_ALLOW_PRIVATE_NETWORK=maybe");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    let expected = "HERALD_ALLOW_PRIVATE_NETWORK must be 1 (allow private addresses) or 0 (refuse them), not `maybe`";
    assert!(stderr.contains(expected), "{stderr}");
}

#[tokio::test]
async fn demo_publishes_its_first_posts_within_the_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(herald_bin())
        .args(["demo", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("herald demo starts");
    let output = OutputLines::of(&mut child);
    // The first demo post is due 10 s after start, on 3 channels; allow for a slow machine.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut lines = vec![];
    while lines.iter().filter(|l: &&String| l.starts_with("📤")).count() < 3 {
        match output.next_line(deadline) {
            Ok(line) => lines.push(line),
            Err(why) => {
                let status = kill(&mut child);
                panic!("the demo published nothing visible in time ({why}; killed: {status}); it printed:\n{}", output.transcript.text());
            }
        }
    }
    kill(&mut child);
    assert!(lines.iter().any(|l| l.contains("Its admin API key:  hrld_")), "{lines:#?}");
    let posts = herald_core::platforms::sandbox::read_journal(&dir.path().join("outbox")).unwrap();
    assert!(posts.len() >= 3, "one journal line per channel of the first post, found {posts:?}");
}

// ---------------------------------------------------------------------------------------------
// herald report

/// `herald report` on a data directory holding the hand-checked dataset
/// (tests/system/common/report_dataset.rs): the four files, every figure of report.json the
/// hand-worked one (as the report of 12 January 2027 would have them: `--as-of`, so the test
/// means the same on any date), report.html and report.csv rendered from those same figures.
/// Without `--as-of` it reports as of now; bad input is said by its flag.
#[tokio::test]
async fn report_writes_the_four_files_of_a_teams_period() {
    use crate::common::report_dataset::{self, FROM, TO, check_every_figure, utc};
    use herald_core::services::reports::{self, ReportData};
    let dir = tempfile::tempdir().unwrap();
    let fixture = report_dataset::seed(Arc::new(SqliteStore::open(dir.path().join("herald.db")).unwrap())).await;
    let out = dir.path().join("out");
    let outs = out.to_str().unwrap();

    let done = herald(&["report", "--team", "cafe", "--from", FROM, "--to", TO, "--out", outs, "--as-of", "2027-01-12T08:00:00Z"], dir.path());
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert!(done.stdout.is_empty(), "stdout stays empty: {}", String::from_utf8_lossy(&done.stdout));
    assert!(stderr.contains(&format!("wrote report.html, report.csv, report.json, report.pdf to {outs}")), "{stderr}");
    let mut files: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["report.csv", "report.html", "report.json", "report.pdf"]);
    let data: ReportData = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).expect("report.json reads back");
    assert_eq!(data.generated_at, utc("2027-01-12T08:00:00Z"));
    check_every_figure(&fixture, &data);
    assert_eq!(std::fs::read_to_string(out.join("report.html")).unwrap(), reports::render_html(&data));
    assert_eq!(std::fs::read(out.join("report.csv")).unwrap(), reports::render_csv(&data));
    assert_eq!(std::fs::read(out.join("report.pdf")).unwrap(), reports::render_pdf(&data, &reports::english_words()).unwrap());
    assert!(stderr.contains(&format!("({} posts,", data.posts.len())), "{stderr}");

    // As of now (whatever the date): the same period and posts.
    let now_out = dir.path().join("now");
    let done = herald(&["report", "--team", "cafe", "--from", FROM, "--to", TO, "--out", now_out.to_str().unwrap()], dir.path());
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let now: ReportData = serde_json::from_slice(&std::fs::read(now_out.join("report.json")).unwrap()).unwrap();
    assert!((now.generated_at - Utc::now()).num_seconds().abs() < 120, "as of now: {}", now.generated_at);
    assert_eq!((now.period.from, now.period.to, now.posts.len()), (data.period.from, data.period.to, data.posts.len()));

    for (args, says) in [
        (vec!["--team", "nobody", "--from", FROM, "--to", TO], "no team `nobody`"),
        (vec!["--team", "cafe", "--from", "4 Jan", "--to", TO], "--from: `4 Jan` is not a date"),
        (vec!["--team", "cafe", "--from", FROM, "--to", TO, "--as-of", "tuesday"], "--as-of tuesday"),
    ] {
        let bad = dir.path().join("bad");
        let mut all = vec!["report"];
        all.extend(args);
        all.extend(["--out", bad.to_str().unwrap()]);
        let done = herald(&all, dir.path());
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(!done.status.success(), "{all:?} should fail");
        assert!(stderr.contains(says), "{all:?}: {stderr}");
    }
    assert!(!dir.path().join("bad").exists(), "nothing written for bad input");
}

// ---------------------------------------------------------------------------------------------
// serve's timers

/// A data directory as a team that has been on Herald for two months left it: team `cafe`
/// (Europe/Paris, no scheduled report: the tests set one), its admin key, a sandbox channel and
/// a post that went out on it two hours ago. Written before serve starts, as serve would have.
pub(crate) async fn seeded_data_dir(dir: &Path) -> (String, Channel, Delivery) {
    let store = SqliteStore::open(dir.join("herald.db")).unwrap();
    let made = Utc::now() - chrono::Duration::days(60);
    let team = Team { version: 0, language: Default::default(), logo: None, brand: Default::default(),
        id: TeamId::parse("team", "cafe").unwrap(),
        name: "Café du coin".into(),
        time_zone: chrono_tz::Europe::Paris,
        created_at: made,
        calendar_token_hash: None,
        watch_terms: vec![],
        report_schedule: herald_core::domain::ReportSchedule { weekly: None, monthly: None, recipients: vec![] },
    };
    store.create_team(&team).await.unwrap();
    let (_, key) = create_key(&store, &ManualClock::new(made), &team.id, Role::Admin, "test").await.unwrap();
    let channel = Channel {
        id: ChannelId::new(),
        team_id: team.id.clone(),
        platform: Platform::Sandbox,
        name: ChannelName::parse("name", "Café sandbox").unwrap(),
        time_zone: chrono_tz::Europe::Paris,
        credentials: None,
        queue_slots: vec![],
        created_at: made,
        updated_at: made,
    };
    store.create_channel(&channel).await.unwrap();
    let published = Utc::now() - chrono::Duration::hours(2);
    let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
        id: PostId::new(),
        team_id: team.id.clone(),
        text: PostText::parse("text", "Soupe du jour : potiron").unwrap(),
        variants: Default::default(),
        media: vec![],
        series_id: None,
        created_by: None,
        created_at: published,
        updated_at: published,
    };
    let mut d = Delivery::new(&post, channel.id, Platform::Sandbox, DeliveryState::Published, published, published);
    d.published_at = Some(published);
    d.platform_post_id = Some(format!("sandbox-{}", d.id));
    store.create_post(&post, std::slice::from_ref(&d)).await.unwrap();
    (key.reveal().to_owned(), channel, d)
}

/// Polls `probe` every 100 ms until it says yes, for `limit` at most; fails the test with the
/// serve's output otherwise.
pub(crate) async fn within(limit: Duration, what: &str, serve: &Serve, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !probe().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}. herald serve printed:\n{}", serve.transcript.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `HERALD_METRICS_SECS=1`: serve's metric poller runs every second. Its first round (at start)
/// reads the followers of the seeded channel and the counters of the post it published two
/// hours ago (its +1 h checkpoint is due); a channel connected through the API afterwards has
/// its followers read within seconds, by a later round (the default, 300 s, would not).
#[tokio::test]
async fn serve_polls_metrics_every_herald_metrics_secs() {
    let dir = tempfile::tempdir().unwrap();
    let (key, channel, delivery) = seeded_data_dir(dir.path()).await;
    let serve = Serve::start_with(dir.path(), &[("HERALD_METRICS_SECS", "1"), ("HERALD_POLL_SECS", "3600"), ("HERALD_REPORTS_SECS", "3600")]);
    let store = SqliteStore::open(dir.path().join("herald.db")).unwrap();
    let team = channel.team_id.clone();
    let (from, to) = (Utc::now() - chrono::Duration::days(1), Utc::now() + chrono::Duration::days(1));
    let snapshots = |subject: MetricSubject| {
        let (store, team) = (&store, &team);
        async move { store.snapshots(team, &subject, from, to).await.unwrap() }
    };
    let post = MetricSubject::Delivery { channel_id: channel.id, delivery_id: delivery.id };
    within(Duration::from_secs(20), "the post's counters and the channel's followers", &serve, async || {
        !snapshots(post).await.is_empty() && !snapshots(MetricSubject::Channel { channel_id: channel.id }).await.is_empty()
    })
    .await;
    let counters = &snapshots(post).await[0].counters;
    assert!(counters.likes.is_some() && counters.impressions.is_some(), "the sandbox's counters: {counters:?}");

    let api = Client { http: http_client(), base: serve.url.clone(), key };
    let (status, second) = api
        .call(reqwest::Method::POST, "/v1/channels", Some(json!({"platform": "sandbox", "name": "Second", "time_zone": "Europe/Paris", "credentials": {}})))
        .await;
    assert_eq!(status, 201, "{second}");
    let second = ChannelId::parse("id", second["id"].as_str().unwrap()).unwrap();
    within(Duration::from_secs(15), "the new channel's followers, read by a later round", &serve, async || {
        !snapshots(MetricSubject::Channel { channel_id: second }).await.is_empty()
    })
    .await;
    assert_eq!(snapshots(post).await.len(), 1, "the post is not read again before its next checkpoint");
}

/// `HERALD_REPORTS_SECS=1`: serve checks for due scheduled reports every second. The team has
/// none scheduled when serve starts (its first round makes nothing); once its admin schedules
/// a weekly report for today from midnight (`PATCH /v1/reports/schedule`), the last seven days'
/// report appears under `<data-dir>/reports/cafe/` within seconds, and `Report Ready` is in
/// events.jsonl. The team was made two months ago: the period is not before its time.
#[tokio::test]
async fn serve_makes_due_scheduled_reports_every_herald_reports_secs() {
    use chrono::Datelike;
    let dir = tempfile::tempdir().unwrap();
    let (key, _, _) = seeded_data_dir(dir.path()).await;
    let serve = Serve::start_with(dir.path(), &[("HERALD_REPORTS_SECS", "1"), ("HERALD_POLL_SECS", "3600"), ("HERALD_METRICS_SECS", "3600")]);
    let reports = dir.path().join("reports/cafe");
    let made = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&reports).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
    };
    let api = Client { http: http_client(), base: serve.url.clone(), key };
    let today = Utc::now().with_timezone(&chrono_tz::Europe::Paris);
    let day = today.weekday().to_string().to_lowercase();
    let (status, schedule) =
        api.call(reqwest::Method::PATCH, "/v1/reports/schedule", Some(json!({"weekly": {"day": day, "hour": 0}}))).await;
    assert_eq!(status, 200, "{schedule}");
    assert!(made().is_empty(), "nothing was due before: {:?}", made());

    within(Duration::from_secs(15), "the weekly report in <data-dir>/reports/cafe/", &serve, async || {
        made().iter().any(|r| r.join("report.html").is_file())
    })
    .await;
    let report = made().into_iter().find(|r| r.join("report.json").is_file()).expect("its report.json");
    let data: Value = serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    let (from, to) = ((today.date_naive() - chrono::Duration::days(7)).to_string(), (today.date_naive() - chrono::Duration::days(1)).to_string());
    assert_eq!((data["period"]["from"].as_str(), data["period"]["to"].as_str()), (Some(from.as_str()), Some(to.as_str())), "the last seven days");
    let (status, list) = api.call(reqwest::Method::GET, "/v1/reports", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "listed once: {list}");
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap_or_default();
    assert!(events.lines().any(|l| l.contains("Report Ready")), "{events}");
}
