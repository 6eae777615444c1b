//! Webhook intake through the real entry point, `herald serve`: for every platform with
//! webhooks, a channel with its credentials, the platform's handshake, signed deliveries of its
//! documented payloads landing in the inbox once each (redeliveries included), unsigned and
//! mis-signed ones refused; then `herald intake replay` over the kept raw bodies adds nothing.

use std::path::Path;

use crate::common::serve::{Client, Serve, herald_bin};
use herald_core::crypto::Credentials;
use herald_core::domain::Platform;
use herald_core::intake::webhooks::{EventPayload, parse_for_account, signing};
use reqwest::Method;
use serde_json::{Value, json};

/// (platform, credentials, fixture files under shared/tests/fixtures/webhooks/<platform>/).
/// Each platform's credentials and webhook fixtures; `mastodon` is the instance a Mastodon
/// channel is checked against when connected.
fn cases(mastodon: &str) -> Vec<(Platform, Value, Vec<&'static str>)> {
    let meta = |p: &str| crate::common::meta::credentials(p, "meta-app-secret", "herald-verify");
    vec![
        (Platform::Facebook, meta("facebook"), vec!["feed_comment.json", "feed_reply.json", "messenger_message.json", "batch.json"]),
        (Platform::Instagram, meta("instagram"), vec!["comment.json", "comment_reply.json", "message.json"]),
        (Platform::Threads, meta("threads"), vec!["reply.json", "mention.json", "delete.json"]),
        (Platform::X, json!({"consumer_secret": "x-consumer-secret"}), vec!["aaa_tweets.json", "aaa_direct_message.json", "xaa_post_mention.json", "xaa_post_reply.json", "aaa_favorite.json"]),
        (Platform::Linkedin, json!({"client_secret": "li-client-secret"}), vec!["comment.json", "batch.json"]),
        (Platform::Tiktok, json!({"client_secret": "tt-client-secret"}), vec!["post_publish_failed.json"]),
        (Platform::Mastodon, json!({"webhook_secret": "masto-webhook-secret", "instance_url": mastodon, "access_token": "t"}), vec!["status_mention.json", "status_reply.json", "status_direct.json"]),
        (Platform::Generic, json!({"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}), vec!["comment.json", "direct_message_minimal.json", "unknown_kind.json"]),
    ]
}

fn fixture(platform: Platform, file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/tests/fixtures/webhooks").join(platform.as_str()).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn post_webhook(http: &reqwest::Client, url: &str, headers: &[(&'static str, String)], body: &[u8]) -> (u16, Value) {
    let mut req = http.post(url).header("content-type", "application/json").body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.expect("serve answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn inbox_total(api: &Client) -> usize {
    let mut total = 0;
    for status in ["open", "assigned", "answered", "closed"] {
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/inbox?status={status}&limit=500&cursor={c}"),
                None => format!("/v1/inbox?status={status}&limit=500"),
            };
            let (code, page) = api.call(Method::GET, &path, None).await;
            assert_eq!(code, 200, "{page}");
            total += page["items"].as_array().unwrap().len();
            match page["next"].as_str() {
                Some(n) => cursor = Some(n.to_owned()),
                None => break,
            }
        }
    }
    total
}

#[tokio::test]
async fn every_platforms_signed_webhooks_land_once_and_bad_ones_are_refused() {
    let mastodon = crate::common::mastodon::FakeMastodon::start().await;
    // Connecting a Meta channel checks its token with the Graph API: a fake one here.
    let graph = crate::common::meta::FakeGraph::start().await;
    let [(meta_var, meta_url), (threads_var, threads_url)] = graph.env();
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(
        dir.path(),
        &[("HERALD_POLL_SECS", "3600"), ("HERALD_ALLOW_PRIVATE_NETWORK", "1"), (meta_var, &meta_url), (threads_var, &threads_url)],
    );
    let api = Client::new(&serve);
    let http = crate::common::process::http_client();
    let mut expected_total = 0;
    let mut channels = vec![];

    for (platform, creds, files) in cases(&mastodon.url) {
        let (code, ch) = api
            .call(Method::POST, "/v1/channels", Some(json!({"platform": platform, "name": format!("{} page", platform.as_str()), "time_zone": "Europe/Paris", "credentials": creds})))
            .await;
        assert_eq!(code, 201, "{ch}");
        let id = ch["id"].as_str().unwrap().to_owned();
        let url = format!("{}/webhooks/{}/{id}", serve.url, platform.as_str());
        let credentials = Credentials::from_json("credentials", &creds).unwrap();
        channels.push(id.clone());

        for file in files {
            let body = fixture(platform, file);
            let events = parse_for_account(platform, &body, None).expect("the fixture parses");
            let interactions = events.iter().filter(|e| matches!(e.payload, EventPayload::Interaction(_))).count();
            // Distinct objects only: one comment delivered as two events is one interaction.
            let mut keys: Vec<&str> = events.iter().filter(|e| matches!(e.payload, EventPayload::Interaction(_))).map(|e| e.event_id.as_str()).collect();
            keys.sort();
            keys.dedup();
            let what = format!("{} {file}", platform.as_str());

            let headers = signing::headers(platform, &credentials, &body, chrono::Utc::now()).unwrap();
            let (code, got) = post_webhook(&http, &url, &headers, &body).await;
            assert_eq!(code, 200, "{what}: {got}");
            assert_eq!(got["created"].as_u64(), Some(keys.len() as u64), "{what}: {got}");
            assert_eq!(got["created"].as_u64().unwrap() + got["duplicates"].as_u64().unwrap(), interactions as u64, "{what}: {got}");
            expected_total += keys.len();

            // The platform retries: nothing new.
            let headers = signing::headers(platform, &credentials, &body, chrono::Utc::now()).unwrap();
            let (code, again) = post_webhook(&http, &url, &headers, &body).await;
            assert_eq!((code, again["created"].as_u64()), (200, Some(0)), "{what} redelivered: {again}");

            // No signature, or another secret's: 401.
            let (code, _) = post_webhook(&http, &url, &[], &body).await;
            assert_eq!(code, 401, "{what} unsigned");
            let wrong = Credentials::from_json("c", &json!({"app_secret": "nope", "consumer_secret": "nope", "client_secret": "nope", "webhook_secret": "whsec_bm9wZS1ub3BlLW5vcGUtbm9wZS1ub3BlLW5vcGU="})).unwrap();
            let forged = signing::headers(platform, &wrong, &body, chrono::Utc::now()).unwrap();
            let (code, _) = post_webhook(&http, &url, &forged, &body).await;
            assert_eq!(code, 401, "{what} mis-signed");
        }
    }
    assert!(expected_total >= 15, "the fixtures hold interactions: {expected_total}");
    assert_eq!(inbox_total(&api).await, expected_total);

    // `herald intake replay` parses the kept raw bodies again: nothing is missing, nothing doubles.
    for channel in &channels {
        let out = crate::common::process::output_within(
            std::process::Command::new(herald_bin()).args(["intake", "replay", "--channel", channel, "--data-dir"]).arg(dir.path()),
            std::time::Duration::from_secs(60),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(" 0 new interactions"), "{stdout}");
    }
    assert_eq!(inbox_total(&api).await, expected_total);
}

#[tokio::test]
async fn handshakes_answer_as_each_platform_expects() {
    let mastodon = crate::common::mastodon::FakeMastodon::start().await;
    // Connecting a Meta channel checks its token with the Graph API: a fake one here.
    let graph = crate::common::meta::FakeGraph::start().await;
    let [(meta_var, meta_url), (threads_var, threads_url)] = graph.env();
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(
        dir.path(),
        &[("HERALD_POLL_SECS", "3600"), ("HERALD_ALLOW_PRIVATE_NETWORK", "1"), (meta_var, &meta_url), (threads_var, &threads_url)],
    );
    let api = Client::new(&serve);
    let http = crate::common::process::http_client();
    let channel = |platform: Platform, creds: Value| {
        let api = &api;
        async move {
            let (code, ch) = api
                .call(Method::POST, "/v1/channels", Some(json!({"platform": platform, "name": "x", "time_zone": "UTC", "credentials": creds})))
                .await;
            assert_eq!(code, 201, "{ch}");
            format!("{}/webhooks/{}/{}", api.base, platform.as_str(), ch["id"].as_str().unwrap())
        }
    };

    let fb = channel(Platform::Facebook, crate::common::meta::credentials("facebook", "s", "herald-verify")).await;
    let resp = http.get(format!("{fb}?hub.mode=subscribe&hub.verify_token=herald-verify&hub.challenge=1158201444")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "1158201444");
    let resp = http.get(format!("{fb}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let x = channel(Platform::X, json!({"consumer_secret": "x-consumer-secret"})).await;
    let resp = http.get(format!("{x}?crc_token=challenge-123")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["response_token"], signing::x_crc_response_token("x-consumer-secret", "challenge-123"));

    let li = channel(Platform::Linkedin, json!({"client_secret": "li-secret"})).await;
    let code = "890e4665-4dfe-4ab1-b689-ed553bceeed3";
    let resp = http.get(format!("{li}?challengeCode={code}")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["challengeResponse"], signing::linkedin_challenge_response("li-secret", code));
    // Only a UUID is a challengeCode (any other could make the answer a body's signature).
    let resp = http.get(format!("{li}?challengeCode=abc-123")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // A channel whose credentials lack the secret: 409 naming the field, not a silent accept.
    let bare = channel(Platform::Mastodon, json!({"access_token": "t", "instance_url": mastodon.url})).await;
    let resp = http.post(&bare).body("{}").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "credentials.webhook_secret", "{body}");
}
