//! Every Lambda function binary, run as Lambda runs it: the debug `bootstrap`s cargo built
//! (`target/<profile>/<function>`, checked fresh), started with `AWS_LAMBDA_RUNTIME_API` pointing
//! at the emulator in `common/lambda_emulator.rs`, a clean environment holding exactly the
//! variables template.yaml gives that function (read from the SAM-transformed template tests/run
//! makes, `HERALD_TEST_SAM_TEMPLATE`, so the two cannot drift), and the AWS SDK pointed at moto
//! (`HERALD_TEST_DYNAMODB_ENDPOINT`, started by `tests/run`). The events are the payloads AWS
//! sends, kept in `infra/events/`. Each test has its own table, bus, queue, bucket and SSM
//! parameter in moto.
//!
//! What is asserted: the answers (HTTP responses in API Gateway's format, run summaries, Lambda
//! errors with their `errorType`), and the effects in moto (items in DynamoDB, events on the bus
//! read from an SQS queue a rule targets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_eventbridge::types::Target;
use base64::Engine as _;
use chrono::{DateTime, Datelike, Utc};
use crate::common::lambda_emulator::{FunctionProcess, Outcome, Output, RuntimeApi};
use crate::common::mastodon::FakeMastodon;
use crate::common::process::workspace_binary;
use herald_core::clock::{ManualClock, SystemClock};
use herald_core::crypto::CredentialCipher;
use herald_core::domain::{DeliveryState, PostId, Role, TeamId};
use herald_core::services::keys::{create_key, ensure_team};
use herald_core::store::dynamo::DynamoStore;
use herald_core::store::{ChannelStore, PostStore, TeamStore};
use serde_json::{Map, Value, json};

// ------------------------------------------------------------------------------------------
// The rig: binaries, events, moto
// ------------------------------------------------------------------------------------------

/// A function binary cargo built beside this test (`target/<profile>/<name>`), fresh.
fn binary(name: &str) -> PathBuf {
    workspace_binary(name)
}

/// The functions template.yaml deploys, as the SAM transform makes them (the CloudFormation JSON
/// tests/run writes and names in `HERALD_TEST_SAM_TEMPLATE`; Globals merged in): each
/// function's binary (`Metadata.BuildProperties.Binary`) → its `Environment.Variables`, values
/// as CloudFormation has them (`"info"`, `{"Ref": "HeraldTable"}`, `{"Fn::Sub": "/${…}"}`).
fn deployed_functions() -> &'static BTreeMap<String, Map<String, Value>> {
    static FUNCTIONS: OnceLock<BTreeMap<String, Map<String, Value>>> = OnceLock::new();
    FUNCTIONS.get_or_init(|| {
        let path = std::env::var("HERALD_TEST_SAM_TEMPLATE").unwrap_or_else(|_| {
            panic!(
                "HERALD_TEST_SAM_TEMPLATE is not set: the Lambda tests give each function the environment \
                 template.yaml gives it, read from the SAM-transformed template that tests/run makes. Run the \
                 suite with `tests/run` (or `python infra/sam/transform.py template.yaml OUT.json` with the \
                 test venv's Python and point HERALD_TEST_SAM_TEMPLATE at OUT.json)"
            )
        });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("HERALD_TEST_SAM_TEMPLATE={path}: {e}"));
        let template: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let resources = template["Resources"].as_object().unwrap_or_else(|| panic!("{path}: no Resources"));
        resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
            .map(|(id, r)| {
                let binary = r["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: {id} names no Metadata.BuildProperties.Binary"));
                let vars = r["Properties"]["Environment"]["Variables"].as_object().cloned().unwrap_or_default();
                (binary.to_owned(), vars)
            })
            .collect()
    })
}

/// The stage the rig's functions run as (template.yaml's `Stage` parameter).
const STAGE: &str = "test";

/// What Lambda itself puts in a function's environment besides template.yaml's variables (the
/// emulator adds the `AWS_LAMBDA_*` ones), plus `AWS_ENDPOINT_URL`, the SDK's override that points
/// every AWS call at moto.
const LAMBDA_SETS: [&str; 6] =
    ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"];

/// Variables only the tests set, by function, and why; nothing else differs from AWS.
fn test_only(function: &str) -> &'static [(&'static str, &'static str)] {
    match function {
        // The pollers' tests point a channel at a fake Mastodon on 127.0.0.1: the guard against
        // requests to private addresses (SSRF) must let them through there. Harmless until the
        // guard exists.
        // The API's too: connecting a channel checks its credentials with that instance.
        "notification-poller" | "metric-poller" | "api" => &[("HERALD_ALLOW_PRIVATE_NETWORK", "1")],
        _ => &[],
    }
}

/// A round's `mail` when the template's `MailFrom` is empty (as the rig deploys it).
fn mail_off() -> Value {
    json!({"on": false, "sent": 0, "failed": 0, "skipped": 0})
}

/// An event payload from `infra/events/`.
fn event(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/events").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An HTTP API (payload 2.0) request: `infra/events/apigw-http-post-json.json` with this method,
/// path, headers and JSON body (sent as text, as API Gateway does for JSON).
fn http_event(method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> Value {
    let mut e = event("apigw-http-post-json.json");
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    e["requestContext"]["requestId"] = json!(uuid::Uuid::new_v4().to_string());
    e["requestContext"]["timeEpoch"] = json!(Utc::now().timestamp_millis());
    let proxy = path.strip_prefix("/v1/").unwrap_or(path);
    e["pathParameters"] = json!({"proxy": proxy});
    if let Some(k) = key {
        e["headers"]["authorization"] = json!(format!("Bearer {k}"));
    }
    match body {
        Some(b) => {
            let text = b.to_string();
            e["headers"]["content-length"] = json!(text.len().to_string());
            e["body"] = json!(text);
        }
        None => {
            e.as_object_mut().unwrap().remove("body");
            let headers = e["headers"].as_object_mut().unwrap();
            headers.remove("content-type");
            headers.remove("content-length");
        }
    }
    e
}

/// An S3 client for moto (buckets by path, as the functions address them there).
fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// The HTTP response inside an API Gateway answer: (status, headers, body bytes).
fn http_answer(outcome: &Outcome) -> (u16, Value, Vec<u8>) {
    let v = outcome.json();
    let status = v["statusCode"].as_u64().unwrap_or_else(|| panic!("no statusCode: {v}")) as u16;
    let raw = v["body"].as_str().unwrap_or_default();
    let body = if v["isBase64Encoded"] == json!(true) {
        base64::engine::general_purpose::STANDARD.decode(raw).expect("base64 body")
    } else {
        raw.as_bytes().to_vec()
    };
    (status, v["headers"].clone(), body)
}

fn http_json(outcome: &Outcome) -> (u16, Value) {
    let (status, _, body) = http_answer(outcome);
    let json = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&body)));
    (status, json)
}

/// One test's slice of moto: a table, a bus with a rule sending every Herald event to a queue,
/// and the credentials key as an SSM SecureString, all named with a fresh suffix.
struct Moto {
    endpoint: String,
    sdk: aws_config::SdkConfig,
    table: String,
    bus: String,
    queue_url: String,
    key_param: String,
    /// The reports bucket (template.yaml's `ReportsBucket`).
    bucket: String,
    /// The uploaded media's bucket (`MediaBucket`).
    media_bucket: String,
    store: Arc<DynamoStore>,
}

/// When the rig's teams were made: long before any period the tests report on (2027), so that
/// no test depends on today's date (a team made after a period ended gets no report of it).
fn teams_made_at() -> DateTime<Utc> {
    crate::common::utc("2026-11-02T09:00:00Z")
}

impl Moto {
    async fn new() -> Moto {
        let endpoint = std::env::var("HERALD_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
            panic!("HERALD_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `tests/run`, which starts moto")
        });
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static"))
            .load()
            .await;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let (table, bus) = (format!("herald-lambda-{suffix}"), format!("herald-lambda-{suffix}"));
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        DynamoStore::create_table(&dynamo, &table).await.expect("table created in moto");

        let events = aws_sdk_eventbridge::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        events.create_event_bus().name(&bus).send().await.expect("bus");
        let queue_url =
            sqs.create_queue().queue_name(format!("herald-lambda-{suffix}")).send().await.expect("queue").queue_url.unwrap();
        let arn_attr = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
        let attrs = sqs.get_queue_attributes().queue_url(&queue_url).attribute_names(arn_attr.clone()).send().await.unwrap();
        let queue_arn = attrs.attributes.unwrap()[&arn_attr].clone();
        events
            .put_rule()
            .name("all-herald-events")
            .event_bus_name(&bus)
            .event_pattern(json!({"source": ["herald"]}).to_string())
            .send()
            .await
            .expect("rule");
        events
            .put_targets()
            .rule("all-herald-events")
            .event_bus_name(&bus)
            .targets(Target::builder().id("queue").arn(&queue_arn).build().unwrap())
            .send()
            .await
            .expect("target");

        // As in template.yaml: the functions get the parameter's full name, leading slash included.
        let key_param = format!("/herald-lambda-{suffix}/credentials-key");
        aws_sdk_ssm::Client::new(&sdk)
            .put_parameter()
            .name(&key_param)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .value(CredentialCipher::generate_key())
            .send()
            .await
            .expect("SSM parameter");
        let bucket = format!("herald-reports-{suffix}");
        s3_client(&sdk).create_bucket().bucket(&bucket).send().await.expect("bucket");
        let media_bucket = format!("herald-media-{suffix}");
        s3_client(&sdk).create_bucket().bucket(&media_bucket).send().await.expect("media bucket");
        let store = Arc::new(DynamoStore::new(dynamo, table.clone()));
        Moto { endpoint, sdk, table, bus, queue_url, key_param, bucket, media_bucket, store }
    }

    /// A CloudFormation value of template.yaml as this rig deploys it: its table, bus, bucket,
    /// parameter name and stage. A reference the rig does not know fails the test: teach it.
    /// [`Self::resolve`], or `None` for a variable the template leaves out (`AWS::NoValue`,
    /// as the rig deploys it).
    fn resolve_set(&self, function: &str, name: &str, value: &Value) -> Option<String> {
        if let Some([condition, then, otherwise]) = value.get("Fn::If").and_then(Value::as_array).map(Vec::as_slice)
            && matches!(condition.as_str(), Some("HasPublicUrl" | "HasMailFrom"))
        {
            // PublicUrl is left empty, as by default: the API learns its address from the requests
            // (the report generator's share links use the API's own address). MailFrom too:
            // report mail is off (report_generator_mails_through_ses sets it).
            let _ = then;
            return match otherwise.get("Ref").and_then(Value::as_str) {
                Some("AWS::NoValue") => None,
                _ => Some(self.resolve(function, name, otherwise)),
            };
        }
        Some(self.resolve(function, name, value))
    }

    fn resolve(&self, function: &str, name: &str, value: &Value) -> String {
        let known = |r: &str| -> Option<String> {
            Some(match r {
                "HeraldTable" => self.table.clone(),
                "EventBus" => self.bus.clone(),
                "ReportsBucket" => self.bucket.clone(),
                "MediaBucket" => self.media_bucket.clone(),
                "Stage" => STAGE.to_owned(),
                "CredentialsKeyParameterName" => self.key_param.trim_start_matches('/').to_owned(),
                "AWS::Region" => "us-east-1".to_owned(),
                // The HTTP API's id and the partition's domain, in the API's default address.
                "HttpApi" => "moto-http-api".to_owned(),
                "AWS::URLSuffix" => "amazonaws.com".to_owned(),
                _ => return None,
            })
        };
        let unknown = |what: &str| -> ! {
            panic!(
                "template.yaml gives {function} {name} = {value}: the Lambda test rig does not know what {what} is \
                 in moto. Teach Moto::resolve in tests/system/lambda_functions.rs"
            )
        };
        if let Some(text) = value.as_str() {
            return text.to_owned();
        }
        if let Some([condition, then, otherwise]) = value.get("Fn::If").and_then(Value::as_array).map(Vec::as_slice) {
            // The template's conditions as this rig deploys it.
            let holds = match condition.as_str() {
                // The rig names its own parameter (one per test): not the stage's default one.
                Some("CredentialsKeyOfStage") => false,
                _ => unknown(&format!("condition {condition}")),
            };
            return self.resolve(function, name, if holds { then } else { otherwise });
        }
        if let Some(r) = value.get("Ref").and_then(Value::as_str) {
            return known(r).unwrap_or_else(|| unknown(r));
        }
        if let Some(mut rest) = value.get("Fn::Sub").and_then(Value::as_str) {
            let mut out = String::new();
            while let Some(at) = rest.find("${") {
                let end = rest[at..].find('}').map(|e| at + e).unwrap_or_else(|| unknown(rest));
                out.push_str(&rest[..at]);
                let var = &rest[at + 2..end];
                out.push_str(&known(var).unwrap_or_else(|| unknown(var)));
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            return out;
        }
        unknown("this value")
    }

    /// `function`'s environment: exactly what template.yaml gives it (after the SAM transform),
    /// plus what Lambda itself sets (region, credentials), the SDK's endpoint override pointing at
    /// moto, and the variables only tests set ([`test_only`]).
    fn env(&self, function: &str) -> Vec<(String, String)> {
        let vars = deployed_functions().get(function).unwrap_or_else(|| {
            panic!("template.yaml deploys no function built from binary {function:?}: {:?}", deployed_functions().keys())
        });
        let mut env: Vec<(String, String)> =
            vars.iter().filter_map(|(name, value)| Some((name.clone(), self.resolve_set(function, name, value)?))).collect();
        let lambda = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_SESSION_TOKEN", "test"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ];
        env.extend(lambda.iter().chain(test_only(function)).map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        env
    }

    async fn start(&self, function: &str) -> FunctionProcess {
        self.start_with(function, &[]).await
    }

    /// Starts a function with its environment ([`Self::env`]), changed by `changes` (`None`
    /// removes).
    async fn start_with(&self, function: &str, changes: &[(&str, Option<&str>)]) -> FunctionProcess {
        self.start_as(function, changes, Output::Inherit, RuntimeApi::HostPort).await
    }

    /// [`Self::start_with`], its output kept as `output` says and the emulator named in
    /// `AWS_LAMBDA_RUNTIME_API` as `runtime_api` says.
    async fn start_as(
        &self,
        function: &str,
        changes: &[(&str, Option<&str>)],
        output: Output,
        runtime_api: RuntimeApi,
    ) -> FunctionProcess {
        let mut env = self.env(function);
        for (k, v) in changes {
            env.retain(|(name, _)| name != k);
            if let Some(v) = v {
                env.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        FunctionProcess::spawn_with(&binary(function), function, &env, output, runtime_api).await
    }

    /// An admin key of team `team`, written straight into the table (there is no API call that
    /// makes the first key). A team it makes was made at [`teams_made_at`], whatever the date.
    async fn admin_key(&self, team: &str) -> String {
        let team = TeamId::parse("team", team).unwrap();
        let made = ManualClock::new(teams_made_at());
        ensure_team(&*self.store, &made, &team, chrono_tz::Europe::Paris).await.expect("team");
        let (_, secret) = create_key(&*self.store, &SystemClock, &team, Role::Admin, "lambda test").await.expect("key");
        secret.reveal().to_owned()
    }

    /// The raw item at (`pk`, `sk`), as DynamoDB holds it.
    async fn raw_item(&self, table: &str, pk: &str, sk: &str) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(table)
            .key("pk", S(pk.to_owned()))
            .key("sk", S(sk.to_owned()))
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Every event that reached the queue within `wait`, as EventBridge envelopes.
    async fn events_received(&self, want: usize, wait: Duration) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let until = std::time::Instant::now() + wait;
        let mut got = vec![];
        while got.len() < want && std::time::Instant::now() < until {
            let out =
                sqs.receive_message().queue_url(&self.queue_url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
            for m in out.messages.unwrap_or_default() {
                got.push(serde_json::from_str(m.body().unwrap()).expect("an EventBridge envelope"));
            }
        }
        got
    }
}

// ------------------------------------------------------------------------------------------
// The rig itself
// ------------------------------------------------------------------------------------------

/// template.yaml deploys every function crate of `functions/`, and each function runs here with
/// exactly the variables template.yaml gives it (after the SAM transform: Globals merged), bound
/// to this test's own table, bus, bucket and parameter, plus only what Lambda itself sets and
/// the few variables tests add ([`test_only`]): no test passes on a setting AWS would not give.
#[tokio::test]
async fn every_function_runs_with_the_environment_template_yaml_gives_it() {
    use std::collections::BTreeSet;
    let moto = Moto::new().await;
    let crates: BTreeSet<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| dir.join("Cargo.toml").is_file()) // a crate (not their shared build script)
        .map(|dir| dir.file_name().unwrap_or_default().to_string_lossy().into_owned())
        .collect();
    let deployed: BTreeSet<String> = deployed_functions().keys().cloned().collect();
    assert_eq!(deployed, crates, "template.yaml deploys the crates of functions/, each with Metadata.BuildProperties.Binary");
    for (function, vars) in deployed_functions() {
        let env: BTreeMap<String, String> = moto.env(function).into_iter().collect();
        let expected: BTreeSet<&str> = vars
            .iter()
            .filter(|(name, value)| moto.resolve_set(function, name, value).is_some())
            .map(|(name, _)| name.as_str())
            .chain(LAMBDA_SETS)
            .chain(test_only(function).iter().map(|(k, _)| *k))
            .collect();
        assert_eq!(env.keys().map(String::as_str).collect::<BTreeSet<_>>(), expected, "{function}");
        for (name, want) in [
            ("HERALD_TABLE", &moto.table),
            ("HERALD_EVENT_BUS", &moto.bus),
            ("HERALD_CREDENTIALS_KEY_PARAM", &moto.key_param),
            ("HERALD_REPORTS_BUCKET", &moto.bucket),
            ("HERALD_MEDIA_BUCKET", &moto.media_bucket),
        ] {
            if vars.contains_key(name) {
                assert_eq!(&env[name], want, "{function} {name}");
            }
        }
        assert!(env.values().all(|v| !v.is_empty()), "{function}: {env:?}");
        // Its binary is there, fresh.
        binary(function);
    }
}

// ------------------------------------------------------------------------------------------
// The API function
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_answers_a_health_check_sent_by_api_gateway() {
    let moto = Moto::new().await;
    let api = moto.start("api").await;
    // As `sam local generate-event` makes it: base64-encoded (empty) body, cookies, a query string.
    let outcome = api.invoke(&event("apigw-http-health.json")).await;
    let (status, headers, body) = http_answer(&outcome);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["x-request-id"].is_string(), "every answer carries a request id: {headers}");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], "ok");
    assert!(api.emulator.protocol_errors().is_empty(), "{:?}", api.emulator.protocol_errors());
}

/// The web app's pages come through API Gateway to the same function (template.yaml routes
/// `GET /`, `/calendar` and `/assets/{file}` to it): the calendar page with its headers, its
/// stylesheet cached for a year.
#[tokio::test]
async fn api_serves_the_calendar_page_and_its_assets() {
    let moto = Moto::new().await;
    let admin = moto.admin_key("cafe").await;
    let api = moto.start("api").await;

    let (status, headers, body) = http_answer(&api.invoke(&http_event("GET", "/calendar", Some(&admin), None)).await);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["content-security-policy"], herald_core::web::CONTENT_SECURITY_POLICY);
    assert!(page.contains("<h1>") && page.contains("Calendar"), "{page}");
    let css = herald_core::web::assets::CSS.path();
    assert!(page.contains(&css), "{page}");

    let (status, headers, body) = http_answer(&api.invoke(&http_event("GET", &css, None, None)).await);
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(body, herald_core::web::assets::CSS.body);

    let (status, _, body) = http_answer(&api.invoke(&http_event("GET", "/calendar", None, None)).await);
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    assert!(api.emulator.protocol_errors().is_empty(), "{:?}", api.emulator.protocol_errors());
}

/// A form post from a page (`application/x-www-form-urlencoded`), with the browser's cookies in
/// the event's `cookies` array: where API Gateway's payload 2.0 puts them (not in `headers`).
fn form_event(path: &str, form: &str, cookies: &[&str]) -> Value {
    let mut e = http_event("POST", path, None, None);
    e["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    e["headers"]["content-length"] = json!(form.len().to_string());
    e["body"] = json!(form);
    if !cookies.is_empty() {
        e["cookies"] = json!(cookies);
    }
    e
}

/// The `Set-Cookie` values of an answer: payload 2.0 answers carry them in `cookies`.
fn set_cookies(outcome: &Outcome) -> Vec<String> {
    let v = outcome.json();
    let mut out: Vec<String> = v["cookies"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_owned)).collect();
    out.extend(v["headers"]["set-cookie"].as_str().map(str::to_owned));
    out
}

/// A login form (`/invite/<token>`) shown by the function, then posted as the browser posts it:
/// the form's `login` token in the field and in the `herald_login` cookie it set.
async fn post_login_form(api: &FunctionProcess, path: &str, body: &str) -> Outcome {
    let shown = api.invoke(&http_event("GET", path, None, None)).await;
    let (status, _, page) = http_answer(&shown);
    let page = String::from_utf8_lossy(&page).into_owned();
    assert_eq!(status, 200, "{page}");
    let token = page.split("name=\"login\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("a login token").to_owned();
    let cookie = set_cookies(&shown).into_iter().find(|c| c.starts_with("herald_login=")).expect("the login cookie");
    assert!(cookie.contains("Secure") && cookie.contains("SameSite=Strict"), "{cookie}");
    api.invoke(&form_event(path, &format!("{body}&login={token}"), &[&format!("herald_login={token}")])).await
}

/// A person on AWS: joins through the invite page, gets a session cookie (`Secure`: API Gateway
/// says https), sees the calendar with the cookie alone, and moves a post with a form carrying
/// the session's CSRF token (without it, nothing moves). Sessions live in DynamoDB, so any
/// instance of the function reads them.
#[tokio::test]
async fn a_person_joins_signs_in_and_moves_a_post_through_the_api_function() {
    let moto = Moto::new().await;
    let admin = moto.admin_key("cafe").await;
    let api = moto.start("api").await;

    let (status, invite) = http_json(&api.invoke(&http_event("POST", "/v1/invites", Some(&admin), Some(&json!({"role": "editor", "email": "lea@cafe.example"})))).await);
    assert_eq!(status, 201, "{invite}");
    let link = invite["url"].as_str().expect("an invite link").to_owned();
    let forged = api.invoke(&form_event(&link, "name=Eve&email=lea%40cafe.example&password=correct+horse+battery", &[])).await;
    assert_eq!(http_answer(&forged).0, 403, "a login form without this browser's token");
    let joined = post_login_form(&api, &link, "name=L%C3%A9a&email=lea%40cafe.example&password=correct+horse+battery").await;
    let (status, headers, body) = http_answer(&joined);
    assert_eq!((status, headers["location"].as_str()), (303, Some("/calendar")), "{}", String::from_utf8_lossy(&body));
    let cookie = set_cookies(&joined).into_iter().find(|c| c.starts_with("herald_session=")).expect("the session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure"), "{cookie}");
    let session = cookie.split(';').next().expect("name=value").to_owned();

    let mastodon = FakeMastodon::start().await;
    let (status, channel) = http_json(
        &api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&json!({"platform": "mastodon", "name": "Toots", "time_zone": "UTC",
            "credentials": {"instance_url": mastodon.url, "access_token": "t"}})))).await,
    );
    assert_eq!(status, 201, "{channel}");
    let (status, post) = http_json(
        &api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&json!({"text": "Galettes", "channel_ids": [channel["id"]],
            "publish_at": {"local": "2030-01-08T10:00:00", "time_zone": "UTC"}})))).await,
    );
    assert_eq!(status, 201, "{post}");
    let id = post["id"].as_str().expect("post id").to_owned();

    let mut calendar = http_event("GET", "/calendar", None, None);
    calendar["rawQueryString"] = json!("month=2030-01");
    calendar["queryStringParameters"] = json!({"month": "2030-01"});
    calendar["cookies"] = json!([session]);
    let (status, _, body) = http_answer(&api.invoke(&calendar).await);
    let page = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Galettes") && page.contains(&format!("data-post=\"{id}\"")), "{page}");
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the session's CSRF token")
        .to_owned();

    let move_to = format!("/calendar/move/{id}");
    let forged = api.invoke(&form_event(&move_to, "date=2030-01-09&time=10%3A00", &[&session])).await;
    assert_eq!(http_answer(&forged).0, 403, "no token, no change");
    let moved = api.invoke(&form_event(&move_to, &format!("csrf={csrf}&date=2030-01-09&time=11%3A15"), &[&session])).await;
    let (status, headers, body) = http_answer(&moved);
    assert_eq!((status, headers["location"].as_str()), (303, Some("/calendar?month=2030-01")), "{}", String::from_utf8_lossy(&body));
    let (status, post) = http_json(&api.invoke(&http_event("GET", &format!("/v1/posts/{id}"), Some(&admin), None)).await);
    assert_eq!(status, 200);
    assert_eq!(post["deliveries"][0]["publish_at"], "2030-01-09T10:15:00Z", "11:15 on the team's clock (Paris): {post}");
    assert!(api.emulator.protocol_errors().is_empty(), "{:?}", api.emulator.protocol_errors());
}

#[tokio::test]
async fn api_writes_a_channel_and_a_post_to_dynamodb() {
    let moto = Moto::new().await;
    let admin = moto.admin_key("cafe").await;
    let api = moto.start("api").await;

    let (status, me) = http_json(&api.invoke(&http_event("GET", "/v1/me", Some(&admin), None)).await);
    assert_eq!((status, me["team_id"].as_str(), me["role"].as_str()), (200, Some("cafe"), Some("admin")), "{me}");
    let (status, _) = http_json(&api.invoke(&http_event("GET", "/v1/me", Some("hrld_not-a-key"), None)).await);
    assert_eq!(status, 401);

    // A body API Gateway base64-encoded (infra/events/apigw-http-post-base64.json, made by
    // `sam local generate-event`), with the key added.
    let mut create_channel = event("apigw-http-post-base64.json");
    create_channel["headers"]["authorization"] = json!(format!("Bearer {admin}"));
    create_channel["headers"]["content-type"] = json!("application/json");
    assert_eq!(create_channel["isBase64Encoded"], true);
    // Connecting checks the credentials with the instance: the fixture's channel gets some,
    // for a fake instance, in a body base64-encoded again as API Gateway sends it.
    let mastodon = FakeMastodon::start().await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut body: Value = serde_json::from_slice(&b64.decode(create_channel["body"].as_str().unwrap()).unwrap()).unwrap();
    body["credentials"] = json!({"instance_url": mastodon.url, "access_token": "token-of-cafe"});
    create_channel["body"] = json!(b64.encode(body.to_string()));
    let (status, channel) = http_json(&api.invoke(&create_channel).await);
    assert_eq!(status, 201, "{channel}");
    assert_eq!(mastodon.seen_at("GET", "/api/v1/accounts/verify_credentials").len(), 1, "checked once");
    let channel_id = channel["id"].as_str().expect("a channel id").to_owned();

    let at = (Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({"text": "Fresh croissants from 7 ☕", "channel_ids": [channel_id], "publish_at": at});
    let (status, post) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&body))).await);
    assert_eq!(status, 201, "{post}");

    // Read back from moto, through the store and as raw items.
    let team = TeamId::parse("team", "cafe").unwrap();
    let post_id = PostId::parse("id", post["id"].as_str().unwrap()).unwrap();
    let stored = moto.store.get_post(&team, post_id).await.unwrap().expect("the post is in DynamoDB");
    assert_eq!(stored.text.as_str(), "Fresh croissants from 7 ☕");
    let deliveries = moto.store.deliveries_of_post(&team, post_id).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Scheduled);
    assert_eq!(deliveries[0].channel_id.to_string(), channel_id);
    let channels = moto.store.list_channels(&team).await.unwrap();
    assert_eq!(channels.len(), 1);
    let item = aws_sdk_dynamodb::Client::new(&moto.sdk)
        .get_item()
        .table_name(&moto.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("POST#{post_id}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("DELIVERY#{}", deliveries[0].id)))
        .send()
        .await
        .unwrap()
        .item
        .expect("the delivery item, keyed as docs/data-model.md says");
    assert_eq!(item["gsi2pk"].as_s().unwrap(), "DUE", "a scheduled delivery is in the sparse due index");

    // Errors stay HTTP answers (not Lambda errors), with the JSON error body.
    let (status, err) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&json!({"text": 1})))).await);
    assert_eq!(status, 422, "{err}");
    assert!(err["error"]["code"].is_string(), "{err}");
    assert!(api.emulator.protocol_errors().is_empty(), "{:?}", api.emulator.protocol_errors());
}

#[tokio::test]
async fn http_functions_refuse_events_that_are_not_http_api_requests_and_keep_serving() {
    let moto = Moto::new().await;
    for function in ["api", "webhook-intake"] {
        let f = moto.start(function).await;
        for (file, says) in [
            ("invalid-not-an-event.json", "has no \"version\""),
            // Payload format 1.0 (a REST API, or an HTTP API route left on 1.0): not wired.
            ("apigw-rest-proxy-v1.json", "has no \"version\""),
            ("eventbridge-scheduled.json", "has version \"0\", not \"2.0\""),
        ] {
            let outcome = f.invoke(&event(file)).await;
            let (error_type, message) = outcome.error();
            assert_eq!(error_type, "Herald.InvalidEvent", "{function} {file}: {outcome:?}");
            assert!(message.contains("API Gateway HTTP API") && message.contains(says), "{function} {file}: {message}");
            assert!(f.invoke_raw_is_error(b"not json at all").await, "{function}: bytes that are not JSON");
        }
        // Same process, next invocation: served.
        let pid = f.pid();
        let (status, _, _) = http_answer(&f.invoke(&event("apigw-http-health.json")).await);
        assert_eq!(status, 200, "{function} still serves after refusing bad events");
        assert_eq!(f.pid(), pid);
        assert!(f.emulator.protocol_errors().is_empty(), "{function}: {:?}", f.emulator.protocol_errors());
    }
}

#[tokio::test]
async fn a_function_that_cannot_start_reports_an_init_error() {
    let moto = Moto::new().await;
    // No table configured.
    let mut api = moto.start_with("api", &[("HERALD_TABLE", None)]).await;
    let init = api.emulator.wait_for_init_error(Duration::from_secs(20)).await.expect("an init error");
    assert_eq!(init.header_type.as_deref(), Some("Herald.Config"));
    assert_eq!(init.body["errorType"], "Herald.Config");
    assert!(init.body["errorMessage"].as_str().unwrap().contains("HERALD_TABLE"), "{}", init.body);
    let status = api.wait_exit(Duration::from_secs(10)).await.expect("the process exits after an init error");
    assert!(!status.success());
    assert_eq!(api.emulator.next_calls(), 0, "it never asked for work");

    // A credentials key parameter that does not exist: init reads no parameter (a network call,
    // made on the first event: `lambda::Deferred`), so the first tick fails, as Herald.Config,
    // naming it. The process keeps serving and reads it again on the next tick: created
    // meanwhile, the run succeeds without a new sandbox.
    let missing = format!("{}-created-late", moto.key_param);
    let publisher = moto.start_with("scheduled-publisher", &[("HERALD_CREDENTIALS_KEY_PARAM", Some(missing.as_str()))]).await;
    let outcome = publisher.invoke(&event("eventbridge-scheduled.json")).await;
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Herald.Config", "{outcome:?}");
    assert!(message.contains(&missing), "{message}");
    assert!(publisher.emulator.wait_for_init_error(Duration::ZERO).await.is_none(), "no init error");
    aws_sdk_ssm::Client::new(&moto.sdk)
        .put_parameter()
        .name(&missing)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(CredentialCipher::generate_key())
        .send()
        .await
        .expect("SSM parameter");
    let summary = publisher.invoke(&event("eventbridge-scheduled.json")).await.json();
    assert_eq!(summary["due"], 0, "the same process, the next tick: {summary}");

    // A publishing concurrency that is not a number of deliveries: said, not guessed.
    let mut publisher = moto.start_with("scheduled-publisher", &[("HERALD_PUBLISH_CONCURRENCY", Some("0"))]).await;
    let init = publisher.emulator.wait_for_init_error(Duration::from_secs(20)).await.expect("an init error");
    assert_eq!(init.body["errorType"], "Herald.Config");
    assert!(
        init.body["errorMessage"].as_str().unwrap().contains("HERALD_PUBLISH_CONCURRENCY must be a whole number from 1 to 1024, not `0`"),
        "{}",
        init.body
    );
    assert!(publisher.wait_exit(Duration::from_secs(10)).await.is_some());
}

/// The functions that write or serve report files (the API, the report generator) do not start
/// without the reports bucket: report records would point at files kept nowhere (the API used to
/// keep them in memory, gone with the process). The others never touch report files and start
/// without it.
#[tokio::test]
async fn without_the_reports_bucket_only_the_functions_that_keep_reports_refuse_to_start() {
    let moto = Moto::new().await;
    for function in ["api", "report-generator"] {
        let mut f = moto.start_with(function, &[("HERALD_REPORTS_BUCKET", None)]).await;
        let init = f
            .emulator
            .wait_for_init_error(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("{function} started without HERALD_REPORTS_BUCKET"));
        assert_eq!(init.body["errorType"], "Herald.Config", "{function}: {}", init.body);
        let message = init.body["errorMessage"].as_str().unwrap();
        assert!(message.contains("HERALD_REPORTS_BUCKET"), "{function}: {message}");
        assert!(f.wait_exit(Duration::from_secs(10)).await.is_some(), "{function} exits after its init error");
        assert_eq!(f.emulator.next_calls(), 0, "{function} never asked for work");
    }
    for function in ["webhook-intake", "scheduled-publisher", "metric-poller", "notification-poller"] {
        let f = moto.start_with(function, &[("HERALD_REPORTS_BUCKET", None)]).await;
        let outcome = match function {
            "webhook-intake" => f.invoke(&event("apigw-http-health.json")).await,
            _ => f.invoke(&event("eventbridge-scheduled.json")).await,
        };
        assert!(matches!(outcome, Outcome::Response(_)), "{function} works without a reports bucket: {outcome:?}");
    }
}

/// A `generic` (Standard Webhooks) delivery through API Gateway to `webhook-intake`: signed with
/// the channel's secret it is stored once (a redelivery changes nothing) and shows in the inbox;
/// a bad signature is 401 and stores nothing.
#[tokio::test]
async fn webhook_intake_stores_a_signed_delivery_once() {
    let moto = Moto::new().await;
    let admin = moto.admin_key("cafe").await;
    let api = moto.start("api").await;
    let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let channel = json!({"platform": "generic", "name": "Website form", "time_zone": "Europe/Paris",
        "credentials": {"webhook_secret": secret}});
    let (status, channel) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&channel))).await);
    assert_eq!(status, 201, "{channel}");
    let channel_id = channel["id"].as_str().unwrap().to_owned();

    let delivery = |signature_key: &str| {
        let mut e = event("apigw-http-webhook-generic.json");
        let path = format!("/webhooks/generic/{channel_id}");
        e["rawPath"] = json!(path);
        e["requestContext"]["http"]["path"] = json!(path);
        e["pathParameters"]["channel_id"] = json!(channel_id);
        let now = Utc::now().timestamp();
        let id = e["headers"]["webhook-id"].as_str().unwrap().to_owned();
        let body = e["body"].as_str().unwrap().to_owned();
        let signer = herald_core::webhooks::StandardWebhooks::new(signature_key).expect("a whsec_ secret");
        e["headers"]["webhook-timestamp"] = json!(now.to_string());
        e["headers"]["webhook-signature"] = json!(signer.sign(&id, now, body.as_bytes()));
        e
    };
    let intake = moto.start("webhook-intake").await;
    let other = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([9u8; 32]));
    let (status, _, _) = http_answer(&intake.invoke(&delivery(&other)).await);
    assert_eq!(status, 401, "a signature made with another secret is refused");
    for _ in 0..2 {
        let (status, _, body) = http_answer(&intake.invoke(&delivery(&secret)).await);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    let (status, inbox) = http_json(&api.invoke(&http_event("GET", "/v1/inbox", Some(&admin), None)).await);
    assert_eq!(status, 200, "{inbox}");
    let items = inbox["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "stored once: {inbox}");
    assert_eq!(items[0]["text"], "Vous ouvrez à quelle heure dimanche ?");
    assert!(intake.emulator.protocol_errors().is_empty(), "{:?}", intake.emulator.protocol_errors());
}

/// Every platform's documented payload, signed with its own scheme, through the webhook-intake
/// binary as API Gateway delivers it (base64 bodies, lower-case header names): stored once in
/// DynamoDB, a redelivery adds nothing, an unsigned delivery is 401.
#[tokio::test]
async fn webhook_intake_takes_every_platforms_signed_payloads_once() {
    use herald_core::crypto::Credentials;
    use herald_core::intake::webhooks::{EventPayload, parse, signing};
    let moto = Moto::new().await;
    let mastodon = FakeMastodon::start().await;
    let admin = moto.admin_key("cafe").await;
    // Connecting a Meta channel checks its token with the Graph API: a fake one here.
    let graph = crate::common::meta::FakeGraph::start().await;
    let [(meta_var, meta_url), (threads_var, threads_url)] = graph.env();
    let api = moto.start_with("api", &[(meta_var, Some(&meta_url)), (threads_var, Some(&threads_url))]).await;
    let intake = moto.start("webhook-intake").await;
    let meta = |p: &str| crate::common::meta::credentials(p, "a", "v");
    let cases = [
        ("facebook", meta("facebook"), "feed_comment.json"),
        ("instagram", meta("instagram"), "comment.json"),
        ("threads", meta("threads"), "reply.json"),
        ("x", json!({"consumer_secret": "c"}), "xaa_post_mention.json"),
        ("linkedin", json!({"client_secret": "l"}), "comment.json"),
        ("mastodon", json!({"webhook_secret": "m", "instance_url": mastodon.url, "access_token": "t"}), "status_mention.json"),
    ];
    let mut expected = 0;
    for (platform, creds, file) in cases {
        let body = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/tests/fixtures/webhooks").join(platform).join(file),
        )
        .unwrap();
        let channel = json!({"platform": platform, "name": platform, "time_zone": "UTC", "credentials": creds});
        let (status, channel) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&channel))).await);
        assert_eq!(status, 201, "{channel}");
        let id = channel["id"].as_str().unwrap();
        let p = herald_core::domain::Platform::parse("platform", platform).unwrap();
        let wanted = parse(p, &body).unwrap().iter().filter(|e| matches!(e.payload, EventPayload::Interaction(_))).count();
        assert!(wanted >= 1, "{platform} {file} holds an interaction");
        expected += wanted;

        let signed = |sign: bool| {
            let mut e = event("apigw-http-webhook-generic.json");
            let path = format!("/webhooks/{platform}/{id}");
            e["rawPath"] = json!(path);
            e["requestContext"]["http"]["path"] = json!(path);
            e["pathParameters"] = json!({"platform": platform, "channel_id": id});
            e["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
            e["isBase64Encoded"] = json!(true);
            let mut headers = serde_json::Map::new();
            headers.insert("content-type".into(), json!("application/json"));
            if sign {
                let creds = Credentials::from_json("credentials", &creds).unwrap();
                for (k, v) in signing::headers(p, &creds, &body, Utc::now()).unwrap() {
                    headers.insert(k.to_ascii_lowercase(), json!(v));
                }
            }
            e["headers"] = Value::Object(headers);
            e
        };
        let (status, _, _) = http_answer(&intake.invoke(&signed(false)).await);
        assert_eq!(status, 401, "{platform}: unsigned");
        for round in 0..2 {
            let (status, _, answer) = http_answer(&intake.invoke(&signed(true)).await);
            assert_eq!(status, 200, "{platform} round {round}: {}", String::from_utf8_lossy(&answer));
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            let created = if round == 0 { wanted } else { 0 };
            assert_eq!(answer["created"], json!(created), "{platform} round {round}: {answer}");
        }
    }
    let (status, inbox) = http_json(&api.invoke(&http_event("GET", "/v1/inbox", Some(&admin), None)).await);
    assert_eq!(status, 200, "{inbox}");
    assert_eq!(inbox["items"].as_array().unwrap().len(), expected, "{inbox}");
    assert!(intake.emulator.protocol_errors().is_empty(), "{:?}", intake.emulator.protocol_errors());
}

/// The report generator on the hour: a team whose local time is Monday 08:00 gets last week's
/// report in the bucket (three files), once however often the hour runs, and `Report Ready`
/// reaches the bus; at any other hour nothing is made. The team was made in November 2026
/// ([`teams_made_at`]): the test means the same on any date (a team made after the week ended
/// would rightly get no report of it).
#[tokio::test]
async fn report_generator_puts_last_weeks_report_in_s3_once_and_says_so() {
    let moto = Moto::new().await;
    moto.admin_key("cafe").await; // team `cafe`, zone Europe/Paris, made 2026-11-02
    let (s3, bucket) = (s3_client(&moto.sdk), moto.bucket.clone());
    let generator = moto.start("report-generator").await;
    let tick = |time: &str| {
        let mut e = event("eventbridge-scheduled.json");
        e["time"] = json!(time);
        e
    };

    // Monday 2027-01-11, 07:00 UTC = 08:00 in Paris: last week is 2027-01-04 .. 2027-01-10.
    let summary = generator.invoke(&tick("2027-01-11T07:00:00Z")).await.json();
    assert_eq!(summary, json!({"teams": 1, "generated": 1, "existing": 0, "failed": 0, "mail": mail_off()}));
    let again = generator.invoke(&tick("2027-01-11T07:30:00Z")).await.json();
    assert_eq!(again, json!({"teams": 1, "generated": 0, "existing": 1, "failed": 0, "mail": mail_off()}), "once per week");
    let other_hour = generator.invoke(&tick("2027-01-11T09:00:00Z")).await.json();
    assert_eq!(other_hour["generated"], 0);

    let listed = s3.list_objects_v2().bucket(&bucket).send().await.expect("list");
    let mut keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
    keys.sort();
    assert_eq!(keys.len(), 4, "html, pdf, csv, json: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("reports/cafe/")), "{keys:?}");
    let html_key = keys.iter().find(|k| k.ends_with("report.html")).expect("an HTML report");
    let html = s3.get_object().bucket(&bucket).key(html_key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains("<svg") || html.contains("<html"), "{}", &html[..html.len().min(300)]);

    let events = moto.events_received(1, Duration::from_secs(10)).await;
    let ready: Vec<&Value> = events.iter().filter(|e| e["detail-type"] == "Report Ready").collect();
    assert_eq!(ready.len(), 1, "{events:?}");
    assert_eq!(ready[0]["detail"]["from"], "2027-01-04");
    assert_eq!(ready[0]["detail"]["to"], "2027-01-10");
    assert!(generator.emulator.protocol_errors().is_empty(), "{:?}", generator.emulator.protocol_errors());
}

/// Report mail through SES (moto's SESv2): with `HERALD_MAIL_FROM` set (template.yaml's
/// `MailFrom`, a verified identity), the generator's Monday round makes the report and mails it
/// to each of the team's recipients once: one raw message each, from the sender, with the
/// report attached and a share link under the API's address; the next hour sends nothing more.
/// Written for `tests/run` (moto); the share link itself is checked in report_mail.rs.
#[tokio::test]
async fn report_generator_mails_the_report_through_ses_once() {
    let moto = Moto::new().await;
    moto.admin_key("cafe").await;
    let suffix = moto.bucket.trim_start_matches("herald-reports-").to_owned();
    let from = format!("reports-{suffix}@herald.test");
    let recipients = vec![format!("boss-{suffix}@cafe.test"), format!("client-{suffix}@agency.test")];
    aws_sdk_sesv2::Client::new(&moto.sdk).create_email_identity().email_identity(&from).send().await.expect("sender identity");
    let team = TeamId::parse("team", "cafe").unwrap();
    let mut t = moto.store.get_team(&team).await.unwrap().unwrap();
    t.report_schedule.recipients = recipients.clone();
    moto.store.update_team(&t).await.unwrap();

    let generator = moto.start_with("report-generator", &[("HERALD_MAIL_FROM", Some(from.as_str()))]).await;
    let tick = |time: &str| {
        let mut e = event("eventbridge-scheduled.json");
        e["time"] = json!(time);
        e
    };
    let summary = generator.invoke(&tick("2027-01-11T07:00:00Z")).await.json();
    assert_eq!(summary["generated"], 1, "{summary}");
    assert_eq!(summary["mail"], json!({"on": true, "sent": 2, "failed": 0, "skipped": 0}), "{summary}");
    let again = generator.invoke(&tick("2027-01-11T08:00:00Z")).await.json();
    assert_eq!((again["existing"].clone(), again["mail"]["sent"].clone()), (json!(1), json!(0)), "once: {again}");

    // What moto's SES kept (its model data: every raw message sent, with its envelope).
    let data: Value = reqwest::Client::builder().no_proxy().build().unwrap()
        .get(format!("{}/moto-api/data.json", moto.endpoint)).send().await.unwrap().json().await.unwrap();
    let ours: Vec<&Value> = data["ses"]["RawMessage"]
        .as_array()
        .expect("moto's raw messages")
        .iter()
        .filter(|m| m["raw_data"].as_str().is_some_and(|r| r.contains(&suffix)))
        .collect();
    assert_eq!(ours.len(), 2, "one message per recipient: {ours:?}");
    let mut to: Vec<String> = Vec::new();
    for message in &ours {
        let raw = message["raw_data"].as_str().unwrap();
        assert_eq!(message["source"].as_str(), Some(from.as_str()));
        assert!(raw.contains("filename=\"report.pdf\""), "the report's PDF attached: {raw}");
        let mail = crate::common::smtp::Mail::parse(raw);
        assert!(mail.subject.starts_with("cafe: weekly report, 4 Jan"), "{}", mail.subject);
        assert!(mail.text().contains("https://moto-http-api.execute-api.us-east-1.amazonaws.com/share/"), "{}", mail.text());
        to.push(mail.to);
    }
    to.sort();
    assert_eq!(to, recipients, "each message to one recipient");
    assert!(generator.emulator.protocol_errors().is_empty(), "{:?}", generator.emulator.protocol_errors());
}

/// "The same report from DynamoDB and S3": the hand-checked dataset written into the table,
/// the generator's Monday round makes its report into the bucket, and every figure in the
/// report.json it stored is the hand-worked one (tests/system/common/report_dataset.rs); the API
/// function then lists that report and serves its files from S3.
#[tokio::test]
async fn report_generator_makes_the_hand_checked_report_from_dynamodb_into_s3() {
    use crate::common::report_dataset::{self, check_every_figure, day, utc};
    let moto = Moto::new().await;
    let f = report_dataset::seed(moto.store.clone()).await; // team `cafe`, Paris, two channels
    let (s3, bucket) = (s3_client(&moto.sdk), moto.bucket.clone());
    let generator = moto.start("report-generator").await;

    // Monday 11 January 2027, 08:00 in Paris: the week of 4 to 10 January.
    let mut tick = event("eventbridge-scheduled.json");
    tick["time"] = json!("2027-01-11T07:00:00Z");
    let summary = generator.invoke(&tick).await.json();
    assert_eq!(summary, json!({"teams": 1, "generated": 1, "existing": 0, "failed": 0, "mail": mail_off()}));

    let listed = s3.list_objects_v2().bucket(&bucket).send().await.expect("list");
    let keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
    let get = |key: String| {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        async move { s3.get_object().bucket(bucket).key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes() }
    };
    let json_key = keys.iter().find(|k| k.ends_with("report.json")).expect("report.json in S3").clone();
    let stored: herald_core::services::reports::ReportData = serde_json::from_slice(&get(json_key).await).unwrap();
    assert_eq!((stored.period.from, stored.period.to), (day(report_dataset::FROM), day(report_dataset::TO)));
    assert_eq!(stored.generated_at, utc("2027-01-11T07:00:00Z"));
    check_every_figure(&f, &stored);

    // The same figures as SQLite's (the store contract says both stores hold the same; this says
    // the report reads them the same way): a report of the same rows built from SQLite.
    let sqlite = report_dataset::seed(Arc::new(herald_core::store::sqlite::SqliteStore::in_memory().unwrap())).await;
    let from_sqlite =
        herald_core::services::reports::build(&*sqlite.store, &sqlite.team, stored.period.from, stored.period.to, stored.generated_at)
            .await
            .unwrap();
    assert_eq!(stored.overall, from_sqlite.overall);
    assert_eq!(stored.inbox, from_sqlite.inbox);
    assert_eq!(stored.daily, from_sqlite.daily);
    assert_eq!(stored.best_time, from_sqlite.best_time);
    assert_eq!(stored.items_read, from_sqlite.items_read, "the same reads on both stores");
    let html_key = keys.iter().find(|k| k.ends_with("report.html")).expect("report.html in S3").clone();
    let html = get(html_key).await;
    assert_eq!(
        String::from_utf8_lossy(&html),
        herald_core::services::reports::render_html(&stored),
        "report.html renders report.json"
    );
    // report.pdf is made on Lambda too (typst in the binary, fonts embedded): the same bytes.
    let pdf_key = keys.iter().find(|k| k.ends_with("report.pdf")).expect("report.pdf in S3").clone();
    assert_eq!(
        get(pdf_key).await.to_vec(),
        herald_core::services::reports::render_pdf(&stored, &herald_core::services::reports::english_words()).unwrap(),
        "report.pdf renders report.json"
    );

    // Listed and served by the API function, from the table and the bucket.
    let admin = moto.admin_key("cafe").await;
    let api = moto.start("api").await;
    let (status, list) = http_json(&api.invoke(&http_event("GET", "/v1/reports", Some(&admin), None)).await);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let csv_link = list["items"][0]["files"]["csv"].as_str().unwrap().to_owned();
    let (status, headers, body) = http_answer(&api.invoke(&http_event("GET", &csv_link, Some(&admin), None)).await);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers.to_string().contains("text/csv"), "{headers}");
    assert_eq!(String::from_utf8_lossy(&body).lines().count(), 9, "header + the 8 posts of the week");
    assert!(generator.emulator.protocol_errors().is_empty() && api.emulator.protocol_errors().is_empty());
}

/// Runs `infra/first-key` against the rig's table with the test venv's AWS CLI
/// (`HERALD_TEST_AWS_CLI`, which tests/run installs from infra/requirements-test.txt).
fn first_key(moto: &Moto, team: &str) -> std::process::Output {
    let aws = std::env::var("HERALD_TEST_AWS_CLI").unwrap_or_else(|_| {
        panic!("HERALD_TEST_AWS_CLI is not set: infra/first-key runs the AWS CLI; run the suite with tests/run, which installs it")
    });
    let aws_dir = Path::new(&aws).parent().expect("the CLI's directory");
    assert!(Path::new(&aws).is_file(), "HERALD_TEST_AWS_CLI={aws}: no such file");
    let path = format!("{}:{}", aws_dir.display(), std::env::var("PATH").unwrap_or_default());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/first-key");
    crate::common::process::output_within(
        std::process::Command::new(&script)
            .args(["--table", &moto.table, "--team", team, "--time-zone", "Europe/Paris"])
            .env("PATH", path)
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            // Nobody's own AWS settings: moto only.
            .env("AWS_CONFIG_FILE", "/nonexistent/herald-test")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/herald-test")
            .env_remove("AWS_PROFILE"),
        Duration::from_secs(60),
    )
}

/// docs/deploy.md's first key on AWS: `infra/first-key` writes the team and an admin key with the
/// AWS CLI. Its items are exactly what the DynamoDB store writes (compared attribute for attribute
/// with what `create_team` and `put_api_key` write for the same team and key): so the team is
/// listed for the report generator's round (`list_teams`), whose next Monday makes its report,
/// and the API function accepts the key. A team made by the script's earlier version (no `TEAMS`
/// index item) is listed once the script has added a key to it.
#[tokio::test]
async fn the_first_key_script_writes_what_the_store_writes_and_its_team_gets_reports() {
    use herald_core::domain::KeyHash;
    use herald_core::store::{ApiKeyStore, PeopleStore};
    let moto = Moto::new().await;
    let out = first_key(&moto, "cafe");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout.clone()).unwrap().trim().to_owned();
    assert!(key.starts_with("hrld_"), "{key}");

    // The same entities written by the store into a table of their own: the items are equal.
    let team_id = TeamId::parse("team", "cafe").unwrap();
    let team = moto.store.get_team(&team_id).await.unwrap().expect("the team reads back");
    assert_eq!((team.time_zone, team.report_schedule.clone()), (chrono_tz::Europe::Paris, Default::default()));
    let keys = moto.store.list_api_keys(&team_id).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let by_store = format!("{}-by-store", moto.table);
    let dynamo = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&dynamo, &by_store).await.expect("table");
    let store = DynamoStore::new(dynamo, by_store.clone());
    store.create_team(&team).await.unwrap();
    store.put_api_key(&keys[0]).await.unwrap();
    for (pk, sk) in [("TEAM#cafe".to_owned(), "TEAM"), (format!("APIKEY#{}", keys[0].hash.as_str()), "APIKEY")] {
        let scripted = moto.raw_item(&moto.table, &pk, sk).await.unwrap_or_else(|| panic!("the script wrote no {pk}"));
        let stored = moto.raw_item(&by_store, &pk, sk).await.unwrap();
        let (a, b): (BTreeMap<_, _>, BTreeMap<_, _>) = (scripted.iter().collect(), stored.iter().collect());
        assert!(scripted == stored, "{pk}: the script's item\n{a:#?}\nis not the store's\n{b:#?}");
    }
    let listed: Vec<String> = moto.store.list_teams().await.unwrap().iter().map(|t| t.id.to_string()).collect();
    assert_eq!(listed, ["cafe"], "listed for the scheduled reports");

    // The report generator's first Monday 08:00 (Paris) after the team was made: its report.
    let local = team.created_at.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let monday = (1..=14)
        .map(|d| local + chrono::Duration::days(d))
        .find(|d| d.weekday() == chrono::Weekday::Mon && d.day() != 1)
        .expect("a Monday");
    let at = monday.and_hms_opt(8, 0, 0).unwrap().and_local_timezone(chrono_tz::Europe::Paris).single().unwrap();
    let mut tick = event("eventbridge-scheduled.json");
    tick["time"] = json!(at.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let generator = moto.start("report-generator").await;
    let summary = generator.invoke(&tick).await.json();
    assert_eq!(summary, json!({"teams": 1, "generated": 1, "existing": 0, "failed": 0, "mail": mail_off()}), "at {}", tick["time"]);

    // The API function accepts the key, which can make others.
    let api = moto.start("api").await;
    let (status, me) = http_json(&api.invoke(&http_event("GET", "/v1/me", Some(&key), None)).await);
    assert_eq!((status, me["team_id"].as_str(), me["role"].as_str()), (200, Some("cafe"), Some("admin")), "{me}");
    let body = json!({"role": "editor", "name": "ci"});
    let (status, made) = http_json(&api.invoke(&http_event("POST", "/v1/keys", Some(&key), Some(&body))).await);
    assert_eq!(status, 201, "{made}");

    // The first admin's setup link (on stderr): the item the store writes for the same link, and
    // the web app's invite page takes it (a person, a password, a session cookie).
    let told = String::from_utf8_lossy(&out.stderr).into_owned();
    let token = told
        .split("/invite/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no setup link in:\n{told}"))
        .to_owned();
    assert!(token.starts_with("hinv_") && token.len() == 69, "{token}");
    let link = moto.store.link_by_hash(&KeyHash::of(&token)).await.unwrap().expect("the link reads back");
    store.put_link(&link).await.unwrap();
    let pk = format!("LINK#{}", link.hash.as_str());
    let scripted = moto.raw_item(&moto.table, &pk, "LINK").await.expect("the script's link");
    let stored = moto.raw_item(&by_store, &pk, "LINK").await.unwrap();
    let (a, b): (BTreeMap<_, _>, BTreeMap<_, _>) = (scripted.iter().collect(), stored.iter().collect());
    assert!(scripted == stored, "{pk}: the script's item\n{a:#?}\nis not the store's\n{b:#?}");
    let joined = post_login_form(&api, &format!("/invite/{token}"), "name=Sam&email=sam%40cafe.example&password=correct+horse+battery").await;
    let (status, headers, body) = http_answer(&joined);
    assert_eq!((status, headers["location"].as_str()), (303, Some("/calendar")), "{}", String::from_utf8_lossy(&body));
    assert!(set_cookies(&joined).iter().any(|c| c.starts_with("herald_session=")), "signed in");

    // A team as the script's earlier version wrote it (no TEAMS index item): listed once the
    // script has added a key to it, its own settings kept.
    use aws_sdk_dynamodb::types::AttributeValue::S;
    aws_sdk_dynamodb::Client::new(&moto.sdk)
        .put_item()
        .table_name(&moto.table)
        .item("pk", S("TEAM#bistro".into()))
        .item("sk", S("TEAM".into()))
        .item("id", S("bistro".into()))
        .item("name", S("Le bistro".into()))
        .item("time_zone", S("Europe/Brussels".into()))
        .item("created_at", S("2026-10-01T10:00:00Z".into()))
        .send()
        .await
        .unwrap();
    assert!(!moto.store.list_teams().await.unwrap().iter().any(|t| t.id.as_str() == "bistro"));
    let out = first_key(&moto, "bistro");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let teams = moto.store.list_teams().await.unwrap();
    let bistro = teams.iter().find(|t| t.id.as_str() == "bistro").expect("listed now");
    assert_eq!((bistro.name.as_str(), bistro.time_zone), ("Le bistro", chrono_tz::Europe::Brussels), "its settings kept");
}

// ------------------------------------------------------------------------------------------
// The scheduled publisher
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn scheduled_publisher_publishes_a_due_post_and_the_event_reaches_the_bus() {
    let moto = Moto::new().await;
    let mastodon = FakeMastodon::start().await;
    let mastodon_url = mastodon.url.clone();
    let admin = moto.admin_key("cafe").await;

    // Through the API function: a Mastodon channel (credentials sealed with the SSM key) and a
    // post due in a few seconds.
    let api = moto.start("api").await;
    let channel = json!({"platform": "mastodon", "name": "@cafe@example.social", "time_zone": "Europe/Paris",
        "credentials": {"instance_url": mastodon_url, "access_token": "token-of-cafe"}});
    let (status, channel) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&channel))).await);
    assert_eq!(status, 201, "{channel}");
    // Far enough ahead that a slow (loaded, debug) API call still sees it in the future.
    let at = (Utc::now() + chrono::Duration::seconds(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({"text": "Open at 7 tomorrow", "channel_ids": [channel["id"]], "publish_at": at});
    let (status, post) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&body))).await);
    assert_eq!(status, 201, "{post}");
    drop(api);

    // The schedule's tick, as EventBridge sends it. The run waits for the post's second.
    // The fake Mastodon is on loopback: the publisher is told private addresses are fine.
    let publisher = moto.start_with("scheduled-publisher", &[("HERALD_ALLOW_PRIVATE_NETWORK", Some("1"))]).await;
    let summary = publisher.invoke(&event("eventbridge-scheduled.json")).await.json();
    assert_eq!((summary["due"].as_u64(), summary["published"].as_u64()), (Some(1), Some(1)), "{summary}");

    let sent = mastodon.statuses();
    assert_eq!(sent.len(), 1, "published once");
    assert_eq!(sent[0].1["status"], "Open at 7 tomorrow");
    assert_eq!(sent[0].0["authorization"], "Bearer token-of-cafe", "the credentials were opened with the SSM key");
    assert!(sent[0].0.contains_key("idempotency-key"));

    let team = TeamId::parse("team", "cafe").unwrap();
    let post_id = PostId::parse("id", post["id"].as_str().unwrap()).unwrap();
    let delivery = &moto.store.deliveries_of_post(&team, post_id).await.unwrap()[0];
    assert_eq!(delivery.state, DeliveryState::Published);
    assert_eq!(delivery.platform_post_id.as_deref(), Some("11001"));
    assert!(delivery.published_at.unwrap() >= delivery.publish_at, "not before its second");

    let events = moto.events_received(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["source"], "herald");
    assert_eq!(events[0]["detail-type"], "Post Published");
    assert_eq!(events[0]["detail"]["delivery_id"], json!(delivery.id.to_string()));
    assert_eq!(events[0]["detail"]["url"], "https://example.social/@cafe/11001");

    // The next tick finds nothing left to do.
    let summary = publisher.invoke(&event("eventbridge-scheduled.json")).await.json();
    assert_eq!(summary["due"], 0, "{summary}");
    assert_eq!(mastodon.statuses().len(), 1);
}

/// Instagram on Lambda against the fake Graph API (tests/system/common/graph.rs): the api
/// function connects the account (its token checked with Graph) and takes a carousel; the
/// scheduled publisher makes it through containers and one `media_publish`. Then the token is
/// revoked: two posts fail, and `Channel Needs Reconnect` reaches the bus once.
#[tokio::test]
async fn instagram_on_lambda_publishes_a_carousel_and_asks_for_a_reconnect_once() {
    use crate::common::graph::{Graph, Kind};
    use crate::common::meta_oauth::{IG_USER_ID, PAGE_ID};
    let moto = Moto::new().await;
    let (graph, url) = Graph::start().await;
    let graph_url = format!("{url}/v22.0");
    let env = [("HERALD_ALLOW_PRIVATE_NETWORK", Some("1")), ("HERALD_META_GRAPH_URL", Some(graph_url.as_str()))];
    let admin = moto.admin_key("cafe").await;
    let api = moto.start_with("api", &env).await;
    let channel = json!({"platform": "instagram", "name": "@cafeducoin", "time_zone": "Europe/Paris",
        "credentials": {"ig_user_id": IG_USER_ID, "access_token": format!("page-tok-{PAGE_ID}")}});
    let (status, channel) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&channel))).await);
    assert_eq!(status, 201, "{channel}");
    let post = |text: &str, pictures: &[&str]| {
        let at = (Utc::now() + chrono::Duration::seconds(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let media: Vec<Value> = pictures.iter().map(|p| json!({"url": p})).collect();
        json!({"text": text, "channel_ids": [channel["id"]], "publish_at": at, "media": media})
    };
    let carousel = post("Deux vues de la terrasse", &["https://cdn.example/a.jpg", "https://cdn.example/b.jpg"]);
    let (status, made) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&carousel))).await);
    assert_eq!(status, 201, "{made}");

    let publisher = moto.start_with("scheduled-publisher", &env).await;
    let summary = publisher.invoke(&event("eventbridge-scheduled.json")).await.json();
    assert_eq!((summary["due"].as_u64(), summary["published"].as_u64()), (Some(1), Some(1)), "{summary}");
    let published = graph.published(Kind::IgMedia, IG_USER_ID);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1["children"]["data"].as_array().map(Vec::len), Some(2), "one carousel of two");
    assert_eq!(graph.count(axum::http::Method::POST, &format!("/{IG_USER_ID}/media")), 3, "two children and a parent");
    let team = TeamId::parse("team", "cafe").unwrap();
    let post_id = PostId::parse("id", made["id"].as_str().unwrap()).unwrap();
    let delivery = &moto.store.deliveries_of_post(&team, post_id).await.unwrap()[0];
    assert_eq!((delivery.state, delivery.platform_post_id.as_deref()), (DeliveryState::Published, Some(published[0].0.as_str())));

    graph.revoke("page-tok-");
    for text in ["Premier refus", "Second refus"] {
        let (status, made) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&post(text, &["https://cdn.example/c.jpg"])))).await);
        assert_eq!(status, 201, "{made}");
    }
    let summary = publisher.invoke(&event("eventbridge-scheduled.json")).await.json();
    assert_eq!((summary["due"].as_u64(), summary["failed"].as_u64()), (Some(2), Some(2)), "{summary}");
    // Post Published, two Post Failed, one Channel Needs Reconnect; waiting for a fifth finds none.
    let events = moto.events_received(5, Duration::from_secs(5)).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["detail-type"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "Channel Needs Reconnect").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "Post Failed").count(), 2, "{kinds:?}");
    let (_, listed) = http_json(&api.invoke(&http_event("GET", &format!("/v1/channels/{}", channel["id"].as_str().unwrap()), Some(&admin), None)).await);
    assert!(listed["needs_reconnect"]["reason"].as_str().unwrap_or_default().contains("Error validating access token"), "{listed}");
}

/// An upload on AWS, end to end: the api function presigns a PUT to the media bucket, the file
/// goes there without the API, a post naming it is checked against the bucket when it is
/// saved, and the publisher reads it from the bucket and sends it to the network.
#[tokio::test]
async fn an_upload_goes_to_the_media_bucket_and_the_publisher_sends_it_from_there() {
    let moto = Moto::new().await;
    let mastodon = FakeMastodon::start().await;
    let admin = moto.admin_key("cafe").await;
    let api = moto.start("api").await;
    let channel = json!({"platform": "mastodon", "name": "@cafe@example.social", "time_zone": "Europe/Paris",
        "credentials": {"instance_url": mastodon.url, "access_token": "token-of-cafe"}});
    let (status, channel) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&channel))).await);
    assert_eq!(status, 201, "{channel}");

    let mut picture = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10".to_vec();
    picture.extend((0..5000u32).map(|i| (i % 253) as u8));
    let ask = json!({"content_type": "image/png", "bytes": picture.len()});
    let (status, ticket) = http_json(&api.invoke(&http_event("POST", "/v1/media", Some(&admin), Some(&ask))).await);
    assert_eq!(status, 201, "{ticket}");
    let url = ticket["url"].as_str().expect("an address");
    assert!(url.starts_with(&format!("{}/{}/media/cafe/", moto.endpoint, moto.media_bucket)), "presigned for the bucket: {url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");

    // A post naming it before it arrives is refused; then the file goes to the bucket directly.
    let at = (Utc::now() + chrono::Duration::seconds(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({"text": "Le croissant du jour", "channel_ids": [channel["id"]], "publish_at": at,
        "media": [{"url": ticket["reference"], "alt": "Un croissant"}]});
    let (status, err) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&body))).await);
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("media[0].url")), "{err}");
    let put = reqwest::Client::new().put(url).header("content-type", "image/png").body(picture.clone()).send().await.unwrap();
    assert!(put.status().is_success(), "{}: {}", put.status(), put.text().await.unwrap_or_default());
    let (status, post) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&body))).await);
    assert_eq!(status, 201, "{post}");
    assert_eq!(post["media"][0]["upload"], json!({"content_type": "image/png", "bytes": picture.len(), "fetchable": true}), "presigned GETs: {post}");
    drop(api);

    let publisher = moto.start_with("scheduled-publisher", &[("HERALD_ALLOW_PRIVATE_NETWORK", Some("1"))]).await;
    let summary = publisher.invoke(&event("eventbridge-scheduled.json")).await.json();
    assert_eq!((summary["due"].as_u64(), summary["published"].as_u64()), (Some(1), Some(1)), "{summary}");
    let uploads = mastodon.uploads();
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].windows(picture.len()).any(|w| w == picture.as_slice()), "the bucket's file, byte for byte");
    assert_eq!(mastodon.statuses()[0].1["media_ids"], json!(["7001"]));
}

// ------------------------------------------------------------------------------------------
// The pollers, on a seeded table
// ------------------------------------------------------------------------------------------

/// The two pollers on a table with work in it: a Mastodon channel (connected through the API
/// function, its token sealed with the SSM key) whose instance is a fake on loopback, a post it
/// published two hours ago (its +1 h checkpoint is due) and a mention waiting.
///
/// The notification poller brings the mention into the inbox in DynamoDB, asking with the
/// channel's token; its next run asks from the stored cursor and adds nothing. The metric poller
/// stores the post's counters (a snapshot and the day's roll-up) and the account's followers;
/// its next run reads nothing (the next checkpoint is at +6 h, followers hourly).
#[tokio::test]
async fn the_pollers_bring_a_channels_mention_and_counters_into_dynamodb() {
    use herald_core::domain::{
        ChannelId, Delivery, InteractionKind, InteractionStatus, MetricCounters, MetricSubject, Platform, Post, PostText,
    };
    use herald_core::store::{InteractionStore, MetricStore, PageRequest};
    let moto = Moto::new().await;
    let mastodon = FakeMastodon::start().await;
    let admin = moto.admin_key("cafe").await;
    let team = TeamId::parse("team", "cafe").unwrap();
    let api = moto.start("api").await;
    let body = json!({"platform": "mastodon", "name": "@cafe@example.social", "time_zone": "Europe/Paris",
        "credentials": {"instance_url": mastodon.url, "access_token": "token-of-cafe"}});
    let (status, channel) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&body))).await);
    assert_eq!(status, 201, "{channel}");
    drop(api);
    let channel_id = ChannelId::parse("id", channel["id"].as_str().unwrap()).unwrap();

    // What the publisher left two hours ago: a published delivery with the network's status id.
    let published = Utc::now() - chrono::Duration::hours(2);
    let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
        id: PostId::new(),
        team_id: team.clone(),
        text: PostText::parse("text", "Soupe du jour : potiron").unwrap(),
        variants: Default::default(),
        media: vec![],
        series_id: None,
        created_by: None,
        created_at: published,
        updated_at: published,
    };
    let mut delivery = Delivery::new(&post, channel_id, Platform::Mastodon, DeliveryState::Published, published, published);
    delivery.published_at = Some(published);
    delivery.platform_post_id = Some("4242".into());
    delivery.url = Some("https://example.social/@cafe/4242".into());
    moto.store.create_post(&post, std::slice::from_ref(&delivery)).await.unwrap();
    mastodon.counters("4242", [7, 2, 1, 0]);
    mastodon.followers(321);
    mastodon.mention(
        501,
        "9001",
        ("71", "bob@other.example", "Bob"),
        r#"<p><span class="h-card"><a href="https://example.social/@cafe" class="u-url mention">@<span>cafe</span></a></span> vous ouvrez dimanche ?</p>"#,
    );
    let tick = event("eventbridge-scheduled.json");

    // The notification poller.
    let poller = moto.start("notification-poller").await;
    let summary = poller.invoke(&tick).await.json();
    assert_eq!(summary, json!({"channels": 1, "failed": 0, "ingested": {"created": 1, "duplicates": 0, "ignored": 0}}));
    let history = moto.store.by_author(&team, Platform::Mastodon, "71", &PageRequest::first(10)).await.unwrap();
    assert_eq!(history.items.len(), 1, "{:?}", history.items);
    let mention = &history.items[0];
    assert_eq!(
        (mention.external_id.as_str(), mention.kind, mention.channel_id, mention.status),
        ("9001", InteractionKind::Mention, channel_id, InteractionStatus::Open)
    );
    assert_eq!((mention.author_name.as_str(), mention.text.as_str()), ("Bob", "@cafe vous ouvrez dimanche ?"));
    assert_eq!(mention.sentiment.as_ref().map(|s| s.language.as_str()), Some("fr"), "scored: {mention:?}");
    let asked = mastodon.seen_at("GET", "/api/v1/notifications");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].authorization.as_deref(), Some("Bearer token-of-cafe"), "the token opened with the SSM key");
    let again = poller.invoke(&tick).await.json();
    assert_eq!(again["ingested"], json!({"created": 0, "duplicates": 0, "ignored": 0}), "{again}");
    let asked = mastodon.seen_at("GET", "/api/v1/notifications");
    assert!(asked[1].query.contains("min_id=501"), "from the stored cursor: {:?}", asked[1]);
    assert_eq!(moto.store.by_author(&team, Platform::Mastodon, "71", &PageRequest::first(10)).await.unwrap().items.len(), 1);
    assert!(poller.emulator.protocol_errors().is_empty(), "{:?}", poller.emulator.protocol_errors());

    // The metric poller.
    let metrics = moto.start("metric-poller").await;
    let summary = metrics.invoke(&tick).await.json();
    assert_eq!(
        summary,
        json!({"channels": 1, "rate_limited": 0, "needs_reconnect": 0, "failed": 0, "posts": 1, "gone": 0, "followers": 1, "tokens_renewed": 0})
    );
    let post_subject = MetricSubject::Delivery { channel_id, delivery_id: delivery.id };
    let (from, to) = (published, Utc::now() + chrono::Duration::minutes(1));
    let snapshots = moto.store.snapshots(&team, &post_subject, from, to).await.unwrap();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    let read = MetricCounters { likes: Some(7), reposts: Some(2), replies: Some(1), quotes: Some(0), ..Default::default() };
    assert_eq!(snapshots[0].counters, read);
    assert!(snapshots[0].expires_at.is_some(), "raw snapshots expire");
    let today = Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let rollups = moto.store.rollups(&team, today - chrono::Duration::days(1), today + chrono::Duration::days(1)).await.unwrap();
    let of = |subject: MetricSubject| rollups.iter().find(|r| r.subject == subject).map(|r| r.counters.clone());
    assert_eq!(of(post_subject), Some(read), "the day's roll-up of the post: {rollups:?}");
    let followers = MetricCounters { followers: Some(321), ..Default::default() };
    assert_eq!(of(MetricSubject::Channel { channel_id }), Some(followers), "{rollups:?}");
    let read_post = mastodon.seen_at("GET", "/api/v1/statuses/4242");
    assert_eq!(read_post.len(), 1);
    assert_eq!(read_post[0].authorization.as_deref(), Some("Bearer token-of-cafe"));
    let again = metrics.invoke(&tick).await.json();
    assert_eq!((again["posts"].as_u64(), again["followers"].as_u64()), (Some(0), Some(0)), "nothing due yet: {again}");
    assert_eq!(mastodon.seen_at("GET", "/api/v1/statuses/4242").len(), 1);
    assert!(metrics.emulator.protocol_errors().is_empty(), "{:?}", metrics.emulator.protocol_errors());
}

#[tokio::test]
async fn scheduled_functions_refuse_events_that_are_not_their_schedule_and_keep_working() {
    let moto = Moto::new().await;
    for function in ["scheduled-publisher", "metric-poller", "notification-poller", "report-generator"] {
        let f = moto.start(function).await;
        for file in ["eventbridge-post-published.json", "apigw-http-health.json", "invalid-not-an-event.json"] {
            let outcome = f.invoke(&event(file)).await;
            let (error_type, message) = outcome.error();
            assert_eq!(error_type, "Herald.InvalidEvent", "{function} {file}: {outcome:?}");
            assert!(message.contains("Scheduled Event"), "{function} {file}: {message}");
        }
        let summary = f.invoke(&event("eventbridge-scheduled.json")).await.json();
        match function {
            "scheduled-publisher" => assert_eq!(summary["due"], 0, "{summary}"),
            // An empty table: a round over no channel, reported as such.
            "notification-poller" => assert_eq!(
                summary,
                json!({"channels": 0, "failed": 0, "ingested": {"created": 0, "duplicates": 0, "ignored": 0}})
            ),
            "metric-poller" => assert_eq!(
                summary,
                json!({"channels": 0, "rate_limited": 0, "needs_reconnect": 0, "failed": 0, "posts": 0, "gone": 0, "followers": 0, "tokens_renewed": 0})
            ),
            // No team in this table: nothing to report on.
            "report-generator" => {
                assert_eq!(summary, json!({"teams": 0, "generated": 0, "existing": 0, "failed": 0, "mail": mail_off()}))
            }
            other => panic!("no expectation for {other}"),
        }
        assert!(f.emulator.protocol_errors().is_empty(), "{function}: {:?}", f.emulator.protocol_errors());
    }
}

#[tokio::test]
async fn a_store_outage_is_a_retryable_error_and_the_next_run_recovers() {
    let moto = Moto::new().await;
    // The table does not exist yet: DynamoDB answers ResourceNotFoundException.
    let late_table = format!("{}-late", moto.table);
    let publisher = moto.start_with("scheduled-publisher", &[("HERALD_TABLE", Some(&late_table))]).await;
    let outcome = publisher.invoke(&event("eventbridge-scheduled.json")).await;
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Herald.Transient", "{outcome:?}");
    assert!(message.contains("store"), "{message}");

    // Now it exists: the same process, the same event, succeeds.
    let dynamo = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&dynamo, &late_table).await.expect("table");
    let summary = publisher.invoke(&event("eventbridge-scheduled.json")).await.json();
    assert_eq!(summary["due"], 0, "{summary}");
}

#[tokio::test]
async fn the_emulator_refuses_answers_for_unknown_requests() {
    // The emulator itself: a runtime answering a request id that was never handed out is told
    // 400, as Lambda does, and the test sees it as a protocol error.
    let emulator = crate::common::lambda_emulator::LambdaEmulator::start("probe").await;
    let url = format!("http://{}/2018-06-01/runtime/invocation/nope/response", emulator.runtime_api());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let status = client.post(url).body("{}").send().await.unwrap().status();
    assert_eq!(status, 400);
    assert_eq!(emulator.protocol_errors().len(), 1);
}

// ------------------------------------------------------------------------------------------
// The first deploy (issue 12, item 9): sandbox channels, init errors, failed reports, logs
// ------------------------------------------------------------------------------------------

/// On AWS a `sandbox` channel is refused when it is made (422 naming `platform`, saying what to
/// do instead) rather than accepted and then failing every one of its posts at publishing time:
/// the sandbox writes to a folder of the machine, which a Lambda function does not have (the
/// reasons: `herald_core::http::channels::create`). `herald serve` takes them as before
/// (tests/system/api_channels.rs, serve.rs).
/// Connect with OAuth on Lambda: the app's id and secret are SSM parameters under the stage's
/// path (the secret a SecureString), and the redirect URL is the address API Gateway was reached
/// at. A network whose parameters were not created says which variable to set.
#[tokio::test]
async fn the_api_function_reads_the_connect_apps_from_ssm_and_redirects_to_its_own_address() {
    let moto = Moto::new().await;
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk);
    for (name, value, kind) in [
        ("facebook-client-id", "424242", aws_sdk_ssm::types::ParameterType::String),
        ("facebook-client-secret", "s3cret", aws_sdk_ssm::types::ParameterType::SecureString),
    ] {
        ssm.put_parameter()
            .name(format!("/herald/{STAGE}/oauth/{name}"))
            .r#type(kind)
            .value(value)
            .overwrite(true)
            .send()
            .await
            .expect("SSM parameter");
    }
    let api = moto.start("api").await;
    let key = moto.admin_key("cafe").await;

    let (status, body) = http_json(&api.invoke(&http_event("POST", "/v1/channels/connect/facebook", Some(&key), None)).await);
    assert_eq!(status, 200, "{body}");
    let url = reqwest::Url::parse(body["authorize_url"].as_str().expect("authorize_url")).expect("a URL");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "424242", "the app id from SSM");
    // infra/events/apigw-http-post-json.json is a request to abcdef1234.execute-api…
    assert_eq!(q["redirect_uri"], "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/oauth/facebook/callback");
    assert!(!body.to_string().contains("s3cret"), "the secret never leaves the function");

    let (status, body) = http_json(&api.invoke(&http_event("POST", "/v1/channels/connect/threads", Some(&key), None)).await);
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("HERALD_THREADS_CLIENT_ID"), "{body}");
}

#[tokio::test]
async fn the_api_function_refuses_sandbox_channels_with_a_422() {
    let moto = Moto::new().await;
    let admin = moto.admin_key("cafe").await;
    let api = moto.start("api").await;
    let body = json!({"platform": "sandbox", "name": "Try-out", "time_zone": "Europe/Paris"});
    let (status, err) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&body))).await);
    assert_eq!(status, 422, "{err}");
    assert_eq!((err["error"]["code"].as_str(), err["error"]["field"].as_str()), (Some("invalid"), Some("platform")), "{err}");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sandbox") && message.contains("herald serve"), "says what to do instead: {message}");
    let (status, list) = http_json(&api.invoke(&http_event("GET", "/v1/channels", Some(&admin), None)).await);
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(0)), "nothing stored: {list}");

    // Every other network is taken as before.
    let body = json!({"platform": "generic", "name": "Website form", "time_zone": "Europe/Paris",
        "credentials": {"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}});
    let (status, channel) = http_json(&api.invoke(&http_event("POST", "/v1/channels", Some(&admin), Some(&body))).await);
    assert_eq!(status, 201, "{channel}");
    assert!(api.emulator.protocol_errors().is_empty(), "{:?}", api.emulator.protocol_errors());
}

/// `AWS_LAMBDA_RUNTIME_API` is `host:port` on Lambda and a URL with a path under
/// `cargo lambda watch` (`http://127.0.0.1:<port>/.rt/<function>`): in both forms a function
/// that cannot start reports its init error there and exits, and one that can serves.
#[tokio::test]
async fn init_errors_reach_the_runtime_api_in_both_of_its_forms_and_the_process_exits() {
    let moto = Moto::new().await;
    for form in [RuntimeApi::HostPort, RuntimeApi::Url] {
        let mut api = moto.start_as("api", &[("HERALD_TABLE", None)], Output::Inherit, form).await;
        let init = api
            .emulator
            .wait_for_init_error(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("{form:?}: no init error reached the Runtime API"));
        assert_eq!(init.header_type.as_deref(), Some("Herald.Config"), "{form:?}");
        assert_eq!(init.body["errorType"], "Herald.Config", "{form:?}");
        assert!(init.body["errorMessage"].as_str().unwrap_or_default().contains("HERALD_TABLE"), "{form:?}: {}", init.body);
        let status = api.wait_exit(Duration::from_secs(10)).await.unwrap_or_else(|| panic!("{form:?}: still running"));
        assert!(!status.success(), "{form:?}: {status}");
        assert_eq!(api.emulator.next_calls(), 0, "{form:?}: it never asked for work");

        let api = moto.start_as("api", &[], Output::Inherit, form).await;
        let (status, _, _) = http_answer(&api.invoke(&event("apigw-http-health.json")).await);
        assert_eq!(status, 200, "{form:?}: serves");
        assert!(api.emulator.protocol_errors().is_empty(), "{form:?}: {:?}", api.emulator.protocol_errors());
    }
}

/// A Runtime API that takes the connection and never answers does not keep a function that
/// cannot start alive: the init-error report is given 2 s (`herald_core::lambda::
/// INIT_ERROR_REPORT_TIMEOUT`), then the process exits with status 1, in either form of the
/// address.
#[tokio::test]
async fn a_function_whose_init_error_gets_no_answer_exits_within_the_bound() {
    let moto = Moto::new().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = silent.local_addr().expect("its address").to_string();
    let holder = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection); // read nothing, answer nothing, close nothing
        }
    });
    for runtime_api in [addr.clone(), format!("http://{addr}/.rt/api")] {
        let started = std::time::Instant::now();
        let mut api =
            moto.start_with("api", &[("HERALD_TABLE", None), ("AWS_LAMBDA_RUNTIME_API", Some(runtime_api.as_str()))]).await;
        let status = api.wait_exit(Duration::from_secs(20)).await.unwrap_or_else(|| panic!("{runtime_api}: still running after 20 s"));
        let took = started.elapsed();
        assert_eq!(status.code(), Some(1), "{runtime_api}: {status}");
        assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(8), "{runtime_api}: exited after {took:?}");
        eprintln!("MEASURED init error unanswered ({runtime_api}): exited with status 1 after {took:.2?}");
    }
    holder.abort();
}

/// A scheduled report whose files the bucket refuses (S3 PutObject answering 500 InternalError,
/// every attempt, through the fault proxy in front of moto) fails the invocation as
/// `Herald.Transient`, naming the report: the failures alarm (template.yaml) counts it, Lambda
/// retries it, the dead-letter queue keeps it. Nothing is recorded, so the next hourly run,
/// the bucket back, makes the report, once, and announces it once.
#[tokio::test]
async fn a_report_the_bucket_refused_fails_the_invocation_and_the_next_run_makes_it() {
    use crate::common::fault_proxy::{Fault, FaultProxy, Rule};
    use herald_core::store::{PageRequest, ReportStore};
    let moto = Moto::new().await;
    moto.admin_key("cafe").await; // team `cafe`, Europe/Paris, made 2026-11-02
    let team = TeamId::parse("team", "cafe").unwrap();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let put_report_file = format!("PUT /{}/reports/", moto.bucket);
    proxy.add(Rule::new(Fault::s3(500, "InternalError", "We encountered an internal error. Please try again.")).on_prefix(&put_report_file));
    let generator = moto.start_with("report-generator", &[("AWS_ENDPOINT_URL", Some(proxy.url.as_str()))]).await;
    let tick = |time: &str| {
        let mut e = event("eventbridge-scheduled.json");
        e["time"] = json!(time);
        e
    };

    // Monday 2027-01-11, 08:00 in Paris: last week's report is due, and its files are refused.
    let started = std::time::Instant::now();
    let outcome = generator.invoke(&tick("2027-01-11T07:00:00Z")).await;
    let took = started.elapsed();
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Herald.Transient", "{outcome:?}");
    for says in ["1 of the 1 due reports could not be made", "team cafe weekly 2027-01-04..2027-01-10", "PutObject", "next round"] {
        assert!(message.contains(says), "the error says {says:?}: {message}");
    }
    let refused = proxy.seen().iter().filter(|s| s.operation.starts_with(&put_report_file) && s.fault.is_some()).count();
    assert_eq!(refused, 3, "the SDK's 3 attempts at the first file, then the round gave up on that report");
    eprintln!("MEASURED report-generator, S3 PutObject always 500: failed invocation after {took:.2?}, {refused} PutObject attempts");
    let reports = moto.store.list_reports(&team, &PageRequest::first(10)).await.unwrap();
    assert!(reports.items.is_empty(), "nothing recorded: the report is still due: {:?}", reports.items);
    assert!(moto.events_received(1, Duration::from_secs(2)).await.is_empty(), "no Report Ready for a report not made");

    // The next hourly run, the bucket back: made, once, and announced.
    proxy.heal();
    let summary = generator.invoke(&tick("2027-01-11T08:00:00Z")).await.json();
    assert_eq!(summary, json!({"teams": 1, "generated": 1, "existing": 0, "failed": 0, "mail": mail_off()}));
    let summary = generator.invoke(&tick("2027-01-11T09:00:00Z")).await.json();
    assert_eq!(summary, json!({"teams": 1, "generated": 0, "existing": 1, "failed": 0, "mail": mail_off()}), "once");
    let reports = moto.store.list_reports(&team, &PageRequest::first(10)).await.unwrap();
    assert_eq!(reports.items.len(), 1);
    assert_eq!((reports.items[0].period_start.to_string(), reports.items[0].period_end.to_string()), ("2027-01-04".into(), "2027-01-10".into()));
    let s3 = s3_client(&moto.sdk);
    for key in reports.items[0].files.values() {
        s3.head_object().bucket(&moto.bucket).key(key).send().await.unwrap_or_else(|e| panic!("{key} is in the bucket: {e:?}"));
    }
    let events = moto.events_received(1, Duration::from_secs(10)).await;
    let ready: Vec<&Value> = events.iter().filter(|e| e["detail-type"] == "Report Ready").collect();
    assert_eq!(ready.len(), 1, "{events:?}");
    assert!(generator.emulator.protocol_errors().is_empty(), "{:?}", generator.emulator.protocol_errors());
}

/// Invokes `f` with `event` under the request id `request_id`.
async fn invoke_as(f: &FunctionProcess, request_id: &str, event: &Value) -> Outcome {
    f.emulator
        .invoke_raw_as(request_id, serde_json::to_vec(event).expect("JSON"), Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("no answer to {request_id} within 60 s"))
}

/// The JSON lines a function wrote while serving one invocation: what it wrote after `before`
/// lines, once it has asked for its next event (`next_call`) and gone quiet.
async fn lines_of_invocation(f: &FunctionProcess, before: usize, next_call: usize) -> Vec<Value> {
    f.emulator.wait_for_next_call(next_call, Duration::from_secs(10)).await.expect("the runtime asks for its next event");
    let lines = f.settled_lines(Duration::from_millis(300), Duration::from_secs(10)).await;
    lines[before..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
        .collect()
}

/// Every line a function writes during an invocation carries that invocation's request id as
/// `requestId` (the id of Lambda's START/REPORT lines): the publisher's lines about a delivery,
/// written in the task that publishes it, included; a later invocation's lines carry its own
/// id only. The API function's lines of a request also carry the request's `x-request-id`.
#[tokio::test]
async fn every_log_line_of_an_invocation_carries_its_request_id() {
    let moto = Moto::new().await;
    let mastodon = FakeMastodon::start().await;
    let admin = moto.admin_key("cafe").await;

    // The API function: one request, its lines.
    let api = moto.start_as("api", &[], Output::Capture, RuntimeApi::HostPort).await;
    api.emulator.wait_for_next_call(1, Duration::from_secs(30)).await.expect("the API starts");
    let before = api.settled_lines(Duration::from_millis(300), Duration::from_secs(10)).await.len();
    let channel = json!({"platform": "mastodon", "name": "@cafe@example.social", "time_zone": "Europe/Paris",
        "credentials": {"instance_url": mastodon.url, "access_token": "token-of-cafe"}});
    let id = uuid::Uuid::new_v4().to_string();
    let outcome = invoke_as(&api, &id, &http_event("POST", "/v1/channels", Some(&admin), Some(&channel))).await;
    let (status, headers, body) = http_answer(&outcome);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let channel: Value = serde_json::from_slice(&body).unwrap();
    let x_request_id = headers["x-request-id"].as_str().expect("an x-request-id").to_owned();
    let lines = lines_of_invocation(&api, before, 2).await;
    assert!(lines.iter().any(|l| l["fields"]["message"] == "channel created"), "{lines:#?}");
    for line in &lines {
        assert_eq!(line["requestId"], json!(id), "every line of the invocation: {line}");
    }
    let created = lines.iter().find(|l| l["fields"]["message"] == "channel created").unwrap();
    assert_eq!(created["span"]["request_id"], json!(x_request_id), "and the request's x-request-id: {created}");

    // A post due in a few seconds, made through the API as well.
    let at = (Utc::now() + chrono::Duration::seconds(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({"text": "Open at 7 tomorrow", "channel_ids": [channel["id"]], "publish_at": at});
    let (status, post) = http_json(&api.invoke(&http_event("POST", "/v1/posts", Some(&admin), Some(&body))).await);
    assert_eq!(status, 201, "{post}");
    drop(api);

    // The publisher: the tick publishes it in a task of its own.
    let publisher =
        moto.start_as("scheduled-publisher", &[("HERALD_ALLOW_PRIVATE_NETWORK", Some("1"))], Output::Capture, RuntimeApi::HostPort).await;
    publisher.emulator.wait_for_next_call(1, Duration::from_secs(30)).await.expect("the publisher starts");
    let before = publisher.settled_lines(Duration::from_millis(300), Duration::from_secs(10)).await.len();
    let first = uuid::Uuid::new_v4().to_string();
    let summary = invoke_as(&publisher, &first, &event("eventbridge-scheduled.json")).await.json();
    assert_eq!((summary["due"].as_u64(), summary["published"].as_u64()), (Some(1), Some(1)), "{summary}");
    let lines = lines_of_invocation(&publisher, before, 2).await;
    let message = |l: &Value| l["fields"]["message"].as_str().unwrap_or_default().to_owned();
    let messages: Vec<String> = lines.iter().map(message).collect();
    for wanted in ["scheduled run", "published", "publisher run"] {
        assert!(messages.iter().any(|m| m == wanted), "a {wanted:?} line: {messages:?}");
    }
    let published = lines.iter().find(|l| message(l) == "published").unwrap();
    assert!(published["fields"]["delivery"].is_string(), "the delivery's line names it: {published}");
    assert_eq!(published["span"]["delivery_id"], published["fields"]["delivery"], "in the delivery's span: {published}");
    for line in &lines {
        assert_eq!(line["requestId"], json!(first), "every line of the invocation: {line}");
    }

    // The next tick: its own id, never the previous one.
    let before = publisher.lines().len();
    let second = uuid::Uuid::new_v4().to_string();
    let summary = invoke_as(&publisher, &second, &event("eventbridge-scheduled.json")).await.json();
    assert_eq!(summary["due"], 0, "{summary}");
    let lines = lines_of_invocation(&publisher, before, 3).await;
    assert!(!lines.is_empty(), "the scheduled run's line at least");
    for line in &lines {
        assert_eq!(line["requestId"], json!(second), "{line}");
    }
    assert!(publisher.emulator.protocol_errors().is_empty(), "{:?}", publisher.emulator.protocol_errors());
}

impl FunctionProcess {
    /// Sends raw bytes as the event; true when the function reported an invocation error.
    async fn invoke_raw_is_error(&self, bytes: &'static [u8]) -> bool {
        matches!(self.emulator.invoke_raw(bytes, Duration::from_secs(30)).await, Some(Outcome::Error { .. }))
    }
}

// ------------------------------------------------------------------------------------------
// Measurement (not a test): cold starts under the emulator, run by infra/bench/lambda_cold_start.py
// ------------------------------------------------------------------------------------------

/// Starts each bootstrap `HERALD_BENCH_RUNS` times (default 20) under a fresh emulator with
/// this rig's environment (moto), and prints one JSON line per function: the cold start
/// (process start → its first `GET /runtime/invocation/next`), the first and a warm invocation,
/// and the peak resident memory. `HERALD_BENCH_FUNCTIONS` is `name=path=event,...` (event a file
/// of infra/events/, or `-` for `{}`; `name@label` is another build of `name`, e.g. before a change).
#[tokio::test]
#[ignore = "a measurement: run by infra/bench/lambda_cold_start.py"]
async fn cold_start_bench() {
    let spec = std::env::var("HERALD_BENCH_FUNCTIONS").expect("HERALD_BENCH_FUNCTIONS=name=path=event,...");
    let runs: usize = std::env::var("HERALD_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let moto = Moto::new().await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for entry in spec.split(',').filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, '=');
        let (name, path, payload) = (parts.next().unwrap(), parts.next().expect("a path"), parts.next().unwrap_or("-"));
        let payload = if payload == "-" { json!({}) } else { event(payload) };
        // A Herald function gets its template.yaml environment (`api@before`, another build of
        // `api`, the same); another (hello-lambda) the API's.
        let function = name.split('@').next().unwrap_or(name);
        let env = moto.env(if deployed_functions().contains_key(function) { function } else { "api" });
        let (mut cold, mut first, mut warm, mut rss) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            let f = FunctionProcess::spawn(Path::new(path), name, &env, Output::Discard).await;
            let at = f.emulator.wait_for_next_call(1, Duration::from_secs(30)).await.expect("the function asks for work");
            cold.push(ms(at - f.started));
            let t = std::time::Instant::now();
            let outcome = f.emulator.invoke(&payload, Duration::from_secs(60)).await;
            first.push(ms(t.elapsed()));
            assert!(matches!(outcome, Outcome::Response(_)), "{name}: {outcome:?}");
            let t = std::time::Instant::now();
            f.emulator.invoke(&payload, Duration::from_secs(60)).await;
            warm.push(ms(t.elapsed()));
            let status = std::fs::read_to_string(format!("/proc/{}/status", f.pid())).unwrap_or_default();
            let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches(" kB").trim());
            if let Some(kb) = hwm.and_then(|v| v.parse::<f64>().ok()) {
                rss.push(kb / 1024.0);
            }
        }
        let stats = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            let q = |p: f64| v.get(((v.len() - 1) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN);
            json!({"median": q(0.5), "p10": q(0.1), "p90": q(0.9), "min": q(0.0), "max": q(1.0)})
        };
        let line = json!({"function": name, "runs": runs, "cold_start_ms": stats(&mut cold),
            "first_invoke_ms": stats(&mut first), "warm_invoke_ms": stats(&mut warm), "max_rss_mib": stats(&mut rss)});
        println!("HERALD_BENCH {line}");
    }
}
