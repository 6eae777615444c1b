//! The README's "Your first ten minutes", run as written: every `sh` block of that section, in
//! order, as one bash script (`set -euo pipefail`, so any failed call fails the test: the
//! walkthrough uses `curl --fail-with-body`) against a live `herald serve`, with `H` and `KEY`
//! set as the section tells the reader to. Then the API is asked whether each step did what
//! the README says it does. The README cannot drift from the product without this failing.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::serve::{Client, Serve};

const SECTION: &str = "## Your first ten minutes";

/// The section's `sh` blocks, joined ( `console` blocks, the reader's own setup, are not run).
fn walkthrough() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let start = readme.find(SECTION).expect("the README has a \"Your first ten minutes\" section");
    let section = &readme[start + SECTION.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut script = String::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            for code in lines.by_ref().take_while(|l| l.trim() != "```") {
                script.push_str(code);
                script.push('\n');
            }
        }
    }
    assert!(script.lines().count() > 20, "the walkthrough's sh blocks: {script}");
    script
}

#[tokio::test]
async fn the_readme_walkthrough_runs_as_written_against_herald_serve() {
    for tool in ["bash", "curl", "jq", "openssl", "base64"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
        assert!(found, "{tool} is needed by the README's walkthrough (tests/run installs it)");
    }
    let script = walkthrough();
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    let key = serve.key.clone().expect("the first-run admin key");
    let cwd = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let (url, key, cwd) = (serve.url.clone(), key.clone(), cwd.path().to_owned());
        move || {
            Command::new("bash")
                .args(["-c", &format!("set -euo pipefail\n{script}")])
                .env("H", url)
                .env("KEY", key)
                .current_dir(cwd)
                .output()
                .expect("bash runs")
        }
    })
    .await
    .unwrap();
    let said = format!(
        "stdout:\n{}\nstderr:\n{}\nserve:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        serve.transcript.text()
    );
    assert!(out.status.success(), "the walkthrough failed after {:?}:\n{said}", started.elapsed());

    // What each step says it did.
    let api = Client::new(&serve);
    let get = |path: &'static str| {
        let api = &api;
        async move {
            let (status, body) = api.call(reqwest::Method::GET, path, None).await;
            assert_eq!(status, 200, "GET {path}: {body}");
            body
        }
    };
    let team = get("/v1/team").await;
    assert_eq!((team["name"].as_str(), team["time_zone"].as_str()), (Some("Café du coin"), Some("Europe/Paris")), "{team}");
    let channels = get("/v1/channels").await;
    assert_eq!(channels["items"].as_array().map(Vec::len), Some(2), "{channels}");

    let posts = get("/v1/posts").await;
    let items = posts["items"].as_array().expect("items");
    let text = |p: &Value| p["text"].as_str().unwrap_or_default().to_owned();
    let texts: Vec<String> = items.iter().map(text).collect();
    for t in ["Croissants from 7, see you tomorrow ☕", "We are open!", "Soup of the day: pumpkin", "Jazz trio on Friday 🎷"] {
        assert!(texts.iter().any(|x| x == t), "{t:?} among {texts:?}");
    }
    let state_of = |t: &str| {
        items.iter().find(|p| text(p) == t).map(|p| p["deliveries"][0]["state"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(state_of("Jazz trio on Friday 🎷").as_deref(), Some("scheduled"), "approved by the editor");
    assert_eq!(state_of("Croissants from 7, see you tomorrow ☕").as_deref(), Some("scheduled"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let posts = get("/v1/posts").await;
        let now = posts["items"].as_array().and_then(|ps| ps.iter().find(|p| text(p) == "We are open!").cloned());
        let state = now.as_ref().and_then(|p| p["deliveries"][0]["state"].as_str()).unwrap_or_default().to_owned();
        if state == "published" {
            break;
        }
        assert!(Instant::now() < deadline, "\"now\" was not published: {now:?}\n{said}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let inbox = get("/v1/inbox?status=answered").await;
    let answered = &inbox["items"][0];
    assert_eq!(answered["text"], "Are you open on Sunday?", "{inbox}");
    let reports = get("/v1/reports").await;
    assert_eq!(reports["items"].as_array().map(Vec::len), Some(1), "{reports}");
    let page = std::fs::read_to_string(cwd.path().join("report.html")).expect("the report was downloaded");
    assert!(page.contains("Café du coin"), "the report names the team");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("/v1/calendar.ics?token="), "the calendar URL was printed:\n{said}");
}
