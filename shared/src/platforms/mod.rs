//! What Herald knows about each social network: publishing limits, and one adapter per
//! network behind [`PlatformAdapter`].

mod adapter;
pub mod limits;
pub mod mastodon;
pub mod bluesky;
pub mod sandbox;

pub use adapter::{Adapters, PlatformAdapter, PublishError, PublishRequest, Published};

/// The adapters of the real networks, each with its own HTTP client (built once per process).
pub fn network_adapters(clock: std::sync::Arc<dyn crate::clock::Clock>) -> Result<Adapters, reqwest::Error> {
    use crate::domain::Platform;
    Ok(Adapters::default()
        .with(Platform::Mastodon, std::sync::Arc::new(mastodon::MastodonAdapter::new(clock.clone())?))
        .with(Platform::Bluesky, std::sync::Arc::new(bluesky::BlueskyAdapter::new(clock)?)))
}
