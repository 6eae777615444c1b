//! When a post goes out: the three forms of `publish_at`, turning a wall-clock time in a named
//! zone into an instant (refusing nonexistent and ambiguous local times instead of shifting
//! them), and finding a channel's next free queue slot.
//!
//! Everything here is pure: `now` is an argument, never read from a clock.

use std::collections::BTreeSet;
use std::ops::Range;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

use super::{QueueSlot, ValidationError, parse_time_zone};

fn optional_time_zone() -> utoipa::openapi::schema::Schema {
    super::time_zone_schema(true)
}

/// The field every scheduling error names.
pub const PUBLISH_AT: &str = "publish_at";

/// How far in the past a requested instant may be and still be accepted (clocks of clients
/// and servers differ by a little, and a request takes a moment to arrive).
pub const PAST_GRACE: Duration = Duration::seconds(5);

/// `publish_at` as a client gives it, not yet resolved against a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishAt {
    /// An RFC 3339 instant with an offset: `"2027-01-04T09:00:00Z"`.
    Instant(DateTime<Utc>),
    /// A wall-clock time in a named zone: `{"local":"2027-03-28T09:30:00","time_zone":"Europe/Paris"}`.
    /// Without `time_zone`, each target channel's own zone.
    Local { local: NaiveDateTime, time_zone: Option<Tz> },
    /// `"next_slot"`: each channel's first free weekly queue slot.
    NextSlot,
    /// `"now"`: as soon as the publisher runs (within the second in `serve`, the minute on AWS).
    Now,
}

const FORMS: &str = "an instant with an offset (\"2027-01-04T09:00:00Z\"), \
{\"local\":\"2027-01-04T10:00:00\",\"time_zone\":\"Europe/Paris\"}, \"next_slot\" or \"now\"";

/// When to publish: an instant with an offset, `"next_slot"`, `"now"`, or a wall-clock time in a zone.
// `publish_at` as it arrives in a request body, before any rule is checked: the one type that
// both reads the JSON and documents it in the OpenAPI document; `PublishAt::parse` checks it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(
    untagged,
    expecting = "must be an instant with an offset (\"2027-01-04T09:00:00Z\"), \
                 {\"local\":\"2027-01-04T10:00:00\",\"time_zone\":\"Europe/Paris\"}, \"next_slot\" or \"now\""
)]
pub enum PublishAtInput {
    /// An RFC 3339 instant with an offset (`"2027-01-04T09:00:00Z"`), `"next_slot"` (each
    /// channel's first free weekly queue slot) or `"now"`.
    Text(String),
    /// A wall-clock time; DST gaps and overlaps are refused (422).
    Local(LocalTimeInput),
}

/// Documented by hand: a string (an instant of the years Herald reads, `next_slot` or `now`) or a
/// [`LocalTimeInput`] object; `schema()` states the same two forms `Deserialize` reads.
impl utoipa::PartialSchema for PublishAtInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let text = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(
                r"^(now|next_slot|(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))$",
            ))
            .description(Some("An RFC 3339 instant with an offset (`2027-01-04T09:00:00Z`), `next_slot` (each channel's first free queue slot) or `now`"));
        OneOfBuilder::new()
            .item(text)
            .item(utoipa::openapi::Ref::from_schema_name("LocalTimeInput"))
            .description(Some("When to publish: an instant, `next_slot`, `now`, or a wall-clock time in a zone"))
            .into()
    }
}

impl utoipa::ToSchema for PublishAtInput {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        use utoipa::PartialSchema;
        schemas.push((<LocalTimeInput as utoipa::ToSchema>::name().into_owned(), LocalTimeInput::schema()));
        <LocalTimeInput as utoipa::ToSchema>::schemas(schemas);
    }
}

/// A wall-clock time in a zone: `{"local":"2027-01-04T10:00:00","time_zone":"Europe/Paris"}`.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct LocalTimeInput {
    /// `2027-01-04T10:00:00` (seconds optional), no offset.
    #[schema(pattern = "^\\s*(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?\\s*$")]
    pub local: String,
    /// An IANA zone like `Europe/Paris`; without it, each target channel's own zone.
    #[schema(schema_with = optional_time_zone)]
    pub time_zone: Option<String>,
}

/// Read from a JSON object only, with no other keys (a derived `Deserialize` would also take
/// the array `["2027-01-04T10:00:00"]`).
impl<'de> serde::Deserialize<'de> for LocalTimeInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};

        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = LocalTimeInput;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"an object {"local", "time_zone"}"#)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LocalTimeInput, A::Error> {
                let (mut local, mut time_zone) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "local" => local = Some(map.next_value::<String>()?),
                        "time_zone" => time_zone = map.next_value::<Option<String>>()?,
                        other => return Err(A::Error::unknown_field(other, &["local", "time_zone"])),
                    }
                }
                Ok(LocalTimeInput { local: local.ok_or_else(|| A::Error::missing_field("local"))?, time_zone })
            }
        }
        d.deserialize_map(Fields)
    }
}

impl PublishAt {
    /// Checks what a client sent; every error names `publish_at` and says which forms exist.
    pub fn parse(input: &PublishAtInput) -> Result<Self, ValidationError> {
        match input {
            PublishAtInput::Text(s) if s == "next_slot" => Ok(PublishAt::NextSlot),
            PublishAtInput::Text(s) if s == "now" => Ok(PublishAt::Now),
            PublishAtInput::Text(s) => Self::parse_instant(s),
            PublishAtInput::Local(LocalTimeInput { local, time_zone }) => {
                let local = parse_local(local)?;
                let time_zone = time_zone
                    .as_deref()
                    .map(|z| {
                        parse_time_zone(PUBLISH_AT, z)
                            .map_err(|e| ValidationError::new(PUBLISH_AT, format!("time_zone {}", e.rule)))
                    })
                    .transpose()?;
                Ok(PublishAt::Local { local, time_zone })
            }
        }
    }

    fn parse_instant(s: &str) -> Result<Self, ValidationError> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            let t = t.with_timezone(&Utc);
            super::check_year(PUBLISH_AT, t.year())?;
            return Ok(PublishAt::Instant(t));
        }
        let rule = if parse_local(s).is_ok() {
            format!(
                "`{s}` has no UTC offset, so it is not an instant; add one (\"{s}Z\", \"{s}+01:00\") or give \
                 {{\"local\":\"{s}\",\"time_zone\":\"Europe/Paris\"}}"
            )
        } else {
            format!("`{s}` is not a time Herald understands; give {FORMS}")
        };
        Err(ValidationError::new(PUBLISH_AT, rule))
    }
}

/// A wall-clock date-time without offset: `2027-03-28T09:30:00`, `2027-03-28T09:30`, with an
/// optional fraction of a second (or a space instead of the `T`).
pub fn parse_local(s: &str) -> Result<NaiveDateTime, ValidationError> {
    let t = s.trim();
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return super::check_local(PUBLISH_AT, dt);
        }
    }
    if let Some(rule) = impossible_date_time(t) {
        return Err(ValidationError::new(PUBLISH_AT, rule));
    }
    Err(ValidationError::new(
        PUBLISH_AT,
        format!("local time `{s}` must look like 2027-01-04T10:00:00 (a wall-clock time, no offset)"),
    ))
}

/// When `t` has the shape of a wall-clock time (`YYYY-MM-DD` then `T` or a space, `HH:MM`,
/// optional `:SS` and fraction) but names a day or a time that does not exist: what is wrong
/// with it (`2026-12-32 is not a day of the calendar: December 2026 has 31 days`). `None` when
/// the shape itself is wrong, so that the caller shows the format instead.
fn impossible_date_time(t: &str) -> Option<String> {
    let b = t.as_bytes();
    let digits = |r: Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let shaped = at(4, b'-') && at(7, b'-') && (at(10, b'T') || at(10, b' ')) && at(13, b':');
    let (year, month, day, hour, minute) = (digits(0..4)?, digits(5..7)?, digits(8..10)?, digits(11..13)?, digits(14..16)?);
    let seconds_ok = match b.get(16..) {
        Some([]) => true,
        Some([b':', s1, s2, rest @ ..]) => {
            s1.is_ascii_digit()
                && s2.is_ascii_digit()
                && match rest {
                    [] => true,
                    [b'.', frac @ ..] => !frac.is_empty() && frac.iter().all(u8::is_ascii_digit),
                    _ => false,
                }
        }
        _ => false,
    };
    if !shaped || !seconds_ok {
        return None;
    }
    let date = t.get(..10)?;
    let year = i32::try_from(year).ok()?;
    if !(1..=12).contains(&month) {
        return Some(format!("{date} is not a day of the calendar: there is no month {month:02}"));
    }
    if NaiveDate::from_ymd_opt(year, month, day).is_none() {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 { NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1)? } else { NaiveDate::from_ymd_opt(year, month + 1, 1)? };
        let days = next.signed_duration_since(first).num_days();
        return Some(format!(
            "{date} is not a day of the calendar: {} {year} has {days} days",
            first.format("%B")
        ));
    }
    let seconds = if b.len() >= 19 { digits(17..19)? } else { 0 };
    if hour > 23 || minute > 59 || seconds > 59 {
        let time = t.get(11..).unwrap_or_default();
        return Some(format!("{time} on {date} is not a time of day: hours go from 00 to 23, minutes and seconds from 00 to 59"));
    }
    None
}

/// The instant of a wall-clock time in `tz`. A time that does not exist there (skipped by a
/// DST change) or happens twice (repeated by one) is refused with a message that says what
/// happens on that day and what to do: never a silent shift.
pub fn resolve_local(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, ValidationError> {
    let shown = local.format("%Y-%m-%dT%H:%M:%S");
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.fixed_offset(), b.fixed_offset());
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            let change = transition_near(tz, local)
                .map(|(_, before, after)| format!(" (clocks go back from {} to {})", hm(before), hm(after)))
                .unwrap_or_default();
            Err(ValidationError::new(
                PUBLISH_AT,
                format!(
                    "{shown} happens twice in {tz}{change}: at {} and at {}; give an instant with an offset instead",
                    a.format("%Y-%m-%dT%H:%M:%S%:z"),
                    b.format("%Y-%m-%dT%H:%M:%S%:z"),
                ),
            ))
        }
        LocalResult::None => {
            let change = transition_near(tz, local)
                .map(|(_, before, after)| format!(" (clocks jump from {} to {})", hm(before), hm(after)))
                .unwrap_or_default();
            Err(ValidationError::new(PUBLISH_AT, format!("{shown} does not exist in {tz}{change}; pick another time")))
        }
    }
}

fn hm(t: NaiveDateTime) -> String {
    t.format("%H:%M").to_string()
}

/// The UTC-offset change of `tz` closest to `local`, within two days either side: the instant
/// it happens and the local clock just before and just after it (`02:00` → `03:00`).
fn transition_near(tz: Tz, local: NaiveDateTime) -> Option<(DateTime<Utc>, NaiveDateTime, NaiveDateTime)> {
    let offset = |secs: i64| -> Option<FixedOffset> {
        let t = DateTime::<Utc>::from_timestamp(secs, 0)?;
        Some(tz.offset_from_utc_datetime(&t.naive_utc()).fix())
    };
    let mut lo = (local - Duration::days(2)).and_utc().timestamp();
    let mut hi = (local + Duration::days(2)).and_utc().timestamp();
    let (before, after) = (offset(lo)?, offset(hi)?);
    if before == after {
        return None;
    }
    // Invariant: offset(lo) == before, offset(hi) != before.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset(mid)? == before { lo = mid } else { hi = mid }
    }
    let at = DateTime::<Utc>::from_timestamp(hi, 0)?;
    let naive = at.naive_utc();
    Some((at, naive + before, naive + after))
}

/// Refuses an instant more than [`PAST_GRACE`] before `now`.
pub fn check_not_past(t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ValidationError> {
    if t < now - PAST_GRACE {
        return Err(ValidationError::new(
            PUBLISH_AT,
            format!(
                "{} is in the past (it is now {}); pick a later time",
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ));
    }
    Ok(())
}

/// The first queue slot instant `t` with `t > now`, inside `window`, and not in `taken`.
///
/// Slots are wall-clock times in `tz`. A slot whose local time falls in a DST gap that day is
/// skipped; one that happens twice is taken at its earlier instant. `taken` holds instants
/// truncated to the second. Returns `None` when the window has no free slot; callers move the
/// window along (the store is read one window at a time).
pub fn next_free_slot(
    slots: &[QueueSlot],
    tz: Tz,
    now: DateTime<Utc>,
    window: Range<DateTime<Utc>>,
    taken: &BTreeSet<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if slots.is_empty() || window.start >= window.end {
        return None;
    }
    let after = now.max(window.start - Duration::nanoseconds(1));
    // One day of margin either side: the local date of a UTC instant can differ from its UTC date.
    let mut date: NaiveDate = after.with_timezone(&tz).date_naive().pred_opt()?;
    let last: NaiveDate = window.end.with_timezone(&tz).date_naive().succ_opt()?;
    while date <= last {
        let mut day: Vec<DateTime<Utc>> = slots
            .iter()
            .filter(|s| s.weekday == date.weekday())
            .filter_map(|s| match tz.from_local_datetime(&date.and_time(s.time)) {
                LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
                LocalResult::None => None,
            })
            .collect();
        day.sort();
        if let Some(t) = day.into_iter().find(|t| *t > after && window.contains(t) && !taken.contains(t)) {
            return Some(t);
        }
        date = date.succ_opt()?;
    }
    None
}

/// Reads a weekday the way people write it: `mon`, `Monday`, `MON`.
pub fn parse_weekday(field: &str, s: &str) -> Result<Weekday, ValidationError> {
    let day = match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => {
            return Err(ValidationError::new(
                field,
                format!("`{s}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
            ));
        }
    };
    Ok(day)
}

/// The short lowercase name of a weekday, as the API shows it.
pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// Reads a slot's wall-clock time: `09:00` or `09:00:00`.
pub fn parse_slot_time(field: &str, s: &str) -> Result<NaiveTime, ValidationError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S"))
        .map_err(|_| ValidationError::new(field, format!("`{s}` is not a time of day like 09:00 or 12:30")))
}

/// A slot's time as the API shows it: `09:00`, or `09:00:30` when it has seconds.
pub fn slot_time_text(t: NaiveTime) -> String {
    use chrono::Timelike;
    if t.second() == 0 { t.format("%H:%M").to_string() } else { t.format("%H:%M:%S").to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Paris;
    use serde_json::json;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(s: &str) -> NaiveDateTime {
        parse_local(s).unwrap()
    }

    /// Reads `publish_at` as a request body does, then checks it; errors as text.
    fn from_json(v: &serde_json::Value) -> Result<PublishAt, String> {
        let input: PublishAtInput = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        PublishAt::parse(&input).map_err(|e| e.to_string())
    }

    fn slot(weekday: Weekday, hm: &str) -> QueueSlot {
        QueueSlot { weekday, time: parse_slot_time("t", hm).unwrap() }
    }

    fn year(now: DateTime<Utc>) -> Range<DateTime<Utc>> {
        now..now + Duration::days(365)
    }

    #[test]
    fn the_three_forms_parse() {
        assert_eq!(
            from_json(&json!("2027-01-04T09:00:00Z")).unwrap(),
            PublishAt::Instant(utc("2027-01-04T09:00:00Z"))
        );
        assert_eq!(
            from_json(&json!("2027-01-04T10:00:00+01:00")).unwrap(),
            PublishAt::Instant(utc("2027-01-04T09:00:00Z"))
        );
        assert_eq!(from_json(&json!("next_slot")).unwrap(), PublishAt::NextSlot);
        assert_eq!(from_json(&json!("now")).unwrap(), PublishAt::Now);
        assert!(from_json(&json!("NOW ")).is_err(), "only the exact word");
        assert_eq!(
            from_json(&json!({"local": "2027-03-28T09:30:00", "time_zone": "Europe/Paris"})).unwrap(),
            PublishAt::Local { local: local("2027-03-28T09:30:00"), time_zone: Some(Paris) }
        );
        assert_eq!(
            from_json(&json!({"local": "2027-03-28T09:30"})).unwrap(),
            PublishAt::Local { local: local("2027-03-28T09:30:00"), time_zone: None }
        );
    }

    #[test]
    fn bad_forms_say_what_is_accepted() {
        // Wrong shapes are refused while reading the body, with the forms that exist.
        for bad in [json!(5), json!(null), json!(["x"]), json!({"local": "2027-01-04T09:00:00", "zone": "Europe/Paris"}),
                    json!({"time_zone": "Europe/Paris"}), json!({"local": 5})] {
            let e = from_json(&bad).unwrap_err();
            assert!(e.contains("next_slot") && e.contains("\"local\"") && e.contains("\"time_zone\""), "{bad}: {e}");
        }
        // Right shapes with wrong contents name `publish_at` and say what is wrong.
        for bad in [json!("tomorrow"), json!("2027-13-01T00:00:00Z")] {
            let e = from_json(&bad).unwrap_err();
            assert!(e.starts_with("publish_at: ") && e.contains("next_slot"), "{bad}: {e}");
        }
        let e = from_json(&json!("2027-01-04T09:00:00")).unwrap_err();
        assert!(e.contains("no UTC offset"), "{e}");
        let e = from_json(&json!({"local": "2027-01-04T09:00:00", "time_zone": "Mars/Olympus"})).unwrap_err();
        assert!(e.starts_with("publish_at: ") && e.contains("Mars/Olympus") && e.contains("IANA"), "{e}");
        let e = from_json(&json!({"local": "2027-01-04T09:00:00+01:00"})).unwrap_err();
        assert!(e.contains("no offset"), "{e}");
    }

    #[test]
    fn a_well_shaped_time_that_does_not_exist_says_so() {
        for (s, says) in [
            ("2026-12-32T10:00", "2026-12-32 is not a day of the calendar: December 2026 has 31 days"),
            ("2027-02-29T10:00:00", "2027-02-29 is not a day of the calendar: February 2027 has 28 days"),
            ("2027-13-01 10:00", "2027-13-01 is not a day of the calendar: there is no month 13"),
            ("2027-00-10T10:00", "there is no month 00"),
            ("2027-01-04T25:00", "25:00 on 2027-01-04 is not a time of day"),
            ("2027-01-04T10:61:00.5", "10:61:00.5 on 2027-01-04 is not a time of day"),
        ] {
            let e = parse_local(s).unwrap_err();
            assert_eq!(e.field, "publish_at");
            assert!(e.rule.contains(says), "{s}: {}", e.rule);
            assert!(!e.rule.contains("must look like"), "{s}: {}", e.rule);
        }
        assert!(parse_local("2028-02-29T10:00").is_ok(), "a leap day");
        // Wrong shapes keep the format hint.
        for s in ["2026-12-3xT10:00", "tomorrow", "2027-01-04T10:00Z", "2027-01-04T10", "2027-01-04T10:00:00.", "2027-01-04"] {
            let e = parse_local(s).unwrap_err();
            assert!(e.rule.contains("must look like 2027-01-04T10:00:00"), "{s}: {}", e.rule);
        }
    }

    #[test]
    fn ordinary_local_times_resolve_with_the_zone_offset() {
        assert_eq!(resolve_local(local("2027-01-04T10:00:00"), Paris).unwrap(), utc("2027-01-04T09:00:00Z"));
        assert_eq!(resolve_local(local("2027-07-04T10:00:00"), Paris).unwrap(), utc("2027-07-04T08:00:00Z"));
        // Right around the changes: the last minute before and the first after.
        assert_eq!(resolve_local(local("2027-03-28T01:59:59"), Paris).unwrap(), utc("2027-03-28T00:59:59Z"));
        assert_eq!(resolve_local(local("2027-03-28T03:00:00"), Paris).unwrap(), utc("2027-03-28T01:00:00Z"));
        assert_eq!(resolve_local(local("2027-10-31T03:00:00"), Paris).unwrap(), utc("2027-10-31T02:00:00Z"));
        assert_eq!(resolve_local(local("2027-03-14T03:00:00"), New_York).unwrap(), utc("2027-03-14T07:00:00Z"));
    }

    #[test]
    fn a_local_time_in_the_spring_gap_is_refused_not_shifted() {
        let e = resolve_local(local("2027-03-28T02:30:00"), Paris).unwrap_err();
        assert_eq!(e.field, "publish_at");
        assert_eq!(
            e.rule,
            "2027-03-28T02:30:00 does not exist in Europe/Paris (clocks jump from 02:00 to 03:00); pick another time"
        );
        assert!(resolve_local(local("2027-03-28T02:00:00"), Paris).is_err());
        // New York springs forward on the second Sunday of March, 02:00 → 03:00.
        let e = resolve_local(local("2027-03-14T02:15:00"), New_York).unwrap_err();
        assert_eq!(
            e.rule,
            "2027-03-14T02:15:00 does not exist in America/New_York (clocks jump from 02:00 to 03:00); pick another time"
        );
    }

    #[test]
    fn a_local_time_in_the_autumn_overlap_is_refused_with_both_instants() {
        let e = resolve_local(local("2027-10-31T02:30:00"), Paris).unwrap_err();
        assert_eq!(e.field, "publish_at");
        assert_eq!(
            e.rule,
            "2027-10-31T02:30:00 happens twice in Europe/Paris (clocks go back from 03:00 to 02:00): \
             at 2027-10-31T02:30:00+02:00 and at 2027-10-31T02:30:00+01:00; give an instant with an offset instead"
        );
        // New York falls back on the first Sunday of November, 02:00 → 01:00.
        let e = resolve_local(local("2027-11-07T01:30:00"), New_York).unwrap_err();
        assert!(
            e.rule.contains("happens twice in America/New_York (clocks go back from 02:00 to 01:00)"),
            "{}",
            e.rule
        );
        assert!(e.rule.contains("2027-11-07T01:30:00-04:00") && e.rule.contains("2027-11-07T01:30:00-05:00"));
    }

    #[test]
    fn past_instants_are_refused_beyond_a_small_grace() {
        let now = utc("2027-01-04T09:00:00Z");
        assert!(check_not_past(now, now).is_ok());
        assert!(check_not_past(now - Duration::seconds(5), now).is_ok());
        let e = check_not_past(now - Duration::seconds(6), now).unwrap_err();
        assert_eq!(e.field, "publish_at");
        assert!(e.rule.contains("in the past") && e.rule.contains("2027-01-04T08:59:54Z"), "{}", e.rule);
    }

    #[test]
    fn next_slot_is_the_first_free_slot_strictly_after_now() {
        let slots = [slot(Weekday::Mon, "09:00"), slot(Weekday::Mon, "12:30"), slot(Weekday::Wed, "09:00")];
        // Monday 2027-01-04 08:00 Paris (07:00Z).
        let now = utc("2027-01-04T07:00:00Z");
        let none = BTreeSet::new();
        assert_eq!(next_free_slot(&slots, Paris, now, year(now), &none), Some(utc("2027-01-04T08:00:00Z")));
        // Exactly at a slot: that one is not "after now".
        let at_nine = utc("2027-01-04T08:00:00Z");
        assert_eq!(next_free_slot(&slots, Paris, at_nine, year(at_nine), &none), Some(utc("2027-01-04T11:30:00Z")));
        // Taken slots are skipped, across days.
        let taken: BTreeSet<_> = [utc("2027-01-04T08:00:00Z"), utc("2027-01-04T11:30:00Z")].into();
        assert_eq!(next_free_slot(&slots, Paris, now, year(now), &taken), Some(utc("2027-01-06T08:00:00Z")));
        // Late on Wednesday: next Monday.
        let wed = utc("2027-01-06T20:00:00Z");
        assert_eq!(next_free_slot(&slots, Paris, wed, year(wed), &none), Some(utc("2027-01-11T08:00:00Z")));
        assert_eq!(next_free_slot(&[], Paris, now, year(now), &none), None);
    }

    #[test]
    fn next_slot_respects_its_window() {
        let slots = [slot(Weekday::Mon, "09:00")];
        let now = utc("2027-01-04T07:00:00Z");
        let none = BTreeSet::new();
        // A window that ends before the first slot finds nothing; the next window finds it.
        assert_eq!(next_free_slot(&slots, Paris, now, now..utc("2027-01-04T08:00:00Z"), &none), None);
        let w2 = utc("2027-01-04T08:00:00Z")..utc("2027-02-01T00:00:00Z");
        assert_eq!(next_free_slot(&slots, Paris, now, w2, &none), Some(utc("2027-01-04T08:00:00Z")));
        // A later window never returns a slot before its start, even when that slot is after now.
        let w3 = utc("2027-01-05T00:00:00Z")..utc("2027-02-01T00:00:00Z");
        assert_eq!(next_free_slot(&slots, Paris, now, w3, &none), Some(utc("2027-01-11T08:00:00Z")));
    }

    #[test]
    fn next_slot_skips_a_slot_in_the_spring_gap() {
        // Sunday 2027-03-28 02:30 does not exist in Paris: the next Sunday's slot is used.
        let slots = [slot(Weekday::Sun, "02:30")];
        let now = utc("2027-03-27T12:00:00Z");
        let got = next_free_slot(&slots, Paris, now, year(now), &BTreeSet::new());
        assert_eq!(got, Some(utc("2027-04-04T00:30:00Z")));
        // New York, Sunday 2027-03-14 02:30 does not exist either.
        let now = utc("2027-03-13T12:00:00Z");
        let got = next_free_slot(&slots, New_York, now, year(now), &BTreeSet::new());
        assert_eq!(got, Some(utc("2027-03-21T06:30:00Z")));
    }

    #[test]
    fn next_slot_takes_the_earlier_instant_in_the_autumn_overlap() {
        let slots = [slot(Weekday::Sun, "02:30")];
        let now = utc("2027-10-30T12:00:00Z");
        let got = next_free_slot(&slots, Paris, now, year(now), &BTreeSet::new());
        assert_eq!(got, Some(utc("2027-10-31T00:30:00Z")), "02:30+02:00, the first of the two");
        // That instant taken: the repeat of 02:30 is not a second slot, next week's is.
        let taken: BTreeSet<_> = [utc("2027-10-31T00:30:00Z")].into();
        assert_eq!(next_free_slot(&slots, Paris, now, year(now), &taken), Some(utc("2027-11-07T01:30:00Z")));
        let now = utc("2027-11-06T12:00:00Z");
        let ny = [slot(Weekday::Sun, "01:30")];
        assert_eq!(next_free_slot(&ny, New_York, now, year(now), &BTreeSet::new()), Some(utc("2027-11-07T05:30:00Z")));
    }

    #[test]
    fn slot_times_are_local_across_the_change() {
        // Mon 09:00 Paris is 08:00Z in winter and 07:00Z in summer.
        let slots = [slot(Weekday::Mon, "09:00")];
        let now = utc("2027-03-27T00:00:00Z");
        assert_eq!(next_free_slot(&slots, Paris, now, year(now), &BTreeSet::new()), Some(utc("2027-03-29T07:00:00Z")));
    }

    #[test]
    fn weekdays_and_slot_times_parse_and_show() {
        assert_eq!(parse_weekday("w", "mon").unwrap(), Weekday::Mon);
        assert_eq!(parse_weekday("w", "Sunday").unwrap(), Weekday::Sun);
        assert!(parse_weekday("w", "funday").is_err());
        assert_eq!(weekday_name(Weekday::Thu), "thu");
        let t = parse_slot_time("t", "09:00").unwrap();
        assert_eq!(slot_time_text(t), "09:00");
        assert_eq!(slot_time_text(parse_slot_time("t", "12:30:15").unwrap()), "12:30:15");
        assert!(parse_slot_time("t", "25:00").is_err());
        assert!(parse_slot_time("t", "9h").is_err());
    }
}
