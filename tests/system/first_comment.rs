//! A post's first comment (Instagram, Facebook) or first reply (Threads), and who may reply on
//! Threads, through the real entry point, `herald serve`: the 422s naming the field when no
//! channel can honour them or the comment is too long for one that would, on create and on
//! PATCH; and the two fields as `GET /v1/posts/{id}` shows them. Meta's channels are connected
//! against the small fake Graph of `common/meta.rs` (the private-network guard off for it).

use serde_json::{Value, json};

use crate::common::meta::{FakeGraph, credentials};
use crate::common::serve::{Client, Serve};

async fn connect(api: &Client, platform: &str, name: &str) -> String {
    let credentials = match platform {
        "sandbox" => Value::Null,
        p => credentials(p, "app-secret", "verify-me"),
    };
    let mut body = json!({"platform": platform, "name": name, "time_zone": "Europe/Paris"});
    if !credentials.is_null() {
        body["credentials"] = credentials;
    }
    let (status, channel) = api.call(reqwest::Method::POST, "/v1/channels", Some(body)).await;
    assert_eq!(status, 201, "{channel}");
    channel["id"].as_str().expect("a channel id").to_owned()
}

/// The field and message of a 422.
fn refused(status: u16, body: &Value) -> (&str, &str) {
    assert_eq!(status, 422, "{body}");
    (body["error"]["field"].as_str().unwrap_or_default(), body["error"]["message"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn first_comment_and_reply_control_are_checked_kept_and_shown() {
    let graph = FakeGraph::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, String)> = graph.env().into_iter().chain([("HERALD_ALLOW_PRIVATE_NETWORK", "1".to_owned())]).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let serve = Serve::start_with(dir.path(), &env);
    let api = Client::new(&serve);
    let sandbox = connect(&api, "sandbox", "Rehearsal").await;
    let threads = connect(&api, "threads", "@cafeducoin").await;
    let insta = connect(&api, "instagram", "Café du Coin – Instagram").await;
    // Two days ahead: far from the publisher's reach during the test.
    let at = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let post = |channels: Vec<&str>, extra: Value| {
        let mut body = json!({"text": "Fresh croissants", "channel_ids": channels, "publish_at": at,
            "media": [{"url": "https://cdn.example/croissant.jpg"}]});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        body
    };
    let create = |body: Value| api.call(reqwest::Method::POST, "/v1/posts", Some(body));

    // Nothing to honour them: refused, naming the field and the networks that take it.
    let (status, e) = create(post(vec![&sandbox], json!({"first_comment": "#bakery"}))).await;
    let (field, message) = refused(status, &e);
    assert_eq!(field, "first_comment");
    assert!(message.contains("Instagram") && message.contains("Facebook") && message.contains("Threads"), "{message}");
    let (status, e) = create(post(vec![&sandbox, &insta], json!({"reply_control": "followers_only"}))).await;
    assert_eq!(refused(status, &e).0, "reply_control");
    let (status, e) = create(post(vec![&threads], json!({"reply_control": "friends"}))).await;
    let (field, message) = refused(status, &e);
    assert_eq!(field, "reply_control");
    assert!(message.contains("mentioned_only"), "{message}");
    // Too long for the Threads reply (emoji count their UTF-8 bytes: 126 × 4 = 504), though
    // Instagram would take it: refused, naming the Threads channel.
    let long = "😀".repeat(126);
    let (status, e) = create(post(vec![&threads, &insta], json!({"first_comment": long}))).await;
    let (field, message) = refused(status, &e);
    assert_eq!(field, "first_comment");
    assert!(message.contains("\"@cafeducoin\" (threads): first reply is 504 characters on Threads; the limit is 500"), "{message}");
    let (status, e) = create(post(vec![&threads], json!({"first_comment": "a\u{7}b"}))).await;
    assert_eq!(refused(status, &e).0, "first_comment");
    let (_, listed) = api.call(reqwest::Method::GET, "/v1/posts", None).await;
    assert_eq!(listed["items"], json!([]), "nothing refused was saved");

    // Honoured: kept and shown as sent.
    let (status, created) = create(post(
        vec![&sandbox, &threads, &insta],
        json!({"first_comment": "#bakery #paris", "reply_control": "mentioned_only"}),
    ))
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["first_comment"].as_str(), created["reply_control"].as_str()), (Some("#bakery #paris"), Some("mentioned_only")));
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/posts/{id}");
    let (status, got) = api.call(reqwest::Method::GET, &path, None).await;
    assert_eq!((status, &got), (200, &created));

    // PATCH: a change is checked as on create; `null` removes; absent leaves.
    let (status, e) = api.call(reqwest::Method::PATCH, &path, Some(json!({"first_comment": "t".repeat(501)}))).await;
    assert_eq!(refused(status, &e).0, "first_comment");
    let (status, changed) =
        api.call(reqwest::Method::PATCH, &path, Some(json!({"first_comment": "#croissant", "reply_control": null}))).await;
    assert_eq!(status, 200, "{changed}");
    let (_, got) = api.call(reqwest::Method::GET, &path, None).await;
    assert_eq!(got["first_comment"], "#croissant");
    assert!(got.get("reply_control").is_none(), "removed: {got}");
    let (status, _) = api.call(reqwest::Method::PATCH, &path, Some(json!({"text": "Warm croissants"}))).await;
    assert_eq!(status, 200);
    let (_, got) = api.call(reqwest::Method::GET, &path, None).await;
    assert_eq!((got["text"].as_str(), got["first_comment"].as_str()), (Some("Warm croissants"), Some("#croissant")));

    // A post without them shows neither.
    let (status, plain) = create(post(vec![&sandbox], json!({}))).await;
    assert_eq!(status, 201, "{plain}");
    assert!(plain.get("first_comment").is_none() && plain.get("reply_control").is_none(), "{plain}");
}
