//! The notification poller, invoked by an EventBridge schedule: reads the mentions and replies
//! of every Mastodon and Bluesky channel from its stored cursor into the inbox (deduplicated,
//! scored, crisis-checked), and ticks every channel's crisis detector so incidents close when
//! calm returns. One channel's failure does not stop the others.

use herald_core::{aws::AwsContext, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let (intake, adapters) = lambda::init(async { AwsContext::from_env().await?.notification_poller().await }).await?;
    lambda::run_scheduled(|_tick| intake.poll_all(&adapters)).await
}
