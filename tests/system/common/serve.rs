//! The real `herald` binary for system tests: `herald serve` as a child process (killed by its
//! PID when dropped) and a small HTTP client for its API. Its output is read with a deadline
//! (common/process.rs): a serve that never prints its URL fails the test with what it printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::{OutputLines, Transcript, kill, workspace_binary};

/// The `herald` binary cargo built beside this test (`target/<profile>/herald`), fresh.
pub fn herald_bin() -> PathBuf {
    workspace_binary("herald")
}

/// How long `herald serve` or `herald demo` may take to print its URL.
const STARTUP: Duration = Duration::from_secs(60);

/// A running `herald serve` on 127.0.0.1 and a free port.
pub struct Serve {
    pub child: Child,
    pub url: String,
    /// The admin key serve prints on its first run.
    pub key: Option<String>,
    /// Everything it printed so far (stdout and stderr), for failure messages.
    pub transcript: Transcript,
}

impl Serve {
    pub fn start(data_dir: &Path) -> Serve {
        Self::start_with(data_dir, &[])
    }

    /// Ends serve the hard way: no chance to finish what it was doing.
    pub fn kill(self) {
        drop(self);
    }

    /// Starts serve on `data_dir` with extra environment; waits for its URL (60 s at most).
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Serve {
        Self::spawn("serve", data_dir, env).0
    }

    /// Starts `herald demo` on a fresh `data_dir` (its history, its report, then serve); returns
    /// it with the path of the report it printed.
    pub fn demo(data_dir: &Path) -> (Serve, PathBuf) {
        let (serve, report) = Self::spawn("demo", data_dir, &[]);
        (serve, report.expect("herald demo printed where its report is"))
    }

    /// `herald <command>` (serve or demo) on 127.0.0.1 and a free port; waits for its URL,
    /// noting the admin key and a report path if it prints them ([`STARTUP`] at most: then it
    /// is killed and the test fails with its output).
    // The child is waited for in `Drop`, which clippy cannot see from here.
    #[allow(clippy::zombie_processes)]
    fn spawn(command: &str, data_dir: &Path, env: &[(&str, &str)]) -> (Serve, Option<PathBuf>) {
        let mut child = Command::new(herald_bin())
            .args([command, "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("herald {command} starts: {e}"));
        let output = OutputLines::of(&mut child);
        let (mut key, mut report) = (None, None);
        let deadline = Instant::now() + STARTUP;
        loop {
            let line = match output.next_line(deadline) {
                Ok(line) => line,
                Err(why) => {
                    let status = kill(&mut child);
                    panic!(
                        "herald {command} did not print its URL within {STARTUP:?}: {why}; killed ({status}). It printed:\n{}",
                        output.transcript.text()
                    );
                }
            };
            if let Some(k) = line.split_whitespace().find(|w| w.starts_with("hrld_")) {
                key = Some(k.to_owned());
            }
            if line.trim().ends_with("report.html") {
                report = Some(PathBuf::from(line.trim()));
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest.split_whitespace().next().expect("a URL").to_owned();
                // The reader threads keep draining its output: herald never blocks on a full pipe.
                return (Serve { child, url, key, transcript: output.transcript.clone() }, report);
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JSON calls to a serve's API with a key.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Client {
    pub fn new(serve: &Serve) -> Client {
        Client { http: super::process::http_client(), base: serve.url.clone(), key: serve.key.clone().expect("a first-run key") }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("serve answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A GET whose answer is text (a report's page).
    pub async fn text(&self, path: &str) -> (u16, String) {
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.expect("serve answers");
        (resp.status().as_u16(), resp.text().await.expect("a body"))
    }
}
