//! Use cases, written once and called by every host: the HTTP handlers, the Lambda mains and
//! the `herald` CLI. They take the narrowest ports they need.

pub mod keys;
pub mod scheduled;
