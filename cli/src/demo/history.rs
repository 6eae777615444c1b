//! The demo's past: eight weeks of a café's social media, lived at speed on a manual clock
//! through Herald's own machinery, so the report at the end has real numbers behind it.
//!
//! Posts are scheduled with `create_post` and published by the [`Publisher`] on the sandbox
//! network; the [`MetricsPoller`] reads the sandbox's simulated counters and followers on its
//! plan; comments, mentions and messages arrive through [`Intake::ingest`] (sentiment, watch
//! list, crisis detector); the team answers through the inbox's `reply` and closes what needs no
//! answer. One evening brings a wave of angry comments, which the crisis detector catches.
//! A seeded random generator keeps the story the same from one run to the next.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use herald_core::clock::{Clock, ManualClock};
use herald_core::domain::{Channel, InteractionDraft, InteractionId, InteractionKind, PostText, PublishAt, Team};
use herald_core::events::MemorySink;
use herald_core::domain::Platform;
use herald_core::intake::Intake;
use herald_core::local::DataDir;
use herald_core::platforms::Adapters;
use herald_core::platforms::sandbox::SandboxAdapter;
use herald_core::ports::Ports;
use herald_core::services::Actor;
use herald_core::services::inbox;
use herald_core::services::metrics::{MetricsPlan, MetricsPoller};
use herald_core::services::posts::{NewPost, create_post};
use herald_core::services::publisher::{Publisher, PublisherConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How far back the story starts.
pub const WEEKS: i64 = 8;

/// What the past holds, for the demo to print.
#[derive(Debug, Default)]
pub struct Past {
    pub posts: usize,
    pub interactions: usize,
    pub replies: usize,
}

enum Action {
    /// Schedules the day's posts (at 06:00).
    PlanDay(NaiveDate),
    /// The hourly rules: publisher, and every third hour the metric poller; the crisis ticks.
    Tick { poll_metrics: bool },
    /// A post's publishing instant: the publisher runs exactly then.
    Publish,
    Arrive { channel: usize, kind: InteractionKind, author: usize, text: &'static str },
    Reply { id: InteractionId, text: &'static str },
    Close { id: InteractionId },
}

/// A time-ordered queue of what happens (ties in the order they were added).
#[derive(Default)]
struct Timeline {
    actions: BTreeMap<(DateTime<Utc>, u64), Action>,
    seq: u64,
}

impl Timeline {
    fn at(&mut self, t: DateTime<Utc>, action: Action) {
        self.seq += 1;
        self.actions.insert((t, self.seq), action);
    }

    fn next(&mut self) -> Option<(DateTime<Utc>, Action)> {
        self.actions.pop_first().map(|((t, _), a)| (t, a))
    }
}

fn local(zone: Tz, day: NaiveDate, hour: u32, minute: u32) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&day.and_hms_opt(hour, minute, 0)?).earliest().map(|t| t.with_timezone(&Utc))
}

/// Each channel's regular posting time on each weekday (local), so the best-time heatmap has a
/// shape: mornings for the first channel, lunch for the second, evenings for the third, with
/// a second post on some days.
fn slots(channel: usize, day: Weekday) -> &'static [(u32, u32)] {
    const PLAN: [[&[(u32, u32)]; 7]; 3] = [
        [&[(8, 0)], &[(8, 0), (17, 30)], &[(8, 30)], &[(8, 0)], &[(8, 0), (18, 0)], &[(10, 0)], &[(10, 30)]],
        [&[(12, 0)], &[(12, 0)], &[(12, 30), (19, 0)], &[(12, 0)], &[(12, 0)], &[(11, 0)], &[]],
        [&[(18, 0)], &[(19, 0)], &[(18, 0)], &[(18, 0), (12, 0)], &[(19, 30)], &[(18, 0)], &[(17, 0)]],
    ];
    PLAN[channel % 3][day.num_days_from_monday() as usize]
}

/// Lives the past from `start` to `until` on `clock`, for `channels` (the demo's three).
pub async fn live(
    dir: &DataDir,
    clock: Arc<ManualClock>,
    actor: &Actor,
    team: &Team,
    channels: &[Channel],
    until: DateTime<Utc>,
) -> Result<Past> {
    let zone = team.time_zone;
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let sandbox = Arc::new(SandboxAdapter::new(dir.outbox(), dyn_clock.clone()));
    let adapters = Adapters::default()
        .with(Platform::Sandbox, sandbox.clone())
        .with_inbox(Platform::Sandbox, sandbox.clone())
        .with_metrics(Platform::Sandbox, sandbox);
    // The past runs on a manual clock, and its events stay out of events.jsonl, which is for
    // what happens while you watch.
    let events = Arc::new(MemorySink::default());
    let ports = Ports::new(dir.store.clone(), dyn_clock.clone(), dir.cipher.clone()).with_events(events).with_adapters(adapters);
    let publisher = Publisher::new(ports.clone(), PublisherConfig { lookahead: Duration::zero(), ..PublisherConfig::default() });
    let poller = MetricsPoller::new(ports.clone(), MetricsPlan::default());
    let intake = Intake::new(ports.clone());

    let mut rng = StdRng::seed_from_u64(2027);
    let mut timeline = Timeline::default();
    let start = clock.now();
    let first_day = start.with_timezone(&zone).date_naive();
    let last_day = until.with_timezone(&zone).date_naive();
    let mut day = first_day;
    while day <= last_day {
        if let Some(t) = local(zone, day, 6, 0).filter(|t| *t >= start && *t < until) {
            timeline.at(t, Action::PlanDay(day));
        }
        day += Duration::days(1);
    }
    let mut t = start + Duration::hours(1);
    let mut n = 0u32;
    while t < until {
        timeline.at(t, Action::Tick { poll_metrics: n.is_multiple_of(3) });
        t += Duration::hours(1);
        n += 1;
    }
    // The evening the brunch bookings were lost: 12 days ago, on the first channel.
    let wave_day = last_day - Duration::days(12);
    if let Some(wave) = local(zone, wave_day, 19, 5) {
        for (i, text) in CRISIS.iter().enumerate() {
            let at = wave + Duration::minutes(i as i64 * 3 + rng.gen_range(0..3));
            timeline.at(at, Action::Arrive { channel: 0, kind: InteractionKind::Comment, author: 40 + i, text });
        }
    }

    let mut past = Past::default();
    let mut wall = 0usize;
    while let Some((at, action)) = timeline.next() {
        if at >= until {
            break;
        }
        clock.set(at);
        match action {
            Action::PlanDay(day) => {
                for (c, channel) in channels.iter().enumerate() {
                    for &(hour, minute) in slots(c, day.weekday()) {
                        let Some(publish_at) = local(zone, day, hour, minute).filter(|t| *t < until) else { continue };
                        let text = POSTS[wall % POSTS.len()];
                        wall += 1;
                        create_post(
                            &*dir.store,
                            &*clock,
                            &*ports.events,
                            actor,
                            NewPost {
                                text: PostText::parse("text", text)?,
                                channel_ids: vec![channel.id],
                                publish_at: PublishAt::Instant(publish_at),
                                variants: BTreeMap::new(),
                                media: vec![],
                                draft: false,
                                first_comment: None,
                                reply_control: None,
                            },
                        )
                        .await
                        .map_err(|e| anyhow!("scheduling a past post: {e}"))?;
                        past.posts += 1;
                        timeline.at(publish_at, Action::Publish);
                        // What people say under it over the next hours.
                        for _ in 0..rng.gen_range(0..=4) {
                            let after = Duration::minutes(rng.gen_range(4..600));
                            let (kind, text) = pick_interaction(&mut rng);
                            let author = rng.gen_range(0..AUTHORS.len());
                            timeline.at(publish_at + after, Action::Arrive { channel: c, kind, author, text });
                        }
                    }
                }
            }
            Action::Publish => {
                publisher.run_once().await.context("publishing the past")?;
            }
            Action::Tick { poll_metrics } => {
                publisher.run_once().await.context("publishing the past")?;
                if poll_metrics {
                    poller.run_once().await.context("polling the past's metrics")?;
                }
                for channel in channels {
                    intake.tick_crisis(channel).await.context("the crisis detector")?;
                }
            }
            Action::Arrive { channel, kind, author, text } => {
                let id = arrive(&intake, team, &channels[channel], kind, author, text, at).await?;
                past.interactions += 1;
                // The team answers most things within hours and closes what needs no answer;
                // a few slip through, and the last days' are partly still open, as in any inbox.
                let recent = until - at < Duration::days(3);
                let roll: f64 = rng.gen_range(0.0..1.0);
                if roll < 0.68 && !(recent && roll < 0.2) {
                    let within = if kind == InteractionKind::DirectMessage { 90 } else { 360 };
                    let reply = REPLIES[rng.gen_range(0..REPLIES.len())];
                    timeline.at(at + Duration::minutes(rng.gen_range(6..within)), Action::Reply { id, text: reply });
                } else if roll < 0.95 && !recent {
                    timeline.at(at + Duration::hours(rng.gen_range(1..30)), Action::Close { id });
                }
            }
            Action::Reply { id, text } => {
                inbox::reply(&ports, actor, id, text).await.map_err(|e| anyhow!("answering in the past: {e}"))?;
                past.replies += 1;
            }
            Action::Close { id } => {
                inbox::set_closed(&*dir.store, actor, id, true).await.map_err(|e| anyhow!("closing in the past: {e}"))?;
            }
        }
    }
    clock.set(until);
    publisher.run_once().await.context("publishing the past")?;
    poller.run_once().await.context("polling the past's metrics")?;
    Ok(past)
}

async fn arrive(
    intake: &Intake,
    team: &Team,
    channel: &Channel,
    kind: InteractionKind,
    author: usize,
    text: &str,
    at: DateTime<Utc>,
) -> Result<InteractionId> {
    let (handle, name) = AUTHORS[author % AUTHORS.len()];
    let event_id = format!("demo-{}-{author}", at.timestamp_millis());
    let draft = InteractionDraft {
        kind,
        external_id: event_id.clone(),
        thread_id: event_id.clone(),
        parent_id: None,
        author_id: handle.to_owned(),
        author_name: name.to_owned(),
        text: text.to_owned(),
        created_at: at,
        post_external_id: None,
        post_url: None,
        reply_ref: Some(event_id.clone()),
    };
    intake.ingest(channel, Some(team), &event_id, draft, None).await.context("an interaction of the past")?;
    Ok(InteractionId::derived(&format!("{}/{event_id}", channel.id)))
}

fn pick_interaction(rng: &mut StdRng) -> (InteractionKind, &'static str) {
    let kind = match rng.gen_range(0..10) {
        0 | 1 => InteractionKind::Mention,
        2 => InteractionKind::DirectMessage,
        _ => InteractionKind::Comment,
    };
    let pool: &[&str] = match rng.gen_range(0..100) {
        0..=57 => &KIND_WORDS,
        58..=84 => &QUESTIONS,
        _ => &COMPLAINTS,
    };
    (kind, pool[rng.gen_range(0..pool.len())])
}

const POSTS: [&str; 24] = [
    "☕ Good morning! The first espresso of the day is waiting for you.",
    "🥐 Fresh croissants just came out of the oven. Come while they're warm!",
    "Soup of the day: roasted pumpkin with sourdough bread. 🎃",
    "Our oat milk flat white is back on the menu by popular demand.",
    "Board games night tonight from 18:00. Bring your friends! 🎲",
    "New single-origin beans from Ethiopia: floral, bright, a little jammy.",
    "Jazz trio tonight from 20:00, no cover charge. 🎷",
    "Saturday brunch, 10:00–14:00: shakshuka, pancakes and fresh juice.",
    "Rainy day? Our hot chocolate is made with real dark chocolate. ☔",
    "Meet Léa, our new barista. Say hi next time you're in! 👋",
    "Lunch formula: soup, sandwich and a coffee for €12.",
    "Nouveau : le cake citron-pavot, fait maison chaque matin. 🍋",
    "We're hiring a part-time pâtissier. Send us a message!",
    "Thank you for 5 years in the neighbourhood ❤️",
    "Sunday reading corner: swap a book, take a book. 📚",
    "Iced latte season isn't over yet. 🧊",
    "Behind the counter: how we dial in our espresso every morning.",
    "Latte art throwdown next Thursday. Who's in? 🏆",
    "Ce week-end : brunch en musique avec un trio acoustique.",
    "Cinnamon buns on Fridays only. You know what to do. 🌀",
    "A big thank-you to our farmers at the Saturday market. 🥕",
    "Quiet corner with power sockets: remote workers welcome. 💻",
    "Tonight: open mic poetry from 19:30.",
    "Pastry of the week: pear and almond tart. 🍐",
];

const KIND_WORDS: [&str; 14] = [
    "Best flat white in town ☕",
    "Loved the jazz night, thank you so much!",
    "Your croissants are amazing 😍",
    "So cosy in here, great service as always.",
    "Can't wait for Saturday brunch!",
    "The Ethiopian beans are fantastic, great choice.",
    "Thank you for the free cookie, made my day 🍪",
    "Super accueil, merci à toute l'équipe !",
    "Le meilleur café du quartier ❤️",
    "Les croissants sont délicieux, bravo.",
    "Great place to work for an afternoon, love it.",
    "Happy 5 years! Such a lovely spot.",
    "Léa makes the best cappuccino 👏",
    "Très bonne ambiance hier soir, merci !",
];

const QUESTIONS: [&str; 9] = [
    "What time do you open on Sunday?",
    "Do you have oat milk?",
    "Is the terrace open today?",
    "Vous faites des gâteaux sur commande ?",
    "Can I book a table for six on Saturday?",
    "Are dogs allowed inside?",
    "Do you sell the Ethiopian beans by the bag?",
    "Is there parking nearby?",
    "Est-ce que vous avez des options sans gluten ?",
];

const COMPLAINTS: [&str; 6] = [
    "Waited 25 minutes for a coffee, really disappointing.",
    "The soup was cold today. Not great.",
    "Way too noisy last night, we couldn't hear each other.",
    "Prices went up again? Not happy about that.",
    "Service très lent ce matin, dommage.",
    "Rude staff at the counter this morning. Bad experience.",
];

const CRISIS: [&str; 14] = [
    "My brunch booking was cancelled without any notice. Unacceptable.",
    "Same here, cancelled last minute and no apology!",
    "Terrible way to treat loyal customers.",
    "Réservation annulée sans prévenir, très déçu.",
    "We drove 40 minutes for nothing. Awful.",
    "No reply to my emails either. Really bad.",
    "Worst brunch experience ever, we were turned away at the door.",
    "Cancelled my daughter's birthday brunch. Disgusting.",
    "Honteux. Aucune excuse, aucun message.",
    "I'm so angry, this is a joke.",
    "Disappointed and angry. Never again.",
    "Horrible organisation, what a mess.",
    "Unprofessional. You lost a customer today.",
    "Furious. Our table was given away without a word.",
];

const REPLIES: [&str; 6] = [
    "Thank you so much! See you soon ☕",
    "Thanks for your message! We've sent you the details in private.",
    "Merci beaucoup, à très vite !",
    "We're sorry about that. Could you send us a message so we can make it right?",
    "Yes! We're open 8:00–18:00, and until 22:00 on Fridays.",
    "Thank you for telling us, we're looking into it today.",
];

const AUTHORS: [(&str, &str); 54] = [
    ("@amelie", "Amélie"), ("@ben_k", "Ben K."), ("@chloe.r", "Chloé R."), ("@dan", "Dan"),
    ("@emma_w", "Emma W."), ("@farid", "Farid"), ("@gabi", "Gabi"), ("@hugo", "Hugo"),
    ("@ines", "Inès"), ("@jules", "Jules"), ("@karim", "Karim"), ("@lou", "Lou"),
    ("@maya", "Maya"), ("@nathan", "Nathan"), ("@olivia", "Olivia"), ("@paul", "Paul"),
    ("@quentin", "Quentin"), ("@rosa", "Rosa"), ("@sam", "Sam"), ("@theo", "Théo"),
    ("@ugo", "Ugo"), ("@vera", "Vera"), ("@will", "Will"), ("@xavier", "Xavier"),
    ("@yasmine", "Yasmine"), ("@zoe", "Zoé"), ("@anna.b", "Anna B."), ("@bruno", "Bruno"),
    ("@camille", "Camille"), ("@david_l", "David L."), ("@elise", "Élise"), ("@felix", "Félix"),
    ("@grace", "Grace"), ("@henri", "Henri"), ("@iris", "Iris"), ("@jade", "Jade"),
    ("@kevin", "Kévin"), ("@lina", "Lina"), ("@marc", "Marc"), ("@nora", "Nora"),
    ("@oscar", "Oscar"), ("@pauline", "Pauline"), ("@raphael", "Raphaël"), ("@sofia", "Sofia"),
    ("@tom", "Tom"), ("@valentin", "Valentin"), ("@wendy", "Wendy"), ("@yann", "Yann"),
    ("@adele", "Adèle"), ("@basile", "Basile"), ("@celine", "Céline"), ("@dimitri", "Dimitri"),
    ("@eva", "Eva"), ("@fanny", "Fanny"),
];
