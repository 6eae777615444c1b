//! The deployment's configuration agrees with itself and with its documentation:
//!
//! - every environment of `samconfig.toml` (what `sam deploy` and `sam deploy --config-env prod`
//!   use without `--guided`) gives only parameters the template declares, with allowed values,
//!   one stack per stage, and makes every function read a credentials key parameter that
//!   docs/deploy.md creates and that its role may read;
//! - every environment variable Herald reads, or the template sets, is in the README's
//!   configuration table, and every `HERALD_*` row there is read by something;
//! - the template's comments and the docs name every event Herald puts on its bus, and say how
//!   report files are served.
//!
//! The template is read as CloudFormation runs it: the SAM-transformed JSON `tests/run` writes
//! (`HERALD_TEST_SAM_TEMPLATE`, Globals merged into each function, policy templates expanded),
//! and its intrinsic functions are evaluated here for each environment's parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use herald_core::events::EventKind;
use serde_json::{Map, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The SAM-transformed template (see the module documentation).
fn transformed_template() -> Value {
    let path = std::env::var("HERALD_TEST_SAM_TEMPLATE").unwrap_or_else(|_| {
        panic!(
            "HERALD_TEST_SAM_TEMPLATE is not set: run the suite with `tests/run`, which writes the SAM-transformed \
             template.yaml (or `python infra/sam/transform.py template.yaml OUT.json` with the test venv's Python)"
        )
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("HERALD_TEST_SAM_TEMPLATE={path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ------------------------------------------------------------------------------------------
// samconfig.toml
// ------------------------------------------------------------------------------------------

/// `samconfig.toml` as SAM reads it, for what Herald's file holds: `[env.command.parameters]`
/// tables of `key = "string" | true | false | number`. Environment → command → key → value.
fn samconfig() -> BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> {
    let mut config: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    let mut table: Option<(String, String)> = None;
    for (n, raw) in read("samconfig.toml").lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let parts: Vec<&str> = header.split('.').collect();
            let [env, command, "parameters"] = parts.as_slice() else {
                panic!("samconfig.toml:{}: a table this test does not know: {line}", n + 1)
            };
            table = Some(((*env).to_owned(), (*command).to_owned()));
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("samconfig.toml:{}: {line}", n + 1));
        let (key, value) = (key.trim(), value.trim());
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => value.to_owned(),
        };
        match &table {
            Some((env, command)) => {
                config.entry(env.clone()).or_default().entry(command.clone()).or_default().insert(key.to_owned(), value);
            }
            None if key == "version" => {}
            None => panic!("samconfig.toml:{}: {key} outside any table", n + 1),
        }
    }
    config
}

/// `Key="value" Other="x y"` (SAM's `parameter_overrides`) as a map.
fn parameter_overrides(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').unwrap_or_else(|| panic!("parameter_overrides: no `=` in {rest:?}"));
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap_or_else(|| panic!("parameter_overrides: unclosed quote in {after:?}"));
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        assert!(out.insert(key.trim().to_owned(), value.to_owned()).is_none(), "parameter_overrides: {key} given twice");
        rest = after.trim_start();
    }
    out
}

/// CloudFormation's intrinsic functions, evaluated for one set of parameter values (the
/// account and region are placeholders; resources are `<Ref Name>`).
struct Cfn<'a> {
    parameters: BTreeMap<String, String>,
    conditions: &'a Map<String, Value>,
}

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";

impl Cfn<'_> {
    fn reference(&self, name: &str) -> String {
        match name {
            "AWS::Region" => REGION.to_owned(),
            "AWS::AccountId" => ACCOUNT.to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            "AWS::StackName" => "stack".to_owned(),
            other => self.parameters.get(other).cloned().unwrap_or_else(|| format!("<Ref {other}>")),
        }
    }

    fn eval(&self, value: &Value) -> String {
        let function = |name: &str| value.get(name);
        if let Some(text) = value.as_str() {
            return text.to_owned();
        }
        if let Some(name) = function("Ref").and_then(Value::as_str) {
            return self.reference(name);
        }
        if let Some([condition, then, otherwise]) = function("Fn::If").and_then(Value::as_array).map(Vec::as_slice) {
            let name = condition.as_str().unwrap_or_else(|| panic!("Fn::If on {condition}"));
            return self.eval(if self.holds_named(name) { then } else { otherwise });
        }
        if let Some(sub) = function("Fn::Sub") {
            let (text, vars) = match sub {
                Value::String(text) => (text.as_str(), Map::new()),
                Value::Array(parts) => (
                    parts[0].as_str().unwrap_or_else(|| panic!("Fn::Sub {sub}")),
                    parts.get(1).and_then(Value::as_object).cloned().unwrap_or_default(),
                ),
                other => panic!("Fn::Sub {other}"),
            };
            let mut out = String::new();
            let mut rest = text;
            while let Some(at) = rest.find("${") {
                let end = at + rest[at..].find('}').unwrap_or_else(|| panic!("Fn::Sub {text}"));
                out.push_str(&rest[..at]);
                let name = &rest[at + 2..end];
                out.push_str(&match vars.get(name) {
                    Some(v) => self.eval(v),
                    None => self.reference(name),
                });
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            return out;
        }
        if let Some([separator, items]) = function("Fn::Join").and_then(Value::as_array).map(Vec::as_slice) {
            let items: Vec<String> = items.as_array().into_iter().flatten().map(|v| self.eval(v)).collect();
            return items.join(separator.as_str().unwrap_or_default());
        }
        if let Some(Value::Array(attribute)) = function("Fn::GetAtt") {
            return format!("<GetAtt {}>", attribute.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."));
        }
        panic!("an intrinsic function this test does not evaluate: {value}")
    }

    fn holds_named(&self, name: &str) -> bool {
        let condition = self.conditions.get(name).unwrap_or_else(|| panic!("no condition {name}"));
        self.holds(condition)
    }

    fn holds(&self, condition: &Value) -> bool {
        if let Some([a, b]) = condition.get("Fn::Equals").and_then(Value::as_array).map(Vec::as_slice) {
            return self.eval(a) == self.eval(b);
        }
        if let Some([inner]) = condition.get("Fn::Not").and_then(Value::as_array).map(Vec::as_slice) {
            return !self.holds(inner);
        }
        if let Some(all) = condition.get("Fn::And").and_then(Value::as_array) {
            return all.iter().all(|c| self.holds(c));
        }
        if let Some(any) = condition.get("Fn::Or").and_then(Value::as_array) {
            return any.iter().any(|c| self.holds(c));
        }
        if let Some(name) = condition.get("Condition").and_then(Value::as_str) {
            return self.holds_named(name);
        }
        panic!("a condition this test does not evaluate: {condition}")
    }
}

/// The names the docs' `aws ssm put-parameter --name …` commands create, in `file`.
fn parameters_created_in(file: &str) -> BTreeSet<String> {
    let text = read(file).replace("\\\n", " ");
    text.match_indices("put-parameter")
        .filter_map(|(at, _)| {
            let line = text[at..].lines().next().unwrap_or_default();
            let after = line.split_once("--name ")?.1;
            Some(after.split_whitespace().next()?.trim_matches(|c| c == '"' || c == '\'').to_owned())
        })
        .collect()
}

/// Whether `statement` (an IAM policy statement) allows `action` on `arn`.
fn allows(cfn: &Cfn<'_>, statement: &Value, action: &str, arn: &str) -> bool {
    let list = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        }
    };
    statement["Effect"] == "Allow"
        && list(&statement["Action"]).iter().any(|a| a.as_str() == Some(action))
        && list(&statement["Resource"]).iter().any(|r| cfn.eval(r) == arn)
}

/// `sam deploy` for each environment of samconfig.toml, without `--guided`: the parameters it
/// passes are the template's, with allowed values; the stack is `herald-<stage>`; every function
/// that opens channel credentials is told a key parameter (leading slash included) that
/// docs/deploy.md's step 2 creates, one per stage, and its role may read exactly that parameter.
/// (The bug this pins: samconfig.toml named no key, so the functions read the template's old
/// default `/herald/credentials-key`, which no documented step created, and died at start.)
/// Functions given `HERALD_CREDENTIALS_KEY_PARAM` (by Globals) that never read it.
const OPENS_NO_CREDENTIALS: &[&str] = &["ReportGeneratorFunction"];

#[test]
fn every_samconfig_environment_deploys_with_a_credentials_key_the_docs_create() {
    let template = transformed_template();
    let declared = template["Parameters"].as_object().expect("Parameters");
    let no_conditions = Map::new();
    let conditions = template["Conditions"].as_object().unwrap_or(&no_conditions);
    let resources = template["Resources"].as_object().expect("Resources");
    let created = parameters_created_in("docs/deploy.md");
    assert!(!created.is_empty(), "docs/deploy.md creates the credentials key with `aws ssm put-parameter --name …`");
    let in_readme = parameters_created_in("README.md");

    let config = samconfig();
    assert!(config.contains_key("default") && config.contains_key("prod"), "the dev ([default]) and prod stages: {:?}", config.keys());
    let mut keys_by_stage = BTreeMap::new();
    let mut stacks = BTreeSet::new();
    for (env, commands) in &config {
        let deploy = commands.get("deploy").unwrap_or_else(|| panic!("[{env}.deploy.parameters] is missing"));
        let overrides = parameter_overrides(deploy.get("parameter_overrides").map(String::as_str).unwrap_or_default());
        // Only parameters the template declares, each with an allowed value.
        let mut parameters = BTreeMap::new();
        for (name, spec) in declared {
            if let Some(default) = spec.get("Default") {
                parameters.insert(name.clone(), default.as_str().map(str::to_owned).unwrap_or_else(|| default.to_string()));
            }
        }
        for (name, value) in &overrides {
            let spec = declared.get(name).unwrap_or_else(|| panic!("[{env}] overrides {name}, which template.yaml does not declare"));
            if let Some(allowed) = spec.get("AllowedValues").and_then(Value::as_array) {
                assert!(allowed.iter().any(|a| a.as_str() == Some(value.as_str()) || serde_json::from_str::<Value>(value).ok().as_ref() == Some(a)), "[{env}] {name}={value}: not one of {allowed:?}");
            }
            parameters.insert(name.clone(), value.clone());
        }
        for name in declared.keys() {
            assert!(parameters.contains_key(name), "[{env}] gives no {name}, which has no default");
        }
        let stage = overrides.get("Stage").unwrap_or_else(|| panic!("[{env}] names its Stage"));
        let stack = commands
            .get("global")
            .and_then(|g| g.get("stack_name"))
            .or_else(|| deploy.get("stack_name"))
            .unwrap_or_else(|| panic!("[{env}] names its stack"));
        assert_eq!(stack, &format!("herald-{stage}"), "[{env}]: one stack per stage, named as docs/deploy.md says");
        assert!(stacks.insert(stack.clone()), "[{env}]: stack {stack} is another environment's too");

        let cfn = Cfn { parameters, conditions };
        let mut key = None;
        for (id, resource) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::Lambda::Function") {
            let Some(value) = resource["Properties"]["Environment"]["Variables"].get("HERALD_CREDENTIALS_KEY_PARAM") else {
                continue;
            };
            let name = cfn.eval(value);
            // Globals give every function the variable; the report generator never opens a
            // channel's credentials (functions/report-generator: no cipher), and has no SSM grant.
            if OPENS_NO_CREDENTIALS.contains(&id.as_str()) {
                continue;
            }
            assert!(name.starts_with('/') && !name.starts_with("//"), "[{env}] {id}: {name}: one leading slash");
            assert!(created.contains(&name), "[{env}] {id} reads {name}; docs/deploy.md creates {created:?}");
            // Its role may read that parameter (SSMParameterReadPolicy builds the ARN itself:
            // a name given with its slash would make `parameter//…` and grant nothing).
            let role = resource["Properties"]["Role"]["Fn::GetAtt"][0].as_str().unwrap_or_else(|| panic!("{id}: its role"));
            let arn = format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}");
            let policies = resources[role]["Properties"]["Policies"].as_array().cloned().unwrap_or_default();
            let granted = policies.iter().any(|p| {
                p["PolicyDocument"]["Statement"].as_array().into_iter().flatten().any(|s| allows(&cfn, s, "ssm:GetParameter", &arn))
            });
            assert!(granted, "[{env}] {id}'s role {role} may not ssm:GetParameter {arn}");
            assert!(key.as_ref().is_none_or(|k| *k == name), "[{env}]: every function reads the same key");
            key = Some(name);
        }
        let key = key.unwrap_or_else(|| panic!("[{env}]: no function reads HERALD_CREDENTIALS_KEY_PARAM"));
        assert!(keys_by_stage.insert(stage.clone(), key).is_none(), "[{env}]: stage {stage} is another environment's too");
    }
    let keys: BTreeSet<&String> = keys_by_stage.values().collect();
    assert_eq!(keys.len(), keys_by_stage.len(), "one key per stage: {keys_by_stage:?}");
    let documented: BTreeSet<String> = keys_by_stage.values().cloned().collect();
    assert_eq!(created, documented, "docs/deploy.md creates exactly the stages' keys");
    assert!(!in_readme.is_empty() && in_readme.is_subset(&documented), "the README's quick start creates a stage's key: {in_readme:?}");
}

#[test]
fn parameter_overrides_are_read_as_sam_reads_them() {
    let got = parameter_overrides(r#"Stage="dev" AlertEmail="" TableDeletionProtection=false Name="a b""#);
    let want: BTreeMap<String, String> =
        [("Stage", "dev"), ("AlertEmail", ""), ("TableDeletionProtection", "false"), ("Name", "a b")].map(|(k, v)| (k.into(), v.into())).into();
    assert_eq!(got, want);
}

// ------------------------------------------------------------------------------------------
// Environment variables
// ------------------------------------------------------------------------------------------

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The variables Herald's code reads by name (`env::var("…")`, `env::var_os("…")`, clap's
/// `env = "…"`), outside tests, with a file that reads each.
fn variables_read() -> BTreeMap<String, String> {
    let mut files = vec![];
    for dir in ["shared/src", "cli/src", "functions"] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut read = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Code before the unit tests only.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        // A name in a string literal counts too (`const VAR: &str = "HERALD_…"` read through it).
        for marker in ["env::var(\"", "env::var_os(\"", "env = \"", "\"HERALD_"] {
            for (at, _) in code.match_indices(marker) {
                let start = at + marker.len() - if marker == "\"HERALD_" { "HERALD_".len() } else { 0 };
                let name: String =
                    code[start..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
                if !name.is_empty() {
                    read.entry(name).or_insert_with(|| file.strip_prefix(root()).unwrap_or(&file).display().to_string());
                }
            }
        }
    }
    read
}

/// The variables of the README's configuration table (first column; a row may name several).
fn variables_documented() -> BTreeSet<String> {
    let readme = read("README.md");
    let section = readme.split("\n## Configuration\n").nth(1).expect("README has a Configuration section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or_default();
            first.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

/// Every variable Herald reads or template.yaml sets is in the README's configuration table;
/// every `HERALD_*` row of the table is read by something; the template sets nothing Herald
/// does not read (a variable the functions ignore, like `HERALD_STAGE` was, says something
/// untrue about the deployment).
#[test]
fn every_environment_variable_is_documented_and_every_documented_one_is_read() {
    let read = variables_read();
    let documented = variables_documented();
    for (name, file) in &read {
        assert!(documented.contains(name), "{name} (read in {file}) is not in the README's configuration table");
    }
    for name in documented.iter().filter(|n| n.starts_with("HERALD_")) {
        assert!(read.contains_key(name), "README documents {name}, which nothing reads");
    }
    let template = transformed_template();
    for (id, resource) in template["Resources"].as_object().expect("Resources") {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let vars = resource["Properties"]["Environment"]["Variables"].as_object().cloned().unwrap_or_default();
        for name in vars.keys() {
            assert!(documented.contains(name), "template.yaml sets {name} on {id}; the README's table does not say what it is");
            // RUST_LOG is read by tracing-subscriber's EnvFilter (logging.rs), by that name.
            assert!(read.contains_key(name) || name == "RUST_LOG", "template.yaml sets {name} on {id}, which Herald never reads");
        }
    }
}

// ------------------------------------------------------------------------------------------
// What the template's comments and the docs say
// ------------------------------------------------------------------------------------------

/// Every event Herald emits (a `match`, so a new kind fails to compile until it is listed).
fn every_event_kind() -> Vec<EventKind> {
    use EventKind::*;
    let all = vec![
        PostPublished,
        PostFailed,
        ChannelNeedsReconnect,
        CrisisDetected,
        CrisisResolved,
        ReportReady,
        ApprovalRequested,
        PostRejected,
        InteractionReceived,
        InteractionReplyRequested,
    ];
    for kind in &all {
        match kind {
            PostPublished | PostFailed | ChannelNeedsReconnect | CrisisDetected | CrisisResolved | ReportReady
            | ApprovalRequested | PostRejected | InteractionReceived | InteractionReplyRequested => {}
        }
    }
    all
}

/// Text with line breaks and comment markers folded into single spaces (a name may wrap).
fn prose(text: &str) -> String {
    text.lines().map(|l| l.trim().trim_start_matches('#').trim()).collect::<Vec<_>>().join(" ")
}

/// template.yaml's comment on the bus, docs/deploy.md and the README name every event on the
/// bus (`Interaction Received` among them: intake emits it), and the template says how report
/// files reach people (the API serves them; there are no presigned links).
#[test]
fn the_template_and_the_docs_name_every_event_and_say_how_reports_are_served() {
    let template = read("template.yaml");
    let bus = template.split("\n  EventBus:\n").next().expect("an EventBus resource");
    let bus_comment = prose(&bus[bus.rfind("\n\n").unwrap_or(0)..]);
    let deploy = prose(&read("docs/deploy.md"));
    let readme = read("README.md");
    for kind in every_event_kind() {
        let name = kind.detail_type();
        assert!(bus_comment.contains(name), "template.yaml's comment on EventBus does not name {name}: {bus_comment}");
        assert!(deploy.contains(&format!("`{name}`")), "docs/deploy.md does not name {name}");
        assert!(readme.contains(&format!("| `{name}`")), "the README's events table has no row for {name}");
    }
    let bucket = template.split("\n  ReportsBucket:\n").next().expect("a ReportsBucket resource");
    let bucket_comment = prose(&bucket[bucket.rfind("\n\n").unwrap_or(0)..]);
    // (Uploads are presigned, into the media bucket; report files never are.)
    assert!(!bucket_comment.to_lowercase().contains("presigned"), "the reports bucket speaks of presigned links; the API serves report files itself");
    assert!(bucket_comment.contains("GET /v1/reports/{id}/report.html"), "how report files are served: {bucket_comment}");
}

/// `infra/first-key` refuses a time zone Herald could not read before it writes anything (a bad
/// zone in the team item would break the team for every reader).
#[test]
fn the_first_key_script_refuses_a_zone_that_is_not_iana() {
    for zone in ["Mars/Olympus", "../../etc/passwd", "Europe/Pariss"] {
        let out = std::process::Command::new(root().join("infra/first-key"))
            .args(["--table", "no-such-table", "--team", "cafe", "--time-zone", zone])
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("the script runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{zone}: {stderr}");
        assert!(stderr.contains("is not an IANA time zone"), "{zone}: {stderr}");
    }
}

/// Whether an API Gateway route path (`/v1/{proxy+}`, `/invite/{token}`) takes `path`.
fn route_takes(route: &str, path: &str) -> bool {
    let (mut r, mut p) = (route.trim_matches('/').split('/'), path.trim_matches('/').split('/'));
    loop {
        match (r.next(), p.next()) {
            (None, None) => return true,
            (Some(seg), Some(_)) if seg.ends_with("+}") => return true,
            (Some(seg), Some(got)) if seg == got || (seg.starts_with('{') && seg.ends_with('}')) => {}
            _ => return false,
        }
    }
}

/// Every path the router answers (the API's, from its OpenAPI document, and the pages') is
/// routed to a function by the template's HttpApi events: a route the router has and API
/// Gateway does not is a 404 on AWS only.
#[tokio::test]
async fn every_route_of_the_router_is_routed_by_the_template() {
    let template = read("template.yaml");
    let routes: Vec<&str> =
        template.lines().filter_map(|l| l.trim().strip_prefix("Path: ")).map(|p| p.trim_matches('"')).collect();
    let app = crate::common::App::new();
    let (status, doc) = app.call(axum::http::Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let mut paths: Vec<String> = doc["paths"].as_object().expect("paths").keys().cloned().collect();
    paths.extend(["/", "/calendar", "/sign-in", "/sign-out", "/invite/hinv_x", "/assets/app.0123456789.css"].map(String::from));
    paths.extend(herald_core::web::Screen::ALL.iter().flat_map(|s| [s.path().to_owned(), format!("{}/x/y", s.path())]));
    let unrouted: Vec<&String> = paths.iter().filter(|p| !routes.iter().any(|r| route_takes(r, p))).collect();
    assert!(unrouted.is_empty(), "not routed by template.yaml's HttpApi events: {unrouted:?} (routes: {routes:?})");
    assert!(!route_takes("/calendar", "/calendar/x") && route_takes("/v1/{proxy+}", "/v1/posts/1/approve"));
}
