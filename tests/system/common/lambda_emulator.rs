//! A Lambda Runtime API emulator, and a way to run a function binary under it as Lambda would.
//!
//! Lambda starts a custom runtime (our `bootstrap`) with `AWS_LAMBDA_RUNTIME_API=host:port` and
//! the function's environment; the runtime then loops on the documented Runtime API
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>), version `2018-06-01`:
//!
//! | call | what the emulator does |
//! |---|---|
//! | `GET /runtime/invocation/next` | long-polls until the test invokes; answers the event with `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`, `-Trace-Id` |
//! | `POST /runtime/invocation/{id}/response` | the invocation's result (202; 400 for an unknown or finished id; 413 above 6 MB, Lambda's limit for a synchronous answer) |
//! | `POST /runtime/invocation/{id}/error` | the invocation failed: `{"errorType","errorMessage"}` and the `Lambda-Runtime-Function-Error-Type` header (202) |
//! | `POST /runtime/init/error` | the runtime could not start (202); it is expected to exit |
//!
//! Why a hand-written emulator rather than `cargo lambda watch` + `cargo lambda invoke`:
//! - **speed**: the tests run the debug binaries cargo has already built; `watch` compiles the
//!   functions itself (another build of the workspace, in its own profile) and starts them lazily;
//! - **determinism**: one emulator per function process, on `127.0.0.1:0`, no shared daemon
//!   whose state (a warm process, a previous environment) leaks from one test into another, and
//!   no port to pick and hope it is free;
//! - **no extra daemon or tool**: nothing to install for the test suite (cargo-lambda is only
//!   needed to build release bootstraps), nothing to stop afterwards but the function itself;
//! - **exact control**: the test chooses each event byte for byte, the deadline, the order of
//!   invocations, and sees exactly what the runtime sent back, including `errorType`, init errors,
//!   protocol mistakes (an answer for an unknown request) and when the process first asked for
//!   work (the cold-start measurement in infra/bench uses that instant).
//!
//! It emulates one execution environment: one process, invocations one at a time, as Lambda
//! does without Managed Instances.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

/// Largest answer Lambda accepts from a synchronously invoked function.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// What the runtime answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST …/response`: the raw body (a JSON document for every Herald function).
    Response(Bytes),
    /// `POST …/error`.
    Error {
        /// `Lambda-Runtime-Function-Error-Type`, if the runtime sent it.
        header_type: Option<String>,
        /// The body's `errorType` and `errorMessage`.
        error_type: String,
        error_message: String,
    },
}

impl Outcome {
    /// The response as JSON; panics (with the outcome) on an error or a non-JSON body.
    pub fn json(&self) -> Value {
        match self {
            Outcome::Response(body) => serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("the response is not JSON ({e}): {}", String::from_utf8_lossy(body))),
            other => panic!("expected a response, the invocation failed: {other:?}"),
        }
    }

    /// `(errorType, errorMessage)`; panics if the invocation succeeded.
    pub fn error(&self) -> (&str, &str) {
        match self {
            Outcome::Error { error_type, error_message, .. } => (error_type, error_message),
            Outcome::Response(body) => panic!("expected an error, got a response: {}", String::from_utf8_lossy(body)),
        }
    }
}

/// An init error the runtime reported.
#[derive(Debug, Clone, PartialEq)]
pub struct InitError {
    pub header_type: Option<String>,
    pub body: Value,
}

/// One event waiting to be picked up by `/next`.
struct Pending {
    request_id: String,
    payload: Bytes,
    deadline_ms: u64,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Pending>,
    /// Invocations handed out by `/next` and not answered yet.
    in_flight: HashMap<String, oneshot::Sender<Outcome>>,
    /// When each `/next` arrived (the first one ends the cold start).
    next_calls: Vec<Instant>,
    init_errors: Vec<InitError>,
    /// Calls the Runtime API refused (unknown request id, answer too large…).
    protocol_errors: Vec<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Woken when an event is queued (for `/next`) and when `/next` or an init error arrives.
    queued: Notify,
    activity: Notify,
    function_arn: String,
}

/// The emulator: an HTTP server on `127.0.0.1:0`, stopped when dropped.
pub struct LambdaEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
    function_name: String,
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl LambdaEmulator {
    /// Starts an emulator for a function named `function_name` (used in its ARN).
    pub async fn start(function_name: &str) -> LambdaEmulator {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            queued: Notify::new(),
            activity: Notify::new(),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        });
        let api = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error));
        // Also under `/.rt/<function>`, where `cargo lambda watch` serves each function's
        // Runtime API ([`Self::runtime_api_url`]).
        let app = api
            .clone()
            .nest(&format!("/.rt/{function_name}"), api)
            // Read a little past the limit so that an oversized answer gets Lambda's 413, not axum's.
            .layer(DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1024))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the emulator serves");
        });
        LambdaEmulator { addr, shared, server, function_name: function_name.to_owned() }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` as Lambda gives it: `host:port`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` as `cargo lambda watch` gives it: a URL with its
    /// scheme and a path, `http://host:port/.rt/<function>`.
    pub fn runtime_api_url(&self) -> String {
        format!("http://{}/.rt/{}", self.addr, self.function_name)
    }

    /// Invokes the function with `payload` and waits for its answer, at most `timeout` (also the
    /// deadline the runtime is told). `None` when it did not answer in time.
    pub async fn invoke_raw(&self, payload: impl Into<Bytes>, timeout: Duration) -> Option<Outcome> {
        self.invoke_raw_as(&uuid::Uuid::new_v4().to_string(), payload, timeout).await
    }

    /// [`Self::invoke_raw`] under a request id the test chooses (`Lambda-Runtime-Aws-Request-Id`).
    pub async fn invoke_raw_as(&self, request_id: &str, payload: impl Into<Bytes>, timeout: Duration) -> Option<Outcome> {
        let request_id = request_id.to_owned();
        let deadline_ms = (SystemTime::now() + timeout).duration_since(UNIX_EPOCH).expect("after 1970").as_millis() as u64;
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.shared.inner.lock().unwrap();
            inner.in_flight.insert(request_id.clone(), tx);
            inner.queue.push_back(Pending { request_id: request_id.clone(), payload: payload.into(), deadline_ms });
        }
        self.shared.queued.notify_one();
        let outcome = tokio::time::timeout(timeout, rx).await.ok().and_then(Result::ok);
        if outcome.is_none() {
            // Like Lambda after a timeout: that request id is finished, a late answer is refused.
            let mut inner = self.shared.inner.lock().unwrap();
            inner.in_flight.remove(&request_id);
            inner.queue.retain(|p| p.request_id != request_id);
        }
        outcome
    }

    /// [`Self::invoke_raw`] with a JSON event; panics if the function does not answer in time.
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Outcome {
        self.invoke_raw(serde_json::to_vec(event).expect("JSON"), timeout)
            .await
            .unwrap_or_else(|| panic!("the function did not answer within {timeout:?}"))
    }

    /// Waits until the runtime has called `/next` at least `n` times; returns when the `n`th came.
    pub async fn wait_for_next_call(&self, n: usize, timeout: Duration) -> Option<Instant> {
        let wait = async {
            loop {
                let notified = self.shared.activity.notified();
                if let Some(at) = self.shared.inner.lock().unwrap().next_calls.get(n - 1) {
                    return *at;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    /// Waits for an init error.
    pub async fn wait_for_init_error(&self, timeout: Duration) -> Option<InitError> {
        let wait = async {
            loop {
                let notified = self.shared.activity.notified();
                if let Some(e) = self.shared.inner.lock().unwrap().init_errors.first() {
                    return e.clone();
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    /// How many times the runtime has asked for work.
    pub fn next_calls(&self) -> usize {
        self.shared.inner.lock().unwrap().next_calls.len()
    }

    /// Calls the emulator refused: a correct runtime makes none.
    pub fn protocol_errors(&self) -> Vec<String> {
        self.shared.inner.lock().unwrap().protocol_errors.clone()
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    {
        shared.inner.lock().unwrap().next_calls.push(Instant::now());
    }
    shared.activity.notify_waiters();
    let pending = loop {
        let notified = shared.queued.notified();
        if let Some(p) = shared.inner.lock().unwrap().queue.pop_front() {
            break p;
        }
        notified.await;
    };
    let mut headers = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).expect("a header value");
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("lambda-runtime-aws-request-id", header(&pending.request_id));
    headers.insert("lambda-runtime-deadline-ms", header(&pending.deadline_ms.to_string()));
    headers.insert("lambda-runtime-invoked-function-arn", header(&shared.function_arn));
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs(),
        &uuid::Uuid::new_v4().simple().to_string()[..24],
        &uuid::Uuid::new_v4().simple().to_string()[..16],
    );
    headers.insert("lambda-runtime-trace-id", header(&trace));
    (StatusCode::OK, headers, pending.payload).into_response()
}

fn refuse(shared: &Shared, status: StatusCode, error_type: &str, message: String) -> Response {
    shared.inner.lock().unwrap().protocol_errors.push(format!("{status}: {message}"));
    (status, axum::Json(json!({"errorType": error_type, "errorMessage": message}))).into_response()
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    let sender = shared.inner.lock().unwrap().in_flight.remove(id);
    match sender {
        Some(tx) => {
            let _ = tx.send(outcome);
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        None => refuse(shared, StatusCode::BAD_REQUEST, "InvalidRequestID", format!("no invocation {id} is waiting for an answer")),
    }
}

async fn response(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    if body.len() > MAX_RESPONSE_BYTES {
        shared.inner.lock().unwrap().in_flight.remove(&id);
        return refuse(
            &shared,
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("response of {} bytes exceeds {MAX_RESPONSE_BYTES}", body.len()),
        );
    }
    finish(&shared, &id, Outcome::Response(body))
}

fn error_header(headers: &HeaderMap) -> Option<String> {
    headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let outcome =
        Outcome::Error { header_type: error_header(&headers), error_type: field("errorType"), error_message: field("errorMessage") };
    finish(&shared, &id, outcome)
}

async fn init_error(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.inner.lock().unwrap().init_errors.push(InitError { header_type: error_header(&headers), body });
    shared.activity.notify_waiters();
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

/// A function binary running under an emulator, killed (by its PID) when dropped.
pub struct FunctionProcess {
    pub emulator: LambdaEmulator,
    child: Child,
    pub started: Instant,
    /// Every line the process wrote, stdout and stderr, in arrival order ([`Output::Capture`]).
    captured: Arc<Mutex<Vec<String>>>,
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a function process's output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Into the test's own output (shown by the test runner when the test fails).
    Inherit,
    Discard,
    /// Kept line by line for the test ([`FunctionProcess::lines`]), and echoed to its output.
    Capture,
}

/// How `AWS_LAMBDA_RUNTIME_API` names the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeApi {
    /// `host:port`, as Lambda does.
    HostPort,
    /// `http://host:port/.rt/<function>`, as `cargo lambda watch` does.
    Url,
}

impl FunctionProcess {
    /// Starts `binary` as Lambda would: a clean environment holding what Lambda sets for a
    /// `provided.al2023` function (name, memory, version, log group, region, credentials from
    /// `env`, `AWS_LAMBDA_RUNTIME_API` pointing at a fresh emulator) plus the function's own
    /// variables in `env`.
    pub async fn spawn(binary: &Path, name: &str, env: &[(String, String)], output: Output) -> FunctionProcess {
        Self::spawn_with(binary, name, env, output, RuntimeApi::HostPort).await
    }

    /// [`Self::spawn`], naming the emulator in `AWS_LAMBDA_RUNTIME_API` the way `runtime_api` says.
    pub async fn spawn_with(
        binary: &Path,
        name: &str,
        env: &[(String, String)],
        output: Output,
        runtime_api: RuntimeApi,
    ) -> FunctionProcess {
        assert!(binary.exists(), "{} is missing: build the functions (`cargo build --workspace --bins`) or use tests/run", binary.display());
        let emulator = LambdaEmulator::start(name).await;
        let api = match runtime_api {
            RuntimeApi::HostPort => emulator.runtime_api(),
            RuntimeApi::Url => emulator.runtime_api_url(),
        };
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2027/01/04/[$LATEST]0123456789abcdef")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("_HANDLER", "bootstrap")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        match output {
            Output::Inherit => {}
            Output::Discard => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
            Output::Capture => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let started = Instant::now();
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let captured = Arc::new(Mutex::new(Vec::new()));
        if output == Output::Capture {
            let pipes: [Option<Box<dyn std::io::Read + Send>>; 2] = [
                child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
                child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            ];
            for pipe in pipes.into_iter().flatten() {
                let (captured, name) = (captured.clone(), name.to_owned());
                // Ends when the process closes the pipe (it exits or is killed).
                std::thread::spawn(move || {
                    use std::io::BufRead;
                    for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                        eprintln!("[{name}] {line}");
                        captured.lock().unwrap().push(line);
                    }
                });
            }
        }
        FunctionProcess { emulator, child, started, captured }
    }

    /// The lines the process has written so far ([`Output::Capture`]; empty otherwise).
    pub fn lines(&self) -> Vec<String> {
        self.captured.lock().unwrap().clone()
    }

    /// The lines written so far, once no new line has come for `quiet` (the process is waiting:
    /// what it wrote has been read), at most `timeout` from now.
    pub async fn settled_lines(&self, quiet: Duration, timeout: Duration) -> Vec<String> {
        let until = Instant::now() + timeout;
        let mut seen = self.lines().len();
        let mut since = Instant::now();
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = self.lines().len();
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() >= quiet {
                break;
            }
        }
        self.lines()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    pub async fn invoke(&self, event: &Value) -> Outcome {
        self.emulator.invoke(event, Duration::from_secs(30)).await
    }
}
