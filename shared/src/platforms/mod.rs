//! What Herald knows about each social network: publishing limits, and one adapter per
//! network behind [`PlatformAdapter`].

mod adapter;
pub mod inbox;
pub mod limits;
pub mod mastodon;
pub mod metrics;
pub mod bluesky;
pub mod sandbox;

pub use adapter::{Adapters, PlatformAdapter, PublishError, PublishRequest, Published};
pub use inbox::{InboxAdapter, Polled};
pub use metrics::{MetricsAdapter, MetricsError};

/// The adapters of the real networks, each with its own HTTP client (built once per process).
pub fn network_adapters(clock: std::sync::Arc<dyn crate::clock::Clock>) -> Result<Adapters, reqwest::Error> {
    use crate::domain::Platform;
    // One adapter per network for both ports: they share its client and (Bluesky) its sessions.
    let mastodon = std::sync::Arc::new(mastodon::MastodonAdapter::new(clock.clone())?);
    let bluesky = std::sync::Arc::new(bluesky::BlueskyAdapter::new(clock)?);
    Ok(Adapters::default()
        .with(Platform::Mastodon, mastodon.clone())
        .with_inbox(Platform::Mastodon, mastodon.clone())
        .with_metrics(Platform::Mastodon, mastodon)
        .with(Platform::Bluesky, bluesky.clone())
        .with_inbox(Platform::Bluesky, bluesky.clone())
        .with_metrics(Platform::Bluesky, bluesky))
}
