//! `herald serve` and `herald keys create` through the real binary: what a newcomer does first.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::serve::{Serve, herald_bin};

fn keys_create(data_dir: &Path, team: &str, role: &str) -> std::process::Output {
    Command::new(herald_bin())
        .args(["keys", "create", "--team", team, "--role", role, "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("herald keys create runs")
}

async fn get(url: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().get(url);
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
    let serve = Serve::start(dir.path());
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
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("herald demo starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first demo post is due 10 s after start, on 3 channels; allow for a slow machine.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut lines = vec![];
    while lines.iter().filter(|l: &&String| l.starts_with("📤")).count() < 3 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => lines.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the demo published nothing visible in time; it printed: {lines:#?}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.iter().any(|l| l.contains("Its admin API key:  hrld_")), "{lines:#?}");
    let files = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json")))
        .count();
    assert!(files >= 3, "one outbox file per channel of the first post, found {files}");
}
