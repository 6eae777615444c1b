//! Generated reports: the record of one; the files live in S3 or the data directory.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::{ReportId, TeamId, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
    Pdf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: ReportId,
    pub team_id: TeamId,
    /// First and last day covered, inclusive, in the team's zone.
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub created_at: DateTime<Utc>,
    /// Where each rendering is stored (an S3 key or a path under the data directory).
    pub files: BTreeMap<ReportFormat, String>,
}

/// When a team's reports are made, in the team's time zone. A `None` schedule is switched off.
/// Teams start with both: the previous week every Monday at 08:00 and the previous month on
/// the 1st at 08:00.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSchedule {
    pub weekly: Option<WeeklyReport>,
    pub monthly: Option<MonthlyReport>,
    /// Who gets the scheduled reports by e-mail (checked addresses, [`parse_recipients`]);
    /// schedules stored before there were recipients read as none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
}

impl Default for ReportSchedule {
    fn default() -> Self {
        Self {
            weekly: Some(WeeklyReport { day: Weekday::Mon, hour: 8 }),
            monthly: Some(MonthlyReport { day: 1, hour: 8 }),
            recipients: Vec::new(),
        }
    }
}

/// The seven days before `day` (the last one being the day before), made on `day` from `hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyReport {
    pub day: Weekday,
    pub hour: u8,
}

/// The previous calendar month, made on the `day`th of the month from `hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyReport {
    pub day: u8,
    pub hour: u8,
}

/// The latest day of the month a monthly report may be made on (every month has it).
pub const MONTHLY_REPORT_LAST_DAY: u8 = 28;

impl WeeklyReport {
    /// `field` names the object in errors (`weekly`).
    pub fn new(field: &str, day: Weekday, hour: u8) -> Result<Self, ValidationError> {
        check_hour(field, hour)?;
        Ok(Self { day, hour })
    }
}

impl MonthlyReport {
    pub fn new(field: &str, day: u8, hour: u8) -> Result<Self, ValidationError> {
        if !(1..=MONTHLY_REPORT_LAST_DAY).contains(&day) {
            return Err(ValidationError::new(
                format!("{field}.day"),
                format!("must be a day of the month from 1 to {MONTHLY_REPORT_LAST_DAY}"),
            ));
        }
        check_hour(field, hour)?;
        Ok(Self { day, hour })
    }
}

fn check_hour(field: &str, hour: u8) -> Result<(), ValidationError> {
    if hour > 23 {
        return Err(ValidationError::new(format!("{field}.hour"), "must be an hour from 0 to 23"));
    }
    Ok(())
}

/// The most addresses a team's reports are mailed to: a team's own people and a client or two,
/// not a mailing list (SES counts every recipient against the account's sending quota).
pub const MAX_REPORT_RECIPIENTS: usize = 20;

/// The addresses scheduled reports are mailed to, each checked as an e-mail address (what the
/// SMTP server and SES will accept in `To`), blanks trimmed, duplicates (ignoring case) dropped.
/// `field` names the list in errors: `recipients[2]`.
pub fn parse_recipients(field: &str, given: &[String]) -> Result<Vec<String>, ValidationError> {
    if given.len() > MAX_REPORT_RECIPIENTS {
        return Err(ValidationError::new(
            field,
            format!("has {} addresses; at most {MAX_REPORT_RECIPIENTS}", given.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for (i, raw) in given.iter().enumerate() {
        let address = raw.trim();
        // RFC 5321 limits a path to 256 octets: 254 characters of address.
        if address.len() > 254 || address.parse::<lettre::Address>().is_err() {
            return Err(ValidationError::new(format!("{field}[{i}]"), format!("`{address}` is not an e-mail address")));
        }
        if !out.iter().any(|a| a.eq_ignore_ascii_case(address)) {
            out.push(address.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn recipients_are_checked_one_by_one_and_named_by_index() {
        let ok = parse_recipients("recipients", &list(&[" boss@cafe.example ", "Boss@Cafe.example", "a.b+c@client.example"]));
        assert_eq!(ok.expect("valid"), list(&["boss@cafe.example", "a.b+c@client.example"]), "trimmed, duplicate dropped");
        for (bad, index) in [(vec!["ok@x.example", "not an address"], 1), (vec!["@x.example"], 0), (vec!["a@"], 0), (vec![""], 0)] {
            let e = parse_recipients("recipients", &list(&bad)).expect_err("refused");
            assert_eq!(e.field, format!("recipients[{index}]"), "{bad:?}: {e}");
        }
        let many: Vec<String> = (0..=MAX_REPORT_RECIPIENTS).map(|i| format!("p{i}@x.example")).collect();
        assert_eq!(parse_recipients("recipients", &many).expect_err("too many").field, "recipients");
        assert_eq!(parse_recipients("recipients", &many[1..]).map(|v| v.len()), Ok(MAX_REPORT_RECIPIENTS));
    }

    #[test]
    fn a_schedule_stored_before_recipients_reads_with_none() {
        let old: ReportSchedule = serde_json::from_str(r#"{"weekly":{"day":"Mon","hour":8},"monthly":null}"#).expect("old schedule");
        assert!(old.recipients.is_empty());
        let json = serde_json::to_string(&ReportSchedule { recipients: list(&["a@x.example"]), ..old }).expect("json");
        assert!(json.contains(r#""recipients":["a@x.example"]"#), "{json}");
    }
}
