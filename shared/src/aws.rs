//! Wiring for the Lambda functions: configuration from the environment, the SDK clients, and
//! the credentials key from SSM. Only the functions' mains call this.
//!
//! | variable | meaning |
//! |---|---|
//! | `HERALD_TABLE` | the DynamoDB table name (required) |
//! | `HERALD_EVENT_BUS` | the EventBridge bus name |
//! | `HERALD_CREDENTIALS_KEY_PARAM` | SSM SecureString parameter holding the base64 AES-256 key |
//! | `HERALD_CREDENTIALS_KEY` | the key itself, base64 (instead of the parameter; for tests) |
//! | `AWS_ENDPOINT_URL` | the SDK's own override (moto in tests) |
//! | `HERALD_ALLOW_PRIVATE_NETWORK` | `1`: the networks' clients may reach private addresses (tests' fakes); unset in production |
//! | `HERALD_PUBLISH_CONCURRENCY` | the scheduled publisher: most deliveries publishing at once (default 16, sized for 256 MB: `publisher::DEFAULT_CONCURRENCY`) |

use std::sync::Arc;

use aws_config::BehaviorVersion;

use crate::clock::SystemClock;
use crate::crypto::{CredentialCipher, CryptoError};
use crate::events::{EventBridgeSink, EventSink, JsonLinesSink};
use crate::platforms::net::SwitchError;
use crate::platforms::{NetworkPolicy, network_adapters};
use crate::ports::Ports;
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
}

/// The scheduled publisher's settings on Lambda: the defaults, with
/// `HERALD_PUBLISH_CONCURRENCY` (the template sets it from the function's memory) read here.
/// A value that is not a number from 1 to 1024 stops the function at init.
pub fn publisher_config() -> Result<crate::services::publisher::PublisherConfig, ConfigError> {
    use crate::services::publisher::{CONCURRENCY_ENV, PublisherConfig};
    let concurrency = PublisherConfig::concurrency_from(std::env::var(CONCURRENCY_ENV).ok().as_deref())?;
    Ok(PublisherConfig { concurrency, ..PublisherConfig::default() })
}

/// Everything a function needs, built once per cold start.
pub struct AwsContext {
    pub sdk: aws_config::SdkConfig,
    pub store: Arc<DynamoStore>,
    pub table: String,
    pub event_bus: Option<String>,
}

impl AwsContext {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = std::env::var("HERALD_TABLE").map_err(|_| ConfigError::Missing("HERALD_TABLE"))?;
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone()));
        Ok(Self { sdk, store, table, event_bus: std::env::var("HERALD_EVENT_BUS").ok() })
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

    /// Where events go: the bus named by `HERALD_EVENT_BUS`, or (with no bus configured) the
    /// function's log, so nothing is silently dropped.
    pub fn event_sink(&self) -> Arc<dyn EventSink> {
        match &self.event_bus {
            Some(bus) => Arc::new(EventBridgeSink::new(aws_sdk_eventbridge::Client::new(&self.sdk), bus.clone())),
            None => {
                tracing::warn!("HERALD_EVENT_BUS is not set: events go to /tmp/herald-events.jsonl only");
                Arc::new(JsonLinesSink::new("/tmp/herald-events.jsonl".into()))
            }
        }
    }

    /// The ports of a function that works with channels (the API, webhook intake, the
    /// publisher, the pollers), built once per cold start: DynamoDB, the system clock, the
    /// credentials key, events to the bus, every network adapter Herald has (a delivery to a
    /// network without one fails with that reason) and report files in the bucket (in memory
    /// when no bucket is configured).
    ///
    /// The networks' clients refuse private addresses unless `HERALD_ALLOW_PRIVATE_NETWORK=1`
    /// (the test rigs' fakes on loopback): this host is where that switch is read.
    pub async fn ports(&self) -> Result<Ports, ConfigError> {
        let adapters = network_adapters(Arc::new(SystemClock), NetworkPolicy::from_env()?)
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let ports = Ports::new(self.store.clone(), Arc::new(SystemClock), self.credential_cipher().await?)
            .with_events(self.event_sink())
            .with_adapters(adapters);
        Ok(match self.report_files() {
            Some(files) => ports.with_report_files(files),
            None => ports,
        })
    }

    /// Report files in the bucket named by `HERALD_REPORTS_BUCKET`, when there is one.
    pub fn report_files(&self) -> Option<Arc<dyn crate::services::reports::ReportFiles>> {
        let bucket = std::env::var("HERALD_REPORTS_BUCKET").ok().filter(|b| !b.is_empty())?;
        // An endpoint override (moto, LocalStack) serves buckets by path, not by host name.
        let path_style = std::env::var("AWS_ENDPOINT_URL").is_ok() || std::env::var("AWS_ENDPOINT_URL_S3").is_ok();
        let config = aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(path_style).build();
        Some(Arc::new(crate::services::reports::S3ReportFiles::new(aws_sdk_s3::Client::from_conf(config), bucket)))
    }

    /// The report generator's round: weekly reports of every team due this hour, into the bucket.
    pub async fn report_round(&self, now: chrono::DateTime<chrono::Utc>) -> Result<crate::services::reports::ScheduledSummary, crate::services::ServiceError> {
        let files = self.report_files().ok_or_else(|| {
            crate::services::ServiceError::Conflict("HERALD_REPORTS_BUCKET is not set: nowhere to put reports".into())
        })?;
        crate::services::reports::scheduled_round(&*self.store, &*files, &*self.event_sink(), now).await
    }

}
