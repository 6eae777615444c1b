//! Times and dates that come from outside (request bodies, query strings, CSV files, webhook
//! payloads, command-line flags), read with bounds.
//!
//! chrono accepts years up to ±262,143 (`+262142-12-31` parses), and arithmetic near those
//! ends panics. Herald reads only years [`MIN_YEAR`]..=[`MAX_YEAR`]: every computation on a
//! value read here stays far from chrono's limits, and every instant written into a key has the
//! same width, so text order is time order ([`super::sortable_instant`]). Posts have a tighter
//! horizon still ([`check_within_horizon`]).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};

use super::ValidationError;

/// The earliest year Herald reads.
pub const MIN_YEAR: i32 = 1970;
/// The latest year Herald reads (four digits).
pub const MAX_YEAR: i32 = 9999;

/// How far ahead a post may be scheduled.
pub const HORIZON_YEARS: i64 = 5;

/// Refuses a year outside [`MIN_YEAR`]..=[`MAX_YEAR`], naming `field`.
pub fn check_year(field: &str, year: i32) -> Result<(), ValidationError> {
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(ValidationError::new(field, format!("the year {year} is out of range; use a year from {MIN_YEAR} to {MAX_YEAR}")))
    }
}

/// An RFC 3339 instant with an offset (`2027-01-04T09:00:00Z`, `2027-01-04T10:00:00+01:00`).
pub fn parse_instant(field: &str, s: &str) -> Result<DateTime<Utc>, ValidationError> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|_| ValidationError::new(field, format!("`{s}` is not an RFC 3339 instant like 2027-01-04T09:00:00Z")))?
        .with_timezone(&Utc);
    check_year(field, t.year())?;
    Ok(t)
}

/// A calendar day, `2027-01-04`.
pub fn parse_date(field: &str, s: &str) -> Result<NaiveDate, ValidationError> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, format!("`{s}` is not a date like 2027-01-04")))?;
    check_year(field, d.year())?;
    Ok(d)
}

/// Refuses a wall-clock date-time outside the years Herald reads.
pub fn check_local(field: &str, t: NaiveDateTime) -> Result<NaiveDateTime, ValidationError> {
    check_year(field, t.year())?;
    Ok(t)
}

/// Refuses an instant more than [`HORIZON_YEARS`] after `now`: nobody plans a post that far
/// ahead, and a typo (`2207` for `2027`) is caught when it is made.
pub fn check_within_horizon(field: &str, t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ValidationError> {
    let horizon = now.checked_add_signed(Duration::days(366 * HORIZON_YEARS)).unwrap_or(DateTime::<Utc>::MAX_UTC);
    if t > horizon {
        return Err(ValidationError::new(
            field,
            format!(
                "{} is more than {HORIZON_YEARS} years ahead (it is now {}); pick an earlier time",
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_outside_the_range_are_refused_by_name() {
        for s in ["+262142-12-31", "+10000-01-04", "1969-12-31", "0001-01-01"] {
            let e = parse_date("from", s).unwrap_err();
            assert_eq!(e.field, "from", "{s}");
        }
        let e = parse_date("from", "+262142-12-31").unwrap_err();
        assert!(e.rule.contains("262142") && e.rule.contains("9999"), "{}", e.rule);
        assert!(parse_date("from", "2027-01-04").is_ok());
        assert!(parse_date("to", "9999-12-31").is_ok());
        assert!(parse_instant("t", "+10000-01-04T09:00:00Z").is_err());
        assert!(parse_instant("t", "1969-12-31T23:59:59Z").is_err());
        assert!(parse_instant("t", "2027-01-04T10:00:00+01:00").is_ok());
    }

    #[test]
    fn the_horizon_is_five_years() {
        let now = parse_instant("t", "2027-01-04T09:00:00Z").unwrap();
        assert!(check_within_horizon("publish_at", now + Duration::days(365 * 5), now).is_ok());
        let e = check_within_horizon("publish_at", now + Duration::days(366 * 5 + 1), now).unwrap_err();
        assert!(e.rule.contains("5 years ahead"), "{}", e.rule);
    }
}
