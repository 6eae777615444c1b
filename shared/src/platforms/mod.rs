//! What Herald knows about each social network: publishing limits, and one adapter per
//! network behind [`PlatformAdapter`].

mod adapter;
pub mod credentials;
pub mod inbox;
pub mod limits;
pub mod mastodon;
pub mod metrics;
pub mod net;
pub mod bluesky;
pub mod sandbox;

pub use adapter::{Adapters, PlatformAdapter, PublishError, PublishRequest, Published};
pub use inbox::{InboxAdapter, Polled};
pub use metrics::{MetricsAdapter, MetricsError};
pub use net::NetworkPolicy;

/// The adapters of the real networks, each with its own HTTP client (built once per process).
/// `network` says whether they may reach private addresses ([`NetworkPolicy`]; the hosts read
/// it from `HERALD_ALLOW_PRIVATE_NETWORK`).
pub fn network_adapters(
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    network: NetworkPolicy,
) -> Result<Adapters, reqwest::Error> {
    use crate::domain::Platform;
    // One adapter per network for both ports: they share its client and (Bluesky) its sessions.
    let mastodon = std::sync::Arc::new(mastodon::MastodonAdapter::new(clock.clone(), network)?);
    let bluesky = std::sync::Arc::new(bluesky::BlueskyAdapter::new(clock, network)?);
    Ok(Adapters::default()
        .with(Platform::Mastodon, mastodon.clone())
        .with_inbox(Platform::Mastodon, mastodon.clone())
        .with_metrics(Platform::Mastodon, mastodon)
        .with(Platform::Bluesky, bluesky.clone())
        .with_inbox(Platform::Bluesky, bluesky.clone())
        .with_metrics(Platform::Bluesky, bluesky))
}
