//! Meta's Graph API on 127.0.0.1, reduced to what connecting a channel asks (the fuller fake of
//! the adapters' own tests is in shared/tests/adapters/meta.rs): `GET /v22.0/{id}` (a Page or an
//! Instagram account) and `GET /v1.0/{id}` (a Threads profile) answer the object for the token
//! [`TOKEN`], and Graph's code-190 error body for any other.

#![allow(dead_code)]

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The token the fake takes.
pub const TOKEN: &str = "EAAG-fake-token";

/// The fake's base, without the API version (`http://127.0.0.1:…`).
pub struct FakeGraph {
    pub url: String,
}

async fn object(Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("access_token").map(String::as_str) != Some(TOKEN) {
        let error = json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "FakeTrace"}});
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    axum::Json(json!({"id": id, "name": "Café du Coin", "username": "cafeducoin"})).into_response()
}

impl FakeGraph {
    pub async fn start() -> FakeGraph {
        let app = Router::new().route("/v22.0/{id}", get(object)).route("/v1.0/{id}", get(object));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGraph { url }
    }

    /// `HERALD_META_GRAPH_URL` and `HERALD_THREADS_GRAPH_URL` pointing here.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [("HERALD_META_GRAPH_URL", format!("{}/v22.0", self.url)), ("HERALD_THREADS_GRAPH_URL", format!("{}/v1.0", self.url))]
    }
}

/// A channel's credentials for Meta's `platform` (`facebook`, `instagram`, `threads`): the
/// account and the token the fake takes, plus the webhook fields intake reads.
pub fn credentials(platform: &str, app_secret: &str, verify_token: &str) -> Value {
    let mut c = match platform {
        "facebook" => json!({"page_id": "1001", "page_access_token": TOKEN}),
        "instagram" => json!({"ig_user_id": "17841400000000001", "access_token": TOKEN}),
        _ => json!({"threads_user_id": "7001", "access_token": TOKEN}),
    };
    c["app_secret"] = json!(app_secret);
    c["verify_token"] = json!(verify_token);
    c
}
