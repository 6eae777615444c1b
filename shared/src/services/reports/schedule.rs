//! When scheduled reports are due: a team's [`ReportSchedule`] read in the team's time zone.
//!
//! A weekly report made on day D covers the seven days D−7 … D−1; a monthly one made in month M
//! covers the whole of month M−1. A run is due from its hour on its day until 24 hours later, so
//! an hourly generator that fails (or is not invoked) at the hour tries again at each later
//! hour; the report's id is derived from the team, the cadence and the period, so however often
//! a due run is seen, it makes one report.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::data::local_start;
use crate::domain::{ReportId, ReportSchedule, TeamId};

/// How long after its hour a scheduled run may still be made.
pub const DUE_FOR: Duration = Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Weekly,
    Monthly,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
        }
    }
}

/// One scheduled report: what it covers and when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub cadence: Cadence,
    /// First day covered, in the team's zone.
    pub from: NaiveDate,
    /// Last day covered, inclusive.
    pub to: NaiveDate,
    /// When it is made.
    pub at: DateTime<Utc>,
}

impl Run {
    /// The same for every run of one team, cadence and period.
    pub fn report_id(&self, team: &TeamId) -> ReportId {
        ReportId::derived(&format!("{team}/{}/{}", self.cadence.as_str(), self.from))
    }
}

/// The run of `cadence` that happens on `day`, if the schedule has one that day.
fn run_on(schedule: &ReportSchedule, cadence: Cadence, day: NaiveDate, zone: Tz) -> Option<Run> {
    match cadence {
        Cadence::Weekly => {
            let w = schedule.weekly.filter(|w| w.day == day.weekday())?;
            Some(Run {
                cadence,
                from: day - Duration::days(7),
                to: day - Duration::days(1),
                at: local_start(day, u32::from(w.hour), zone),
            })
        }
        Cadence::Monthly => {
            let m = schedule.monthly.filter(|m| u32::from(m.day) == day.day())?;
            let this_month = day.with_day(1)?;
            Some(Run {
                cadence,
                from: this_month.checked_sub_months(Months::new(1))?,
                to: this_month.pred_opt()?,
                at: local_start(day, u32::from(m.hour), zone),
            })
        }
    }
}

const CADENCES: [Cadence; 2] = [Cadence::Weekly, Cadence::Monthly];

/// The runs due at `now`: their hour has come, less than [`DUE_FOR`] ago.
pub fn due(schedule: &ReportSchedule, zone: Tz, now: DateTime<Utc>) -> Vec<Run> {
    let today = now.with_timezone(&zone).date_naive();
    let mut runs = Vec::new();
    for cadence in CADENCES {
        for day in [today - Duration::days(1), today] {
            if let Some(run) = run_on(schedule, cadence, day, zone).filter(|r| r.at <= now && now < r.at + DUE_FOR) {
                runs.push(run);
            }
        }
    }
    runs
}

/// The next run of each cadence the schedule has, after `now`.
pub fn upcoming(schedule: &ReportSchedule, zone: Tz, now: DateTime<Utc>) -> Vec<Run> {
    let today = now.with_timezone(&zone).date_naive();
    CADENCES
        .into_iter()
        .filter_map(|cadence| {
            // A month and a bit always holds the next day-of-month ≤ 28 and the next weekday.
            (0..=32).find_map(|n| run_on(schedule, cadence, today + Duration::days(n), zone).filter(|r| r.at > now))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;
    use crate::domain::{MonthlyReport, WeeklyReport};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("test instant")
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    const PARIS: Tz = chrono_tz::Europe::Paris;

    #[test]
    fn the_default_is_monday_and_the_first_at_eight() {
        let s = ReportSchedule::default();
        // Monday 2027-02-01 is also the 1st: both are due from 08:00 Paris (07:00 UTC).
        assert!(due(&s, PARIS, utc("2027-02-01T06:59:59Z")).is_empty());
        let runs = due(&s, PARIS, utc("2027-02-01T07:00:00Z"));
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].cadence, runs[0].from, runs[0].to), (Cadence::Weekly, day("2027-01-25"), day("2027-01-31")));
        assert_eq!((runs[1].cadence, runs[1].from, runs[1].to), (Cadence::Monthly, day("2027-01-01"), day("2027-01-31")));
    }

    #[test]
    fn a_run_stays_due_for_a_day_after_its_hour() {
        let s = ReportSchedule { weekly: Some(WeeklyReport { day: Weekday::Wed, hour: 17 }), monthly: None, recipients: vec![] };
        // Wednesday 2027-01-13, 17:00 Paris = 16:00 UTC.
        assert!(due(&s, PARIS, utc("2027-01-13T15:59:00Z")).is_empty());
        for now in ["2027-01-13T16:00:00Z", "2027-01-13T23:30:00Z", "2027-01-14T15:59:59Z"] {
            let runs = due(&s, PARIS, utc(now));
            assert_eq!(runs.len(), 1, "{now}");
            assert_eq!((runs[0].from, runs[0].to), (day("2027-01-06"), day("2027-01-12")), "{now}");
        }
        assert!(due(&s, PARIS, utc("2027-01-14T16:00:00Z")).is_empty());
    }

    #[test]
    fn monthly_covers_the_whole_previous_month_even_across_a_year() {
        let s = ReportSchedule { weekly: None, monthly: Some(MonthlyReport { day: 3, hour: 0 }), recipients: vec![] };
        let runs = due(&s, PARIS, utc("2027-01-03T12:00:00Z"));
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].from, runs[0].to), (day("2026-12-01"), day("2026-12-31")));
        let march = due(&s, PARIS, utc("2027-03-03T12:00:00Z"));
        assert_eq!((march[0].from, march[0].to), (day("2027-02-01"), day("2027-02-28")));
    }

    #[test]
    fn an_hour_lost_to_daylight_saving_starts_when_the_clocks_have_moved() {
        // Sunday 2027-03-28: Paris goes from 02:00 to 03:00 (01:00 UTC).
        let s = ReportSchedule { weekly: Some(WeeklyReport { day: Weekday::Sun, hour: 2 }), monthly: None, recipients: vec![] };
        let next = upcoming(&s, PARIS, utc("2027-03-27T12:00:00Z"));
        assert_eq!(next[0].at, utc("2027-03-28T01:00:00Z"));
    }

    #[test]
    fn upcoming_names_the_next_run_of_each_cadence() {
        let s = ReportSchedule::default();
        let next = upcoming(&s, chrono_tz::America::New_York, utc("2027-01-04T13:00:00Z"));
        // 08:00 in New York (UTC−5) has just passed on Monday 4 January.
        assert_eq!(next.len(), 2);
        assert_eq!(next[0].at, utc("2027-01-11T13:00:00Z"));
        assert_eq!(next[1].at, utc("2027-02-01T13:00:00Z"));
        assert_eq!((next[1].from, next[1].to), (day("2027-01-01"), day("2027-01-31")));
        assert!(upcoming(&ReportSchedule { weekly: None, monthly: None, recipients: vec![] }, PARIS, utc("2027-01-04T13:00:00Z")).is_empty());
    }

    #[test]
    fn ids_differ_by_cadence_and_period_only() {
        let team = TeamId::parse("team", "cafe").expect("team id");
        let s = ReportSchedule::default();
        let a = due(&s, PARIS, utc("2027-02-01T07:00:00Z"));
        let b = due(&s, PARIS, utc("2027-02-01T20:00:00Z"));
        assert_eq!(a[0].report_id(&team), b[0].report_id(&team));
        assert_ne!(a[0].report_id(&team), a[1].report_id(&team));
    }
}
