//! Herald's core: the domain, the store ports and their SQLite and DynamoDB adapters, the
//! credential cipher and the HTTP routers. Every Lambda function and the `herald` CLI are thin
//! wiring around this crate.

pub mod clock;
pub mod local;
pub mod crypto;
pub mod domain;
pub mod events;
pub mod http;
pub mod i18n;
pub mod intake;
pub mod listening;
pub mod logging;
pub mod media;
pub mod platforms;
pub mod ports;
pub mod services;
pub mod store;
pub mod text;
pub mod web;
pub mod webhooks;

#[cfg(test)]
mod proptests;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "lambda")]
pub mod lambda;
