//! `/v1/channels` and `/v1/keys` in process: the API router on an in-memory SQLite store, a
//! manual clock and a fresh credentials key; every request through `tower::ServiceExt::oneshot`.

use axum::http::Method;
use herald_core::domain::{ChannelId, Role};
use herald_core::store::ChannelStore;
use serde_json::{Value, json};

use crate::common::App;

impl App {
    async fn create_channel(&self, key: &str, body: Value) -> String {
        self.channel(key, body).await
    }
}

fn sandbox_body(name: &str) -> Value {
    json!({"platform": "sandbox", "name": name, "time_zone": "Europe/Paris", "credentials": {"ack_delay_ms": "0", "fail_with": "transient"}})
}

/// Asserts the API error shape and returns (code, field).
fn error_of(body: &Value) -> (String, Option<String>) {
    let (code, field, message) = crate::common::error_of(body);
    assert!(!message.is_empty(), "an error message: {body}");
    (code, field)
}

// ------------------------------------------------------------------------------------------
// Channels
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_creates_reads_lists_and_the_credentials_stay_sealed() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (status, ch) = app
        .post(
            "/v1/channels",
            &admin,
            json!({
                "platform": "mastodon", "name": "@cafe@mastodon.social", "time_zone": "Europe/Paris",
                "credentials": {"access_token": "SECRET-TOKEN-123", "instance_url": "https://mastodon.social"},
                "queue_slots": [{"weekday": "wed", "time": "12:30"}, {"weekday": "mon", "time": "09:00"}]
            }),
        )
        .await;
    assert_eq!(status, 201, "{ch}");
    let id = ch["id"].as_str().unwrap().to_owned();
    assert_eq!(ch["platform"], "mastodon");
    assert_eq!(ch["name"], "@cafe@mastodon.social");
    assert_eq!(ch["time_zone"], "Europe/Paris");
    assert_eq!(ch["has_credentials"], true);
    assert_eq!(ch["queue_slots"], json!([{"weekday": "mon", "time": "09:00"}, {"weekday": "wed", "time": "12:30"}]));
    assert!(ch.get("credentials").is_none());

    let (status, got) = app.get(&format!("/v1/channels/{id}"), &admin).await;
    assert_eq!((status, &got), (200, &ch));
    let (status, list) = app.get("/v1/channels", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"], json!([ch]));

    // Sealed with this channel's id: the store holds ciphertext that only the cipher opens.
    let channel_id = ChannelId::parse("id", &id).unwrap();
    let stored = app.store.channel_by_id(channel_id).await.unwrap().unwrap();
    let sealed = stored.credentials.expect("credentials stored");
    assert!(!sealed.as_str().contains("SECRET-TOKEN-123"));
    let opened = app.state.cipher.open(channel_id, &sealed).unwrap();
    assert_eq!(opened.get("access_token"), Some("SECRET-TOKEN-123"));

    // Not in any body the API gave.
    for body in [&ch, &got, &list] {
        let text = body.to_string();
        assert!(!text.contains("SECRET-TOKEN-123") && !text.contains(sealed.as_str()), "{text}");
    }
}

#[tokio::test]
async fn patch_changes_name_zone_slots_and_replaces_or_removes_credentials() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let id = app.create_channel(&admin, sandbox_body("Sandbox")).await;
    let path = format!("/v1/channels/{id}");
    let channel_id = ChannelId::parse("id", &id).unwrap();
    let before = app.store.channel_by_id(channel_id).await.unwrap().unwrap().credentials.unwrap();

    let (status, ch) = app
        .patch(
            &path,
            &admin,
            json!({"name": "Renamed", "time_zone": "America/New_York", "credentials": {"ack_delay_ms": "456"},
                   "queue_slots": [{"weekday": "Friday", "time": "17:45"}]}),
        )
        .await;
    assert_eq!(status, 200, "{ch}");
    assert_eq!((ch["name"].as_str(), ch["time_zone"].as_str()), (Some("Renamed"), Some("America/New_York")));
    assert_eq!(ch["queue_slots"], json!([{"weekday": "fri", "time": "17:45"}]));
    assert_eq!(ch["has_credentials"], true);
    assert!(!ch.to_string().contains("456"));
    let after = app.store.channel_by_id(channel_id).await.unwrap().unwrap().credentials.unwrap();
    assert_ne!(before, after);
    assert_eq!(app.state.cipher.open(channel_id, &after).unwrap().get("ack_delay_ms"), Some("456"));

    // Fields left out stay; an explicit null removes the credentials.
    let (status, ch) = app.patch(&path, &admin, json!({"credentials": null})).await;
    assert_eq!(status, 200, "{ch}");
    assert_eq!((ch["name"].as_str(), ch["has_credentials"].as_bool()), (Some("Renamed"), Some(false)));
    assert!(app.store.channel_by_id(channel_id).await.unwrap().unwrap().credentials.is_none());

    // The platform is fixed.
    let (status, err) = app.patch(&path, &admin, json!({"platform": "x"})).await;
    assert_eq!((status, error_of(&err)), (422, ("invalid".into(), Some("platform".into()))));
}

#[tokio::test]
async fn only_admins_manage_channels_and_everyone_in_the_team_reads_them() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let id = app.create_channel(&admin, sandbox_body("Sandbox")).await;
    let path = format!("/v1/channels/{id}");
    for role in [Role::Editor, Role::Contributor, Role::Viewer] {
        let key = app.key("cafe", role).await;
        let (status, err) = app.post("/v1/channels", &key, sandbox_body("Mine")).await;
        assert_eq!((status, error_of(&err).0.as_str()), (403, "forbidden"), "{role} creates");
        let (status, _) = app.patch(&path, &key, json!({"name": "x"})).await;
        assert_eq!(status, 403, "{role} patches");
        let (status, _) = app.delete(&path, &key).await;
        assert_eq!(status, 403, "{role} deletes");
        let (status, ch) = app.get(&path, &key).await;
        assert_eq!((status, ch["id"].as_str()), (200, Some(id.as_str())), "{role} reads");
        let (status, list) = app.get("/v1/channels", &key).await;
        assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(1)), "{role} lists");
    }
}

#[tokio::test]
async fn another_teams_channels_are_not_found_not_forbidden() {
    let app = App::new();
    let cafe = app.key("cafe", Role::Admin).await;
    let bakery = app.key("bakery", Role::Admin).await;
    let id = app.create_channel(&cafe, sandbox_body("Cafe")).await;
    let path = format!("/v1/channels/{id}");
    let (status, err) = app.get(&path, &bakery).await;
    assert_eq!((status, error_of(&err).0.as_str()), (404, "not_found"));
    assert_eq!(app.patch(&path, &bakery, json!({"name": "mine now"})).await.0, 404);
    assert_eq!(app.delete(&path, &bakery).await.0, 404);
    let (_, list) = app.get("/v1/channels", &bakery).await;
    assert_eq!(list["items"], json!([]));
    // Untouched for its owner.
    let (status, ch) = app.get(&path, &cafe).await;
    assert_eq!((status, ch["name"].as_str()), (200, Some("Cafe")));
    // Ids that are not ids are simply not found.
    assert_eq!(app.get("/v1/channels/not-a-uuid", &cafe).await.0, 404);
}

#[tokio::test]
async fn bad_channel_bodies_are_422_naming_the_field() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let cases = [
        (json!({"platform": "myspace", "name": "a", "time_zone": "UTC"}), "platform"),
        (json!({"platform": "sandbox", "name": "a", "time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"platform": "sandbox", "name": "   ", "time_zone": "UTC"}), "name"),
        (json!({"platform": "sandbox", "name": "a"}), "time_zone"),
        (json!({"platform": "sandbox", "name": 5, "time_zone": "UTC"}), "name"),
        (json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "colour": "red"}), "colour"),
        (
            json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "credentials": {"token": 5}}),
            "credentials.token",
        ),
        (json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "credentials": "tok"}), "credentials"),
        // Every network's credential fields are known: a missing, misspelt or malformed one is
        // refused when connecting, not found out at publish time.
        (json!({"platform": "bluesky", "name": "a", "time_zone": "UTC"}), "credentials"),
        (json!({"platform": "bluesky", "name": "a", "time_zone": "UTC", "credentials": {"identifier": "cafe.bsky.social"}}), "credentials.app_password"),
        (
            json!({"platform": "mastodon", "name": "a", "time_zone": "UTC", "credentials": {"access_token": "t", "instance": "https://m.example"}}),
            "credentials.instance",
        ),
        (
            json!({"platform": "mastodon", "name": "a", "time_zone": "UTC", "credentials": {"access_token": "t", "instance_url": "ftp://m.example"}}),
            "credentials.instance_url",
        ),
        (json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "credentials": {"fail_with": "sometimes"}}), "credentials.fail_with"),
        (json!({"platform": "generic", "name": "a", "time_zone": "UTC", "credentials": {"webhook_secret": "hunter2"}}), "credentials.webhook_secret"),
        (
            json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "queue_slots": [{"weekday": "funday", "time": "09:00"}]}),
            "queue_slots[0].weekday",
        ),
        (
            json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "queue_slots": [{"weekday": "mon", "time": "9h"}]}),
            "queue_slots[0].time",
        ),
        (
            json!({"platform": "sandbox", "name": "a", "time_zone": "UTC",
                   "queue_slots": [{"weekday": "mon", "time": "09:00"}, {"weekday": "monday", "time": "09:00:00"}]}),
            "queue_slots[1]",
        ),
        (
            json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "queue_slots": [{"weekday": "mon", "time": "09:00", "x": 1}]}),
            "queue_slots[0].x",
        ),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let (status, err) = app.post("/v1/channels", &admin, body.clone()).await;
        assert_eq!((status, error_of(&err)), (422, ("invalid".into(), Some(field.into()))), "{body} → {err}");
    }
    // Not JSON at all, and no body: still the JSON error shape.
    let (status, err) = app.call(Method::POST, "/v1/channels", Some(&admin), Some("{\"platform\": ".into())).await;
    assert_eq!((status, error_of(&err)), (422, ("invalid".into(), Some("body".into()))));
    let (status, err) = app.call(Method::POST, "/v1/channels", Some(&admin), None).await;
    assert_eq!((status, error_of(&err)), (422, ("invalid".into(), Some("body".into()))));
    let (_, list) = app.get("/v1/channels", &admin).await;
    assert_eq!(list["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn deleting_a_channel_cancels_what_it_had_not_published() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let keep = app.create_channel(&admin, sandbox_body("Keep")).await;
    let gone = app.create_channel(&admin, sandbox_body("Gone")).await;
    let (status, post) = app
        .post(
            "/v1/posts",
            &admin,
            json!({"text": "hi", "channel_ids": [keep, gone], "publish_at": "2027-01-05T09:00:00Z"}),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    let (status, body) = app.delete(&format!("/v1/channels/{gone}"), &admin).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(app.get(&format!("/v1/channels/{gone}"), &admin).await.0, 404);
    assert_eq!(app.delete(&format!("/v1/channels/{gone}"), &admin).await.0, 404);
    let (_, post) = app.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap()), &admin).await;
    for d in post["deliveries"].as_array().unwrap() {
        let expected = if d["channel_id"] == gone.as_str() { "cancelled" } else { "scheduled" };
        assert_eq!(d["state"], expected, "{d}");
    }
}

// ------------------------------------------------------------------------------------------
// Keys, authentication, routing
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_mints_lists_and_revokes_keys_and_the_secret_shows_once() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (status, made) = app.post("/v1/keys", &admin, json!({"role": "editor", "name": "ci"})).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["key"].as_str().expect("the key, once").to_owned();
    assert!(secret.starts_with("hrld_"));
    assert_eq!((made["role"].as_str(), made["name"].as_str()), (Some("editor"), Some("ci")));
    let id = made["id"].as_str().unwrap().to_owned();

    let (status, me) = app.get("/v1/me", &secret).await;
    assert_eq!((status, me["role"].as_str(), me["team_id"].as_str()), (200, Some("editor"), Some("cafe")));

    let (status, list) = app.get("/v1/keys", &admin).await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().any(|k| k["id"] == id.as_str() && k["name"] == "ci" && k["role"] == "editor"));
    assert!(items.iter().all(|k| k.get("key").is_none() && k.get("hash").is_none()), "{list}");
    assert!(!list.to_string().contains(&secret));

    let (status, body) = app.delete(&format!("/v1/keys/{id}"), &admin).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, err) = app.get("/v1/me", &secret).await;
    assert_eq!((status, error_of(&err).0.as_str()), (401, "unauthorized"));
    assert_eq!(app.delete(&format!("/v1/keys/{id}"), &admin).await.0, 404);
}

#[tokio::test]
async fn key_rules_admin_only_no_self_revocation_no_other_team() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    for role in [Role::Editor, Role::Contributor, Role::Viewer] {
        let key = app.key("cafe", role).await;
        assert_eq!(app.post("/v1/keys", &key, json!({"role": "admin", "name": "me"})).await.0, 403, "{role}");
        assert_eq!(app.get("/v1/keys", &key).await.0, 403, "{role}");
    }
    let (_, me) = app.get("/v1/me", &admin).await;
    let own = me["key_id"].as_str().unwrap();
    let (status, err) = app.delete(&format!("/v1/keys/{own}"), &admin).await;
    assert_eq!((status, error_of(&err).0.as_str()), (409, "conflict"));

    let bakery = app.key("bakery", Role::Admin).await;
    assert_eq!(app.delete(&format!("/v1/keys/{own}"), &bakery).await.0, 404);
    let (_, list) = app.get("/v1/keys", &bakery).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "only its own key");
    assert_eq!(app.get("/v1/me", &admin).await.0, 200, "still valid");

    for (body, field) in [
        (json!({"role": "owner", "name": "x"}), "role"),
        (json!({"role": "viewer"}), "name"),
        (json!({"role": "viewer", "name": "  "}), "name"),
        (json!({"name": "x"}), "role"),
        (json!({"role": "viewer", "name": "x", "team": "bakery"}), "team"),
    ] {
        let (status, err) = app.post("/v1/keys", &admin, body.clone()).await;
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some(field)), "{body}");
    }
}

#[tokio::test]
async fn every_v1_route_wants_a_key_and_errors_are_json() {
    let app = App::new();
    let some_id = ChannelId::new();
    for (method, path) in [
        (Method::GET, "/v1/channels".to_owned()),
        (Method::POST, "/v1/channels".to_owned()),
        (Method::GET, format!("/v1/channels/{some_id}")),
        (Method::PATCH, format!("/v1/channels/{some_id}")),
        (Method::DELETE, format!("/v1/channels/{some_id}")),
        (Method::GET, "/v1/posts".to_owned()),
        (Method::POST, "/v1/posts".to_owned()),
        (Method::GET, format!("/v1/posts/{some_id}")),
        (Method::PATCH, format!("/v1/posts/{some_id}")),
        (Method::POST, format!("/v1/posts/{some_id}/cancel")),
        (Method::POST, format!("/v1/posts/{some_id}/approve")),
        (Method::POST, format!("/v1/posts/{some_id}/retry")),
        (Method::GET, "/v1/keys".to_owned()),
        (Method::POST, "/v1/keys".to_owned()),
        (Method::DELETE, format!("/v1/keys/{some_id}")),
    ] {
        let (status, err) = app.call(method.clone(), &path, None, Some("{}".into())).await;
        assert_eq!((status, error_of(&err).0.as_str()), (401, "unauthorized"), "{method} {path}");
    }
    let admin = app.key("cafe", Role::Admin).await;
    let (status, err) = app.call(Method::PUT, "/v1/channels", Some(&admin), None).await;
    assert_eq!((status, error_of(&err).0.as_str()), (405, "method_not_allowed"));
    let huge = json!({"platform": "sandbox", "name": "a", "time_zone": "UTC", "credentials": {"t": "x".repeat(2 << 20)}});
    let (status, err) = app.call(Method::POST, "/v1/channels", Some(&admin), Some(huge.to_string())).await;
    assert_eq!((status, error_of(&err).0.as_str()), (413, "too_large"));
}
