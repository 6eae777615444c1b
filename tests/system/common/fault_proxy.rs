//! A fault-injecting HTTP proxy on 127.0.0.1, for the reliability tests
//! (`tests/system/reliability.rs`): it forwards every request to one upstream (moto, a fake
//! platform) and, where a rule of its plan says so, fails it the way AWS and the networks fail:
//! an error answer instead of the upstream's (DynamoDB throttling, a 500, a platform's 503), the
//! same after the upstream did the work (the write happened, the caller is told it did not),
//! an answer delayed past the caller's timeout, a connection closed with no answer, or cut off
//! mid-response. An [`Fault::Answer`] can be any answer: an EventBridge `PutEvents` that
//! refused its entry (200 with `FailedEntryCount`), a platform's 503 with `Retry-After`.
//!
//! It is a bare hyper HTTP/1 server, so that it can close a connection at any point. Every
//! request is recorded ([`FaultProxy::seen`]) with its operation (`PutItem` from the SDK's
//! `x-amz-target` header, else `POST /api/v1/statuses`) and the fault it got, which is how the
//! tests count the AWS SDK's own retries.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

type Body = BoxBody<Bytes, std::io::Error>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `application/x-amz-json-1.0`: how DynamoDB answers (EventBridge uses 1.1).
pub const DYNAMODB_JSON: &str = "application/x-amz-json-1.0";
pub const EVENTBRIDGE_JSON: &str = "application/x-amz-json-1.1";

/// What happens to a request a rule catches.
#[derive(Clone)]
pub enum Fault {
    /// Answer this instead of forwarding: the upstream never sees the request.
    Answer { status: u16, content_type: &'static str, body: String, headers: Vec<(&'static str, String)> },
    /// Forward, throw the upstream's answer away and give this one: the upstream did the work
    /// (a write landed), the caller is told it failed.
    AnswerAfter { status: u16, content_type: &'static str, body: String },
    /// Close the connection without answering; the upstream never sees the request.
    Drop,
    /// Forward, then close the connection without answering (the work is done, the answer lost).
    DropAfter,
    /// Forward, then send the answer's head (with its full `content-length`) and half its body,
    /// then close the connection: a connection reset mid-response.
    ResetMidResponse,
    /// Wait this long, then forward (a slow upstream).
    DelayBefore(Duration),
    /// Forward at once, then wait this long before answering: a caller whose timeout is shorter
    /// gives up although the upstream did the work.
    DelayAfter(Duration),
}

impl Fault {
    /// A DynamoDB error answer: `{"__type": "<type>", "message": …}` with `status`.
    pub fn dynamodb(status: u16, error_type: &str, message: &str) -> Fault {
        Fault::Answer {
            status,
            content_type: DYNAMODB_JSON,
            body: serde_json::json!({"__type": error_type, "message": message}).to_string(),
            headers: vec![],
        }
    }

    /// DynamoDB's `ProvisionedThroughputExceededException` (400): the request was not applied.
    pub fn throughput_exceeded() -> Fault {
        Fault::dynamodb(
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
        )
    }

    /// DynamoDB's `ThrottlingException` (400; on-demand tables and control-plane calls).
    pub fn throttling() -> Fault {
        Fault::dynamodb(400, "com.amazon.coral.availability#ThrottlingException", "Rate of requests exceeds the allowed throughput.")
    }

    /// DynamoDB's `InternalServerError` (500), the request not applied.
    pub fn internal_error() -> Fault {
        Fault::dynamodb(500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error")
    }

    /// DynamoDB's `InternalServerError` (500) after the request WAS applied: DynamoDB documents
    /// that a 500 leaves the outcome of a write unknown.
    pub fn internal_error_after() -> Fault {
        Fault::AnswerAfter {
            status: 500,
            content_type: DYNAMODB_JSON,
            body: serde_json::json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "Internal server error"}).to_string(),
        }
    }

    /// An S3 error answer, as S3 writes them: `<Error><Code>…</Code><Message>…</Message></Error>`
    /// with `status` (S3's `InternalError` is 500, `SlowDown` 503); the request not applied.
    pub fn s3(status: u16, code: &str, message: &str) -> Fault {
        Fault::Answer {
            status,
            content_type: "application/xml",
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
            ),
            headers: vec![],
        }
    }

    /// A platform's plain error answer (`{"error": …}` as Mastodon writes them).
    pub fn status(status: u16) -> Fault {
        Fault::Answer {
            status,
            content_type: "application/json",
            body: serde_json::json!({"error": format!("injected HTTP {status}")}).to_string(),
            headers: vec![],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Fault::Answer { .. } => "answer",
            Fault::AnswerAfter { .. } => "answer-after",
            Fault::Drop => "drop",
            Fault::DropAfter => "drop-after",
            Fault::ResetMidResponse => "reset-mid-response",
            Fault::DelayBefore(_) => "delay-before",
            Fault::DelayAfter(_) => "delay-after",
        }
    }
}

/// One request as the proxy received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// The AWS operation (`PutItem`, `PutEvents`) from `x-amz-target`, else `METHOD /path`.
    pub fn operation(&self) -> String {
        match self.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
            Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
            None => format!("{} {}", self.method, self.path.split('?').next().unwrap_or("")),
        }
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Which requests a rule catches, and how many times.
pub struct Rule {
    operation: Option<String>,
    operation_prefix: Option<String>,
    body_contains: Vec<String>,
    fault: Fault,
    /// Matching requests let through before the fault applies.
    skip: usize,
    /// How many times it applies (`None`: every time).
    times: Option<usize>,
    /// How many times it applies to each distinct request (same operation and body: the SDK's
    /// retries of one call), `None`: no such bound.
    per_request: Option<usize>,
    matched: usize,
    applied: usize,
    applied_to: std::collections::HashMap<(String, Bytes), usize>,
}

impl Rule {
    /// Every request, every time (narrow it with the methods below).
    pub fn new(fault: Fault) -> Rule {
        Rule {
            operation: None,
            operation_prefix: None,
            body_contains: vec![],
            fault,
            skip: 0,
            times: None,
            per_request: None,
            matched: 0,
            applied: 0,
            applied_to: Default::default(),
        }
    }

    /// Only this operation ([`Request::operation`]: `PutItem`, `POST /api/v1/statuses`).
    pub fn on(mut self, operation: &str) -> Rule {
        self.operation = Some(operation.to_owned());
        self
    }

    /// Only operations that start with this text: `PUT /<bucket>/reports/` is every S3 PutObject
    /// under that prefix ([`Request::operation`] is `METHOD /path` for S3).
    pub fn on_prefix(mut self, prefix: &str) -> Rule {
        self.operation_prefix = Some(prefix.to_owned());
        self
    }

    /// Only requests whose body holds this text.
    pub fn body_contains(mut self, text: &str) -> Rule {
        self.body_contains.push(text.to_owned());
        self
    }

    /// Applies this many times, then lets requests through.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    /// Applies to each distinct request (same operation and body) `n` times, then lets it
    /// through: with `n` below the SDK's 3 attempts every call succeeds in the end, with 3 or
    /// more none does.
    pub fn per_request(mut self, n: usize) -> Rule {
        self.per_request = Some(n);
        self
    }

    /// Lets the first `n` matching requests through.
    pub fn after(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    fn matches(&self, r: &Request) -> bool {
        self.operation.as_ref().is_none_or(|op| *op == r.operation())
            && self.operation_prefix.as_ref().is_none_or(|prefix| r.operation().starts_with(prefix.as_str()))
            && (self.body_contains.is_empty() || {
                let text = r.body_text();
                self.body_contains.iter().all(|t| text.contains(t.as_str()))
            })
    }
}

/// One request the proxy saw, and what it did with it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub operation: String,
    pub body: String,
    /// `None`: forwarded as it was.
    pub fault: Option<&'static str>,
}

#[derive(Default)]
struct Plan {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

/// The proxy: listening on [`FaultProxy::url`] until dropped.
pub struct FaultProxy {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:port`), forwarding everything until rules are added.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let plan = Arc::new(Mutex::new(Plan::default()));
        let forward = Forward {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder().no_proxy().build().expect("an HTTP client"),
        };
        let shared = plan.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (plan, forward) = (shared.clone(), forward.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(plan.clone(), forward.clone(), req));
                    // A dropped connection ends here with an error: that is the point.
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        FaultProxy { url, plan, accept }
    }

    pub fn add(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// Removes every rule: everything is forwarded again.
    pub fn heal(&self) {
        self.lock().rules.clear();
    }

    /// Forgets what was seen.
    pub fn forget(&self) {
        self.lock().seen.clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// How many requests of `operation` arrived (faulted or not).
    pub fn count(&self, operation: &str) -> usize {
        self.lock().seen.iter().filter(|s| s.operation == operation).count()
    }

    /// How many requests got a fault.
    pub fn faulted(&self) -> usize {
        self.lock().seen.iter().filter(|s| s.fault.is_some()).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Clone)]
struct Forward {
    upstream: String,
    http: reqwest::Client,
}

/// The upstream's answer.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Forward {
    async fn send(&self, r: &Request) -> Answer {
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut out = self.http.request(method, format!("{}{}", self.upstream, r.path));
        for (name, value) in &r.headers {
            if !hop_by_hop(name.as_str()) {
                out = out.header(name, value);
            }
        }
        match out.body(r.body.clone()).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let mut headers = HeaderMap::new();
                for (name, value) in resp.headers() {
                    if !hop_by_hop(name.as_str()) {
                        headers.append(name.clone(), value.clone());
                    }
                }
                let body = resp.bytes().await.unwrap_or_default();
                Answer { status, headers, body }
            }
            Err(e) => Answer { status: 502, headers: HeaderMap::new(), body: Bytes::from(format!("fault proxy: upstream: {e}")) },
        }
    }
}

fn hop_by_hop(name: &str) -> bool {
    matches!(name, "host" | "content-length" | "connection" | "transfer-encoding" | "keep-alive" | "upgrade" | "te" | "trailer")
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).map_err(|never: Infallible| match never {}).boxed()
}

fn respond(status: u16, headers: HeaderMap, body: Bytes) -> hyper::Response<Body> {
    let mut resp = hyper::Response::new(full(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    *resp.headers_mut() = headers;
    resp
}

async fn handle(
    plan: Arc<Mutex<Plan>>,
    forward: Forward,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, BoxError> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into()),
        headers: parts.headers,
        body,
    };
    let fault = {
        let mut plan = plan.lock().unwrap_or_else(|p| p.into_inner());
        let mut chosen = None;
        for rule in plan.rules.iter_mut() {
            if !rule.matches(&request) {
                continue;
            }
            rule.matched += 1;
            let key = (request.operation(), request.body.clone());
            let due = rule.matched > rule.skip
                && rule.times.is_none_or(|t| rule.applied < t)
                && rule.per_request.is_none_or(|n| rule.applied_to.get(&key).copied().unwrap_or(0) < n);
            if due && chosen.is_none() {
                rule.applied += 1;
                *rule.applied_to.entry(key).or_default() += 1;
                chosen = Some(rule.fault.clone());
            }
        }
        plan.seen.push(Seen {
            at: Instant::now(),
            operation: request.operation(),
            body: request.body_text(),
            fault: chosen.as_ref().map(Fault::name),
        });
        chosen
    };
    let Some(fault) = fault else {
        let a = forward.send(&request).await;
        return Ok(respond(a.status, a.headers, a.body));
    };
    match fault {
        Fault::Answer { status, content_type, body, headers } => {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static(content_type));
            for (k, v) in headers {
                h.insert(k, HeaderValue::from_str(&v)?);
            }
            Ok(respond(status, h, Bytes::from(body)))
        }
        Fault::AnswerAfter { status, content_type, body } => {
            forward.send(&request).await;
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static(content_type));
            Ok(respond(status, h, Bytes::from(body)))
        }
        Fault::Drop => Err("fault proxy: connection dropped".into()),
        Fault::DropAfter => {
            forward.send(&request).await;
            Err("fault proxy: connection dropped after forwarding".into())
        }
        Fault::ResetMidResponse => {
            let a = forward.send(&request).await;
            let half = a.body.slice(..a.body.len() / 2);
            let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
                Ok(Frame::data(half)),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault proxy: reset mid-response")),
            ];
            let mut resp = hyper::Response::new(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(frames))));
            *resp.status_mut() = hyper::StatusCode::from_u16(a.status)?;
            *resp.headers_mut() = a.headers;
            resp.headers_mut().insert("content-length", HeaderValue::from(a.body.len()));
            Ok(resp)
        }
        Fault::DelayBefore(d) => {
            tokio::time::sleep(d).await;
            let a = forward.send(&request).await;
            Ok(respond(a.status, a.headers, a.body))
        }
        Fault::DelayAfter(d) => {
            let a = forward.send(&request).await;
            tokio::time::sleep(d).await;
            Ok(respond(a.status, a.headers, a.body))
        }
    }
}
