//! The web app in a real browser: Debian's `chromium`, driven over WebDriver by its
//! `chromium-driver` (`chromedriver`), both installed by `tests/run`.
//!
//! [`Site`] serves an [`App`]'s router (the same one `herald serve` and the `api` function
//! serve) on a loopback port; [`Driver`] starts one `chromedriver` on another and opens headless
//! Chromium sessions at a phone's width (390 px, Chrome's device emulation: headless windows are
//! at least 500 px wide) or a laptop's (1280 px). [`Session::check_page`] is what every screen
//! goes through: no horizontal overflow, no serious or critical axe-core violation (axe from npm,
//! pinned in `tests/run`, at `HERALD_AXE_JS`), and a screenshot kept under the test target's
//! `web-screenshots/` for people to look at.
//!
//! Without `chromedriver` (`HERALD_CHROMEDRIVER`, else on PATH) or axe the tests FAIL, unless
//! `HERALD_SKIP_BROWSER=1` says to skip them (loudly; never under `CI`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::App;

/// A phone's width and a laptop's.
pub const PHONE: u32 = 390;
pub const LAPTOP: u32 = 1280;

/// An app served over HTTP on 127.0.0.1 (the browser needs a real address).
pub struct Site {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    pub async fn start(app: &App) -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        Self::start_on(listener, app)
    }

    /// The app served on a port already bound (when the app must know its own address first).
    pub fn start_on(listener: tokio::net::TcpListener, app: &App) -> Site {
        let addr = listener.local_addr().expect("its address");
        let router = app.router.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
        });
        Site { url: format!("http://{addr}"), task }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One `chromedriver`, ended (by its PID) when dropped.
pub struct Driver {
    child: Child,
    url: String,
    chromium: Option<PathBuf>,
    axe: String,
}

impl Drop for Driver {
    /// Ends chromedriver and every Chromium it started, even when the test failed with sessions
    /// still open: they are all in chromedriver's own process group, ended by its id.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

impl Driver {
    /// `chromedriver` started and ready, or `None` (skip, loudly) when `HERALD_SKIP_BROWSER=1`
    /// outside CI; panics with the way to get what is missing otherwise.
    pub async fn start() -> Option<Driver> {
        if super::process::skip_requested("HERALD_SKIP_BROWSER", "the web app in Chromium") {
            return None;
        }
        let exe = std::env::var_os("HERALD_CHROMEDRIVER").map(PathBuf::from).or_else(|| on_path("chromedriver")).unwrap_or_else(|| {
            panic!(
                "chromedriver not found (HERALD_CHROMEDRIVER, or on PATH): run the tests with tests/run, which installs \
                 Debian's chromium-driver, or `apt-get install chromium-driver`; HERALD_SKIP_BROWSER=1 skips (checks nothing)"
            )
        });
        let axe_path = std::env::var("HERALD_AXE_JS").unwrap_or_else(|_| {
            panic!("HERALD_AXE_JS is not set: run the tests with tests/run, which installs axe-core from npm and sets it")
        });
        let axe = std::fs::read_to_string(&axe_path).unwrap_or_else(|e| panic!("reading axe-core at {axe_path}: {e}"));
        let chromium = std::env::var_os("HERALD_CHROMIUM").map(PathBuf::from).or_else(|| on_path("chromium"));

        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let child = Command::new(&exe)
            // A process group of its own (its id is chromedriver's pid), which Chromium joins.
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), chromium, axe };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            let ready = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(r) = ready
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return Some(driver);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver at {} did not become ready within 10 s", driver.url);
    }

    /// A new headless Chromium, `width` px wide (a phone's through device emulation).
    pub async fn session(&self, width: u32) -> Session {
        let mut options = json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--force-device-scale-factor=1", "--disable-crash-reporter", "--disable-breakpad",
                format!("--window-size={},900", width.max(500)),
            ],
        });
        if let Some(chromium) = &self.chromium {
            options["binary"] = json!(chromium.display().to_string());
        }
        if width < 500 {
            options["mobileEmulation"] = json!({"deviceMetrics": {"width": width, "height": 844, "pixelRatio": 1.0, "touch": true}});
        }
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session through chromedriver: {e}"));
        Session { client, width, axe: self.axe.clone() }
    }
}

/// One browser window.
pub struct Session {
    pub client: Client,
    pub width: u32,
    axe: String,
}

/// Where screenshots of the web app are kept (printed by the tests).
pub fn screenshots() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

impl Session {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current address");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Types into the field `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap_or_else(|e| panic!("clearing {css}: {e}"));
        field.send_keys(text).await.unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| {
            panic!("no element {css} on the page: {e}")
        })
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    /// The page's whole text as shown.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("running a script: {e}"))
    }

    /// Waits (up to 10 s) until `script` returns true.
    pub async fn wait_until(&self, script: &str, what: &str) {
        for _ in 0..200 {
            if self.eval(script).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("waited 10 s for {what} ({script}) at {}", self.path().await);
    }

    /// Signs in through the sign-in page; lands on the calendar.
    pub async fn sign_in(&self, site: &Site, email: &str, password: &str) {
        self.goto(&format!("{}/sign-in", site.url)).await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form.stack button[type=submit]").await;
        self.wait_until("return location.pathname === '/calendar'", "the calendar after signing in").await;
    }

    /// What every screen must pass, at this session's width: no horizontal overflow, no serious or
    /// critical axe-core violation; a screenshot kept as `<name>-<width>.png`.
    pub async fn check_page(&self, name: &str) {
        let widths = self
            .eval("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            .await;
        let (scroll, client) = (widths[0].as_i64().unwrap_or(0), widths[1].as_i64().unwrap_or(0));
        let png = self.client.screenshot().await.expect("a screenshot");
        let file = screenshots().join(format!("{name}-{}.png", self.width));
        std::fs::write(&file, png).expect("writing the screenshot");
        eprintln!("screenshot: {}", file.display());
        assert!(
            scroll <= client,
            "{name} at {} px overflows sideways: {scroll} px of content in {client} px ({})",
            self.width,
            self.path().await
        );
        let violations = self.axe().await;
        assert!(violations.is_empty(), "{name} at {} px: axe-core finds {} serious or critical problem(s):\n{}", self.width, violations.len(), violations.join("\n"));
    }

    /// axe-core's serious and critical violations on the page as it is now, one line each.
    pub async fn axe(&self) -> Vec<String> {
        self.client.execute(&self.axe, vec![]).await.expect("loading axe-core into the page");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done({error: String(e)}));",
                vec![],
            )
            .await
            .expect("running axe-core");
        if let Some(e) = result.get("error") {
            panic!("axe-core failed: {e}");
        }
        result
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                let nodes: Vec<String> = v["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(3)
                    .map(|n| n["target"].to_string())
                    .collect();
                format!("  {} ({}): {} at {}", v["id"], v["impact"], v["help"], nodes.join(", "))
            })
            .collect()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
