//! The report's summary in plain words: a few sentences at the top of the page (and in the
//! e-mail) drawn from the figures by fixed rules, no language model. First the facts
//! ([`facts`]: what the rules picked, with their numbers, kept in `report.json` as
//! `summary`), then the words ([`sentences`]: each fact in the report's language, from the
//! `summary-*` messages of the .ftl files). The rules and their thresholds are in
//! docs/reports.md, "Summary".

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::ReportData;
use super::escape::esc;
use crate::i18n::{Arg, Tr};

/// A change within this fraction of the previous figure, either way, is "about the same".
pub const STEADY_BAND: f64 = 0.02;
/// A change is given in per cent only from a previous figure of at least this; below it, as
/// a difference ("rose by 4"): +300 % on a base of 3 says nothing useful.
pub const MIN_BASE_FOR_PERCENT: u64 = 20;

/// One thing the summary says, with its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// Nothing happened: the summary's only sentence.
    Quiet,
    /// Posts went out; none has engagements measured yet.
    Unmeasured { posts: u64 },
    /// Engagements of the period's posts, and how they and the impressions compare with the
    /// previous period's (at the same post age).
    Engagements { posts: u64, engagements: u64, change: Option<Change>, impressions: Option<Change> },
    /// Followers over the channels counted at both ends of the period.
    Followers { growth: i64, followers: u64 },
    /// The best recommended weekday × hour (team's zone, small-sample rule).
    BestSlot { weekday: u32, hour: u32, posts: usize, mean_engagements: f64 },
    /// Crisis alerts opened in the period; the first one's day (team's zone) and the time from
    /// it to the team's first answer on that channel, if any before the period's end.
    Incidents { count: usize, first_on: NaiveDate, first_answer_seconds: Option<i64> },
    /// The inbox: messages of the period, answered through Herald by its end, still open now.
    Inbox { received: u64, answered: u64, median_first_response_seconds: Option<i64>, open: u64 },
    /// Deliveries that failed.
    Failed { deliveries: u64 },
}

/// A figure against the previous period's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub previous: u64,
    pub current: u64,
    pub trend: Trend,
    /// `(current − previous) / previous`, when the previous figure is at least
    /// [`MIN_BASE_FOR_PERCENT`].
    pub fraction: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Up,
    Down,
    /// Within [`STEADY_BAND`] of the previous figure.
    Steady,
}

impl Change {
    /// `None` without a previous figure to compare with.
    pub fn of(current: Option<u64>, previous: Option<u64>) -> Option<Change> {
        let (current, previous) = (current?, previous?);
        let diff = current as f64 - previous as f64;
        // A base of 0 has no band: anything above it is up.
        let trend = match diff {
            d if d.abs() <= STEADY_BAND * previous as f64 => Trend::Steady,
            d if d > 0.0 => Trend::Up,
            _ => Trend::Down,
        };
        let fraction = (previous >= MIN_BASE_FOR_PERCENT).then(|| diff / previous as f64);
        Some(Change { previous, current, trend, fraction })
    }
}

/// The facts of a report, in the order they are said (at most six).
pub fn facts(d: &ReportData) -> Vec<Fact> {
    if d.is_empty() {
        return vec![Fact::Quiet];
    }
    let mut out = Vec::new();
    let (now, before) = (&d.overall.current, &d.overall.previous);
    if now.posts_published > 0 {
        out.push(match now.engagements {
            None => Fact::Unmeasured { posts: now.posts_published },
            Some(engagements) => {
                let change = Change::of(Some(engagements), before.engagements);
                // Impressions only beside an engagement comparison, and where both periods have them.
                let impressions = change.as_ref().and_then(|_| Change::of(now.impressions, before.impressions));
                Fact::Engagements { posts: now.posts_published, engagements, change, impressions }
            }
        });
    }
    if let (Some(growth), Some(followers)) = (now.follower_growth, now.followers_end) {
        out.push(Fact::Followers { growth, followers });
    }
    if let Some(best) = d.best_time.recommended.first() {
        out.push(Fact::BestSlot { weekday: best.weekday, hour: best.hour, posts: best.posts, mean_engagements: best.mean_engagements });
    }
    if let Some(first) = d.incidents.first() {
        let zone: Tz = d.time_zone.parse().unwrap_or(chrono_tz::UTC);
        out.push(Fact::Incidents {
            count: d.incidents.len(),
            first_on: first.opened_at.with_timezone(&zone).date_naive(),
            first_answer_seconds: first.first_answer_at.map(|a| (a - first.opened_at).num_seconds()),
        });
    }
    let inbox = &d.inbox.current;
    if inbox.total > 0 {
        out.push(Fact::Inbox {
            received: inbox.total,
            answered: inbox.answered,
            median_first_response_seconds: inbox.median_first_response_seconds,
            open: inbox.open_items,
        });
    }
    if !d.failed_deliveries.is_empty() {
        out.push(Fact::Failed { deliveries: d.failed_deliveries.len() as u64 });
    }
    out
}

/// Each fact as one sentence in `tr`'s language.
pub fn sentences(facts: &[Fact], tr: &Tr) -> Vec<String> {
    facts.iter().map(|f| sentence(f, tr)).collect()
}

/// The summary block at the top of `report.html`: the sentences as one paragraph.
pub fn html(d: &ReportData, tr: &Tr) -> String {
    let words = sentences(&d.summary, tr).iter().map(|s| esc(s)).collect::<Vec<_>>().join(" ");
    format!("<section class=\"summary\"><h2>{}</h2><p>{words}</p></section>", esc(&tr.t("summary-title")))
}

/// A count: `n` for plural selection and `n_shown` grouped the locale's way.
fn count<'a>(tr: &Tr, name: &'a str, shown: &'a str, n: u64) -> [(&'a str, Arg); 2] {
    [(name, Arg::Num(n as f64)), (shown, Arg::Str(tr.int(n)))]
}

fn trend_word(t: Trend) -> &'static str {
    match t {
        Trend::Up => "up",
        Trend::Down => "down",
        Trend::Steady => "steady",
    }
}

/// "12 %" when the base allows a percentage, else the difference ("4").
fn amount(c: &Change, tr: &Tr) -> String {
    match c.fraction {
        Some(f) => tr.pct(f.abs(), 0),
        None => tr.int(c.current.abs_diff(c.previous)),
    }
}

fn sentence(f: &Fact, tr: &Tr) -> String {
    match f {
        Fact::Quiet => tr.t("summary-quiet"),
        Fact::Unmeasured { posts } => tr.t_with("summary-unmeasured", &count(tr, "posts", "posts_shown", *posts)),
        Fact::Engagements { posts, engagements, change, impressions } => {
            let mut args = count(tr, "posts", "posts_shown", *posts).to_vec();
            args.push(("engagements", Arg::Str(tr.int(*engagements))));
            let Some(c) = change else { return tr.t_with("summary-engagements-alone", &args) };
            args.push(("trend", Arg::Str(trend_word(c.trend).into())));
            args.push(("change", Arg::Str(amount(c, tr))));
            match impressions {
                None => tr.t_with("summary-engagements", &args),
                Some(i) => {
                    let clause = tr.t_with(
                        "summary-impressions",
                        &[("trend", Arg::Str(trend_word(i.trend).into())), ("change", Arg::Str(amount(i, tr)))],
                    );
                    args.push(("impressions", Arg::Str(clause)));
                    tr.t_with("summary-engagements-impressions", &args)
                }
            }
        }
        Fact::Followers { growth, followers } => {
            let trend = match growth {
                g if *g > 0 => "up",
                g if *g < 0 => "down",
                _ => "steady",
            };
            tr.t_with(
                "summary-followers",
                &[
                    ("trend", trend.into()),
                    ("change", Arg::Str(tr.int(growth.unsigned_abs()))),
                    ("followers", Arg::Str(tr.int(*followers))),
                ],
            )
        }
        Fact::BestSlot { weekday, hour, posts, mean_engagements } => {
            let mut args = count(tr, "posts", "posts_shown", *posts as u64).to_vec();
            args.push(("day", Arg::Num(f64::from(*weekday))));
            args.push(("time", Arg::Str(format!("{hour:02}:00"))));
            // One decimal, none when it is 0 ("15", not "15.0").
            let places = if (mean_engagements * 10.0).round() % 10.0 == 0.0 { 0 } else { 1 };
            args.push(("mean", Arg::Str(tr.dec(*mean_engagements, places))));
            tr.t_with("summary-best-slot", &args)
        }
        Fact::Incidents { count: n, first_on, first_answer_seconds } => {
            let mut args = count(tr, "count", "count_shown", *n as u64).to_vec();
            args.push(("date", Arg::Str(tr.day_month(*first_on))));
            let first = match first_answer_seconds {
                Some(s) => tr.t_with("summary-incident-answered", &[("after", Arg::Str(duration(*s, tr)))]),
                None => tr.t("summary-incident-unanswered"),
            };
            args.push(("first", Arg::Str(first)));
            tr.t_with("summary-incidents", &args)
        }
        Fact::Inbox { received, answered, median_first_response_seconds, open } => {
            let mut args = count(tr, "received", "received_shown", *received).to_vec();
            args.extend(count(tr, "answered", "answered_shown", *answered));
            args.extend(count(tr, "open", "open_shown", *open));
            let median = median_first_response_seconds.map_or_else(|| "none".to_owned(), |s| duration(s, tr));
            args.push(("median", Arg::Str(median)));
            tr.t_with("summary-inbox", &args)
        }
        Fact::Failed { deliveries } => tr.t_with("summary-failed", &count(tr, "failed", "failed_shown", *deliveries)),
    }
}

/// A duration in words, to the minute under a day ("45 min", "2 h 5 min"), to the hour beyond
/// ("1 d 12 h"); never less than a minute.
fn duration(seconds: i64, tr: &Tr) -> String {
    let minutes = (seconds.max(0) as u64).div_ceil(60).max(1);
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let n = |v: u64| Arg::Str(tr.int(v));
    match (d, h, m) {
        (0, 0, m) => tr.t_with("summary-duration-min", &[("m", n(m))]),
        (0, h, 0) => tr.t_with("summary-duration-h", &[("h", n(h))]),
        (0, h, m) => tr.t_with("summary-duration-h-min", &[("h", n(h)), ("m", n(m))]),
        (d, 0, _) => tr.t_with("summary-duration-d", &[("d", n(d))]),
        (d, h, _) => tr.t_with("summary-duration-d-h", &[("d", n(d)), ("h", n(h))]),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::{ChannelId, DeliveryId, Language, PostId, TeamId};
    use crate::services::reports::data::{Cell, Compared, FailedRow, IncidentRow, ItemsRead, Kpis, Period};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("test instant")
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    /// An empty report of the week of 4 January 2027 in Paris.
    fn report() -> ReportData {
        let zone = chrono_tz::Europe::Paris;
        let period = Period::new(day("2027-01-04"), day("2027-01-10"), zone).expect("period");
        ReportData {
            team_id: TeamId::parse("team", "cafe").expect("team id"),
            team_name: "Café".into(),
            language: crate::domain::Language::En,
            brand: Default::default(),
            time_zone: "Europe/Paris".into(),
            previous_period: period.previous(zone),
            period,
            generated_at: utc("2027-01-11T07:00:00Z"),
            measured_until: utc("2027-01-11T07:00:00Z"),
            previous_measured_until: utc("2027-01-04T07:00:00Z"),
            engagement_rate_definition: String::new(),
            overall: Compared { current: Kpis::default(), previous: Kpis::default() },
            channels: vec![],
            posts: vec![],
            top_posts: vec![],
            bottom_posts: vec![],
            daily: vec![],
            best_time: Default::default(),
            inbox: Compared { current: Default::default(), previous: Default::default() },
            incidents: vec![],
            incidents_previous: 0,
            failed_deliveries: vec![],
            items_read: ItemsRead::default(),
            summary: vec![],
        }
    }

    fn busy(posts: u64, engagements: Option<u64>, previous: Option<u64>) -> ReportData {
        let mut d = report();
        d.overall.current = Kpis { posts_published: posts, engagements, ..Kpis::default() };
        d.overall.previous = Kpis { posts_published: previous.map_or(0, |_| 3), engagements: previous, ..Kpis::default() };
        // A post stands for the period's posts (is_empty looks at the list).
        d.posts = vec![];
        d.failed_deliveries = vec![FailedRow {
            delivery_id: DeliveryId::new(),
            post_id: PostId::new(),
            channel: "Café".into(),
            publish_at: utc("2027-01-05T10:00:00Z"),
            attempts: 5,
            reason: None,
        }];
        d
    }

    fn en(facts: &[Fact]) -> Vec<String> {
        sentences(facts, Tr::of(Language::En))
    }

    fn fr(facts: &[Fact]) -> Vec<String> {
        sentences(facts, Tr::of(Language::Fr))
    }

    #[test]
    fn a_change_within_the_band_is_steady_and_a_small_base_gives_a_difference() {
        let c = |cur, prev| Change::of(Some(cur), Some(prev)).expect("a change");
        assert_eq!(c(102, 100).trend, Trend::Steady, "+2 % is within the band");
        assert_eq!(c(98, 100).trend, Trend::Steady);
        assert_eq!(c(103, 100).trend, Trend::Up);
        assert_eq!(c(97, 100).trend, Trend::Down);
        assert_eq!(c(103, 100).fraction, Some(0.03));
        // Below the base a percentage is not given; from 0 anything is up.
        assert_eq!((c(12, 3).trend, c(12, 3).fraction), (Trend::Up, None));
        assert_eq!((c(19, 19).trend, c(5, 0).trend, c(0, 0).trend), (Trend::Steady, Trend::Up, Trend::Steady));
        assert_eq!(c(20, 20).fraction, Some(0.0), "20 is enough for a percentage");
        assert_eq!(Change::of(Some(5), None), None);
        assert_eq!(Change::of(None, Some(5)), None);
    }

    #[test]
    fn an_empty_period_says_one_sentence() {
        let facts = facts(&report());
        assert_eq!(facts, [Fact::Quiet]);
        assert_eq!(en(&facts), ["Nothing happened in this period: no post went out, no message came in, no crisis alert."]);
        assert_eq!(
            fr(&facts),
            ["Rien ne s'est passé pendant cette période\u{a0}: aucune publication, aucun message, aucune alerte de crise."]
        );
    }

    #[test]
    fn engagements_are_compared_in_words_with_the_impressions_beside() {
        let mut d = busy(8, Some(99), Some(100));
        d.overall.current.impressions = Some(1050);
        d.overall.previous.impressions = Some(1000);
        let f = facts(&d);
        assert!(matches!(&f[0], Fact::Engagements { change: Some(c), .. } if c.trend == Trend::Steady), "{f:?}");
        assert_eq!(
            en(&f[..1]),
            ["Engagements held steady compared with the previous period (99, from 8 posts); impressions rose by 5%."]
        );
        assert_eq!(
            fr(&f[..1]),
            ["Les interactions sont restées stables par rapport à la période précédente (99, pour 8 publications)\u{a0}; les impressions ont augmenté de 5\u{a0}%."]
        );
        // Beyond the band, in per cent; without impressions on one side, no clause.
        let mut d = busy(1, Some(1234), Some(2000));
        d.overall.current.impressions = Some(5);
        assert_eq!(en(&facts(&d)[..1]), ["Engagements fell by 38% compared with the previous period (1,234, from one post)."]);
        assert_eq!(
            fr(&facts(&d)[..1]),
            ["Les interactions ont baissé de 38\u{a0}% par rapport à la période précédente (1\u{202f}234, pour une publication)."]
        );
        // A small base: the difference.
        assert_eq!(en(&facts(&busy(2, Some(9), Some(5)))[..1]), ["Engagements rose by 4 compared with the previous period (9, from 2 posts)."]);
    }

    #[test]
    fn without_a_previous_figure_or_a_measure_it_says_so() {
        assert_eq!(
            en(&facts(&busy(3, Some(40), None))[..1]),
            ["3 posts drew 40 engagements; the previous period has none to compare with."]
        );
        let f = facts(&busy(3, None, Some(40)));
        assert_eq!(f[0], Fact::Unmeasured { posts: 3 });
        assert_eq!(en(&f[..1]), ["3 posts went out; none has been measured yet."]);
        assert_eq!(fr(&f[..1]), ["3 publications sont parties\u{a0}; aucune n'a encore été mesurée."]);
        // No post at all: no engagement sentence (the failure still has its own).
        assert_eq!(facts(&busy(0, None, Some(40))), [Fact::Failed { deliveries: 1 }]);
        assert_eq!(en(&[Fact::Failed { deliveries: 1 }]), ["One post failed to go out."]);
        assert_eq!(fr(&[Fact::Failed { deliveries: 1_200 }]), ["1\u{202f}200 publications n'ont pas pu partir."]);
    }

    #[test]
    fn followers_best_slot_incidents_and_inbox_each_have_their_sentence() {
        let mut d = busy(4, Some(50), Some(50));
        d.overall.current.followers_end = Some(1570);
        d.overall.current.follower_growth = Some(70);
        d.best_time.recommended = vec![Cell { weekday: 1, hour: 18, posts: 3, mean_engagements: 15.3 }];
        d.incidents = vec![IncidentRow {
            id: "i".into(),
            channel_id: ChannelId::new(),
            channel: "Café".into(),
            // 21:30 on Thursday 7 January in Paris, answered 45 minutes later.
            opened_at: utc("2027-01-07T20:30:00Z"),
            closed_at: None,
            negatives_in_window: 6,
            expected: 1.5,
            first_answer_at: Some(utc("2027-01-07T21:15:00Z")),
        }];
        d.inbox.current = crate::services::reports::InboxStats {
            total: 6,
            answered: 4,
            median_first_response_seconds: Some(2700),
            open_items: 2,
            ..Default::default()
        };
        let f = facts(&d);
        assert_eq!(f.len(), 6, "{f:?}");
        assert_eq!(
            en(&f),
            [
                "Engagements held steady compared with the previous period (50, from 4 posts).",
                "Followers grew by 70 to 1,570.",
                "Tuesday at 18:00 did best: 15.3 engagements per post on average, over 3 posts (this period and the previous one).",
                "One crisis alert, on 7 Jan: answered in 45 min.",
                "6 messages came in: 4 answered from the inbox (median first response 45 min), 2 still open when the report was made.",
                "One post failed to go out.",
            ]
        );
        assert_eq!(
            fr(&f),
            [
                "Les interactions sont restées stables par rapport à la période précédente (50, pour 4 publications).",
                "Le nombre d'abonnés a augmenté de 70 pour atteindre 1\u{202f}570.",
                "Meilleur créneau\u{a0}: le mardi à 18:00, avec 15,3 interactions par publication en moyenne sur 3 publications (cette période et la précédente).",
                "Une alerte de crise, le 7 janv.\u{a0}: réponse en 45 min.",
                "6 messages reçus\u{a0}: 4 avec une réponse depuis la messagerie (premier délai médian\u{a0}: 45 min), 2 encore ouverts à la création du rapport.",
                "Une publication n'a pas pu partir.",
            ]
        );
        // A fall, a second alert unanswered, an inbox nobody answered with nothing open.
        d.overall.current.follower_growth = Some(-3);
        d.incidents[0].first_answer_at = None;
        d.incidents.push(d.incidents[0].clone());
        d.inbox.current = crate::services::reports::InboxStats { total: 1, ..Default::default() };
        let f = facts(&d);
        assert_eq!(en(&f[1..2]), ["Followers fell by 3 to 1,570."]);
        assert_eq!(en(&f[3..5]), [
            "2 crisis alerts, the first on 7 Jan: no answer from the inbox before the period ended.",
            "One message came in: none answered from the inbox before the period ended.",
        ]);
        assert_eq!(fr(&f[4..5]), ["Un message reçu\u{a0}: aucune réponse depuis la messagerie avant la fin de la période."]);
        d.overall.current.follower_growth = Some(0);
        assert_eq!(en(&facts(&d)[1..2]), ["Followers held at 1,570."]);
        // No recommended slot (small-sample rule): no best-time sentence.
        d.best_time.recommended.clear();
        assert!(!facts(&d).iter().any(|f| matches!(f, Fact::BestSlot { .. })));
    }

    #[test]
    fn durations_read_to_the_minute_then_to_the_hour() {
        let (en, fr) = (Tr::of(Language::En), Tr::of(Language::Fr));
        let said: Vec<String> = [0, 59, 60, 2700, 3600, 7500, 86_400, 131_400].iter().map(|s| duration(*s, en)).collect();
        assert_eq!(said, ["1 min", "1 min", "1 min", "45 min", "1 h", "2 h 5 min", "1 d", "1 d 12 h"]);
        assert_eq!((duration(7500, fr), duration(131_400, fr)), ("2 h 5".to_owned(), "1 j 12 h".to_owned()));
    }

    #[test]
    fn the_html_block_escapes_its_words() {
        let mut d = busy(2, Some(9), Some(5));
        d.summary = facts(&d);
        let h = html(&d, Tr::of(Language::En));
        assert!(h.starts_with("<section class=\"summary\"><h2>Summary</h2><p>Engagements rose by 4"), "{h}");
        assert!(h.contains("(9, from 2 posts). One post failed to go out.</p>"), "{h}");
        assert!(html(&d, Tr::of(Language::Fr)).contains("<h2>En bref</h2>"));
    }
}
