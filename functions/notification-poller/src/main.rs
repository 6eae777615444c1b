//! The notification poller, invoked by an EventBridge schedule: reads the mentions and replies
//! of every Mastodon and Bluesky channel from its stored cursor into the inbox (deduplicated,
//! scored, crisis-checked), and ticks every channel's crisis detector so incidents close when
//! calm returns. One channel's failure does not stop the others. Init reads the environment
//! only; the intake is built on the first tick (`lambda::Deferred`).

use herald_core::aws::{ConfigError, FunctionEnv};
use herald_core::intake::Intake;
use herald_core::lambda::{self, FunctionError};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    herald_core::logging::init_json();
    let env = lambda::init(async { FunctionEnv::from_env() }).await;
    let intake = lambda::Deferred::new(|| async { Ok::<_, ConfigError>(Intake::new(env.connect().await.ports().await?)) });
    let intake = &intake;
    lambda::run_scheduled(move |_tick| async move { intake.get().await?.poll_all().await.map_err(FunctionError::from) }).await
}
