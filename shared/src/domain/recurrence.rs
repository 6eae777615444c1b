//! Recurring posts: an RFC 5545 `RRULE` expanded in a named IANA zone, so that 09:00 local
//! stays 09:00 local across daylight-saving changes.
//!
//! How a rule is expanded:
//!
//! - The first occurrence is `DTSTART`: a wall-clock time in the rule's zone (the post's
//!   `publish_at`). When `DTSTART` does not itself match the rule (a Sunday with `BYDAY=MO`),
//!   the series starts at the rule's first match after it, as RFC 5545 iterators do.
//! - The rule is expanded on wall-clock times (the `rrule` crate, on a zone without offset
//!   changes), and only then is each wall-clock time placed in the zone. So a weekly Monday 09:00
//!   in Europe/Paris is 08:00Z in winter and 07:00Z in summer.
//! - A wall-clock time that does not exist that day (skipped by a DST change: 02:30 on the
//!   last Sunday of March in Paris) is **skipped**: no post is made for it, and the caller is
//!   told which were skipped. A time that happens twice (repeated when clocks go back) takes
//!   its **earlier** instant. (A one-off post refuses both; a series cannot ask about each.)
//! - Expansion is bounded: the rule must carry `COUNT` or `UNTIL`, and may give at most
//!   [`MAX_OCCURRENCES`] occurrences (skipped ones included). `UNTIL` may be an instant
//!   (`…Z`, the RFC's form when `DTSTART` has a zone), a wall-clock time in the rule's zone, or
//!   a date (that whole day, in the zone).
//! - Herald repeats posts daily at most: `FREQ` is `DAILY`, `WEEKLY`, `MONTHLY` or `YEARLY`
//!   (`BYHOUR`/`BYMINUTE` may still give several times a day).
//!
//! Everything here is pure: no clock, no store.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleError, Unvalidated};

use super::ValidationError;

/// The field every rule error names.
pub const RRULE_FIELD: &str = "recurrence.rrule";

/// A series makes at most this many posts (a year of weekly posts).
pub const MAX_OCCURRENCES: usize = 52;

/// The longest rule text accepted.
pub const MAX_RRULE_LEN: usize = 500;

/// The rule parts Herald passes on to the expander.
const PARTS: [&str; 14] = [
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYYEARDAY",
    "BYWEEKNO",
];

/// A parsed, bounded recurrence rule in a zone. Expand it with [`Recurrence::expand`].
#[derive(Debug, Clone)]
pub struct Recurrence {
    /// The rule as given, normalised (upper case, no `RRULE:` prefix): what the API shows.
    text: String,
    /// The rule without its `UNTIL`, which Herald applies itself (see [`Until`]).
    rule: RRule<Unvalidated>,
    until: Option<Until>,
    time_zone: Tz,
}

/// `UNTIL` in its three RFC 5545 forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// `20270630T070000Z`
    Instant(DateTime<Utc>),
    /// `20270630T090000`: a wall-clock time in the rule's zone.
    Local(NaiveDateTime),
    /// `20270630`: up to the end of that day in the rule's zone.
    Date(NaiveDate),
}

/// One occurrence of a series: its wall-clock time in the zone and the instant it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub local: NaiveDateTime,
    pub at: DateTime<Utc>,
}

/// What a rule gives from a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// In time order.
    pub occurrences: Vec<Occurrence>,
    /// Wall-clock times the rule gave that do not exist in the zone (DST gap): no post.
    pub skipped: Vec<NaiveDateTime>,
}

fn invalid(rule: impl Into<String>) -> ValidationError {
    ValidationError::new(RRULE_FIELD, rule)
}

impl Recurrence {
    /// Reads a rule like `FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10` (an `RRULE:` prefix is allowed).
    /// Refuses, naming `recurrence.rrule` and the rule broken: anything that is not an RRULE,
    /// a rule without `COUNT` or `UNTIL`, `COUNT` above [`MAX_OCCURRENCES`], a frequency
    /// finer than daily, and parts Herald does not support.
    pub fn parse(text: &str, time_zone: Tz) -> Result<Self, ValidationError> {
        let trimmed = text.trim();
        let body = match trimmed.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => trimmed.get(6..).unwrap_or_default(),
            _ => trimmed,
        };
        if body.is_empty() {
            return Err(invalid("is empty; give a rule like FREQ=WEEKLY;BYDAY=MO;COUNT=10"));
        }
        if body.len() > MAX_RRULE_LEN {
            return Err(invalid(format!("is {} characters long; at most {MAX_RRULE_LEN}", body.len())));
        }
        // Only what an RRULE can hold: this also keeps odd bytes away from the parser.
        if let Some(c) = body.chars().find(|c| !(c.is_ascii_alphanumeric() || "=;,+-".contains(*c))) {
            return Err(invalid(format!(
                "contains `{c}`; an RRULE is NAME=VALUE parts separated by `;` (letters, digits, `,`, `+`, `-`)"
            )));
        }
        let body = body.to_ascii_uppercase();

        let mut seen = HashSet::new();
        let mut kept = Vec::new();
        let mut freq = None;
        let mut count = None;
        let mut until = None;
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(invalid(format!("`{part}` is not a NAME=VALUE part")));
            };
            if !PARTS.contains(&name) {
                return Err(invalid(format!("`{name}` is not a rule part Herald supports ({})", PARTS.join(", "))));
            }
            if !seen.insert(name.to_owned()) {
                return Err(invalid(format!("`{name}` appears twice")));
            }
            match name {
                "FREQ" => freq = Some(value.to_owned()),
                "COUNT" => {
                    let n = value.parse::<u32>().ok().filter(|n| (1..=MAX_OCCURRENCES as u32).contains(n));
                    count = Some(n.ok_or_else(|| {
                        invalid(format!(
                            "COUNT={value}: a series makes 1 to {MAX_OCCURRENCES} posts; split a longer one"
                        ))
                    })?);
                }
                "UNTIL" => {
                    until = Some(parse_until(value)?);
                    continue;
                }
                _ => {}
            }
            kept.push(part.to_owned());
        }
        match freq.as_deref() {
            Some("DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY") => {}
            Some(f @ ("HOURLY" | "MINUTELY" | "SECONDLY")) => {
                return Err(invalid(format!(
                    "FREQ={f}: Herald repeats posts at most daily (DAILY, WEEKLY, MONTHLY, YEARLY; \
                     BYHOUR gives several times a day)"
                )));
            }
            Some(f) => return Err(invalid(format!("FREQ={f} is not a frequency (DAILY, WEEKLY, MONTHLY, YEARLY)"))),
            None => return Err(invalid("FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)")),
        }
        match (count, until) {
            (None, None) => {
                return Err(invalid(format!(
                    "needs COUNT or UNTIL: a series is bounded (at most {MAX_OCCURRENCES} posts)"
                )));
            }
            (Some(_), Some(_)) => return Err(invalid("has both COUNT and UNTIL; RFC 5545 allows one of them")),
            _ => {}
        }
        let rule = RRule::<Unvalidated>::from_str(&kept.join(";")).map_err(|e| invalid(rrule_message(&e)))?;
        Ok(Self { text: body, rule, until, time_zone })
    }

    /// The rule as the API shows it back.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// Every occurrence from `start` (the first, a wall-clock time in the zone), each placed in
    /// the zone: gaps skipped, overlaps at their earlier instant. Refuses a rule that gives
    /// more than [`MAX_OCCURRENCES`] or none.
    pub fn expand(&self, start: NaiveDateTime) -> Result<Expansion, ValidationError> {
        // Whole seconds: RRULE has no finer unit.
        let start = start.with_nanosecond(0).unwrap_or(start);
        let floating = |t: NaiveDateTime| rrule::Tz::UTC.from_utc_datetime(&t);
        let mut rule = self.rule.clone();
        if let Some(until) = self.until {
            let last = match until {
                Until::Instant(t) => t.with_timezone(&self.time_zone).naive_local(),
                Until::Local(t) => t,
                Until::Date(d) => d.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default()),
            };
            if last < start {
                return Err(invalid(format!(
                    "UNTIL is {}, before the first occurrence ({} in {})",
                    last.format("%Y-%m-%dT%H:%M:%S"),
                    start.format("%Y-%m-%dT%H:%M:%S"),
                    self.time_zone
                )));
            }
            rule = rule.until(floating(last));
        }
        let set = rule.build(floating(start)).map_err(|e| invalid(rrule_message(&e)))?;
        let result = set.all(MAX_OCCURRENCES as u16 + 1);
        if result.dates.len() > MAX_OCCURRENCES {
            return Err(invalid(format!(
                "gives more than {MAX_OCCURRENCES} occurrences; a series makes at most {MAX_OCCURRENCES} posts: \
                 lower COUNT or bring UNTIL closer"
            )));
        }
        let mut expansion = Expansion { occurrences: Vec::new(), skipped: Vec::new() };
        for date in &result.dates {
            let local = date.naive_utc();
            match self.time_zone.from_local_datetime(&local) {
                LocalResult::Single(t) => expansion.occurrences.push(Occurrence { local, at: t.with_timezone(&Utc) }),
                LocalResult::Ambiguous(a, b) => {
                    expansion.occurrences.push(Occurrence { local, at: a.min(b).with_timezone(&Utc) });
                }
                LocalResult::None => expansion.skipped.push(local),
            }
        }
        if expansion.occurrences.is_empty() {
            let why = if expansion.skipped.is_empty() {
                format!("gives no occurrence from {}", start.format("%Y-%m-%dT%H:%M:%S"))
            } else {
                format!("gives only wall-clock times that do not exist in {} (DST gap)", self.time_zone)
            };
            return Err(invalid(why));
        }
        Ok(expansion)
    }
}

fn parse_until(value: &str) -> Result<Until, ValidationError> {
    let year = |y: i32| super::check_year(RRULE_FIELD, y).map_err(|e| invalid(format!("UNTIL={value}: {}", e.rule)));
    if let Some(utc) = value.strip_suffix('Z')
        && let Ok(t) = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
    {
        year(t.year())?;
        return Ok(Until::Instant(t.and_utc()));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S") {
        year(t.year())?;
        return Ok(Until::Local(t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y%m%d")
        && value.len() == 8
    {
        year(d.year())?;
        return Ok(Until::Date(d));
    }
    Err(invalid(format!(
        "UNTIL={value} is not a date (20270630), a local time (20270630T090000) or an instant (20270630T070000Z)"
    )))
}

/// The expander's own words, without its "RRule parsing error:" prefix.
fn rrule_message(e: &RRuleError) -> String {
    match e {
        RRuleError::ParserError(p) => p.to_string(),
        RRuleError::ValidationError(v) => v.to_string(),
        RRuleError::IterError(m) => m.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Paris;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn instants(rule: &str, tz: Tz, start: &str) -> Vec<DateTime<Utc>> {
        Recurrence::parse(rule, tz).unwrap().expand(local(start)).unwrap().occurrences.iter().map(|o| o.at).collect()
    }

    fn refusal(rule: &str) -> String {
        let e = Recurrence::parse(rule, Paris).unwrap_err();
        assert_eq!(e.field, RRULE_FIELD);
        e.rule
    }

    #[test]
    fn weekly_monday_nine_stays_nine_local_across_the_spring_change() {
        // 2027-03-28 is the last Sunday of March: Paris goes from +01:00 to +02:00.
        let got = instants("FREQ=WEEKLY;BYDAY=MO;COUNT=3", Paris, "2027-03-22T09:00:00");
        assert_eq!(got, vec![utc("2027-03-22T08:00:00Z"), utc("2027-03-29T07:00:00Z"), utc("2027-04-05T07:00:00Z")]);
    }

    #[test]
    fn and_across_the_autumn_change() {
        let got = instants("RRULE:FREQ=DAILY;COUNT=2", Paris, "2027-10-30T09:00:00");
        assert_eq!(got, vec![utc("2027-10-30T07:00:00Z"), utc("2027-10-31T08:00:00Z")]);
    }

    #[test]
    fn several_days_a_week_and_the_start_counts_when_it_matches() {
        let got = instants("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", Paris, "2027-01-04T09:00:00");
        assert_eq!(
            got,
            vec![
                utc("2027-01-04T08:00:00Z"),
                utc("2027-01-06T08:00:00Z"),
                utc("2027-01-11T08:00:00Z"),
                utc("2027-01-13T08:00:00Z")
            ]
        );
        // A Sunday start with BYDAY=MO: the series starts on the Monday after.
        let got = instants("FREQ=WEEKLY;BYDAY=MO;COUNT=1", Paris, "2027-01-03T09:00:00");
        assert_eq!(got, vec![utc("2027-01-04T08:00:00Z")]);
    }

    #[test]
    fn gap_times_are_skipped_and_overlap_times_take_the_earlier_instant() {
        let r = Recurrence::parse("FREQ=DAILY;COUNT=3", Paris).unwrap().expand(local("2027-03-27T02:30:00")).unwrap();
        assert_eq!(r.skipped, vec![local("2027-03-28T02:30:00")]);
        assert_eq!(
            r.occurrences.iter().map(|o| o.at).collect::<Vec<_>>(),
            vec![utc("2027-03-27T01:30:00Z"), utc("2027-03-29T00:30:00Z")]
        );
        // 2027-11-07 01:30 happens twice in New York: -04:00 first.
        let got = instants("FREQ=DAILY;COUNT=2", New_York, "2027-11-06T01:30:00");
        assert_eq!(got, vec![utc("2027-11-06T05:30:00Z"), utc("2027-11-07T05:30:00Z")]);
    }

    #[test]
    fn until_in_its_three_forms_is_inclusive() {
        let start = "2027-01-04T09:00:00";
        // An instant: the RFC form.
        assert_eq!(instants("FREQ=WEEKLY;UNTIL=20270118T080000Z", Paris, start).len(), 3);
        assert_eq!(instants("FREQ=WEEKLY;UNTIL=20270118T075959Z", Paris, start).len(), 2);
        // A wall-clock time in the zone, and a whole day.
        assert_eq!(instants("FREQ=WEEKLY;UNTIL=20270118T090000", Paris, start).len(), 3);
        assert_eq!(instants("FREQ=WEEKLY;UNTIL=20270118", Paris, start).len(), 3);
        let e = Recurrence::parse("FREQ=WEEKLY;UNTIL=20261231", Paris).unwrap().expand(local(start)).unwrap_err();
        assert!(e.rule.contains("before the first occurrence"), "{}", e.rule);
    }

    #[test]
    fn expansion_is_bounded() {
        assert!(refusal("FREQ=WEEKLY;BYDAY=MO").contains("needs COUNT or UNTIL"));
        assert!(refusal("FREQ=WEEKLY;COUNT=53").contains("1 to 52"));
        assert!(refusal("FREQ=WEEKLY;COUNT=0").contains("1 to 52"));
        assert_eq!(instants("FREQ=WEEKLY;COUNT=52", Paris, "2027-01-04T09:00:00").len(), 52);
        let e = Recurrence::parse("FREQ=DAILY;UNTIL=20271231", Paris)
            .unwrap()
            .expand(local("2027-01-04T09:00:00"))
            .unwrap_err();
        assert_eq!(e.field, RRULE_FIELD);
        assert!(e.rule.contains("more than 52"), "{}", e.rule);
        assert_eq!(instants("FREQ=DAILY;UNTIL=20270222", Paris, "2027-01-04T09:00:00").len(), 50);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        assert!(refusal("").contains("empty"));
        assert!(refusal("FREQ=HOURLY;COUNT=3").contains("at most daily"));
        assert!(refusal("FREQ=FORTNIGHTLY;COUNT=3").contains("not a frequency"));
        assert!(refusal("COUNT=3").contains("FREQ is required"));
        assert!(refusal("FREQ=DAILY;COUNT=3;COUNT=4").contains("twice"));
        assert!(refusal("FREQ=DAILY;COUNT=3;UNTIL=20270101").contains("both"));
        assert!(refusal("FREQ=DAILY;COUNT=3;X-NAME=1").contains("not a rule part"));
        assert!(refusal("FREQ=DAILY;COUNT=3\nDTSTART:20270101T000000").contains("contains"));
        assert!(refusal("FREQ=DAILY;BYDAY=éMO;COUNT=2").contains("contains `é`"));
        assert!(refusal("FREQ=WEEKLY;BYDAY=XX;COUNT=2").contains("XX"));
        assert!(refusal("FREQ=DAILY;UNTIL=2027").contains("UNTIL=2027"));
        assert!(refusal(&format!("FREQ=DAILY;COUNT=2;{}", "BYHOUR=9;".repeat(60))).contains("at most 500"));
        let e = Recurrence::parse("FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2;COUNT=2", Paris)
            .unwrap()
            .expand(local("2027-01-04T09:00:00"))
            .unwrap_err();
        assert!(e.rule.contains("no occurrence"), "{}", e.rule);
    }

    #[test]
    fn the_rule_is_shown_back_normalised() {
        let r = Recurrence::parse(" rrule:freq=weekly;byday=mo;count=2 ", Paris).unwrap();
        assert_eq!(r.text(), "FREQ=WEEKLY;BYDAY=MO;COUNT=2");
        assert_eq!(r.time_zone(), Paris);
    }
}
