//! Plain types and rules. Nothing here knows about AWS, Lambda, SQL or HTTP.

mod channel;
mod ids;
mod intake;
mod interaction;
mod metrics;
mod people;
mod post;
mod recurrence;
mod report;
mod schedule;
mod team;
mod time;

pub use channel::{Channel, ChannelName, Platform, QueueSlot, SealedCredentials};
pub use ids::{ApiKeyId, ChannelId, DeliveryId, IncidentId, InteractionId, LinkId, MemberId, PostId, RawEventId, ReportId, SeriesId};
pub use people::{
    Email, INVITE_LIFETIME, MAX_EMAIL_BYTES, MAX_MEMBER_NAME, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Member, OneTimeToken,
    RESET_LIFETIME, SESSION_LIFETIME, Secret, Session, TokenPurpose, throttle,
};
pub use intake::{ErasedEvent, Incident, RawEvent};
pub use interaction::{
    Interaction, InteractionDraft, InteractionKind, InteractionStatus, MAX_AUTHOR_NAME_BYTES, MAX_ID_BYTES,
    MAX_LINK_BYTES, MAX_TEXT_BYTES, Note, Sentiment, SentimentLabel,
};
pub use metrics::{MetricCounters, MetricRollup, MetricSnapshot, MetricSubject};
pub use post::{Delivery, DeliveryState, IllegalTransition, MediaRef, Post, PostText, ReplyControl, Review, Upload};
pub use recurrence::{Expansion, MAX_OCCURRENCES, Occurrence, RRULE_FIELD, Recurrence};
pub use report::{MONTHLY_REPORT_LAST_DAY, MonthlyReport, Report, ReportFormat, ReportSchedule, WeeklyReport};
pub use schedule::{
    LocalTimeInput, PAST_GRACE, PublishAt, PublishAtInput, check_not_past, next_free_slot, parse_local, parse_slot_time, parse_weekday, resolve_local,
    slot_time_text, weekday_name,
};
pub use team::{AccentColor, ApiKey, ApiKeySecret, Brand, CalendarToken, HERALD_ACCENT, KeyHash, Language, Logo, Role, Team, TeamId};
pub use time::{HORIZON_YEARS, MAX_YEAR, MIN_YEAR, check_local, check_within_horizon, check_year, parse_date, parse_instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A value at the edge of the system broke a rule. `field` names what was wrong, `rule` says why
/// in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct ValidationError {
    pub field: String,
    pub rule: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self { field: field.into(), rule: rule.into() }
    }
}

/// Parses an IANA time zone name ("Europe/Paris"); anything else is a validation error.
pub fn parse_time_zone(field: &str, name: &str) -> Result<Tz, ValidationError> {
    name.parse::<Tz>()
        .map_err(|_| ValidationError::new(field, format!("`{name}` is not an IANA time zone name (e.g. Europe/Paris)")))
}

/// How a time zone field is documented (OpenAPI): one of the IANA names [`parse_time_zone`]
/// knows, or `null` when `nullable`.
pub(crate) fn time_zone_schema(nullable: bool) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let mut names: Vec<Option<&str>> = chrono_tz::TZ_VARIANTS.iter().map(|z| Some(z.name())).collect();
    let types = if nullable {
        names.push(None);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(types)
        .enum_values(Some(names))
        .description(Some("An IANA time zone name, like `Europe/Paris`"))
        .into()
}

/// The canonical text form of an instant in keys and columns: fixed width, UTC, microseconds,
/// so that lexicographic order is time order (DynamoDB sort keys, SQLite indexes).
///
/// Input is bounded to years 1970–9999 where it is read ([`parse_instant`] and friends); an
/// instant outside years 0–9999 that got here anyway is written as the nearest end of that
/// range, never as `+10000-…`, which would sort before `2027-…` (and put a post of the year
/// 10000 first in the due-work queue).
pub fn sortable_instant(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, NaiveDate};
    let edge = |y, m, d, h, min, sec, micro| {
        NaiveDate::from_ymd_opt(y, m, d).and_then(|day| day.and_hms_micro_opt(h, min, sec, micro)).map(|n| n.and_utc())
    };
    let t = match t.year() {
        ..0 => edge(0, 1, 1, 0, 0, 0, 0).unwrap_or(t),
        10000.. => edge(9999, 12, 31, 23, 59, 59, 999_999).unwrap_or(t),
        _ => t,
    };
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
