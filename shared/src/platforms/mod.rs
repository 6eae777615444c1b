//! What Herald knows about each social network: publishing limits, and one adapter per
//! network behind [`PlatformAdapter`].

mod adapter;
pub mod credentials;
pub mod inbox;
pub mod limits;
pub mod mastodon;
pub mod meta;
pub mod metrics;
pub mod net;
pub mod bluesky;
pub mod sandbox;
pub mod tokens;

pub use adapter::{Adapters, PlatformAdapter, PublishError, PublishRequest, Published};
pub use inbox::{InboxAdapter, Polled};
pub use metrics::{MetricsAdapter, MetricsError};
pub use net::NetworkPolicy;
pub use tokens::TokenAdapter;

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
    let bluesky = std::sync::Arc::new(bluesky::BlueskyAdapter::new(clock.clone(), network)?);
    // Meta's three: publishing, inbox, metrics and (Threads) token renewal; base URLs from
    // `HERALD_META_GRAPH_URL` and `HERALD_THREADS_GRAPH_URL` when set ([`meta::MetaConfig::from_env`]).
    let meta = meta::MetaConfig::from_env();
    let facebook = std::sync::Arc::new(meta::facebook::FacebookAdapter::with_config(clock.clone(), meta.clone(), network)?);
    let instagram = std::sync::Arc::new(meta::instagram::InstagramAdapter::with_config(clock.clone(), meta.clone(), network)?);
    let threads = std::sync::Arc::new(meta::threads::ThreadsAdapter::with_config(clock, meta, network)?);
    Ok(Adapters::default()
        .with(Platform::Mastodon, mastodon.clone())
        .with_inbox(Platform::Mastodon, mastodon.clone())
        .with_metrics(Platform::Mastodon, mastodon)
        .with(Platform::Bluesky, bluesky.clone())
        .with_inbox(Platform::Bluesky, bluesky.clone())
        .with_metrics(Platform::Bluesky, bluesky)
        .with(Platform::Facebook, facebook.clone())
        .with_inbox(Platform::Facebook, facebook.clone())
        .with_metrics(Platform::Facebook, facebook)
        .with(Platform::Instagram, instagram.clone())
        .with_inbox(Platform::Instagram, instagram.clone())
        .with_metrics(Platform::Instagram, instagram)
        .with(Platform::Threads, threads.clone())
        .with_inbox(Platform::Threads, threads.clone())
        .with_metrics(Platform::Threads, threads.clone())
        .with_tokens(Platform::Threads, threads))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    /// `can_publish` is what the API promises; the adapters are what the publisher has. The
    /// sandbox is wired by the local host (and refused or wired on AWS by the channel checks).
    #[test]
    fn can_publish_is_exactly_the_networks_with_a_publishing_adapter() {
        let clock: std::sync::Arc<dyn crate::clock::Clock> = std::sync::Arc::new(crate::clock::SystemClock);
        let adapters = network_adapters(clock, NetworkPolicy::PublicOnly).expect("clients build");
        for p in Platform::ALL {
            let has = adapters.get(p).is_some() || p == Platform::Sandbox;
            assert_eq!(p.can_publish(), has, "{p}: can_publish says {}, adapters say {has}", p.can_publish());
        }
    }
}
