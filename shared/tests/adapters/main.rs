//! The platform adapters against fake servers on 127.0.0.1 built from the documented request
//! and response shapes (one test binary; the real Bluesky network is `tests/system`'s).
//! The fakes are on loopback, so the adapters are built with `NetworkPolicy::AllowPrivate`,
//! except in the tests that check the guard refuses them.

mod bluesky;
mod graph_wire;
mod mastodon;
mod meta;
mod meta_inbox;
mod meta_metrics;
mod memory;
mod metrics;
