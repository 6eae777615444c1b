//! Crisis detection per channel: a wave of negative interactions, judged against the channel's
//! own history.
//!
//! This module is pure: no I/O, no clock. The caller keeps one [`CrisisState`] per channel (a
//! serde value of bounded size, about 1 KB of JSON whatever the traffic, stored in one item
//! and updated with optimistic concurrency), feeds it every scored interaction with
//! [`CrisisState::observe`], and calls [`CrisisState::tick`] from a timer so that an incident
//! can close when nothing arrives. Each call returns at most one [`CrisisChange`]: an incident
//! is [`CrisisChange::Opened`] exactly once (the caller opens an Incident and emits
//! `Crisis Detected`), then [`CrisisChange::Closed`] exactly once.
//!
//! # The rule
//!
//! Time is cut into 5-minute buckets (`bucket_minutes`). The state counts negatives and all
//! interactions in the last hour of buckets (`long_buckets` = 12, a ring) and keeps a baseline
//! learnt from the buckets that left the ring.
//!
//! **Baseline.** Every bucket that leaves the ring (one hour old, so interactions that arrived
//! late are in it) updates exponentially weighted means with a half-life of `half_life_hours`
//! (7 days): negatives per bucket, interactions per bucket, and negatives per bucket for each
//! hour of the UTC day. The expected negatives per bucket at hour *h* is that hour's mean shrunk
//! towards the overall mean, `e(h) = (n_h·m_h + 12·m) / (n_h + 12)` (`n_h` the buckets the hour
//! has seen), so a young or quiet channel does not trust a daily profile it has barely seen.
//! Each mean starts as a plain running mean, unbiased from the first bucket. The baseline also
//! measures how bursty the channel is: over disjoint windows of each length, the dispersion
//! index `φ = mean((N − μ)²) / mean(μ)` of its own forecasts (1 for a Poisson stream, more
//! when negatives come in bursts after posts), at most `max_dispersion`. After the first day,
//! a bucket's negatives are clipped at the forecast plus four standard deviations (plus one),
//! and its interactions scaled down by the same factor, so one viral post does not raise the
//! baseline for a week; likewise a window's squared error counts at most `16·φ·max(μ, 1)`.
//!
//! **Opening.** On each negative interaction, for the short window (`short_buckets` = 3: the
//! current, partial bucket and the two before, 10 to 15 min) and the long one (`long_buckets` =
//! 12: about an hour), with `N` the negatives in the window, `T` all its interactions and
//! `μ = w·e(h)` the negatives the baseline expects in it, an incident opens when all hold:
//!
//! 1. **floor**: `N ≥ min_negatives_short` (8) in the short window, or `N ≥ min_negatives_long`
//!    (12) in the long one, so that a quiet channel whose baseline is ≈ 0 does not alarm on a
//!    couple of comments;
//! 2. **count** (in that window): `P(X ≥ N) ≤ alpha` (0.01) for `X` negative binomial with mean `μ` and variance
//!    `φ·μ`: more negatives than this channel has at this hour, given how bursty it is;
//! 3. **share**: `P(Y ≥ N) ≤ share_alpha` (0.01) for `Y` binomial with `T` trials and the share
//!    `p₁` whose odds are `min_share_ratio` (4) times the odds of the baseline share
//!    `p₀ = negatives / interactions`, i.e. the share of negatives is significantly above what
//!    even a controversial post draws. A post that goes viral brings more negatives *and* more
//!    of everything else: the count test alone would call it a crisis, the share test does not;
//! 4. **warm-up**: the channel has been watched for `warmup_hours` (24); before that the state
//!    only learns.
//!
//! **Closing (hysteresis).** While an incident is open, at the end of every bucket the state is
//! *calm* when both windows are back within the usual range: `N < max(q, calm_floor_…)` where
//! `q` is the count test's threshold at `close_alpha` (0.05) instead of `alpha` (0.01), with no
//! share test, and the floors are 3 (short) and 6 (long). It closes after
//! `calm_buckets` (6: 30 min) consecutive calm buckets; a busy bucket starts the count again.
//! Since the long window must drain first, an incident closes about 75 min after the wave ends.
//!
//! **No learning from the crisis.** Buckets that leave the ring while an incident is open are
//! not learnt: as the ring holds an hour, that is from the hour before the opening (the ramp)
//! to the hour before the closing (by then calm).
//!
//! **Out of order, gaps.** An interaction up to `long_buckets` buckets older than the newest
//! one seen is counted in its own bucket; an older one is ignored. Pass the time the interaction
//! was created, but not later than when it was received (a platform clock in the future would
//! push the ring forward). Time going forward completes buckets one by one; after a silence
//! longer than four half-lives the rest is skipped (the baseline then stays a little higher
//! than exact). When an interaction's time closes an incident, that interaction is not
//! evaluated for opening a new one: the next negative is.
//!
//! What it does not model: weekly seasonality (absorbed by `φ`), slow drifts over several hours
//! (a window longer than an hour would be needed), and who the authors are (one person posting
//! twenty angry replies counts twenty).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The tunables of the rule. The defaults are justified in `docs/crisis.md` and measured by
/// `cargo run -p herald-core --release --example crisis_eval`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrisisRule {
    /// Length of one counting bucket, in minutes (divides a day).
    pub bucket_minutes: u32,
    /// Short window, in buckets: catches sharp waves quickly.
    pub short_buckets: u32,
    /// Long window, in buckets: catches slower waves; also the depth of the ring.
    pub long_buckets: u32,
    /// Half-life of the baseline, in hours.
    pub half_life_hours: f64,
    /// Tail probability under the baseline below which a window count is abnormal.
    pub alpha: f64,
    /// Minimum negatives in the short window to open an incident.
    pub min_negatives_short: u32,
    /// Minimum negatives in the long window to open an incident.
    pub min_negatives_long: u32,
    /// Odds ratio: the window's negative share must be significantly above the share whose
    /// odds are this multiple of the baseline share's odds (0 turns the share test off).
    pub min_share_ratio: f64,
    /// Tail probability of the share test (binomial, given the window's interactions).
    pub share_alpha: f64,
    /// Upper clamp of the measured dispersion index φ.
    pub max_dispersion: f64,
    /// A new channel only learns during this many hours.
    pub warmup_hours: u32,
    /// Tail probability of the (much lower) calm threshold.
    pub close_alpha: f64,
    /// A short window with fewer negatives than this is calm, whatever the baseline.
    pub calm_floor_short: u32,
    /// A long window with fewer negatives than this is calm, whatever the baseline.
    pub calm_floor_long: u32,
    /// Consecutive calm buckets that close an incident.
    pub calm_buckets: u32,
}

impl Default for CrisisRule {
    fn default() -> Self {
        Self {
            bucket_minutes: 5,
            short_buckets: 3,
            long_buckets: 12,
            half_life_hours: 168.0,
            alpha: 1e-2,
            min_negatives_short: 8,
            min_negatives_long: 12,
            min_share_ratio: 4.0,
            share_alpha: 1e-2,
            max_dispersion: 20.0,
            warmup_hours: 24,
            close_alpha: 0.05,
            calm_floor_short: 3,
            calm_floor_long: 6,
            calm_buckets: 6,
        }
    }
}

/// Most buckets one [`CrisisState::sync`] reads: two days of 5-minute buckets. The counters
/// are kept that long; a state older than that catches up as after a silence.
pub const MAX_SYNC_BUCKETS: i64 = 576;

impl CrisisRule {
    /// The bucket `at` falls in, as [`CrisisState::sync`] numbers them.
    pub fn bucket_of(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp().div_euclid(self.bucket_secs())
    }

    /// The bucket length in seconds (1 minute to 1 day).
    pub fn bucket_secs(&self) -> i64 {
        i64::from(self.bucket_minutes.clamp(1, 1440)) * 60
    }
    fn ring_len(&self) -> usize {
        self.long_buckets.max(self.short_buckets).max(1) as usize
    }
    fn short_len(&self) -> usize {
        (self.short_buckets.max(1) as usize).min(self.ring_len())
    }
    /// Weight of a new bucket in the overall means.
    fn rate(&self) -> f64 {
        let buckets = self.half_life_hours.max(0.1) * 3600.0 / self.bucket_secs() as f64;
        1.0 - 0.5f64.powf(1.0 / buckets)
    }
    /// Weight of a new bucket in an hour-of-day mean (which sees 1/24 of the buckets).
    fn hour_rate(&self) -> f64 {
        let buckets = self.half_life_hours.max(0.1) * 3600.0 / self.bucket_secs() as f64 / 24.0;
        1.0 - 0.5f64.powf(1.0 / buckets.max(1.0))
    }
    fn buckets_per_hour(&self) -> f64 {
        3600.0 / self.bucket_secs() as f64
    }
}

/// What an interaction or a tick changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CrisisChange {
    /// An incident opened: open an Incident, emit `Crisis Detected`.
    Opened {
        /// Time of the interaction that crossed the threshold.
        at: DateTime<Utc>,
        /// Length of the window that crossed it, in minutes.
        window_minutes: u32,
        /// Negative interactions in that window.
        negatives_in_window: u32,
        /// All interactions in that window.
        interactions_in_window: u32,
        /// Negatives the baseline expects in such a window at this hour.
        expected: f64,
        /// The smallest count that opens an incident in that window at this hour.
        threshold: u32,
    },
    /// The incident closed: the negative rate has been back to normal for the calm period.
    Closed {
        /// End of the bucket that completed the calm period.
        at: DateTime<Utc>,
        /// When the incident opened.
        opened_at: DateTime<Utc>,
        /// Negative interactions counted while it was open.
        negatives: u64,
        /// Most negatives seen in one short window while it was open.
        peak_in_short_window: u32,
    },
}

/// The open incident, inside [`CrisisState`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OpenIncident {
    /// Time of the interaction that opened it.
    pub opened_at: DateTime<Utc>,
    /// Negative interactions counted since (the opening one included).
    pub negatives: u64,
    /// Most negatives seen in one short window since.
    pub peak: u32,
    /// Consecutive calm buckets so far.
    pub calm: u32,
}

/// A mean that starts as a running mean and becomes exponentially weighted. Stored as `[m, n]`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
#[serde(from = "(f64, u32)", into = "(f64, u32)")]
struct Mean {
    /// The mean.
    m: f64,
    /// Updates seen (saturating).
    n: u32,
}

impl From<(f64, u32)> for Mean {
    fn from((m, n): (f64, u32)) -> Self {
        Self {
            m: if m.is_finite() { m } else { 0.0 },
            n,
        }
    }
}

impl From<Mean> for (f64, u32) {
    fn from(mean: Mean) -> Self {
        (mean.m, mean.n)
    }
}

impl Mean {
    fn add(&mut self, x: f64, rate: f64) {
        self.n = self.n.saturating_add(1);
        let w = rate.max(1.0 / f64::from(self.n));
        let next = self.m + w * (x - self.m);
        self.m = if next.is_finite() {
            stored(next)
        } else {
            self.m
        };
    }
    fn scale(&mut self, factor: f64) {
        self.m = stored(self.m * factor);
    }
}

/// Running sums of one disjoint window being accumulated for the dispersion estimate.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
struct Window {
    /// Negatives so far in the window.
    neg: u32,
    /// Forecast so far.
    mu: f64,
    /// Buckets so far; `u32::MAX` when a skipped bucket spoiled it.
    len: u32,
    /// Mean squared forecast error of finished windows.
    sq: Mean,
    /// Mean forecast of finished windows.
    mean_mu: Mean,
}

impl Window {
    fn dispersion(&self, rule: &CrisisRule) -> f64 {
        self.current().min(rule.max_dispersion.max(1.0))
    }
    fn current(&self) -> f64 {
        if self.sq.n == 0 || self.mean_mu.m <= 0.0 {
            return 1.0;
        }
        (self.sq.m / self.mean_mu.m).max(1.0)
    }
    fn push(&mut self, neg: u32, mu: f64, size: u32, rate: f64) {
        if self.len == u32::MAX {
            return;
        }
        self.neg = self.neg.saturating_add(neg);
        self.mu = stored(self.mu + mu);
        self.len += 1;
        if self.len >= size {
            let err = f64::from(self.neg) - self.mu;
            let cap = CLIP * CLIP * self.current() * self.mu.max(1.0);
            self.sq.add((err * err).min(cap), rate);
            self.mean_mu.add(self.mu, rate);
            self.reset();
        }
    }
    fn spoil(&mut self) {
        self.len = u32::MAX;
    }
    fn reset(&mut self) {
        self.neg = 0;
        self.mu = 0.0;
        self.len = 0;
    }
}

/// Per-channel detector state: bounded, serialisable, updated by [`observe`](Self::observe)
/// and [`tick`](Self::tick).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CrisisState {
    /// When the channel started being watched (warm-up).
    since: DateTime<Utc>,
    /// Bucket length the counters were made with, in seconds.
    bucket_secs: i64,
    /// Index of the newest bucket (seconds since the epoch / `bucket_secs`).
    head: i64,
    /// Negatives per bucket, indexed by bucket index modulo the ring length.
    neg: Vec<u32>,
    /// All interactions per bucket, same indexing.
    all: Vec<u32>,
    /// Baseline: negatives per bucket.
    base_neg: Mean,
    /// Baseline: interactions per bucket.
    base_all: Mean,
    /// Baseline: negatives per bucket for each hour of the UTC day.
    hourly: Vec<Mean>,
    /// Dispersion of short and long windows.
    disp: [Window; 2],
    /// The incident, while one is open.
    incident: Option<OpenIncident>,
}

/// `x` rounded to 12 significant digits (0 below 10⁻⁹, whole above 10¹¹): the nearest `f64`
/// to a decimal of at most 12 digits and an exponent within ±22, which JSON writes with those
/// digits and reads back exactly, even without serde_json's `float_roundtrip` (one exact
/// integer divided or multiplied by an exact power of ten). So a stored state compares equal
/// to the one that was saved, and no 17-digit noise is stored.
fn stored(x: f64) -> f64 {
    if !x.is_finite() || x.abs() < 1e-9 {
        return 0.0;
    }
    if x.abs() >= 1e11 {
        return x.round();
    }
    let digits = 11 - x.abs().log10().floor() as i32; // 2..=20
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Clipping of the baseline's inputs, in standard deviations.
const CLIP: f64 = 4.0;

/// Pseudo-count of the overall mean in the hour-of-day estimate.
const HOUR_PRIOR: f64 = 12.0;

impl CrisisState {
    /// A fresh state for a channel first watched at `now`; it learns for `warmup_hours`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            since: now,
            bucket_secs: 0,
            head: 0,
            neg: Vec::new(),
            all: Vec::new(),
            base_neg: Mean::default(),
            base_all: Mean::default(),
            hourly: vec![Mean::default(); 24],
            disp: [Window::default(); 2],
            incident: None,
        }
    }

    /// Whether an incident is open.
    pub fn is_open(&self) -> bool {
        self.incident.is_some()
    }

    /// The open incident, if any.
    pub fn incident(&self) -> Option<&OpenIncident> {
        self.incident.as_ref()
    }

    /// Negatives the baseline expects per hour at `at` (for dashboards and reports).
    pub fn expected_negatives_per_hour(&self, rule: &CrisisRule, at: DateTime<Utc>) -> f64 {
        if self.bucket_secs != rule.bucket_secs() {
            return self.base_neg.m * 3600.0 / self.bucket_secs.max(1) as f64;
        }
        self.expected(self.bucket_of(at)) * rule.buckets_per_hour()
    }

    /// One interaction (negative or not) created or received at `at`. Interactions may come
    /// slightly out of order: up to the long window late, they count; older ones are ignored.
    /// Returns `Opened` when this one opens an incident, or `Closed` when the time it carries
    /// closes one (the next negative can then open a new one).
    pub fn observe(
        &mut self,
        rule: &CrisisRule,
        at: DateTime<Utc>,
        negative: bool,
    ) -> Option<CrisisChange> {
        self.conform(rule, at);
        let b = self.bucket_of(at);
        let change = if b > self.head {
            self.advance(rule, b)
        } else {
            None
        };
        let len = self.neg.len() as i64;
        if b <= self.head - len {
            return change;
        }
        let i = self.slot(b);
        self.all[i] = self.all[i].saturating_add(1);
        if !negative {
            return change;
        }
        self.neg[i] = self.neg[i].saturating_add(1);
        if change.is_some() {
            return change;
        }
        let short = self.sum_neg(rule.short_len(), self.head);
        if let Some(incident) = &mut self.incident {
            incident.negatives += 1;
            incident.peak = incident.peak.max(short);
            return None;
        }
        self.check_open(rule, at)
    }

    /// Time passes with no interaction: completes the buckets up to `now`, which lets an open
    /// incident close once things have been calm for the calm period. Call it from a timer
    /// (every few minutes); a `now` earlier than the newest bucket does nothing.
    pub fn tick(&mut self, rule: &CrisisRule, now: DateTime<Utc>) -> Option<CrisisChange> {
        self.conform(rule, now);
        let b = self.bucket_of(now);
        if b > self.head {
            self.advance(rule, b)
        } else {
            None
        }
    }

    /// The buckets [`sync`](Self::sync) at `at` reads, first and last (inclusive): the ring as
    /// it stands and every bucket up to `at`'s, at most [`MAX_SYNC_BUCKETS`] (older ones read as
    /// empty, as after a long silence). Bucket `b` covers `[b·len, (b+1)·len)` seconds since
    /// the epoch, `len` the rule's bucket length ([`CrisisRule::bucket_of`]).
    pub fn wanted(&self, rule: &CrisisRule, at: DateTime<Utc>) -> (i64, i64) {
        let mut probe = self.clone();
        probe.conform(rule, at);
        let last = probe.head.max(probe.bucket_of(at));
        let first = (probe.head - probe.neg.len() as i64 + 1).max(last - MAX_SYNC_BUCKETS + 1);
        (first, last)
    }

    /// Catches up with counts kept outside the state, so that a busy channel needs no
    /// read-modify-write per interaction: each interaction adds itself to its bucket's atomic
    /// counters (`crate::store::CounterStore`), and the state is brought up to date from them
    /// only when a negative arrives (`evaluate`: may it open an incident?), when time reaches a
    /// new bucket, or from a timer (`tick`'s role). `counts(b)` is bucket `b`'s
    /// `(negatives, interactions)` for every `b` in [`wanted`](Self::wanted); they replace the
    /// ring's own (which only ever grow). `at` is the newest interaction's time (capped at
    /// when it was received), or now from a timer.
    ///
    /// Fed the same interactions, it decides what [`observe`](Self::observe) decides (a test
    /// below replays streams through both). Two things are counted differently: while an
    /// incident is open, its `negatives` grow by the counts' increase since the state was last
    /// saved (nothing is lost when a sync is not saved: the next one counts from the saved
    /// state again), and its `peak` is taken at each sync and bucket end.
    pub fn sync(
        &mut self,
        rule: &CrisisRule,
        at: DateTime<Utc>,
        counts: &dyn Fn(i64) -> (u32, u32),
        evaluate: bool,
    ) -> Option<CrisisChange> {
        self.conform(rule, at);
        for b in (self.head - self.neg.len() as i64 + 1)..=self.head {
            let i = self.slot(b);
            let (neg, all) = counts(b);
            let (neg, all) = (neg.max(self.neg[i]), all.max(self.all[i]));
            if let Some(incident) = &mut self.incident {
                incident.negatives = incident.negatives.saturating_add(u64::from(neg - self.neg[i]));
            }
            self.neg[i] = neg;
            self.all[i] = all;
        }
        let b = self.bucket_of(at);
        if b > self.head
            && let Some(change) = self.advance_filled(rule, b, counts)
        {
            return Some(change);
        }
        let short = self.sum_neg(rule.short_len(), self.head);
        if let Some(incident) = &mut self.incident {
            incident.peak = incident.peak.max(short);
            return None;
        }
        match evaluate {
            true => self.check_open(rule, at),
            false => None,
        }
    }

    /// Whether this state, synced from `saved`, holds more than fresher counts: the head
    /// moved (buckets were learnt), or an incident opened, closed or counted a calm bucket.
    /// When it does not, saving it would change nothing the counters do not already hold.
    pub fn needs_saving_since(&self, saved: &CrisisState) -> bool {
        let durable = |s: &CrisisState| {
            (
                s.since,
                s.bucket_secs,
                s.head,
                s.neg.len(),
                s.base_neg,
                s.base_all,
                s.hourly.clone(),
                s.disp,
                s.incident.as_ref().map(|i| (i.opened_at, i.calm)),
            )
        };
        durable(self) != durable(saved)
    }

    fn bucket_of(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp().div_euclid(self.bucket_secs.max(1))
    }

    fn slot(&self, b: i64) -> usize {
        b.rem_euclid(self.neg.len() as i64) as usize
    }

    fn hour_of(&self, b: i64) -> usize {
        ((b * self.bucket_secs).rem_euclid(86_400) / 3600) as usize
    }

    /// Fits the state to the rule: sizes the ring on first use, and starts the counting over
    /// (rescaling the baseline) if the rule's bucket or window length changed since.
    fn conform(&mut self, rule: &CrisisRule, at: DateTime<Utc>) {
        let secs = rule.bucket_secs();
        if self.bucket_secs == secs && self.neg.len() == rule.ring_len() && self.hourly.len() == 24
        {
            return;
        }
        if self.bucket_secs != 0 && self.bucket_secs != secs {
            let factor = secs as f64 / self.bucket_secs as f64;
            self.base_neg.scale(factor);
            self.base_all.scale(factor);
            for h in &mut self.hourly {
                h.scale(factor);
            }
            self.disp = [Window::default(); 2];
        }
        if self.hourly.len() != 24 {
            self.hourly = vec![Mean::default(); 24];
        }
        if self.neg.len() != rule.ring_len() {
            self.disp = [Window::default(); 2];
        }
        let fresh = self.bucket_secs == 0;
        self.bucket_secs = secs;
        self.neg = vec![0; rule.ring_len()];
        self.all = vec![0; rule.ring_len()];
        self.head = if fresh {
            self.bucket_of(self.since.min(at))
        } else {
            self.bucket_of(at)
        };
    }

    fn sum_neg(&self, w: usize, end: i64) -> u32 {
        (0..w as i64)
            .map(|k| self.neg[self.slot(end - k)])
            .fold(0, u32::saturating_add)
    }

    fn sum_all(&self, w: usize, end: i64) -> u32 {
        (0..w as i64)
            .map(|k| self.all[self.slot(end - k)])
            .fold(0, u32::saturating_add)
    }

    /// Expected negatives in bucket `b`: the hour's mean shrunk towards the overall mean.
    fn expected(&self, b: i64) -> f64 {
        let h = &self.hourly[self.hour_of(b)];
        let n = f64::from(h.n);
        (n * h.m + HOUR_PRIOR * self.base_neg.m) / (n + HOUR_PRIOR)
    }

    /// Moves the head to bucket `target`, completing every bucket in between; each bucket
    /// entering the ring starts empty.
    fn advance(&mut self, rule: &CrisisRule, target: i64) -> Option<CrisisChange> {
        self.advance_filled(rule, target, &|_| (0, 0))
    }

    /// [`advance`](Self::advance), where each bucket entering the ring starts with
    /// `counts(bucket)` = `(negatives, interactions)` (counted outside the state, see
    /// [`sync`](Self::sync)), so that it is complete when it is judged and learnt.
    fn advance_filled(&mut self, rule: &CrisisRule, target: i64, counts: &dyn Fn(i64) -> (u32, u32)) -> Option<CrisisChange> {
        let max_steps = (4.0 * rule.half_life_hours.max(0.1) * 3600.0 / self.bucket_secs as f64)
            .ceil() as i64
            + self.neg.len() as i64;
        let mut change = None;
        let mut steps = 0;
        while self.head < target {
            if steps == max_steps {
                // A very long silence: the rest is zeros that would only lower the baseline.
                self.neg.fill(0);
                self.all.fill(0);
                self.head = target;
                break;
            }
            steps += 1;
            let done = self.head;
            if let Some(closed) = self.complete(rule, done) {
                change = Some(closed);
            }
            let leaving = done + 1 - self.neg.len() as i64;
            self.learn(rule, leaving);
            let i = self.slot(done + 1);
            let (neg, all) = counts(done + 1);
            self.neg[i] = neg;
            self.all[i] = all;
            if let Some(incident) = &mut self.incident {
                incident.negatives = incident.negatives.saturating_add(u64::from(neg));
            }
            self.head = done + 1;
        }
        change
    }

    /// Bucket `b` is complete: while an incident is open, is the short window ending here calm?
    fn complete(&mut self, rule: &CrisisRule, b: i64) -> Option<CrisisChange> {
        self.incident.as_ref()?;
        let per_bucket = self.expected(b);
        let windows = [
            (rule.short_len(), rule.calm_floor_short, 0),
            (self.neg.len(), rule.calm_floor_long, 1),
        ];
        let calm = windows.into_iter().all(|(w, floor, d)| {
            let mu = per_bucket * w as f64;
            let phi = self.disp[d].dispersion(rule);
            self.sum_neg(w, b) < threshold(mu, phi, rule.close_alpha).max(floor)
        });
        let incident = self.incident.as_mut()?;
        if calm {
            incident.calm += 1;
        } else {
            incident.calm = 0;
        }
        if incident.calm < rule.calm_buckets.max(1) {
            return None;
        }
        let incident = self.incident.take()?;
        Some(CrisisChange::Closed {
            at: self.time_of(b + 1),
            opened_at: incident.opened_at,
            negatives: incident.negatives,
            peak_in_short_window: incident.peak,
        })
    }

    /// Bucket `b` leaves the ring: the baseline learns it, unless an incident is open.
    fn learn(&mut self, rule: &CrisisRule, b: i64) {
        if self.incident.is_some() {
            self.disp[0].spoil();
            self.disp[1].spoil();
            return;
        }
        let (neg, all) = if b > self.head - self.neg.len() as i64 {
            let i = self.slot(b);
            (self.neg[i], self.all[i])
        } else {
            (0, 0)
        };
        let rate = rule.rate();
        let mu = self.expected(b);
        let sizes = [rule.short_len() as u32, self.neg.len() as u32];
        for (window, size) in self.disp.iter_mut().zip(sizes) {
            // Disjoint windows aligned on the bucket index; a spoilt one restarts at a boundary.
            if b.rem_euclid(i64::from(size)) == 0 {
                window.reset();
            }
            window.push(neg, mu, size, rate * f64::from(size));
        }
        // Negatives are clipped at CLIP standard deviations above the forecast (plus one), so
        // that a viral post or a wave below the threshold does not raise the baseline for a
        // week; the bucket's interactions are scaled by the same factor, which keeps its share.
        // Not in the first day, while the means are still plain running means.
        let (mut neg, mut all) = (f64::from(neg), f64::from(all));
        if f64::from(self.base_neg.n) >= rule.buckets_per_hour() * 24.0 {
            let cap = mu + CLIP * (self.disp[0].current() * mu).sqrt() + 1.0;
            if neg > cap {
                all *= cap / neg;
                neg = cap;
            }
        }
        self.base_neg.add(neg, rate);
        self.base_all.add(all, rate);
        let h = self.hour_of(b);
        self.hourly[h].add(neg, rule.hour_rate());
    }

    fn time_of(&self, b: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(b * self.bucket_secs, 0).unwrap_or_default()
    }

    /// After a negative arrived at `at`: does either window open an incident?
    fn check_open(&mut self, rule: &CrisisRule, at: DateTime<Utc>) -> Option<CrisisChange> {
        if at < self.since + TimeDelta::hours(i64::from(rule.warmup_hours)) {
            return None;
        }
        let per_bucket = self.expected(self.head);
        let base_share = if self.base_all.m > 0.0 {
            self.base_neg.m / self.base_all.m
        } else {
            0.0
        };
        let share_needed = share_at_odds_ratio(base_share, rule.min_share_ratio);
        let windows = [
            (rule.short_len(), rule.min_negatives_short, 0),
            (self.neg.len(), rule.min_negatives_long, 1),
        ];
        for (w, floor, d) in windows {
            let n = self.sum_neg(w, self.head);
            let mu = per_bucket * w as f64;
            if n < floor.max(1) || f64::from(n) <= mu {
                continue;
            }
            let total = self.sum_all(w, self.head).max(n);
            // At or below the binomial's mean, the tail is above one half: skip the sum.
            if f64::from(n) <= share_needed * f64::from(total)
                || binomial_tail(n, total, share_needed) > rule.share_alpha
            {
                continue;
            }
            let phi = self.disp[d].dispersion(rule);
            let p_count = upper_tail(n, mu, phi);
            if p_count > rule.alpha {
                continue;
            }
            let short = self.sum_neg(rule.short_len(), self.head);
            self.incident = Some(OpenIncident {
                opened_at: at,
                negatives: 1,
                peak: short,
                calm: 0,
            });
            return Some(CrisisChange::Opened {
                at,
                window_minutes: w as u32 * rule.bucket_minutes,
                negatives_in_window: n,
                interactions_in_window: total,
                expected: mu,
                threshold: threshold(mu, phi, rule.alpha).max(floor),
            });
        }
        None
    }
}

/// The share whose odds are `ratio` times the odds of `share`.
fn share_at_odds_ratio(share: f64, ratio: f64) -> f64 {
    if share >= 1.0 {
        return 1.0;
    }
    let odds = share.max(0.0) / (1.0 - share) * ratio.max(0.0);
    odds / (1.0 + odds)
}

/// The smallest `n` with `P(X ≥ n) ≤ alpha`, `X` negative binomial with mean `mu` and variance
/// `phi·mu`.
fn threshold(mu: f64, phi: f64, alpha: f64) -> u32 {
    if upper_tail(1, mu, phi) <= alpha {
        return 1;
    }
    let (mut lo, mut hi) = (1u32, (mu.max(1.0) as u32).max(2));
    while upper_tail(hi, mu, phi) > alpha {
        lo = hi;
        hi = hi.saturating_mul(2);
        if hi == u32::MAX {
            return hi;
        }
    }
    // P(X ≥ lo) > alpha ≥ P(X ≥ hi)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if upper_tail(mid, mu, phi) > alpha {
            lo = mid
        } else {
            hi = mid
        }
    }
    hi
}

/// `P(X ≥ n)` for `X` negative binomial with mean `mu` and variance `phi·mu` (Poisson when
/// `phi ≤ 1`), summed term by term from `n` upwards.
fn upper_tail(n: u32, mu: f64, phi: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if mu.is_nan() || mu <= 0.0 {
        return 0.0;
    }
    let mu = mu.max(1e-12);
    let k0 = f64::from(n);
    let poisson = phi <= 1.0 + 1e-9;
    let (r, q) = if poisson {
        (0.0, 0.0)
    } else {
        (mu / (phi - 1.0), 1.0 - 1.0 / phi)
    };
    // log P(X = n)
    let mut ln_p = if poisson {
        k0 * mu.ln() - mu - ln_gamma(k0 + 1.0)
    } else {
        ln_gamma(k0 + r) - ln_gamma(r) - ln_gamma(k0 + 1.0) + r * (1.0 - q).ln() + k0 * q.ln()
    };
    let mut sum = 0.0;
    let mut k = k0;
    for _ in 0..10_000_000 {
        let term = ln_p.exp();
        sum += term;
        let ratio = if poisson {
            mu / (k + 1.0)
        } else {
            (k + r) / (k + 1.0) * q
        };
        if ratio < 1.0 && term <= sum * 1e-12 {
            break;
        }
        if sum >= 1.0 {
            return 1.0;
        }
        ln_p += ratio.ln();
        k += 1.0;
    }
    sum.min(1.0)
}

/// `P(X ≥ n)` for `X` binomial with `t` trials of probability `p`.
fn binomial_tail(n: u32, t: u32, p: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if n > t || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (k0, tf) = (f64::from(n), f64::from(t));
    let mut ln_p = ln_gamma(tf + 1.0) - ln_gamma(k0 + 1.0) - ln_gamma(tf - k0 + 1.0)
        + k0 * p.ln()
        + (tf - k0) * (1.0 - p).ln();
    let odds = p / (1.0 - p);
    let mut sum = 0.0;
    for k in n..=t {
        let term = ln_p.exp();
        sum += term;
        let ratio = f64::from(t - k) / f64::from(k + 1) * odds;
        if ratio < 1.0 && term <= sum * 1e-12 {
            break;
        }
        ln_p += ratio.ln();
    }
    sum.min(1.0)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator (xorshift64*), so the tests do not depend on `rand`'s API.
    struct Rng(u64);
    impl Rng {
        fn f64(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn poisson(&mut self, mean: f64) -> u32 {
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

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-03T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn min(m: i64) -> TimeDelta {
        TimeDelta::minutes(m)
    }

    /// Normal traffic from `from` for `minutes`: `per_day` interactions a day (busier by day than
    /// by night), a share `neg` of them negative. Returns every change, with ticks each 5 min.
    fn traffic(
        state: &mut CrisisState,
        rule: &CrisisRule,
        rng: &mut Rng,
        from: DateTime<Utc>,
        minutes: i64,
        per_day: f64,
        neg: f64,
    ) -> Vec<CrisisChange> {
        let mut changes = Vec::new();
        for m in 0..minutes {
            let at = from + min(m);
            let hour = (at.timestamp().rem_euclid(86_400) / 3600) as f64;
            let season = 1.0 + 0.6 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos();
            for _ in 0..rng.poisson(per_day / 1440.0 * season) {
                let at = at + TimeDelta::seconds((rng.f64() * 60.0) as i64);
                changes.extend(state.observe(rule, at, rng.f64() < neg));
            }
            if m % 5 == 0 {
                changes.extend(state.tick(rule, at));
            }
        }
        changes
    }

    fn opened(changes: &[CrisisChange]) -> usize {
        changes
            .iter()
            .filter(|c| matches!(c, CrisisChange::Opened { .. }))
            .count()
    }

    fn closed(changes: &[CrisisChange]) -> usize {
        changes
            .iter()
            .filter(|c| matches!(c, CrisisChange::Closed { .. }))
            .count()
    }

    /// A channel with `days` of normal history, and the instant its history ends.
    fn warmed(per_day: f64, neg: f64, days: i64, seed: u64) -> (CrisisState, Rng, DateTime<Utc>) {
        let rule = CrisisRule::default();
        let mut rng = Rng(seed);
        let mut state = CrisisState::new(t0());
        let changes = traffic(&mut state, &rule, &mut rng, t0(), days * 1440, per_day, neg);
        assert_eq!(
            opened(&changes),
            0,
            "no alarm in normal traffic: {changes:?}"
        );
        (state, rng, t0() + TimeDelta::days(days))
    }

    #[test]
    fn quiet_channel_ignores_three_negatives() {
        let rule = CrisisRule::default();
        let (mut state, _, now) = warmed(5.0, 0.2, 14, 1);
        for k in 0..3 {
            assert_eq!(state.observe(&rule, now + min(k), true), None);
        }
        assert!(!state.is_open());
    }

    #[test]
    fn quiet_channel_opens_once_on_thirty_negatives_in_15_minutes() {
        let rule = CrisisRule::default();
        let (mut state, _, now) = warmed(5.0, 0.2, 14, 2);
        let changes: Vec<_> = (0..30)
            .filter_map(|k| state.observe(&rule, now + TimeDelta::seconds(k * 30), true))
            .collect();
        assert_eq!(changes.len(), 1, "{changes:?}");
        let CrisisChange::Opened {
            negatives_in_window,
            threshold,
            window_minutes,
            ..
        } = changes[0]
        else {
            panic!("{changes:?}")
        };
        // The floor (8) and the share test (a couple of usual interactions are in the window
        // too) decide, within a few negatives.
        assert!(
            (8..=10).contains(&negatives_in_window),
            "{negatives_in_window}"
        );
        assert_eq!(threshold, rule.min_negatives_short);
        assert_eq!(window_minutes, 15);
        assert!(state.is_open());
        assert_eq!(
            state.incident().unwrap().negatives,
            u64::from(30 - negatives_in_window + 1)
        );
    }

    #[test]
    fn busy_channel_alarms_at_four_times_its_rate_not_at_its_rate() {
        let rule = CrisisRule::default();
        // 3,000 interactions a day, a quarter of them negative: ~31 negatives an hour.
        let (mut state, mut rng, now) = warmed(3000.0, 0.25, 14, 3);
        let calm = traffic(&mut state, &rule, &mut rng, now, 2 * 1440, 3000.0, 0.25);
        assert_eq!(opened(&calm), 0);
        // Now negatives at 4× their usual rate (the rest of the traffic unchanged) for an hour.
        let start = now + TimeDelta::days(2);
        let per_hour = state.expected_negatives_per_hour(&rule, start);
        assert!(per_hour > 10.0, "{per_hour}");
        let mut changes = Vec::new();
        for m in 0..60 {
            let at = start + min(m);
            for _ in 0..rng.poisson(3.0 * per_hour / 60.0) {
                changes.extend(state.observe(&rule, at + TimeDelta::seconds(30), true));
            }
            changes.extend(traffic(&mut state, &rule, &mut rng, at, 1, 3000.0, 0.25));
        }
        assert_eq!(opened(&changes), 1, "{changes:?}");
        assert!(state.is_open());
    }

    #[test]
    fn incident_closes_after_calm_and_never_reopens_while_open() {
        let rule = CrisisRule::default();
        let (mut state, mut rng, now) = warmed(200.0, 0.15, 10, 4);
        let mut changes = Vec::new();
        // A 30-minute wave of 5 negatives a minute: one incident, not one per negative.
        for m in 0..30 {
            for s in 0..5 {
                changes.extend(state.observe(
                    &rule,
                    now + min(m) + TimeDelta::seconds(s * 12),
                    true,
                ));
            }
        }
        assert_eq!(opened(&changes), 1, "{changes:?}");
        assert_eq!(closed(&changes), 0);
        // Back to normal: it closes within two hours of the wave's end, once.
        let end = now + min(30);
        changes.extend(traffic(
            &mut state,
            &rule,
            &mut rng,
            end,
            6 * 60,
            200.0,
            0.15,
        ));
        assert_eq!((opened(&changes), closed(&changes)), (1, 1), "{changes:?}");
        let Some(CrisisChange::Closed {
            at,
            opened_at,
            negatives,
            peak_in_short_window,
        }) = changes
            .iter()
            .find(|c| matches!(c, CrisisChange::Closed { .. }))
            .cloned()
        else {
            unreachable!()
        };
        assert!(at > end + min(60) && at <= end + min(120), "closed at {at}");
        assert!(opened_at >= now && opened_at < now + min(5));
        assert!(negatives >= 140, "{negatives}");
        assert!(peak_in_short_window >= 70, "{peak_in_short_window}");
        assert!(!state.is_open());
    }

    #[test]
    fn tick_alone_closes_a_silent_channel() {
        let rule = CrisisRule::default();
        let (mut state, _, now) = warmed(5.0, 0.2, 7, 5);
        let opens = (0..20)
            .filter_map(|k| state.observe(&rule, now + min(k % 10), true))
            .count();
        assert_eq!(opens, 1);
        let changes: Vec<_> = (1..=48)
            .filter_map(|k| state.tick(&rule, now + min(5 * k)))
            .collect();
        assert_eq!(closed(&changes), 1, "{changes:?}");
        // Ticks going back in time do nothing.
        assert_eq!(state.tick(&rule, now), None);
    }

    #[test]
    fn out_of_order_interactions_count_in_their_bucket() {
        let rule = CrisisRule::default();
        let (mut state, mut rng, now) = warmed(5.0, 0.2, 7, 6);
        // The newest interaction first, then 11 negatives from the previous 14 minutes, shuffled.
        assert_eq!(state.observe(&rule, now + min(14), false), None);
        let mut late: Vec<i64> = (0..11).map(|k| k * 80).collect();
        for i in (1..late.len()).rev() {
            late.swap(i, (rng.f64() * (i + 1) as f64) as usize);
        }
        let changes: Vec<_> = late
            .iter()
            .filter_map(|s| state.observe(&rule, now + TimeDelta::seconds(*s), true))
            .collect();
        assert_eq!(opened(&changes), 1, "{changes:?}");

        // Interactions older than the long window are ignored.
        let (mut state, _, now) = warmed(5.0, 0.2, 7, 7);
        assert_eq!(state.observe(&rule, now + min(180), false), None);
        for k in 0..30 {
            assert_eq!(
                state.observe(&rule, now + TimeDelta::seconds(k), true),
                None
            );
        }
        assert!(!state.is_open());
    }

    #[test]
    fn a_new_channel_only_learns_during_warm_up() {
        let rule = CrisisRule::default();
        let wave = |state: &mut CrisisState, at: DateTime<Utc>| -> Vec<CrisisChange> {
            (0..50)
                .filter_map(|k| state.observe(&rule, at + TimeDelta::seconds(k * 10), true))
                .collect()
        };
        let mut young = CrisisState::new(t0());
        let changes = traffic(&mut young, &rule, &mut Rng(11), t0(), 600, 5.0, 0.2);
        assert_eq!(changes, []);
        assert_eq!(wave(&mut young, t0() + min(600)), []);
        // The same channel with normal traffic, past its warm-up: the same wave opens.
        let (mut older, _, now) = warmed(5.0, 0.2, 2, 11);
        assert_eq!(opened(&wave(&mut older, now)), 1);
    }

    #[test]
    fn a_viral_post_with_the_usual_share_of_negatives_is_not_a_crisis() {
        let rule = CrisisRule::default();
        let (mut state, mut rng, now) = warmed(200.0, 0.15, 10, 8);
        // An hour of 20× the traffic, negative share unchanged.
        let changes = traffic(&mut state, &rule, &mut rng, now, 60, 4000.0, 0.15);
        assert_eq!(opened(&changes), 0, "{changes:?}");
    }

    #[test]
    fn state_stays_bounded_after_a_million_interactions() {
        let rule = CrisisRule::default();
        let mut rng = Rng(9);
        let mut state = CrisisState::new(t0());
        state.observe(&rule, t0(), false);
        let before = serde_json::to_string(&state).unwrap().len();
        let mut at = t0();
        for k in 0..1_000_000u32 {
            at += TimeDelta::milliseconds((rng.f64() * 1200.0) as i64);
            let jitter = TimeDelta::seconds((rng.f64() * 120.0) as i64);
            state.observe(&rule, at - jitter, rng.f64() < 0.2);
            if k % 1000 == 0 {
                state.tick(&rule, at);
            }
        }
        let json = serde_json::to_string(&state).unwrap();
        assert!(
            json.len() < 2500 && json.len() < before + 1500,
            "{} → {}",
            before,
            json.len()
        );
        assert!(state.expected_negatives_per_hour(&rule, at) > 100.0);
    }

    #[test]
    fn serde_round_trip_keeps_behaviour() {
        let rule = CrisisRule::default();
        let (mut state, _, now) = warmed(200.0, 0.15, 3, 10);
        for k in 0..60 {
            state.observe(&rule, now + TimeDelta::seconds(k * 10), true);
        }
        assert!(state.is_open());
        let json = serde_json::to_string(&state).unwrap();
        let mut back: CrisisState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        for k in 1..40 {
            let at = now + min(5 * k);
            assert_eq!(back.tick(&rule, at), state.tick(&rule, at));
        }
        assert!(!back.is_open());
        let rule_json = serde_json::to_string(&rule).unwrap();
        assert_eq!(
            serde_json::from_str::<CrisisRule>(&rule_json).unwrap(),
            rule
        );
        assert_eq!(serde_json::from_str::<CrisisRule>("{}").unwrap(), rule);
    }

    #[test]
    fn stored_numbers_read_back_exactly_from_json() {
        let mut rng = Rng(12);
        for _ in 0..20_000 {
            let x = stored((rng.f64() * 40.0 - 25.0).exp2() * rng.f64());
            let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x}");
        }
        assert_eq!(stored(f64::NAN), 0.0);
        assert_eq!(stored(1e-12), 0.0);
        assert_eq!(stored(123_456_789_012.6), 123_456_789_013.0);
        assert_eq!(stored(0.1 + 0.2), 0.3);
    }

    #[test]
    fn tail_probabilities() {
        // Poisson(1): P(X ≥ 3) = 1 − e⁻¹·(1 + 1 + 1/2).
        let p = upper_tail(3, 1.0, 1.0);
        assert!((p - (1.0 - (-1.0f64).exp() * 2.5)).abs() < 1e-12, "{p}");
        // Negative binomial, mean 4, variance 12 (r = 2, q = 2/3): P(X = k) = (k+1)·(1/9)·(2/3)^k.
        let direct: f64 = (0..10)
            .map(|k| (k + 1) as f64 / 9.0 * (2.0f64 / 3.0).powi(k))
            .sum();
        assert!((upper_tail(10, 4.0, 3.0) - (1.0 - direct)).abs() < 1e-12);
        assert_eq!(upper_tail(0, 0.0, 1.0), 1.0);
        assert_eq!(upper_tail(1, 0.0, 1.0), 0.0);
        // Thresholds grow with the mean and the dispersion, and stay sane for large means.
        assert!(threshold(1.0, 1.0, 1e-5) < threshold(1.0, 5.0, 1e-5));
        let big = threshold(10_000.0, 1.0, 1e-5);
        assert!((10_380..10_460).contains(&big), "{big}");
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
    }

    /// What a host does with counters (`Intake`): every interaction adds to its bucket; the
    /// saved state is synced from the counters on a negative or a new bucket, and saved only
    /// when [`CrisisState::needs_saving_since`] says so (or when it changed something).
    struct Counted {
        counts: std::collections::HashMap<i64, (u32, u32)>,
        saved: CrisisState,
        synced_bucket: i64,
    }

    impl Counted {
        fn sync(&mut self, rule: &CrisisRule, at: DateTime<Utc>, evaluate: bool) -> Option<CrisisChange> {
            let (first, last) = self.saved.wanted(rule, at);
            let counts = &self.counts;
            let lookup = |b: i64| {
                assert!((first..=last).contains(&b), "bucket {b} outside the wanted {first}..={last}");
                counts.get(&b).copied().unwrap_or((0, 0))
            };
            let mut state = self.saved.clone();
            let change = state.sync(rule, at, &lookup, evaluate);
            if change.is_some() || state.needs_saving_since(&self.saved) {
                self.saved = state;
            }
            change
        }

        fn observe(&mut self, rule: &CrisisRule, at: DateTime<Utc>, negative: bool) -> Option<CrisisChange> {
            let b = rule.bucket_of(at);
            let entry = self.counts.entry(b).or_default();
            entry.0 += u32::from(negative);
            entry.1 += 1;
            if negative || b > self.synced_bucket {
                self.synced_bucket = self.synced_bucket.max(b);
                return self.sync(rule, at, negative);
            }
            None
        }
    }

    /// The decisions, without the counts that differ by design (see [`CrisisState::sync`]).
    fn decisions(changes: &[CrisisChange]) -> Vec<CrisisChange> {
        changes
            .iter()
            .map(|c| match c.clone() {
                CrisisChange::Closed { at, opened_at, .. } => {
                    CrisisChange::Closed { at, opened_at, negatives: 0, peak_in_short_window: 0 }
                }
                opened => opened,
            })
            .collect()
    }

    #[test]
    fn counters_and_sync_decide_what_observing_each_interaction_decides() {
        let rule = CrisisRule::default();
        for seed in 1..=4u64 {
            let mut rng = Rng(seed * 7919);
            // Eight days of a channel's life: usual traffic, a wave of negatives on day 7 (10
            // to 40 a quarter of an hour, by seed) and the calm after; a tenth of the
            // interactions arrive up to 20 minutes late, a few over an hour late.
            let mut stream = Vec::new();
            for m in 0..8 * 1440 {
                let at = t0() + min(m);
                let wave = (7 * 1440..7 * 1440 + 45).contains(&m);
                let (per_minute, neg) = if wave { (1.0 + seed as f64 * 0.7, 0.9) } else { (0.6, 0.15) };
                for _ in 0..rng.poisson(per_minute) {
                    let late = match rng.f64() {
                        x if x < 0.01 => min(70),
                        x if x < 0.1 => TimeDelta::seconds((rng.f64() * 1200.0) as i64),
                        _ => TimeDelta::zero(),
                    };
                    stream.push((at + TimeDelta::seconds((rng.f64() * 59.0) as i64), late, rng.f64() < neg));
                }
            }
            let mut observed = CrisisState::new(t0());
            let mut counted = Counted { counts: Default::default(), saved: CrisisState::new(t0()), synced_bucket: i64::MIN };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut saves = 0;
            for (i, (received, late, negative)) in stream.iter().enumerate() {
                let at = *received - *late;
                a.extend(observed.observe(&rule, at, *negative));
                let before = counted.saved.clone();
                b.extend(counted.observe(&rule, at, *negative));
                saves += usize::from(counted.saved != before);
                if i % 50 == 0 {
                    a.extend(observed.tick(&rule, *received));
                    b.extend(counted.sync(&rule, *received, false));
                }
            }
            assert_eq!(opened(&a), 1, "seed {seed}: the wave opens one incident: {a:?}");
            assert_eq!(closed(&a), 1, "seed {seed}: {a:?}");
            assert_eq!(decisions(&a), decisions(&b), "seed {seed}");
            // Saved about once a bucket (8 days: 2,304 buckets), not once an interaction.
            assert!(saves < 2_304 + 50, "seed {seed}: {saves} saves for {} interactions", stream.len());
            assert!(stream.len() > 6_000, "{}", stream.len());
        }
    }
}
