//! Property tests over every parser of outside input: whatever the bytes, each returns a value
//! or its typed error, never a panic (one panic used to end `herald serve` for every team).
//! Inputs are arbitrary text and, where arbitrary text would almost never reach the
//! interesting paths, text shaped like the real thing with wild parts (years of six digits,
//! signs, odd zones, stray bytes).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use proptest::prelude::*;

use crate::crypto::Credentials;
use crate::domain::{
    ApiKeyId, ChannelId, LocalTimeInput, MAX_YEAR, MIN_YEAR, Platform, PostText, PublishAt, PublishAtInput, Recurrence,
    Role, TeamId, parse_date, parse_instant, parse_local, resolve_local,
};
use crate::intake::webhooks;
use crate::intake::WebhookRequest;
use crate::services::Actor;
use crate::store::sqlite::SqliteStore;
use crate::store::{InboxQuery, PageRequest, PostStore};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// A year as people and programs get it wrong: ordinary, far, signed, six digits, zero.
fn wild_year() -> impl Strategy<Value = String> {
    prop_oneof![
        (1900i32..2200).prop_map(|y| format!("{y:04}")),
        (0i32..10000).prop_map(|y| format!("{y:04}")),
        (10000i32..=262143).prop_map(|y| format!("+{y}")),
        (1i32..=262144).prop_map(|y| format!("-{y:04}")),
        Just("+262142".to_owned()),
        Just("0000".to_owned()),
    ]
}

/// `YYYY-MM-DD` with a wild year and possibly impossible month or day.
fn wild_date() -> impl Strategy<Value = String> {
    (wild_year(), 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}"))
}

/// A date-time with a wild date, time and offset (or none).
fn wild_datetime() -> impl Strategy<Value = String> {
    let offset = prop_oneof![
        Just(String::new()),
        Just("Z".to_owned()),
        (-30i32..30, 0u32..60).prop_map(|(h, m)| format!("{}{:02}:{m:02}", if h < 0 { '-' } else { '+' }, h.abs())),
    ];
    (wild_date(), 0u32..26, 0u32..61, 0u32..62, offset)
        .prop_map(|(d, h, m, s, o)| format!("{d}T{h:02}:{m:02}:{s:02}{o}"))
}

fn any_zone() -> impl Strategy<Value = chrono_tz::Tz> {
    (0usize..chrono_tz::TZ_VARIANTS.len()).prop_map(|i| chrono_tz::TZ_VARIANTS[i])
}

/// Any wall-clock time in the years Herald reads.
fn bounded_local() -> impl Strategy<Value = NaiveDateTime> {
    let first = NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
    let last = NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31).and_then(|d| d.and_hms_opt(23, 59, 59));
    let (first, last) = (first.map(|t| t.and_utc().timestamp()), last.map(|t| t.and_utc().timestamp()));
    (first.unwrap_or(0)..=last.unwrap_or(0))
        .prop_map(|secs| chrono::DateTime::from_timestamp(secs, 0).map(|t| t.naive_utc()).unwrap_or_default())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn instants_and_dates(s in prop_oneof![any::<String>(), wild_datetime(), wild_date()]) {
        if let Ok(t) = parse_instant("t", &s) {
            prop_assert!((MIN_YEAR..=MAX_YEAR).contains(&t.year()));
        }
        if let Ok(d) = parse_date("d", &s) {
            prop_assert!((MIN_YEAR..=MAX_YEAR).contains(&d.year()));
        }
        let _ = crate::http::listing::instant("from", &s);
    }

    #[test]
    fn publish_at_in_every_form(s in prop_oneof![any::<String>(), wild_datetime()], zone in proptest::option::of("[A-Za-z_/+-]{0,30}")) {
        let now = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).single().unwrap_or_default();
        for input in [
            PublishAtInput::Text(s.clone()),
            PublishAtInput::Local(LocalTimeInput { local: s.clone(), time_zone: zone.clone() }),
        ] {
            match PublishAt::parse(&input) {
                Ok(PublishAt::Instant(t)) => {
                    prop_assert!((MIN_YEAR..=MAX_YEAR).contains(&t.year()));
                    let _ = crate::domain::check_within_horizon("publish_at", t, now);
                }
                Ok(PublishAt::Local { local, time_zone }) => {
                    prop_assert!((MIN_YEAR..=MAX_YEAR).contains(&local.year()));
                    let _ = resolve_local(local, time_zone.unwrap_or(chrono_tz::America::New_York));
                }
                Ok(PublishAt::NextSlot | PublishAt::Now) | Err(_) => {}
            }
        }
    }

    #[test]
    fn local_times_resolve_or_say_why_in_every_zone(local in bounded_local(), zone in any_zone()) {
        // DST gaps and overlaps are errors; nothing panics, even at the ends of the range.
        let _ = resolve_local(local, zone);
    }

    #[test]
    fn local_time_text(s in prop_oneof![any::<String>(), wild_datetime()]) {
        if let Ok(t) = parse_local(&s) {
            prop_assert!((MIN_YEAR..=MAX_YEAR).contains(&t.year()));
        }
    }

    #[test]
    fn rrules_parse_and_expand(
        rule in prop_oneof![
            any::<String>(),
            "[A-Z=;,+0-9-]{0,80}",
            (prop_oneof![Just("DAILY"), Just("WEEKLY"), Just("MONTHLY"), Just("YEARLY"), Just("HOURLY")],
             proptest::option::of(0u32..200), proptest::option::of(wild_date()), "[A-Z=;,0-9+-]{0,30}")
                .prop_map(|(f, c, u, rest)| {
                    let mut r = format!("FREQ={f}");
                    if let Some(c) = c { r += &format!(";COUNT={c}"); }
                    if let Some(u) = u { r += &format!(";UNTIL={}", u.replace('-', "")); }
                    format!("{r};{rest}")
                }),
        ],
        start in bounded_local(),
        zone in any_zone(),
    ) {
        if let Ok(r) = Recurrence::parse(&rule, zone) {
            let _ = r.expand(start);
        }
    }

    #[test]
    fn texts_and_their_limits(s in any::<String>()) {
        let _ = PostText::parse("text", &s);
        for platform in Platform::ALL {
            let _ = crate::platforms::limits::check_post(platform, &s, 0);
            let _ = crate::platforms::limits::text_length(platform, &s);
        }
    }

    #[test]
    fn cursors(s in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,64}", any::<Vec<u8>>().prop_map(|b| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }), "\\[\"[0-9T:.Z+-]{0,40}\",\"[a-z0-9-]{0,40}\"\\]".prop_map(|json| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    })]) {
        let store = SqliteStore::in_memory().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let team = TeamId::parse("team", "cafe").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let page = PageRequest { limit: 10, cursor: Some(s) };
        let now = Utc::now();
        let rt = tokio::runtime::Builder::new_current_thread().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        rt.block_on(async {
            let _ = store.calendar(&team, now - Duration::days(1), now, &page).await;
            let _ = crate::store::InteractionStore::inbox(&store, &team, &InboxQuery::status(crate::domain::InteractionStatus::Open), &page).await;
            let _ = crate::store::ReportStore::list_reports(&store, &team, &page).await;
        });
    }

    #[test]
    fn csv_files(body in prop_oneof![
        any::<Vec<u8>>(),
        any::<String>().prop_map(String::into_bytes),
        (proptest::collection::vec(("[^\n]{0,40}", "[a-z0-9;|-]{0,40}", prop_oneof![wild_datetime(), any::<String>()], "[A-Za-z/_]{0,20}"), 0..8))
            .prop_map(|rows| {
                let mut s = String::from("text,channels,local_time,time_zone\n");
                for (t, c, l, z) in rows { s += &format!("{t},{c},{l},{z}\n"); }
                s.into_bytes()
            }),
        // Raw (unquoted) files with other separators, headers with quotes, a zone or none.
        ("[,;\t|]", proptest::collection::vec(("[^\n]{0,40}", "[a-zA-Z0-9;| -]{0,40}", prop_oneof![wild_datetime(), any::<String>()]), 0..8), any::<bool>())
            .prop_map(|(sep, rows, quoted)| {
                let mut s = if quoted { format!("\"text\"{sep}\"chan{sep}nels\"{sep}local_time\n") } else { format!("text{sep}channels{sep}local_time\n") };
                for (t, c, l) in rows { s += &format!("{t}{sep}{c}{sep}{l}\n"); }
                s.into_bytes()
            }),
    ], partial in any::<bool>()) {
        let store = Arc::new(SqliteStore::in_memory().map_err(|e| TestCaseError::fail(e.to_string()))?);
        let clock = crate::clock::ManualClock::new(Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).single().unwrap_or_default());
        let team = TeamId::parse("team", "cafe").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let actor = Actor { team_id: team, role: Role::Admin, key_id: ApiKeyId::new() };
        let rt = tokio::runtime::Builder::new_current_thread().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = rt.block_on(crate::services::import::import_csv(&*store, &clock, &crate::events::MemorySink::default(), &actor, &body, partial));
    }

    /// Whatever the separator, a file means the same: written with `;` or a tab (quoted where
    /// that separator needs it) it imports exactly as written with commas, row for row; and no
    /// file, however mangled, makes the import panic.
    #[test]
    fn csv_files_mean_the_same_with_any_separator(
        rows in proptest::collection::vec((
            prop_oneof!["[^\r\n]{0,30}", "[a-z ,;\t\"]{1,20}"],
            proptest::collection::vec(prop_oneof![
                Just("Café".to_owned()), Just(" shop ".to_owned()), Just("TWIN".to_owned()), Just("nowhere".to_owned()),
                Just("0".to_owned()), "[a-z0-9 -]{0,12}",
            ], 0..3),
            prop_oneof![
                "2027-0[1-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]".prop_map(|s| s),
                wild_datetime(),
            ],
            prop_oneof![Just(String::new()), Just("Europe/Paris".to_owned()), Just("America/New_York".to_owned()), "[A-Za-z/_]{0,12}"],
        ), 1..6),
        zone_column in any::<bool>(),
        separator in prop_oneof![Just(b';'), Just(b'\t')],
        partial in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let outcome = |delimiter: u8| -> Result<String, TestCaseError> {
            let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(vec![]);
            let header: &[&str] = if zone_column { &["text", "channels", "local_time", "time_zone"] } else { &["text", "channels", "local_time"] };
            writer.write_record(header).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (text, channels, local, zone) in &rows {
                let channels = channels.join("|");
                let mut record = vec![text.as_str(), channels.as_str(), local.as_str()];
                if zone_column {
                    record.push(zone.as_str());
                }
                writer.write_record(&record).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            let body = writer.into_inner().map_err(|e| TestCaseError::fail(e.to_string()))?;
            rt.block_on(import_summary(&body, partial)).map_err(TestCaseError::fail)
        };
        prop_assert_eq!(outcome(b',')?, outcome(separator)?);
    }

    #[test]
    fn webhook_signatures_and_handshakes(
        platform in (0usize..Platform::ALL.len()).prop_map(|i| Platform::ALL[i]),
        headers in proptest::collection::vec((prop_oneof![
            Just("x-hub-signature-256"), Just("x-hub-signature"), Just("x-twitter-webhooks-signature"),
            Just("x-li-signature"), Just("tiktok-signature"), Just("webhook-id"), Just("webhook-timestamp"),
            Just("webhook-signature"),
        ], prop_oneof![any::<String>(), "(sha256=|v1,|t=|hmacsha256=)[A-Za-z0-9+/=,._-]{0,90}", "[0-9]{0,20}"]), 0..5),
        body in any::<Vec<u8>>(),
        query in proptest::option::of(prop_oneof![
            any::<String>(),
            "(hub\\.mode=subscribe&hub\\.verify_token=[a-z0-9]{0,8}&hub\\.challenge=[^&]{0,30})",
            "crc_token=[^&]{0,80}",
            "challengeCode=[^&]{0,80}",
        ]),
        get in any::<bool>(),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                map.append(HeaderName::from_static(name), v);
            }
        }
        let creds = Credentials::from_json("credentials", &serde_json::json!({
            "app_secret": "s3cret", "verify_token": "tok", "consumer_secret": "s3cret",
            "client_secret": "s3cret", "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        })).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let method = if get { Method::GET } else { Method::POST };
        let req = WebhookRequest { method: &method, query: query.as_deref(), headers: &map, body: &body };
        let now = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).single().unwrap_or_default();
        let _ = webhooks::handshake(platform, &creds, &req);
        let _ = webhooks::verify(platform, &creds, &req, now);
        let _ = webhooks::parse(platform, &body);
        let _ = ChannelId::parse("channel_id", &String::from_utf8_lossy(&body));
    }
}

/// Imports `body` as an admin of a team with four channels (`Café` in Paris, `Shop` and two
/// `twin`s in New York) on a fresh store, and says what came of it, ids left out: the rows
/// imported with each delivery's channel name and instant, the duplicates, the rejected rows;
/// or the refusal.
async fn import_summary(body: &[u8], partial: bool) -> Result<String, String> {
    use crate::domain::{Channel, ChannelName};
    use crate::services::import::{ImportOutcome, import_csv};
    use crate::store::ChannelStore;

    let store = SqliteStore::in_memory().map_err(|e| e.to_string())?;
    let now = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).single().unwrap_or_default();
    let team = TeamId::parse("team", "cafe").map_err(|e| e.to_string())?;
    for (name, zone) in [("Café", chrono_tz::Europe::Paris), ("Shop", chrono_tz::America::New_York), ("twin", chrono_tz::America::New_York), ("Twin", chrono_tz::Europe::Paris)] {
        let channel = Channel {
            id: ChannelId::derived(name),
            team_id: team.clone(),
            platform: Platform::Sandbox,
            name: ChannelName::parse("name", name).map_err(|e| e.to_string())?,
            time_zone: zone,
            credentials: None,
            queue_slots: vec![],
            created_at: now,
            updated_at: now,
        };
        store.create_channel(&channel).await.map_err(|e| e.to_string())?;
    }
    let clock = crate::clock::ManualClock::new(now);
    let actor = Actor { team_id: team, role: Role::Admin, key_id: ApiKeyId::derived("admin") };
    let outcome = import_csv(&store, &clock, &crate::events::MemorySink::default(), &actor, body, partial).await;
    Ok(match outcome {
        Ok(ImportOutcome::Imported { posts, duplicates, rejected }) => {
            let posts: Vec<_> = posts
                .iter()
                .map(|p| {
                    let ds: Vec<_> = p.view.deliveries.iter().map(|d| (d.channel_id, d.publish_at)).collect();
                    (p.line, p.view.post.id, p.view.post.text.as_str().to_owned(), ds)
                })
                .collect();
            format!("imported {posts:?}; duplicates {duplicates:?}; rejected {rejected:?}")
        }
        Ok(ImportOutcome::Refused { message, rows }) => format!("refused: {message}; {rows:?}"),
        Err(e) => format!("error: {e}"),
    })
}
