//! `GET /v1/openapi.json`: the OpenAPI 3 document is served without a key, is generated from the
//! handlers' annotations, and covers every route of `api_router`, no more and no less.

use std::collections::BTreeSet;

use axum::http::Method;
use crate::common::App;
use serde_json::Value;

/// Every (method, path) `api_router` serves, written from `shared/src/http/mod.rs`. A route
/// added there without an entry here, or without a `#[utoipa::path]` listed in
/// `shared/src/http/openapi.rs`, fails `every_route_is_documented_and_nothing_else`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/v1/me"),
    ("get", "/v1/team"),
    ("patch", "/v1/team"),
    ("get", "/v1/team/logo"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/channels"),
    ("post", "/v1/channels"),
    ("get", "/v1/channels/{id}"),
    ("patch", "/v1/channels/{id}"),
    ("delete", "/v1/channels/{id}"),
    ("post", "/v1/channels/connect/{platform}"),
    ("get", "/oauth/{platform}/callback"),
    ("get", "/v1/connections/{id}"),
    ("post", "/v1/connections/{id}/finish"),
    ("get", "/v1/posts"),
    ("post", "/v1/media"),
    ("put", "/v1/media/upload/{team}/{file}"),
    ("get", "/v1/media/files/{team}/{file}"),
    ("post", "/v1/posts"),
    ("post", "/v1/posts/import"),
    ("get", "/v1/posts/{id}"),
    ("patch", "/v1/posts/{id}"),
    ("post", "/v1/posts/{id}/cancel"),
    ("post", "/v1/posts/{id}/approve"),
    ("post", "/v1/posts/{id}/reject"),
    ("post", "/v1/posts/{id}/retry"),
    ("get", "/v1/keys"),
    ("post", "/v1/keys"),
    ("delete", "/v1/keys/{id}"),
    ("post", "/v1/invites"),
    ("get", "/v1/members"),
    ("delete", "/v1/members/{id}"),
    ("post", "/v1/members/{id}/reset-link"),
    ("post", "/auth/accept"),
    ("post", "/auth/sign-in"),
    ("post", "/auth/reset"),
    ("post", "/auth/sign-out"),
    ("post", "/auth/sign-out-everywhere"),
    ("post", "/v1/calendar/token"),
    ("get", "/v1/calendar.ics"),
    ("get", "/v1/inbox"),
    ("get", "/v1/inbox/{id}"),
    ("post", "/v1/inbox/{id}/assign"),
    ("post", "/v1/inbox/{id}/notes"),
    ("post", "/v1/inbox/{id}/close"),
    ("post", "/v1/inbox/{id}/reopen"),
    ("post", "/v1/inbox/{id}/reply"),
    ("post", "/v1/inbox/{id}/answered"),
    ("get", "/v1/contacts/{platform}/{author_id}"),
    ("delete", "/v1/contacts/{platform}/{author_id}"),
    ("get", "/v1/watchlist"),
    ("put", "/v1/watchlist"),
    ("get", "/v1/incidents"),
    ("get", "/v1/reports"),
    ("post", "/v1/reports"),
    ("get", "/v1/reports/schedule"),
    ("patch", "/v1/reports/schedule"),
    ("get", "/v1/reports/{id}"),
    ("get", "/v1/reports/{id}/{file}"),
    ("get", "/v1/reports/{id}/shares"),
    ("post", "/v1/reports/{id}/shares"),
    ("delete", "/v1/reports/{id}/shares/{share}"),
    ("get", "/share/{token}"),
    ("post", "/v1/channels/{id}/slots/suggest"),
    ("get", "/webhooks/{platform}/{channel_id}"),
    ("post", "/webhooks/{platform}/{channel_id}"),
];

/// Served without an API key.
const PUBLIC: &[&str] = &[
    "/health",
    "/v1/openapi.json",
    "/v1/calendar.ics",
    "/webhooks/{platform}/{channel_id}",
    // The network sends the person back here: the signed state is the permission.
    "/oauth/{platform}/callback",
    // A person's way in: the invite or reset token, or the e-mail and password, in the body.
    "/auth/accept",
    "/auth/sign-in",
    "/auth/reset",
    // Signed addresses: the signature in the query is the permission.
    "/v1/media/upload/{team}/{file}",
    "/v1/media/files/{team}/{file}",
    // A shared report: the signed token in the path is the permission.
    "/share/{token}",
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn document(app: &App) -> Value {
    let raw = app.raw(Method::GET, "/v1/openapi.json", None, None, None).await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    assert!(raw.content_type.as_deref().unwrap_or("").starts_with("application/json"), "{:?}", raw.content_type);
    raw.json()
}

/// A response of an operation, following a `$ref` to the shared ones.
fn response<'a>(doc: &'a Value, r: &'a Value) -> &'a Value {
    match r["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/responses/").unwrap_or_else(|| panic!("{reference}"));
            &doc["components"]["responses"][name]
        }
        None => r,
    }
}

/// (method, path, operation) for every operation of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for (method, op) in item.as_object().expect("a path item is an object") {
            if METHODS.contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_openapi_3_json_served_without_a_key() {
    let app = App::new();
    let doc = document(&app).await;
    let version = doc["openapi"].as_str().expect("an `openapi` version string");
    assert!(version.starts_with("3."), "openapi = {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string(), "{}", doc["info"]);
    let scheme = &doc["components"]["securitySchemes"]["ApiKey"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    let error = &doc["components"]["schemas"]["ApiErrorBody"];
    assert!(error["properties"]["error"].is_object(), "{error}");

    // Every `$ref` points at a schema or a response the document defines.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "$ref" {
                        out.push(v.as_str().expect("a $ref string").to_owned());
                    } else {
                        refs(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let (kind, name) = r
            .strip_prefix("#/components/")
            .and_then(|rest| rest.split_once('/'))
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(kind == "schemas" || kind == "responses", "unexpected $ref {r}");
        assert!(doc["components"][kind][name].is_object(), "dangling $ref {r}");
    }
}

#[tokio::test]
async fn every_route_is_documented_and_nothing_else() {
    let app = App::new();
    let doc = document(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&doc).into_iter().map(|(m, p, _)| (m, p)).collect();
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    let undocumented: Vec<_> = expected.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&expected).collect();
    assert!(undocumented.is_empty(), "routes missing from /v1/openapi.json: {undocumented:?}");
    assert!(unknown.is_empty(), "documented operations not in the expected route list: {unknown:?}");
}

/// Each documented operation is served by the router: with a dummy id and no key it answers
/// something other than the fallback's 404 "no such route" or a 405.
#[tokio::test]
async fn every_documented_operation_is_served_by_the_router() {
    let app = App::new();
    // The check means something: an unknown path is the fallback, a wrong method is 405.
    let (status, body) = app.call(Method::GET, "/v1/nothing-here", None, None).await;
    assert_eq!((status, body["error"]["message"].as_str()), (404, Some("no such route")), "{body}");
    let (status, _) = app.call(Method::PUT, "/v1/channels", None, None).await;
    assert_eq!(status, 405);

    let dummy = "00000000-0000-4000-8000-000000000000";
    for (method, path, _) in operations(&document(&app).await) {
        let uri = path
            .replace("{id}", dummy)
            .replace("{channel_id}", dummy)
            .replace("{platform}", "mastodon")
            .replace("{author_id}", "109876543210");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let raw = app.raw(m, &uri, None, None, None).await;
        assert_ne!(raw.status, 405, "{method} {path}: 405 from the router");
        if raw.status == 404 {
            let body = raw.json();
            assert_ne!(body["error"]["message"], "no such route", "{method} {path}: not routed");
        }
        if !PUBLIC.contains(&path.as_str()) {
            assert_eq!(raw.status, 401, "{method} {path}: without a key");
        }
    }
}

#[tokio::test]
async fn every_operation_declares_success_and_protected_ones_declare_401() {
    let app = App::new();
    let doc = document(&app).await;
    for (method, path, op) in operations(&doc) {
        let what = format!("{method} {path}");
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{what}: no summary");
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{what}: no tag");
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{what}: no responses"));
        assert!(responses.keys().any(|code| code.starts_with('2')), "{what}: no 2xx response");
        let secured = op["security"]
            .as_array()
            .is_some_and(|reqs| reqs.iter().any(|r| r.get("ApiKey").is_some()));
        if PUBLIC.contains(&path.as_str()) {
            assert!(!secured, "{what}: public but declares the ApiKey security");
        } else {
            assert!(secured, "{what}: protected but declares no ApiKey security");
            let unauthorized = responses.get("401").unwrap_or_else(|| panic!("{what}: no 401 response"));
            assert_eq!(unauthorized["$ref"], "#/components/responses/Unauthorized", "{what}: 401 is not the shared one");
            let schema = &response(&doc, unauthorized)["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/ApiErrorBody", "{what}: 401 is not the error schema");
        }
        if path.contains("{id}") {
            let params = op["parameters"].as_array().unwrap_or_else(|| panic!("{what}: no parameters"));
            assert!(params.iter().any(|p| p["name"] == "id" && p["in"] == "path"), "{what}: `id` is not a path parameter");
        }
    }
    // The bodies the handlers read are described.
    let create = &doc["paths"]["/v1/posts"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(create, "#/components/schemas/CreatePostBody");
    let csv = &doc["paths"]["/v1/posts/import"]["post"]["requestBody"]["content"];
    assert!(csv.get("text/csv").is_some(), "{csv}");
    let feed = &doc["paths"]["/v1/calendar.ics"]["get"]["responses"]["200"]["content"];
    assert!(feed.get("text/calendar").is_some(), "{feed}");
}

/// Every JSON body the API answers with is a named schema of the document (a view or the error
/// body), never an anonymous object; and every error status says it answers with the error body.
#[tokio::test]
async fn every_json_response_body_is_a_named_schema() {
    let app = App::new();
    let doc = document(&app).await;
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let mut seen = 0;
    for (method, path, op) in operations(&doc) {
        for (status, r) in op["responses"].as_object().unwrap() {
            let what = format!("{method} {path} {status}");
            let r = response(&doc, r);
            let Some(json) = r["content"].get("application/json") else { continue };
            let reference = json["schema"]["$ref"].as_str().unwrap_or_else(|| panic!("{what}: an anonymous schema {json}"));
            let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{what}: {reference}"));
            assert!(schemas.contains_key(name), "{what}: {name} is not in components.schemas");
            if !status.starts_with('2') {
                assert_eq!(name, "ApiErrorBody", "{what}: an error that is not the error body");
            }
            seen += 1;
        }
    }
    assert!(seen > 100, "only {seen} JSON responses");
    // The error codes are an enum, and the page is generic over its items.
    let codes = &schemas["ErrorCode"]["enum"];
    for code in ["invalid", "not_configured", "bad_request", "platform_unavailable", "method_not_allowed"] {
        assert!(codes.as_array().unwrap().iter().any(|c| c == code), "{code} missing from {codes}");
    }
}
