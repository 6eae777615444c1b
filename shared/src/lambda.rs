//! The Lambda side of every function's `main`: how a function starts, which events it accepts,
//! and how it tells Lambda that something went wrong. Only the functions' mains call this; the
//! services it runs know nothing of Lambda.
//!
//! ## Errors Lambda sees
//!
//! Every failure reaches the Runtime API as `{"errorType","errorMessage"}` with one of these
//! types, so that alarms, logs and whoever redrives a dead-letter queue can tell a failure worth
//! retrying from one that will fail the same way forever:
//!
//! | `errorType` | when | retry? |
//! |---|---|---|
//! | `Herald.InvalidEvent` | the event is not what the function is wired to (an HTTP function given anything but an API Gateway HTTP API payload 2.0 request; a scheduled function given anything but an EventBridge `Scheduled Event`) | no: the same event fails the same way |
//! | `Herald.Transient` | a dependency failed or was busy (DynamoDB, EventBridge, SSM unreachable, throttled, a lost race) | yes |
//! | `Herald.Internal` | a stored item Herald cannot read, or another bug | no, until fixed |
//! | `Herald.Config` | a missing or wrong variable, reported at start-up (`/runtime/init/error`); what is built on the first event ([`Deferred`]: the credentials key from SSM, …) failing, reported by that event | no, until the configuration is fixed |
//!
//! Lambda retries a failed *asynchronous* invocation (the scheduled functions) whatever its type,
//! as often as the function's `MaximumRetryAttempts` in template.yaml says, then sends its record
//! to the dead-letter queue; the type says which of those records are worth sending again. A
//! failed invocation never stops the process: the next event is served as usual.
//!
//! An HTTP function's own errors are HTTP answers (4xx/5xx with a JSON body), not Lambda errors:
//! only an event that is not an HTTP request at all is a Lambda error.
//!
//! ## Logs
//!
//! [`run_http`] and [`run_scheduled`] enter [`crate::logging::invocation`] for the whole of each
//! invocation: every JSON line written meanwhile, by the handler or any task it spawned, carries
//! the invocation's `requestId` (Lambda's request id, the one in its `START`/`REPORT` lines).
//! The HTTP functions' lines of a request also carry its `x-request-id` (the `request` span of
//! `http::with_common_layers`), which the answer's header returns.
//!
//! ## The Runtime API's address
//!
//! `AWS_LAMBDA_RUNTIME_API` is `host:port` on Lambda and a URL (`http://host:port/.rt/<fn>`)
//! under `cargo lambda watch`: both work ([`runtime_api_url`]).

use std::fmt::Display;
use std::future::Future;

use chrono::{DateTime, Utc};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::request::LambdaRequest;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;
use tower::ServiceExt;

use crate::store::StoreError;

/// What a function's `main` returns.
pub type Error = lambda_runtime::Error;

/// The `errorType`s Herald reports (see the module documentation).
pub mod error_type {
    pub const INVALID_EVENT: &str = "Herald.InvalidEvent";
    pub const TRANSIENT: &str = "Herald.Transient";
    pub const INTERNAL: &str = "Herald.Internal";
    pub const CONFIG: &str = "Herald.Config";
}

/// Why one invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// Not an event this function handles. Not retryable.
    #[error("{0}")]
    InvalidEvent(String),
    /// A dependency failed; the same event may well succeed later.
    #[error("{0}")]
    Transient(String),
    /// A bug or unreadable data. Not retryable.
    #[error("{0}")]
    Internal(String),
    /// What the function builds on its first event ([`Deferred`]) could not be built: the
    /// credentials key unreadable, say. Not worth a redrive until the configuration is fixed
    /// (the process itself tries the build again on its next event).
    #[error("{0}")]
    Config(String),
}

impl FunctionError {
    pub fn error_type(&self) -> &'static str {
        match self {
            FunctionError::InvalidEvent(_) => error_type::INVALID_EVENT,
            FunctionError::Transient(_) => error_type::TRANSIENT,
            FunctionError::Internal(_) => error_type::INTERNAL,
            FunctionError::Config(_) => error_type::CONFIG,
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(self, FunctionError::Transient(_))
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(e: FunctionError) -> Diagnostic {
        // lambda_runtime logs the error itself (its Debug form names the variant).
        Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}

impl From<StoreError> for FunctionError {
    fn from(e: StoreError) -> FunctionError {
        match e {
            StoreError::Backend(_) | StoreError::Conflict => FunctionError::Transient(format!("the store failed: {e}")),
            other => FunctionError::Internal(format!("the store answered unexpectedly: {other}")),
        }
    }
}

impl From<crate::services::ServiceError> for FunctionError {
    fn from(e: crate::services::ServiceError) -> FunctionError {
        match e {
            crate::services::ServiceError::Store(e) => e.into(),
            // A missing bucket setting and the like: a configuration problem, not retryable.
            other => FunctionError::Internal(other.to_string()),
        }
    }
}

/// A report round that left due reports unmade fails the invocation: `Herald.Transient` when
/// only dependencies failed (Lambda's retries, then a redrive from the dead-letter queue, make
/// them: the round is idempotent), else `Herald.Internal`.
impl From<crate::services::reports::IncompleteRound> for FunctionError {
    fn from(e: crate::services::reports::IncompleteRound) -> FunctionError {
        match e.retryable() {
            true => FunctionError::Transient(e.to_string()),
            false => FunctionError::Internal(e.to_string()),
        }
    }
}

/// Builds what a function needs before its first event. On failure the error is logged,
/// reported to the Runtime API as an init error of type `Herald.Config` (so the failed
/// invocation says why, not just "Runtime.ExitError"), and the process exits with status 1.
///
/// It never hangs there: the report is given [`INIT_ERROR_REPORT_TIMEOUT`] in all, and the
/// process exits without waiting for anything else (a runtime shutting down would wait for its
/// blocking threads, a stuck name lookup among them).
pub async fn init<T, E: Display>(setup: impl Future<Output = Result<T, E>>) -> T {
    match setup.await {
        Ok(value) => value,
        Err(e) => {
            let message = format!("the function could not start: {e}");
            tracing::error!(error_type = error_type::CONFIG, error = %message, "init failed");
            let report = tokio::time::timeout(INIT_ERROR_REPORT_TIMEOUT, report_init_error(&message)).await;
            let failure = match report {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(format!("no answer within {INIT_ERROR_REPORT_TIMEOUT:?}")),
            };
            if let Some(failure) = failure {
                tracing::error!(error = %failure, "could not report the init error to the Lambda Runtime API");
            }
            std::process::exit(1)
        }
    }
}

/// How long reporting an init error may take before the process exits anyway. Lambda's own
/// Runtime API answers in microseconds; a Runtime API that does not answer must not keep a
/// function that cannot start alive until Lambda's init timeout (10 s) kills it.
pub const INIT_ERROR_REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The URL of `path` (`/2018-06-01/...`) on the Runtime API named by `AWS_LAMBDA_RUNTIME_API`.
/// Lambda gives `host:port`; `cargo lambda watch` gives a URL with its scheme and a path
/// (`http://127.0.0.1:9000/.rt/<function>`). `lambda_runtime` accepts both; so does this.
pub fn runtime_api_url(runtime_api: &str, path: &str) -> String {
    let base = runtime_api.trim().trim_end_matches('/');
    match base.contains("://") {
        true => format!("{base}{path}"),
        false => format!("http://{base}{path}"),
    }
}

/// `POST /2018-06-01/runtime/init/error` (lambda_runtime has no public call for it).
async fn report_init_error(message: &str) -> Result<(), String> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| "AWS_LAMBDA_RUNTIME_API is not set".to_owned())?;
    // A plain client on purpose: the Runtime API's address comes from Lambda, not from users
    // (the networks' clients refuse private addresses: platforms/net.rs).
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(INIT_ERROR_REPORT_TIMEOUT / 2)
        .timeout(INIT_ERROR_REPORT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let body = serde_json::json!({"errorType": error_type::CONFIG, "errorMessage": message, "stackTrace": []});
    let url = runtime_api_url(&api, "/2018-06-01/runtime/init/error");
    let response = client
        .post(&url)
        .header("Lambda-Runtime-Function-Error-Type", error_type::CONFIG)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    match response.status().is_success() {
        true => Ok(()),
        false => Err(format!("POST {url}: the Runtime API answered {}", response.status())),
    }
}

/// What a function builds on its first event rather than at init: whatever needs a network
/// call (the credentials key from SSM, the connect flow's apps) or more than reading variables
/// (the SDK's configuration, the networks' HTTP clients and their TLS roots). Init then ends in
/// about the time of a hello-world function (docs/performance.md, Lambda), and a failure to
/// build is the event's `Herald.Config` error, logged; the next event tries again, so a
/// parameter created after the deployment, or SSM back from an outage, needs no new sandbox.
/// Built once: concurrent first events of one process wait for the same build.
pub struct Deferred<T, F> {
    value: tokio::sync::OnceCell<T>,
    build: F,
}

impl<T, F, Fut, E> Deferred<T, F>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>> + Send,
    E: Display,
{
    pub fn new(build: F) -> Self {
        Self { value: tokio::sync::OnceCell::new(), build }
    }

    /// The value, built on the first call that succeeds.
    pub async fn get(&self) -> Result<&T, FunctionError> {
        // Boxed: the build's future type (the SDK, SSM, every adapter) would otherwise nest inside
        // each invocation's and exceed the compiler's depth limit for a type's layout.
        let build = || -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + '_>> { Box::pin((self.build)()) };
        self.value.get_or_try_init(build).await.map_err(|e| {
            let message = format!("the function could not start: {e}");
            tracing::error!(error_type = error_type::CONFIG, error = %message, "first-event setup failed");
            FunctionError::Config(message)
        })
    }
}

/// Serves an axum router behind API Gateway (HTTP API, payload format 2.0): the same router
/// `herald serve` binds to a port, built on the first request ([`Deferred`]). Anything else is
/// refused as `Herald.InvalidEvent`.
pub async fn run_http<F, Fut, E>(router: &Deferred<axum::Router, F>) -> Result<(), Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<axum::Router, E>> + Send,
    E: Display,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let invocation = crate::logging::invocation(&event.context.request_id);
        async move {
            let _invocation = invocation;
            let request = http_request(event.payload)?;
            let adapter = lambda_http::Adapter::from(router.get().await?.clone());
            let response = adapter.oneshot(LambdaEvent::new(LambdaRequest::ApiGatewayV2(request), event.context)).await;
            Ok::<_, FunctionError>(response.unwrap_or_else(|never| match never {}))
        }
    }))
    .await
}

/// Checks that `event` is an HTTP API payload 2.0 request, naming what is missing if not.
pub fn http_request(event: Value) -> Result<ApiGatewayV2httpRequest, FunctionError> {
    let invalid = |what: &str| {
        FunctionError::InvalidEvent(format!(
            "this function takes API Gateway HTTP API requests (payload format 2.0), and this event {what}"
        ))
    };
    if !event.is_object() {
        return Err(invalid("is not a JSON object"));
    }
    match event.get("version").and_then(Value::as_str) {
        Some("2.0") => {}
        Some(other) => return Err(invalid(&format!("has version {other:?}, not \"2.0\""))),
        None => return Err(invalid("has no \"version\"")),
    }
    if event.pointer("/requestContext/http/method").and_then(Value::as_str).is_none() {
        return Err(invalid("has no requestContext.http.method"));
    }
    if event.get("rawPath").and_then(Value::as_str).is_none() {
        return Err(invalid("has no rawPath"));
    }
    if event.get("isBase64Encoded").is_some_and(|b| !b.is_boolean()) {
        return Err(invalid("has an isBase64Encoded that is not true or false"));
    }
    serde_path_to_error::deserialize(event).map_err(|e| invalid(&format!("cannot be read: {e}")))
}

/// The EventBridge event a schedule rule sends (`"source": "aws.events"`,
/// `"detail-type": "Scheduled Event"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledEvent {
    /// When the rule fired.
    pub time: DateTime<Utc>,
    /// The rule's ARN(s).
    pub resources: Vec<String>,
}

impl ScheduledEvent {
    pub fn parse(event: &Value) -> Result<ScheduledEvent, FunctionError> {
        let invalid = |what: String| {
            FunctionError::InvalidEvent(format!(
                "this function runs on an EventBridge schedule (source \"aws.events\", detail-type \"Scheduled Event\"), and this event {what}"
            ))
        };
        let field = |name: &str| event.get(name).and_then(Value::as_str);
        if !event.is_object() {
            return Err(invalid("is not a JSON object".into()));
        }
        match (field("source"), field("detail-type")) {
            (Some("aws.events"), Some("Scheduled Event")) => {}
            (source, detail_type) => {
                let said = |name: &str, v: Option<&str>| v.map_or(format!("no {name}"), |v| format!("{name} {v:?}"));
                return Err(invalid(format!("has {} and {}", said("source", source), said("detail-type", detail_type))));
            }
        }
        let time = field("time")
            .ok_or_else(|| invalid("has no \"time\"".into()))
            .and_then(|t| DateTime::parse_from_rfc3339(t).map_err(|e| invalid(format!("has an unreadable time {t:?}: {e}"))))?
            .with_timezone(&Utc);
        let resources = match event.get("resources") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => vec![],
        };
        Ok(ScheduledEvent { time, resources })
    }
}

/// Runs a scheduled function: every event must be an EventBridge `Scheduled Event`; `handler`'s
/// summary is the invocation's result, its error a `Herald.*` Lambda error.
pub async fn run_scheduled<F, Fut, T, E>(handler: F) -> Result<(), Error>
where
    F: Fn(ScheduledEvent) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Serialize,
    E: Into<FunctionError>,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let invocation = crate::logging::invocation(&event.context.request_id);
        let run = ScheduledEvent::parse(&event.payload).map(|tick| {
            tracing::info!(scheduled_for = %tick.time, "scheduled run");
            handler(tick)
        });
        async move {
            let _invocation = invocation;
            run?.await.map_err(Into::into)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_events_are_checked() {
        let ok = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2027-01-04T09:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/tick"], "detail": {}});
        let tick = ScheduledEvent::parse(&ok).unwrap();
        assert_eq!(tick.time.to_rfc3339(), "2027-01-04T09:00:00+00:00");
        assert_eq!(tick.resources.len(), 1);
        for bad in [json!("tick"), json!({}), json!({"source": "herald", "detail-type": "Post Published", "time": "2027-01-04T09:00:00Z"}),
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "time": "yesterday"})]
        {
            let e = ScheduledEvent::parse(&bad).unwrap_err();
            assert_eq!(e.error_type(), "Herald.InvalidEvent", "{bad}");
            assert!(!e.retryable());
        }
    }

    #[test]
    fn http_events_are_checked() {
        let e = http_request(json!({"hello": "world"})).unwrap_err();
        assert!(e.to_string().contains("has no \"version\""), "{e}");
        let e = http_request(json!({"version": "1.0"})).unwrap_err();
        assert!(e.to_string().contains("\"1.0\""), "{e}");
        let e = http_request(json!({"version": "2.0", "rawPath": "/"})).unwrap_err();
        assert!(e.to_string().contains("requestContext.http.method"), "{e}");
        let ok = json!({"version": "2.0", "routeKey": "GET /health", "rawPath": "/health", "rawQueryString": "",
            "headers": {}, "requestContext": {"http": {"method": "GET", "path": "/health"}}, "isBase64Encoded": false});
        assert!(http_request(ok).is_ok());
    }

    #[test]
    fn the_runtime_api_is_reached_in_both_forms() {
        let path = "/2018-06-01/runtime/init/error";
        assert_eq!(runtime_api_url("127.0.0.1:9001", path), "http://127.0.0.1:9001/2018-06-01/runtime/init/error");
        assert_eq!(
            runtime_api_url("http://127.0.0.1:9000/.rt/api/", path),
            "http://127.0.0.1:9000/.rt/api/2018-06-01/runtime/init/error"
        );
        assert_eq!(runtime_api_url("https://rt.example", path), "https://rt.example/2018-06-01/runtime/init/error");
    }

    #[tokio::test]
    async fn deferred_is_built_once_and_tried_again_after_a_failure() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let builds = AtomicUsize::new(0);
        let deferred = Deferred::new(|| async {
            match builds.fetch_add(1, Ordering::SeqCst) {
                0 => Err("reading SSM parameter /herald/dev/credentials-key: ParameterNotFound"),
                n => Ok(n),
            }
        });
        let e = deferred.get().await.unwrap_err();
        assert_eq!(e.error_type(), "Herald.Config");
        assert!(!e.retryable());
        assert!(e.to_string().contains("/herald/dev/credentials-key"), "{e}");
        assert_eq!(*deferred.get().await.unwrap(), 1, "the next call builds again");
        assert_eq!(*deferred.get().await.unwrap(), 1, "and keeps what it built");
        assert_eq!(builds.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn store_errors_say_whether_to_retry() {
        let transient: FunctionError = StoreError::Conflict.into();
        assert_eq!(transient.error_type(), "Herald.Transient");
        let internal: FunctionError = StoreError::Corrupt("bad".into()).into();
        assert_eq!(internal.error_type(), "Herald.Internal");
    }
}
