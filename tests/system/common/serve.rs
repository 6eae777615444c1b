//! The real `herald` binary for system tests: `herald serve` as a child process (killed by its
//! PID when dropped) and a small HTTP client for its API.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `herald` binary cargo built beside this test (`target/<profile>/herald`).
pub fn herald_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let bin = dir.join(format!("herald{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: build it (`cargo build -p herald`) or use tests/run", bin.display());
    bin
}

/// A running `herald serve` on 127.0.0.1 and a free port.
pub struct Serve {
    pub child: Child,
    pub url: String,
    /// The admin key serve prints on its first run.
    pub key: Option<String>,
}

impl Serve {
    pub fn start(data_dir: &Path) -> Serve {
        Self::start_with(data_dir, &[])
    }

    /// Ends serve the hard way: no chance to finish what it was doing.
    pub fn kill(self) {
        drop(self);
    }

    /// Starts serve on `data_dir` with extra environment; waits for its URL (30 s at most).
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
    /// noting the admin key and a report path if it prints them (60 s at most).
    // The child is waited for in `Drop`, which clippy cannot see from here.
    #[allow(clippy::zombie_processes)]
    fn spawn(command: &str, data_dir: &Path, env: &[(&str, &str)]) -> (Serve, Option<PathBuf>) {
        let mut child = Command::new(herald_bin())
            .args([command, "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("herald {command} starts: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut key, mut report) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let line = lines.next().expect("herald keeps printing until its URL").expect("utf-8 line");
            if let Some(k) = line.split_whitespace().find(|w| w.starts_with("hrld_")) {
                key = Some(k.to_owned());
            }
            if line.trim().ends_with("report.html") {
                report = Some(PathBuf::from(line.trim()));
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest.split_whitespace().next().expect("a URL").to_owned();
                // Keep draining stdout so herald never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return (Serve { child, url, key }, report);
            }
        }
        panic!("herald {command} did not print its URL in 60 s");
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
        Client { http: reqwest::Client::new(), base: serve.url.clone(), key: serve.key.clone().expect("a first-run key") }
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
}
