//! What the Meta adapter tests' fake Graph APIs (meta.rs, meta_inbox.rs, meta_metrics.rs) share:
//! reading a request as Graph does (the API version, the query and a `POST`'s form together,
//! where the token came), the token check, and Graph's answers and error body (platforms.md
//! §4.3 ✅).

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request as the fakes read it (and keep, to assert on).
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Under `/v1.0` (Threads) rather than `/v22.0` (Graph).
    pub threads_api: bool,
    /// Without the version prefix: `/1001/feed`.
    pub path: String,
    /// The query and the form body together (Graph reads both).
    pub params: HashMap<String, String>,
    /// Whether `access_token` came in the URL.
    pub token_in_query: bool,
}

impl Call {
    /// The request read, or Graph's answer to an unknown path.
    pub async fn read(request: Request) -> Result<Call, Response> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
        let full = parts.uri.path();
        let (threads_api, path) = match (full.strip_prefix("/v1.0"), full.strip_prefix("/v22.0")) {
            (Some(p), _) => (true, p.to_owned()),
            (_, Some(p)) => (false, p.to_owned()),
            _ => return Err(graph_error(StatusCode::BAD_REQUEST, 2500, None, "Unknown path components")),
        };
        let query = pairs(parts.uri.query().unwrap_or(""));
        let form = if parts.method == Method::POST { pairs(&String::from_utf8_lossy(&body)) } else { vec![] };
        let token_in_query = query.iter().any(|(k, _)| k == "access_token");
        let params = query.into_iter().chain(form).collect();
        Ok(Call { method: parts.method, threads_api, path, params, token_in_query })
    }

    /// Graph's answer (code 190) when the request's token is not `token`.
    pub fn refused(&self, token: &str) -> Option<Response> {
        (self.params.get("access_token").map(String::as_str) != Some(token)).then(|| {
            let message = "Error validating access token: Session has expired on Friday, 20-Nov-26 09:00:00 PST.";
            graph_error(StatusCode::BAD_REQUEST, 190, Some(463), message)
        })
    }
}

fn pairs(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

pub fn reply(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

/// Graph's error body.
pub fn error_body(code: u32, subcode: Option<u32>, message: &str) -> Value {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGh123"});
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    json!({ "error": error })
}

pub fn graph_error(status: StatusCode, code: u32, subcode: Option<u32>, message: &str) -> Response {
    reply(status, error_body(code, subcode, message))
}
