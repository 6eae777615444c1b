//! What Herald knows about each social network: publishing limits, and one adapter per
//! network behind [`PlatformAdapter`].

mod adapter;
pub mod limits;
pub mod mastodon;
pub mod bluesky;
pub mod sandbox;

pub use adapter::{Adapters, PlatformAdapter, PublishError, PublishRequest, Published};
