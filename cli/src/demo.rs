//! `herald demo`: a team, three sandbox channels and a week of posts, some due within the
//! next minute, then the whole stack running so a newcomer sees posts go out.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveTime, TimeZone, Utc};
use herald_core::clock::{Clock, SystemClock};
use herald_core::domain::{ChannelName, Platform, PostText, PublishAt, Role, TeamId};
use herald_core::local::DataDir;
use herald_core::services::Actor;
use herald_core::services::channels::{NewChannel, create_channel};
use herald_core::services::keys;
use herald_core::services::posts::{NewPost, create_post};

pub const DEMO_TEAM: &str = "demo";

const CHANNELS: [&str; 3] = ["Café du coin · Instagram", "Café du coin · Mastodon", "Café du coin · Bluesky"];

/// Soon: seconds from now, text. Enough to watch the publisher at work within a minute.
const SOON: [(i64, &str); 4] = [
    (10, "☕ We're open! First espresso of the day is on us until 9:30."),
    (20, "🥐 Fresh croissants just out of the oven."),
    (35, "Jazz night on Friday: live trio from 20:00, no cover charge. 🎷"),
    (50, "Thank you for 1,000 followers! Show this post for a free cookie 🍪"),
];

const WEEK: [&str; 7] = [
    "Monday special: soup of the day with sourdough bread.",
    "Tuesday tip: ask for our oat milk flat white.",
    "Wednesday: board games night from 18:00. 🎲",
    "Thursday: new single-origin beans from Ethiopia.",
    "Friday: jazz trio from 20:00. 🎷",
    "Saturday brunch is back, 10:00–14:00.",
    "Sunday: closed for a family day. See you Monday!",
];

/// Creates the demo content in `dir` (once) and returns the admin key to print.
pub async fn seed(dir: &DataDir) -> Result<Option<String>> {
    let clock = SystemClock;
    let team = TeamId::parse("team", DEMO_TEAM)?;
    let (_, created) = keys::ensure_team(&*dir.store, &clock, &team, chrono_tz::Europe::Paris).await?;
    if !created {
        return Ok(None);
    }
    let (key, secret) = keys::create_key(&*dir.store, &clock, &team, Role::Admin, "demo").await?;
    let actor = Actor { team_id: team.clone(), role: Role::Admin, key_id: key.id };
    let mut channel_ids = vec![];
    for name in CHANNELS {
        let channel = create_channel(
            &*dir.store,
            &clock,
            &dir.cipher,
            &actor,
            NewChannel {
                platform: Platform::Sandbox,
                name: ChannelName::parse("name", name)?,
                time_zone: chrono_tz::Europe::Paris,
                credentials: None,
                queue_slots: vec![],
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating channel {name}: {e}"))?;
        channel_ids.push(channel.id);
    }
    let now = clock.now();
    let mut plan: Vec<(chrono::DateTime<Utc>, String)> =
        SOON.iter().map(|(s, text)| (now + Duration::seconds(*s), (*text).to_owned())).collect();
    // Then a week of posts at 09:00 Paris time.
    let nine = NaiveTime::from_hms_opt(9, 0, 0).context("09:00")?;
    for (day, text) in WEEK.iter().enumerate() {
        let date = (now + Duration::days(day as i64 + 1)).with_timezone(&chrono_tz::Europe::Paris).date_naive();
        if let Some(at) = chrono_tz::Europe::Paris.from_local_datetime(&date.and_time(nine)).earliest() {
            plan.push((at.with_timezone(&Utc), (*text).to_owned()));
        }
    }
    for (at, text) in plan {
        create_post(
            &*dir.store,
            &*dir.store,
            &clock,
            &actor,
            NewPost {
                text: PostText::parse("text", &text)?,
                channel_ids: channel_ids.clone(),
                publish_at: PublishAt::Instant(at),
                variants: BTreeMap::new(),
                media: vec![],
                draft: false,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("scheduling a demo post: {e}"))?;
    }
    Ok(Some(secret.reveal().to_owned()))
}

/// Prints each sandbox publication as its outbox file appears.
pub async fn watch_outbox(outbox: &Path) {
    let mut seen = std::collections::HashSet::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(300));
    loop {
        tick.tick().await;
        let Ok(mut entries) = tokio::fs::read_dir(outbox).await else { continue };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") || !seen.insert(path.clone()) {
                continue;
            }
            let Ok(bytes) = tokio::fs::read(&path).await else { continue };
            let Ok(post) = serde_json::from_slice::<herald_core::platforms::sandbox::OutboxEntry>(&bytes) else { continue };
            let late_ms = (post.published_at - post.scheduled_for).num_milliseconds();
            println!(
                "📤 {} → {}  \"{}\"  (+{late_ms} ms, {})",
                post.published_at.format("%H:%M:%S"),
                post.channel_name,
                post.text,
                path.display()
            );
        }
    }
}
