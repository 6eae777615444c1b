//! The ports every worker runs on, in one bundle: the store, the clock, the credentials cipher,
//! where events go, the network adapters, where report files and uploaded media are kept.
//!
//! Each host builds its `Ports` once (`local::DataDir::ports` for `herald serve` and the CLI,
//! `aws::AwsContext::ports` for a Lambda function) and hands a clone to each worker: the HTTP
//! API ([`crate::http::AppState`]), the publisher, the metric poller, intake and the report
//! generator. Cloning is cheap (`Arc`s). Services take the single ports they use
//! (`&dyn Store`, `&dyn Clock`…) as arguments, never the bundle, except where a use case needs
//! most of it (answering through a network).

use std::sync::Arc;

use crate::clock::Clock;
use crate::crypto::CredentialCipher;
use crate::events::{EventSink, MemorySink};
use crate::media::{MediaFiles, MemoryMediaFiles};
use crate::platforms::Adapters;
use crate::services::reports::{MemoryReportFiles, ReportFiles};
use crate::store::Store;

#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Seals and opens channel credentials.
    pub cipher: CredentialCipher,
    /// Where `Post Published`, `Crisis Detected` and the other events go.
    pub events: Arc<dyn EventSink>,
    /// One client per network: publishing, replies, notifications, metrics.
    pub adapters: Adapters,
    /// Where generated reports' files are kept.
    pub report_files: Arc<dyn ReportFiles>,
    /// Where uploaded pictures and videos are kept.
    pub media: Arc<dyn MediaFiles>,
}

impl Ports {
    /// The store, clock and cipher, with events and report files kept in memory and no
    /// network adapters: hosts set those with the `with_*` methods; tests keep what they need.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, cipher: CredentialCipher) -> Self {
        Self {
            store,
            clock,
            cipher,
            events: Arc::new(MemorySink::default()),
            adapters: Adapters::default(),
            report_files: Arc::new(MemoryReportFiles::default()),
            media: Arc::new(MemoryMediaFiles::default()),
        }
    }

    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    pub fn with_adapters(mut self, adapters: Adapters) -> Self {
        self.adapters = adapters;
        self
    }

    pub fn with_media(mut self, media: Arc<dyn MediaFiles>) -> Self {
        self.media = media;
        self
    }

    pub fn with_report_files(mut self, files: Arc<dyn ReportFiles>) -> Self {
        self.report_files = files;
        self
    }
}
