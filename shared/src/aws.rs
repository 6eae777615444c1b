//! Wiring for the Lambda functions: configuration from the environment, the SDK clients, and
//! the credentials key from SSM. Only the functions' mains call this.
//!
//! | variable | meaning |
//! |---|---|
//! | `HERALD_TABLE` | the DynamoDB table name (required) |
//! | `HERALD_EVENT_BUS` | the EventBridge bus name |
//! | `HERALD_CREDENTIALS_KEY_PARAM` | SSM SecureString parameter holding the base64 AES-256 key |
//! | `HERALD_CREDENTIALS_KEY` | the key itself, base64 (instead of the parameter; for tests) |
//! | `HERALD_REPORTS_BUCKET` | the S3 bucket of report files: required by the functions that write or serve them (the API, the report generator), which refuse to start without it |
//! | `AWS_ENDPOINT_URL` | the SDK's own override (moto in tests) |
//! | `HERALD_ALLOW_PRIVATE_NETWORK` | `1`: the networks' clients may reach private addresses (tests' fakes); unset in production |
//! | `HERALD_OAUTH_PARAMS` | the API: the SSM path (`/herald/<Stage>/oauth/`) under which the connect flow's apps are kept: `facebook-client-id`, `facebook-client-secret`, `threads-client-id`, `threads-client-secret` (the secrets as SecureString); a network whose two are not there has no Connect button |
//! | `HERALD_PUBLIC_URL` | the API: its public address for the connect flow's redirect URL; unset, the address API Gateway was reached at (the first request's `Host`). The report generator: the address share links in report mail point at (required with `HERALD_MAIL_FROM`) |
//! | `HERALD_MAIL_FROM` | the report generator: the sender of report mail, sent through SES (`reports@example.com` or `Name <…>`, an SES-verified identity); unset, mail is off |
//! | `HERALD_PUBLISH_CONCURRENCY` | the scheduled publisher: most deliveries publishing at once (default 16, sized for 256 MB: `publisher::DEFAULT_CONCURRENCY`) |

use std::sync::Arc;

use aws_config::BehaviorVersion;

use crate::clock::SystemClock;
use crate::crypto::{CredentialCipher, CryptoError};
use crate::events::{EventBridgeSink, EventSink, JsonLinesSink};
use crate::platforms::net::SwitchError;
use crate::platforms::{NetworkPolicy, network_adapters};
use crate::ports::Ports;
use crate::services::reports::{FilesError, ReportFiles};
use crate::store::dynamo::DynamoStore;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("reading SSM parameter {name}: {message}")]
    Ssm { name: String, message: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Switch(#[from] SwitchError),
    #[error(transparent)]
    Concurrency(#[from] crate::services::publisher::ConcurrencyError),
    #[error("connect: {0}")]
    Connect(String),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailConfigError),
}

/// The scheduled publisher's settings on Lambda: the defaults, with
/// `HERALD_PUBLISH_CONCURRENCY` (the template sets it from the function's memory) read here.
/// A value that is not a number from 1 to 1024 stops the function at init.
pub fn publisher_config() -> Result<crate::services::publisher::PublisherConfig, ConfigError> {
    use crate::services::publisher::{CONCURRENCY_ENV, PublisherConfig};
    let concurrency = PublisherConfig::concurrency_from(std::env::var(CONCURRENCY_ENV).ok().as_deref())?;
    Ok(PublisherConfig { concurrency, ..PublisherConfig::default() })
}

/// How long Herald waits for DynamoDB and EventBridge. The SDK's defaults wait for an answer
/// forever (only connecting is bounded, 3.1 s): a request the service accepted and never
/// answered held a function until Lambda killed it (measured: docs/reliability.md). One attempt
/// may take 3 s (a DynamoDB item operation takes milliseconds, a 1 MB query page well under a
/// second); the SDK's three attempts, with their backoff, stop after 8 s in all, inside the
/// webhook function's 10 s.
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_millis(3100))
        .operation_attempt_timeout(std::time::Duration::from_secs(3))
        .operation_timeout(std::time::Duration::from_secs(8))
        .build()
}

/// The DynamoDB client of `sdk`, with [`sdk_timeouts`].
pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(sdk).timeout_config(sdk_timeouts()).build())
}

/// The EventBridge client of `sdk`, with [`sdk_timeouts`].
pub fn eventbridge_client(sdk: &aws_config::SdkConfig) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::from_conf(aws_sdk_eventbridge::config::Builder::from(sdk).timeout_config(sdk_timeouts()).build())
}

/// A function's settings as its environment gives them, read and checked at init. Reading them
/// opens no file and makes no network call, so a cold start is over in a few milliseconds (a
/// function that cannot work with its settings still fails at init, as `Herald.Config`), and
/// everything that needs a call (the SDK's configuration, the credentials key from SSM, the
/// connect flow's apps, the HTTP clients) waits for the first event: [`FunctionEnv::connect`],
/// under [`crate::lambda::Deferred`]. docs/performance.md (Lambda) measures the difference.
#[derive(Debug, Clone)]
pub struct FunctionEnv {
    table: String,
    event_bus: Option<String>,
    network: NetworkPolicy,
    reports_bucket: Option<String>,
    /// The report generator's `HERALD_MAIL_FROM` and `HERALD_PUBLIC_URL`, once checked.
    mail: Option<(lettre::message::Mailbox, String)>,
}

impl FunctionEnv {
    /// `HERALD_TABLE` (required), `HERALD_EVENT_BUS`, `HERALD_ALLOW_PRIVATE_NETWORK`, and
    /// `HERALD_REPORTS_BUCKET` if set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let table = std::env::var("HERALD_TABLE").map_err(|_| ConfigError::Missing("HERALD_TABLE"))?;
        Ok(Self {
            table,
            event_bus: std::env::var("HERALD_EVENT_BUS").ok(),
            network: NetworkPolicy::from_env()?,
            reports_bucket: std::env::var("HERALD_REPORTS_BUCKET").ok().filter(|b| !b.trim().is_empty()),
            mail: None,
        })
    }

    /// For the functions that keep report files (the API, the report generator): without
    /// `HERALD_REPORTS_BUCKET` they must not start (report records would point at files kept
    /// nowhere).
    pub fn requiring_reports_bucket(self) -> Result<Self, ConfigError> {
        match self.reports_bucket {
            Some(_) => Ok(self),
            None => Err(ConfigError::Missing("HERALD_REPORTS_BUCKET")),
        }
    }

    /// The report generator's mail through Amazon SES, when `HERALD_MAIL_FROM` is set (the
    /// template sets it from `MailFrom`; unset, mail is off and reports are still made). Share
    /// links in the mail point at `HERALD_PUBLIC_URL`, required with mail.
    pub fn with_report_mail(mut self) -> Result<Self, ConfigError> {
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(from) = set("HERALD_MAIL_FROM") else { return Ok(self) };
        let from = crate::mail::parse_from(&from)?;
        let public_url = set("HERALD_PUBLIC_URL").ok_or(ConfigError::Missing("HERALD_PUBLIC_URL (the share links of report mail)"))?;
        self.mail = Some((from, public_url));
        Ok(self)
    }

    /// Loads the SDK's configuration (credentials and region from Lambda's variables) and
    /// makes the DynamoDB client. No request is made yet.
    pub async fn connect(&self) -> AwsContext {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let store = Arc::new(DynamoStore::new(dynamodb_client(&sdk), self.table.clone()));
        AwsContext { sdk, store, table: self.table.clone(), event_bus: self.event_bus.clone(), env: self.clone() }
    }
}

/// Everything a function needs, built once per execution environment, on its first event.
pub struct AwsContext {
    pub sdk: aws_config::SdkConfig,
    pub store: Arc<DynamoStore>,
    pub table: String,
    pub event_bus: Option<String>,
    env: FunctionEnv,
}

impl AwsContext {
    /// [`FunctionEnv::from_env`] then [`FunctionEnv::connect`], in one go.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(FunctionEnv::from_env()?.connect().await)
    }

    /// The credentials cipher: `HERALD_CREDENTIALS_KEY` if set, else the SSM parameter.
    pub async fn credential_cipher(&self) -> Result<CredentialCipher, ConfigError> {
        if let Ok(key) = std::env::var("HERALD_CREDENTIALS_KEY") {
            return Ok(CredentialCipher::from_base64(&key)?);
        }
        let name = std::env::var("HERALD_CREDENTIALS_KEY_PARAM")
            .map_err(|_| ConfigError::Missing("HERALD_CREDENTIALS_KEY_PARAM or HERALD_CREDENTIALS_KEY"))?;
        let ssm = aws_sdk_ssm::Client::new(&self.sdk);
        let out = ssm
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| ConfigError::Ssm { name: name.clone(), message: aws_sdk_ssm::error::DisplayErrorContext(e).to_string() })?;
        let value = out
            .parameter()
            .and_then(|p| p.value())
            .ok_or_else(|| ConfigError::Ssm { name: name.clone(), message: "the parameter has no value".into() })?;
        Ok(CredentialCipher::from_base64(value)?)
    }

    /// The connect flow's configuration for the API function
    /// ([`crate::services::connect::ConnectConfig::from_vars`]): the apps' ids and secrets from
    /// the SSM parameters under `HERALD_OAUTH_PARAMS` (one `GetParameters` call; a variable of
    /// the same meaning, `HERALD_FACEBOOK_CLIENT_ID`…, wins when set), and the public URL from
    /// `HERALD_PUBLIC_URL` or else learned from the requests API Gateway sends.
    pub async fn connect_config(&self) -> Result<crate::services::connect::ConnectConfig, ConfigError> {
        /// SSM parameter under the path → the variable `herald serve` reads for it.
        const PARAMS: [(&str, &str); 4] = [
            ("facebook-client-id", "HERALD_FACEBOOK_CLIENT_ID"),
            ("facebook-client-secret", "HERALD_FACEBOOK_CLIENT_SECRET"),
            ("threads-client-id", "HERALD_THREADS_CLIENT_ID"),
            ("threads-client-secret", "HERALD_THREADS_CLIENT_SECRET"),
        ];
        let mut from_ssm = std::collections::HashMap::new();
        if let Some(path) = std::env::var("HERALD_OAUTH_PARAMS").ok().filter(|p| !p.trim().is_empty()) {
            let path = format!("{}/", path.trim().trim_end_matches('/'));
            let names: Vec<String> = PARAMS.iter().map(|(name, _)| format!("{path}{name}")).collect();
            // Parameters not created come back as `invalid_parameters`, not as an error.
            let out = aws_sdk_ssm::Client::new(&self.sdk)
                .get_parameters()
                .set_names(Some(names))
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| ConfigError::Ssm { name: path.clone(), message: aws_sdk_ssm::error::DisplayErrorContext(e).to_string() })?;
            for p in out.parameters() {
                let var = PARAMS.iter().find(|(name, _)| p.name() == Some(format!("{path}{name}").as_str())).map(|(_, var)| *var);
                if let (Some(var), Some(value)) = (var, p.value()) {
                    from_ssm.insert(var, value.to_owned());
                }
            }
        }
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty()).or_else(|| from_ssm.get(name).cloned());
        crate::services::connect::ConnectConfig::from_vars(get, self.env.network)
            .map(crate::services::connect::ConnectConfig::learning_public_url_from_requests)
            .map_err(|e| ConfigError::Connect(e.to_string()))
    }

    /// Where events go: the bus named by `HERALD_EVENT_BUS`, or (with no bus configured) the
    /// function's log, so nothing is silently dropped.
    pub fn event_sink(&self) -> Arc<dyn EventSink> {
        match &self.event_bus {
            Some(bus) => Arc::new(EventBridgeSink::new(eventbridge_client(&self.sdk), bus.clone())),
            None => {
                tracing::warn!("HERALD_EVENT_BUS is not set: events go to /tmp/herald-events.jsonl only");
                Arc::new(JsonLinesSink::new("/tmp/herald-events.jsonl".into()))
            }
        }
    }

    /// The ports of a function that works with channels but keeps no report files (webhook
    /// intake, the publisher, the pollers), built once per cold start: DynamoDB, the system
    /// clock, the credentials key, events to the bus and every network adapter Herald has (a
    /// delivery to a network without one fails with that reason). Report files are refused
    /// rather than kept in memory, where they would vanish with the process.
    pub async fn ports(&self) -> Result<Ports, ConfigError> {
        Ok(self.channel_ports().await?.with_report_files(Arc::new(NoReportFiles)))
    }

    /// [`Self::ports`] with report files in the bucket named by `HERALD_REPORTS_BUCKET`, for the
    /// API (it lists reports, makes them on demand and serves their files). Without the bucket
    /// this is a configuration error, found at init ([`FunctionEnv::requiring_reports_bucket`]).
    pub async fn ports_with_reports(&self) -> Result<Ports, ConfigError> {
        let files = self.report_files()?;
        Ok(self.channel_ports().await?.with_report_files(files))
    }

    /// The networks' clients refuse private addresses unless `HERALD_ALLOW_PRIVATE_NETWORK=1`
    /// (the test rigs' fakes on loopback): this host is where that switch is read.
    async fn channel_ports(&self) -> Result<Ports, ConfigError> {
        let adapters = network_adapters(Arc::new(SystemClock), self.env.network)
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Ok(Ports::new(self.store.clone(), Arc::new(SystemClock), self.credential_cipher().await?)
            .with_events(self.event_sink())
            .with_adapters(adapters)
            .with_media(self.media_files()))
    }

    /// Uploaded media in the bucket named by `HERALD_MEDIA_BUCKET` (the api and publisher
    /// functions have it); without it, uploads are refused (`POST /v1/media` answers 503) and
    /// a post naming one is refused when it is saved.
    fn media_files(&self) -> Arc<dyn crate::media::MediaFiles> {
        match std::env::var("HERALD_MEDIA_BUCKET").ok().filter(|b| !b.trim().is_empty()) {
            Some(bucket) => Arc::new(crate::media::S3MediaFiles::new(self.s3_client(), bucket)),
            None => Arc::new(crate::media::NoMediaFiles),
        }
    }

    /// An S3 client; an endpoint override (moto, LocalStack) serves buckets by path, not by
    /// host name.
    fn s3_client(&self) -> aws_sdk_s3::Client {
        let path_style = std::env::var("AWS_ENDPOINT_URL").is_ok() || std::env::var("AWS_ENDPOINT_URL_S3").is_ok();
        let config = aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(path_style).build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Report files in the bucket named by `HERALD_REPORTS_BUCKET` (required).
    pub fn report_files(&self) -> Result<Arc<dyn ReportFiles>, ConfigError> {
        let bucket = self.env.reports_bucket.clone().ok_or(ConfigError::Missing("HERALD_REPORTS_BUCKET"))?;
        Ok(Arc::new(crate::services::reports::S3ReportFiles::new(self.s3_client(), bucket)))
    }

    /// The report generator's mail through Amazon SES, as [`FunctionEnv::with_report_mail`]
    /// found it (`None`: mail is off); share links are signed with the credentials key.
    pub async fn report_mail(&self) -> Result<Option<crate::mail::MailSettings>, ConfigError> {
        let Some((from, public_url)) = self.env.mail.clone() else { return Ok(None) };
        let mailer = crate::mail::SesMailer::new(aws_sdk_sesv2::Client::new(&self.sdk));
        Ok(Some(crate::mail::MailSettings::new(Arc::new(mailer), from, &public_url, self.credential_cipher().await?)))
    }

    /// The report generator's round: weekly and monthly reports of every team due this hour,
    /// into `files` (the bucket, from [`Self::report_files`] at start-up), mailed with `mail`
    /// (from [`Self::report_mail`]; `None`: mail is off).
    pub async fn report_round(
        &self,
        files: &dyn ReportFiles,
        mail: Option<&crate::mail::MailSettings>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::services::reports::ScheduledSummary, crate::services::ServiceError> {
        crate::services::reports::scheduled_round_with_mail(&*self.store, files, &*self.event_sink(), mail, now).await
    }
}

/// The report files of a function that has none: every use is an error, said as such.
struct NoReportFiles;

#[async_trait::async_trait]
impl ReportFiles for NoReportFiles {
    async fn put(&self, key: &str, _: Vec<u8>) -> Result<(), FilesError> {
        Err(FilesError(format!("this function keeps no report files (writing {key})")))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError> {
        Err(FilesError(format!("this function keeps no report files (reading {key})")))
    }
}
