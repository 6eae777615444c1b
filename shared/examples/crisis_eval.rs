//! Evaluation of crisis detection (`shared/src/listening/crisis.rs`) on simulated channels.
//!
//! ```sh
//! cargo run -p herald-core --release --example crisis_eval                           # 8 weeks
//! CRISIS_EVAL_WEEKS=3 cargo run -p herald-core --release --example crisis_eval       # quicker
//! ```
//!
//! Each channel gets weeks of synthetic traffic from one seeded generator: a daily cycle in the
//! channel's own time zone, quieter or busier weekends, day-to-day variation, a burst of
//! interactions after each post (posts of very different sizes, some drawing a larger share
//! of negatives than others), now and then a viral post (ten times a day's traffic in a few
//! hours, with the usual share of negatives), and interactions arriving late and out of order.
//!
//! One detector per rule variant watches that normal traffic from the first minute: whatever
//! incident it opens is a false alarm. From day 8, every one to two days, a negative wave (a
//! "spike") starts: the detector is cloned at that instant, and the clone sees the same normal
//! traffic plus the wave, until it has closed the incident or 12 hours after the wave's end. So
//! waves never leak into each other's baseline, nor into the false alarm count. A wave adds
//! negatives at a constant rate for 30 min, 2 h or 6 h, plus a third as many neutral or
//! positive interactions (people defending the brand, asking questions). Its size is a
//! multiple of the channel's mean negative rate (medium and busy channels) or an absolute rate
//! (quiet channels, whose mean is a few negatives a week).
//!
//! Printed: detection rate and delay per class, size and duration; false alarms per
//! channel-week; how incidents close; then the same summary for variants of the rule. The
//! results are pasted in `docs/crisis.md`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::f64::consts::TAU;

use chrono::{DateTime, TimeDelta, Utc};
use herald_core::listening::crisis::{CrisisChange, CrisisRule, CrisisState};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

const SEED: u64 = 20_250_303;
const DAY: i64 = 1440;
/// A spike counts as detected when an incident opens from its start to 30 min after its end.
const GRACE_MIN: i64 = 30;
/// A spike's clone runs until its incident closed, or this long after the spike's end.
const FORK_AFTER_MIN: i64 = 12 * 60;
const DURATIONS_MIN: [i64; 3] = [30, 120, 360];

fn main() {
    let weeks: i64 = std::env::var("CRISIS_EVAL_WEEKS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(8)
        .max(2);
    let vary = |change: fn(&mut CrisisRule)| {
        let mut rule = CrisisRule::default();
        change(&mut rule);
        rule
    };
    let variants: Vec<(&str, CrisisRule)> = vec![
        ("default", CrisisRule::default()),
        (
            "count test Poisson (max_dispersion 1)",
            vary(|r| r.max_dispersion = 1.0),
        ),
        ("count test alpha 1e-3", vary(|r| r.alpha = 1e-3)),
        (
            "no share test (min_share_ratio 0)",
            vary(|r| r.min_share_ratio = 0.0),
        ),
        (
            "share test min_share_ratio 2",
            vary(|r| r.min_share_ratio = 2.0),
        ),
        (
            "share test min_share_ratio 3",
            vary(|r| r.min_share_ratio = 3.0),
        ),
        (
            "share test share_alpha 1e-3",
            vary(|r| r.share_alpha = 1e-3),
        ),
        (
            "floors 6 / 9 (instead of 8 / 12)",
            vary(|r| (r.min_negatives_short, r.min_negatives_long) = (6, 9)),
        ),
        (
            "count Poisson, share ratio 2",
            vary(|r| (r.max_dispersion, r.min_share_ratio) = (1.0, 2.0)),
        ),
    ];
    let start = DateTime::parse_from_rfc3339("2025-01-06T00:00:00Z")
        .expect("a valid instant")
        .with_timezone(&Utc);
    let minutes = weeks * 7 * DAY;
    let mut g = Gen(StdRng::seed_from_u64(SEED));

    println!("crisis_eval: seed {SEED}, {weeks} weeks per channel, spikes from day 8");
    println!("default rule: {:?}\n", CrisisRule::default());

    let mut runs = Vec::new();
    let mut events = 0;
    for class in Class::ALL {
        for _ in 0..class.channels() {
            let channel = Channel::draw(class, &mut g, minutes);
            let run = simulate(channel, &variants, &mut g, start, minutes);
            events += run.events;
            runs.push(run);
        }
    }
    println!("simulated {events} interactions on {} channels", runs.len());
    for class in Class::ALL {
        let chans: Vec<_> = runs.iter().filter(|r| r.channel.class == class).collect();
        let n = chans.len() as f64;
        let per_day = chans.iter().map(|r| r.channel.per_day).sum::<f64>() / n;
        let neg_h = chans
            .iter()
            .map(|r| r.channel.neg_per_min() * 60.0)
            .sum::<f64>()
            / n;
        println!(
            "  {:<6} {:>4} channels, mean {per_day:>6.0} interactions/day, {neg_h:>6.2} negatives/hour",
            class.name(),
            chans.len()
        );
    }
    println!();
    report_detection(&runs);
    report_alarms_and_closing(&runs, weeks);
    report_variants(&runs, &variants, weeks);
}

/// Uniform, normal, lognormal, exponential and Poisson draws from a seeded `StdRng`, through
/// `next_u64` only (stable across `rand` versions).
struct Gen(StdRng);

impl Gen {
    fn f64(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.f64(), self.f64());
        (-2.0 * u.ln()).sqrt() * (TAU * v).cos()
    }
    /// Lognormal with mean 1.
    fn lognormal(&mut self, sigma: f64) -> f64 {
        (sigma * self.normal() - sigma * sigma / 2.0).exp()
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
    fn poisson(&mut self, mean: f64) -> u32 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0) as u32;
        }
        let (limit, mut p, mut k) = ((-mean).exp(), 1.0, 0);
        loop {
            p *= self.f64();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Quiet,
    Medium,
    Busy,
}

impl Class {
    const ALL: [Class; 3] = [Class::Quiet, Class::Medium, Class::Busy];
    fn name(self) -> &'static str {
        match self {
            Class::Quiet => "quiet",
            Class::Medium => "medium",
            Class::Busy => "busy",
        }
    }
    fn channels(self) -> usize {
        match self {
            Class::Quiet => 200,
            Class::Medium => 100,
            Class::Busy => 40,
        }
    }
    /// Interactions a day (log-uniform between the two) and posts a day.
    fn traffic(self) -> (f64, f64, f64) {
        match self {
            Class::Quiet => (3.0, 12.0, 0.3),
            Class::Medium => (100.0, 400.0, 2.0),
            Class::Busy => (2000.0, 8000.0, 6.0),
        }
    }
    /// Spike sizes: extra negatives an hour, absolute (quiet) or in multiples of the channel's
    /// mean negative rate (medium, busy).
    fn sizes(self) -> [f64; 4] {
        match self {
            Class::Quiet => [5.0, 10.0, 20.0, 40.0],
            Class::Medium => [4.0, 8.0, 16.0, 32.0],
            Class::Busy => [2.0, 4.0, 8.0, 16.0],
        }
    }
    fn size_label(self, size: f64) -> String {
        match self {
            Class::Quiet => format!("+{size}/h"),
            _ => format!("+{size}× mean"),
        }
    }
}

struct Spike {
    start: i64,
    end: i64,
    size: usize,
    duration: usize,
    /// Extra negatives a minute.
    rate: f64,
}

struct Channel {
    class: Class,
    per_day: f64,
    share: f64,
    tz_hours: f64,
    weekend: f64,
    posts_per_day: f64,
    spikes: Vec<Spike>,
    virals: Vec<i64>,
    /// Posts that drew at least twice the channel's usual share of negatives.
    controversial: Vec<i64>,
}

impl Channel {
    fn draw(class: Class, g: &mut Gen, minutes: i64) -> Channel {
        let (low, high, posts_per_day) = class.traffic();
        let mut ch = Channel {
            class,
            per_day: (low.ln() + (high.ln() - low.ln()) * g.f64()).exp(),
            share: g.range(0.05, 0.30),
            tz_hours: g.range(-8.0, 9.0).round(),
            weekend: g.range(0.6, 1.4),
            posts_per_day,
            spikes: Vec::new(),
            virals: Vec::new(),
            controversial: Vec::new(),
        };
        // Sizes and durations cycle from a random offset, so that every cell gets its share.
        let mut k = (g.f64() * 12.0) as usize;
        let mut t = 7 * DAY + (g.f64() * DAY as f64) as i64;
        while t < minutes - DAY {
            let (size, duration) = (k % 4, (k / 4) % 3);
            let per_hour = class.sizes()[size];
            let rate = match class {
                Class::Quiet => per_hour / 60.0,
                _ => per_hour * ch.neg_per_min(),
            };
            let end = t + DURATIONS_MIN[duration];
            ch.spikes.push(Spike {
                start: t,
                end,
                size,
                duration,
                rate,
            });
            t += DAY + (g.f64() * DAY as f64) as i64;
            k += 1;
        }
        let mut v = (g.exp(28.0) * DAY as f64) as i64;
        while v < minutes {
            ch.virals.push(v);
            v += (g.exp(28.0) * DAY as f64) as i64 + DAY;
        }
        ch
    }

    fn neg_per_min(&self) -> f64 {
        self.per_day * self.share / DAY as f64
    }
}

/// What one rule did with one spike (seconds from the simulation's start).
#[derive(Clone, Default)]
struct SpikeOutcome {
    opened: Option<i64>,
    closed: Option<i64>,
    opens: u32,
}

/// The detectors cloned at a spike's start, watching normal traffic plus the spike.
struct Fork {
    spike: usize,
    states: Vec<CrisisState>,
    outcomes: Vec<SpikeOutcome>,
}

struct Run {
    channel: Channel,
    /// Per variant: when the detector watching normal traffic only opened an incident.
    false_alarms: Vec<Vec<i64>>,
    /// Per spike, per variant.
    spikes: Vec<Vec<SpikeOutcome>>,
    events: u64,
}

struct Burst {
    start: i64,
    /// Expected interactions in the whole burst.
    size: f64,
    tau: f64,
    share: f64,
}

/// An interaction in flight: (arrival second, creation second, negative, spike it belongs to).
type Flight = Reverse<(i64, i64, bool, Option<usize>)>;

fn simulate(
    mut ch: Channel,
    variants: &[(&str, CrisisRule)],
    g: &mut Gen,
    start: DateTime<Utc>,
    minutes: i64,
) -> Run {
    let secs = |t: DateTime<Utc>| (t - start).num_seconds();
    let mut main: Vec<CrisisState> = variants.iter().map(|_| CrisisState::new(start)).collect();
    let mut false_alarms = vec![Vec::new(); variants.len()];
    let mut spikes: Vec<Vec<SpikeOutcome>> = vec![Vec::new(); ch.spikes.len()];
    let mut forks: Vec<Fork> = Vec::new();
    let mut bursts: Vec<Burst> = Vec::new();
    let mut queue: BinaryHeap<Flight> = BinaryHeap::new();
    let background = 0.5;
    let (mut day_factor, mut events, mut next_viral, mut next_spike) = (1.0, 0u64, 0, 0);

    let fork_change = |fork: &mut Fork, v: usize, change: Option<CrisisChange>, end: i64| {
        let outcome = &mut fork.outcomes[v];
        match change {
            Some(CrisisChange::Opened { at, .. }) => {
                outcome.opens += 1;
                if outcome.opened.is_none() && secs(at) <= (end + GRACE_MIN) * 60 {
                    outcome.opened = Some(secs(at));
                }
            }
            Some(CrisisChange::Closed { at, .. }) if outcome.closed.is_none() => {
                outcome.closed = Some(secs(at));
            }
            _ => {}
        }
    };

    for m in 0..minutes {
        let local = m as f64 / 60.0 + ch.tz_hours;
        let local_hour = local.rem_euclid(24.0);
        if m % DAY == 0 {
            day_factor = g.lognormal(0.25);
        }
        // 2025-01-06 is a Monday.
        let week = if (local / 24.0).floor().rem_euclid(7.0) >= 5.0 {
            ch.weekend
        } else {
            1.0
        };
        let season = 1.0 + 0.8 * ((local_hour - 15.0) / 24.0 * TAU).cos();
        // Posts go out in local day time; each draws a burst of interactions.
        if (8.0..22.0).contains(&local_hour) && g.f64() < ch.posts_per_day * week / (14.0 * 60.0) {
            let mean_size = (1.0 - background) * ch.per_day * week / ch.posts_per_day;
            let factor = g.lognormal(0.5);
            if factor >= 2.0 {
                ch.controversial.push(m);
            }
            let share = (ch.share * factor).min(0.9);
            bursts.push(Burst {
                start: m,
                size: mean_size * g.lognormal(0.8),
                tau: 90.0,
                share,
            });
        }
        if ch.virals.get(next_viral) == Some(&m) {
            let share = ch.share * g.range(0.8, 1.2);
            let size = ch.per_day * g.range(5.0, 20.0);
            bursts.push(Burst {
                start: m,
                size,
                tau: 180.0,
                share,
            });
            next_viral += 1;
        }
        let base = background * ch.per_day / DAY as f64 * day_factor * week * season;
        let (mut neg, mut pos) = (base * ch.share, base * (1.0 - ch.share));
        bursts.retain(|b| (m - b.start) as f64 <= 8.0 * b.tau);
        for b in &bursts {
            let rate = b.size / b.tau * (-((m - b.start) as f64) / b.tau).exp();
            neg += rate * b.share;
            pos += rate * (1.0 - b.share);
        }
        let mut sources = vec![(neg, true, None), (pos, false, None)];
        if ch.spikes.get(next_spike).is_some_and(|s| s.start == m) {
            let outcomes = vec![SpikeOutcome::default(); variants.len()];
            forks.push(Fork {
                spike: next_spike,
                states: main.clone(),
                outcomes,
            });
            next_spike += 1;
        }
        for fork in &forks {
            let s = &ch.spikes[fork.spike];
            if (s.start..s.end).contains(&m) {
                sources.push((s.rate, true, Some(fork.spike)));
                sources.push((s.rate / 3.0, false, Some(fork.spike)));
            }
        }
        for (mean, negative, spike) in sources {
            for _ in 0..g.poisson(mean) {
                let created = m * 60 + (g.f64() * 60.0) as i64;
                // Most arrive within seconds, one in ten minutes late (polling, retries).
                let delay = if g.f64() < 0.9 {
                    g.exp(5.0)
                } else {
                    g.exp(120.0)
                };
                queue.push(Reverse((created + delay as i64, created, negative, spike)));
            }
        }
        let now = (m + 1) * 60;
        while let Some(Reverse((arrival, created, negative, spike))) = queue.peek().copied() {
            if arrival >= now {
                break;
            }
            queue.pop();
            events += 1;
            let at = start + TimeDelta::seconds(created);
            for fork in forks
                .iter_mut()
                .filter(|f| spike.is_none() || spike == Some(f.spike))
            {
                let end = ch.spikes[fork.spike].end;
                for (v, (_, rule)) in variants.iter().enumerate() {
                    let change = fork.states[v].observe(rule, at, negative);
                    fork_change(fork, v, change, end);
                }
            }
            if spike.is_none() {
                for (v, (_, rule)) in variants.iter().enumerate() {
                    if let Some(CrisisChange::Opened { at, .. }) =
                        main[v].observe(rule, at, negative)
                    {
                        false_alarms[v].push(secs(at));
                    }
                }
            }
        }
        if m % 5 == 4 {
            let at = start + TimeDelta::seconds(now);
            for (v, (_, rule)) in variants.iter().enumerate() {
                main[v].tick(rule, at);
            }
            for fork in &mut forks {
                let end = ch.spikes[fork.spike].end;
                for (v, (_, rule)) in variants.iter().enumerate() {
                    let change = fork.states[v].tick(rule, at);
                    fork_change(fork, v, change, end);
                }
            }
        }
        // A clone is done once past the spike, when every rule has closed its incident or
        // missed the spike (the random draws do not depend on when).
        forks.retain(|fork| {
            let end = ch.spikes[fork.spike].end;
            let settled = m > end + GRACE_MIN
                && fork
                    .outcomes
                    .iter()
                    .zip(&fork.states)
                    .all(|(o, state)| (o.opened.is_some() && !state.is_open()) || o.opens == 0);
            if settled || m >= end + FORK_AFTER_MIN || m == minutes - 1 {
                spikes[fork.spike] = fork.outcomes.clone();
                return false;
            }
            true
        });
    }
    Run {
        channel: ch,
        false_alarms,
        spikes,
        events,
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn minutes(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.0}")
    }
}

fn report_detection(runs: &[Run]) {
    println!("== default rule: detection of negative waves");
    println!(
        "{:<7} {:<12} {:>8} {:>6} {:>9} {:>9} {:>6} {:>6}",
        "class", "wave", "duration", "waves", "extra neg", "detected", "p50", "p90"
    );
    for class in Class::ALL {
        for (si, size) in class.sizes().iter().enumerate() {
            for (di, duration) in DURATIONS_MIN.iter().enumerate() {
                let (mut n, mut extra, mut delays) = (0, 0.0, Vec::new());
                for run in runs.iter().filter(|r| r.channel.class == class) {
                    for (s, outcome) in run.channel.spikes.iter().zip(&run.spikes) {
                        if s.size != si || s.duration != di {
                            continue;
                        }
                        n += 1;
                        extra += s.rate * (s.end - s.start) as f64;
                        if let Some(t) = outcome.first().and_then(|o| o.opened) {
                            delays.push((t - s.start * 60) as f64 / 60.0);
                        }
                    }
                }
                delays.sort_by(f64::total_cmp);
                println!(
                    "{:<7} {:<12} {:>7}m {:>6} {:>9.1} {:>8.0}% {:>6} {:>6}",
                    class.name(),
                    class.size_label(*size),
                    duration,
                    n,
                    extra / f64::from(n.max(1)),
                    100.0 * delays.len() as f64 / f64::from(n.max(1)),
                    minutes(quantile(&delays, 0.5)),
                    minutes(quantile(&delays, 0.9)),
                );
            }
        }
    }
    println!("extra neg: mean negatives the wave adds (plus a third as many others)");
    println!("detected: an incident opened between the wave's start and 30 min after its end");
    println!("p50, p90: detection delay, minutes from the wave's start\n");
}

fn report_alarms_and_closing(runs: &[Run], weeks: i64) {
    println!("== default rule: false alarms on normal traffic, and closing");
    println!(
        "{:<7} {:>8} {:>6} {:>9} {:>6} {:>8} {:>6} {:>5} {:>9} {:>10} {:>7} {:>8}",
        "class",
        "ch-weeks",
        "false",
        "per ch-wk",
        "viral",
        "contro.",
        "other",
        "wk 1",
        "incidents",
        "close p50/90",
        "reopen",
        "unclosed"
    );
    for class in Class::ALL {
        let class_runs: Vec<_> = runs.iter().filter(|r| r.channel.class == class).collect();
        let ch_weeks = class_runs.len() as f64 * weeks as f64;
        let (mut fa, mut viral, mut contro, mut first_week) = (0, 0, 0, 0);
        let (mut incidents, mut reopened, mut unclosed) = (0, 0, 0);
        let mut close = Vec::new();
        for run in &class_runs {
            let ch = &run.channel;
            for t in &run.false_alarms[0] {
                fa += 1;
                if ch
                    .virals
                    .iter()
                    .any(|v| (v * 60..=v * 60 + 12 * 3600).contains(t))
                {
                    viral += 1;
                } else if ch
                    .controversial
                    .iter()
                    .any(|p| (p * 60..=p * 60 + 6 * 3600).contains(t))
                {
                    contro += 1;
                }
                if *t < 7 * DAY * 60 {
                    first_week += 1;
                }
            }
            for (s, outcome) in ch.spikes.iter().zip(&run.spikes) {
                let Some(o) = outcome.first().filter(|o| o.opened.is_some()) else {
                    continue;
                };
                incidents += 1;
                if o.opens > 1 {
                    reopened += 1;
                }
                match o.closed {
                    Some(t) => close.push((t - s.end * 60) as f64 / 60.0),
                    None => unclosed += 1,
                }
            }
        }
        close.sort_by(f64::total_cmp);
        println!(
            "{:<7} {:>8.0} {:>6} {:>9.3} {:>6} {:>8} {:>6} {:>5} {:>9} {:>5}/{:<4} {:>7} {:>8}",
            class.name(),
            ch_weeks,
            fa,
            fa as f64 / ch_weeks,
            viral,
            contro,
            fa - viral - contro,
            first_week,
            incidents,
            minutes(quantile(&close, 0.5)),
            minutes(quantile(&close, 0.9)),
            reopened,
            unclosed,
        );
    }
    println!(
        "false: incidents opened on normal traffic (no wave), of which viral: within 12 h of a"
    );
    println!(
        "  viral post; contro.: within 6 h of a post drawing ≥ 2× the usual share of negatives;"
    );
    println!("  wk 1: in the channel's first week (its 24 h warm-up included)");
    println!("incidents: waves detected; close: minutes from the wave's end to Closed; reopen: a");
    println!(
        "  wave that opened a second incident; unclosed: still open 12 h after the wave's end\n"
    );
}

fn report_variants(runs: &[Run], variants: &[(&str, CrisisRule)], weeks: i64) {
    println!("== variants of the rule on the same traffic");
    print!("{:<38}", "variant");
    for class in Class::ALL {
        print!(" {:>8} {:>9}", format!("{} det", class.name()), "false/wk");
    }
    println!();
    for (v, (name, _)) in variants.iter().enumerate() {
        print!("{name:<38}");
        for class in Class::ALL {
            let class_runs: Vec<_> = runs.iter().filter(|r| r.channel.class == class).collect();
            let (mut waves, mut detected, mut fa) = (0, 0, 0);
            for run in &class_runs {
                waves += run.spikes.len();
                detected += run.spikes.iter().filter(|o| o[v].opened.is_some()).count();
                fa += run.false_alarms[v].len();
            }
            print!(
                " {:>7.0}% {:>9.3}",
                100.0 * detected as f64 / waves.max(1) as f64,
                fa as f64 / (class_runs.len() as f64 * weeks as f64)
            );
        }
        println!();
    }
    println!("det: waves detected, all sizes and durations together; false/wk: per channel-week");
}
