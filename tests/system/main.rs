//! Herald's system tests, one binary (linking the AWS SDK once instead of once per file).
//!
//! | module | what it proves |
//! |---|---|
//! | `api_*` | the API router in process (`tower::ServiceExt::oneshot`) on an in-memory SQLite store and a manual clock: the rig is [`common::App`] (`api_webhooks`: platform webhooks, handshakes and erasure replays) |
//! | `store_contract` | both stores behave identically: SQLite always, DynamoDB on moto (`HERALD_TEST_DYNAMODB_ENDPOINT`, started by `tests/run`) |
//! | `publisher` | claims, leases, retries and reconciliation of the publisher on SQLite |
//! | `serve`, `publishing_e2e`, `intake_e2e` | the real `herald serve` binary end to end |
//! | `lambda_functions`, `events_eventbridge` | every Lambda binary under a Runtime API emulator against moto |
//! | `deploy_config` | samconfig.toml, template.yaml (as the SAM transform makes it), the README and docs/deploy.md agree: parameters, the credentials key, environment variables, events |
//! | `bluesky_network` | the Bluesky adapter against a real Bluesky network on loopback |
//! | `report_mail` | scheduled reports e-mailed by `herald serve` into a local SMTP sink, once per recipient; their share link opened with no key, then revoked |
//! | `reports` | reports' figures against a hand-worked dataset, looked at in headless Chromium |
//! | `report_pdf` | report.pdf's pages drawn by poppler's `pdftoppm`: A4, not blank, the charts in colour |

mod common;

mod api_bounds;
mod api_calendar;
mod api_channels;
mod api_import;
mod api_inbox;
mod api_openapi;
mod api_people;
mod api_posts;
mod api_recurrence;
mod api_team;
mod api_webhooks;
mod api_wire;
mod bluesky_network;
mod connect_oauth;
mod deploy_config;
mod events_eventbridge;
mod first_comment;
mod intake_e2e;
mod lambda_functions;
mod meta_e2e;
mod publisher;
mod publishing_e2e;
mod readme_walkthrough;
mod reliability;
mod report_mail;
mod report_pdf;
mod reports;
mod serve;
mod store_contract;
mod web_admin;
mod web_browser;
mod web_calendar;
mod web_compose;
mod web_inbox;
mod web_sign_in;
