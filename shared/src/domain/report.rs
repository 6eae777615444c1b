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
}

impl Default for ReportSchedule {
    fn default() -> Self {
        Self {
            weekly: Some(WeeklyReport { day: Weekday::Mon, hour: 8 }),
            monthly: Some(MonthlyReport { day: 1, hour: 8 }),
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
