//! What Herald knows about each social network: publishing limits, and one adapter per
//! network behind [`PlatformAdapter`].

mod adapter;
pub mod limits;

pub use adapter::{Adapters, PlatformAdapter, PublishError, PublishRequest, Published};
