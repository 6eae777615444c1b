//! The notification poller, invoked by an EventBridge schedule: reads the mentions and replies
//! of every Mastodon and Bluesky channel from its stored cursor into the inbox (deduplicated,
//! scored, crisis-checked), and ticks every channel's crisis detector so incidents close when
//! calm returns. One channel's failure does not stop the others.

use herald_core::intake::Intake;
use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let ports = lambda::init(async { AwsContext::from_env().await?.ports().await }).await;
    let intake = Intake::new(ports);
    lambda::run_scheduled(|_tick| intake.poll_all()).await
}
