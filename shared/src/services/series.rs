//! Recurring posts: one `POST /v1/posts` with a `recurrence` makes one post per occurrence of
//! an RRULE, each with the same text, variants, media and channels, linked by a series id.
//!
//! Every occurrence goes through the same checks as a single post (platform limits per channel,
//! past times, the actor's role) and **all** are checked before any is stored: if one
//! occurrence is refused, none is created. How the rule is expanded (zone, DST gaps and
//! overlaps, bounds) is [`crate::domain::Recurrence`]'s business.

use chrono::{Datelike, NaiveDateTime, SecondsFormat};
use chrono_tz::Tz;

use super::posts::{NewPost, PostView, announce_pending, prepare_post, store_all, target_channels};
use crate::events::EventSink;
use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{HORIZON_YEARS, PublishAt, Recurrence, Role, SeriesId, ValidationError};
use crate::store::Store;

/// The field naming the recurrence's zone.
pub const TIME_ZONE_FIELD: &str = "recurrence.time_zone";

/// A recurrence as the client gave it: the rule text, and its zone when given (otherwise the
/// zone of `publish_at`'s local form).
#[derive(Debug, Clone)]
pub struct RecurrenceRequest {
    pub rrule: String,
    pub time_zone: Option<Tz>,
}

/// A created series: its posts in time order, and the wall-clock times the rule gave that do
/// not exist in the zone (DST gap), for which no post was made.
#[derive(Debug, Clone)]
pub struct SeriesView {
    pub series_id: SeriesId,
    pub rrule: String,
    pub time_zone: Tz,
    pub posts: Vec<PostView>,
    pub skipped: Vec<NaiveDateTime>,
}

/// Creates one post per occurrence of `recurrence`, starting at `new.publish_at` (a wall-clock
/// time in the rule's zone, or an instant, read in that zone). All or nothing.
pub async fn create_series(
    store: &dyn Store,
    clock: &dyn Clock,
    events: &dyn EventSink,
    actor: &Actor,
    new: NewPost,
    recurrence: RecurrenceRequest,
) -> Result<SeriesView, ServiceError> {
    actor.require(Role::Contributor, "a viewer key can read posts but not change them")?;
    let (time_zone, start) = series_start(new.publish_at, recurrence.time_zone)?;
    let now = clock.now();
    // Each occurrence is checked against the horizon below; a first one far beyond it is refused
    // before the rule is expanded (52 yearly occurrences from there would reach chrono's limits).
    if i64::from(start.year()) > i64::from(now.year()) + HORIZON_YEARS {
        return Err(ValidationError::new(
            "publish_at",
            format!("the first occurrence ({}) is more than {HORIZON_YEARS} years ahead", start.format("%Y-%m-%dT%H:%M:%S")),
        )
        .into());
    }
    let rule = Recurrence::parse(&recurrence.rrule, time_zone)?;
    let expansion = rule.expand(start)?;
    let targets = target_channels(store, &actor.team_id, &new.channel_ids).await?;

    let series_id = SeriesId::new();
    let mut views = Vec::with_capacity(expansion.occurrences.len());
    for (i, occurrence) in expansion.occurrences.iter().enumerate() {
        let one = NewPost { publish_at: PublishAt::Instant(occurrence.at), ..new.clone() };
        let view = prepare_post(store, now, actor, &targets, one, Some(series_id)).await.map_err(|e| match e {
            // Say which occurrence a time error is about; text errors are the same for all.
            ServiceError::Invalid(v) if v.field == "publish_at" => ServiceError::Invalid(ValidationError::new(
                v.field,
                format!(
                    "occurrence {} of {} ({} in {time_zone}, {}): {}; nothing was created",
                    i + 1,
                    expansion.occurrences.len(),
                    occurrence.local.format("%Y-%m-%dT%H:%M:%S"),
                    occurrence.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    v.rule
                ),
            )),
            other => other,
        })?;
        views.push(view);
    }
    store_all(store, now, &views).await?;
    announce_pending(events, now, &views.iter().collect::<Vec<_>>()).await;
    tracing::info!(
        series_id = %series_id,
        posts = views.len(),
        skipped = expansion.skipped.len(),
        "series created"
    );
    Ok(SeriesView { series_id, rrule: rule.text().to_owned(), time_zone, posts: views, skipped: expansion.skipped })
}

/// The rule's zone and its first wall-clock time, from `publish_at` and the recurrence's zone.
fn series_start(publish_at: PublishAt, zone: Option<Tz>) -> Result<(Tz, NaiveDateTime), ValidationError> {
    match publish_at {
        PublishAt::Local { local, time_zone } => {
            let tz = match (zone, time_zone) {
                (Some(a), Some(b)) if a != b => {
                    return Err(ValidationError::new(
                        TIME_ZONE_FIELD,
                        format!("is {a} but publish_at.time_zone is {b}; a series has one zone (give it once)"),
                    ));
                }
                (Some(tz), _) | (None, Some(tz)) => tz,
                (None, None) => {
                    return Err(ValidationError::new(
                        TIME_ZONE_FIELD,
                        "is required: the IANA zone the rule repeats in, like \"Europe/Paris\"",
                    ));
                }
            };
            Ok((tz, local))
        }
        PublishAt::Instant(t) => {
            let tz = zone.ok_or_else(|| {
                ValidationError::new(
                    TIME_ZONE_FIELD,
                    "is required: the IANA zone the rule repeats in, like \"Europe/Paris\"",
                )
            })?;
            Ok((tz, t.with_timezone(&tz).naive_local()))
        }
        PublishAt::NextSlot | PublishAt::Now => Err(ValidationError::new(
            "publish_at",
            "a recurring post starts at a given time, not \"next_slot\" or \"now\": give \
             {\"local\":\"2027-01-04T09:00:00\",\"time_zone\":\"Europe/Paris\"}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Paris;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn the_start_comes_from_publish_at_in_the_rules_zone() {
        let at = local("2027-01-04T09:00:00");
        assert_eq!(series_start(PublishAt::Local { local: at, time_zone: None }, Some(Paris)), Ok((Paris, at)));
        assert_eq!(series_start(PublishAt::Local { local: at, time_zone: Some(Paris) }, None), Ok((Paris, at)));
        assert_eq!(series_start(PublishAt::Local { local: at, time_zone: Some(Paris) }, Some(Paris)), Ok((Paris, at)));
        let e = series_start(PublishAt::Local { local: at, time_zone: Some(New_York) }, Some(Paris)).unwrap_err();
        assert_eq!(e.field, TIME_ZONE_FIELD);
        let e = series_start(PublishAt::Local { local: at, time_zone: None }, None).unwrap_err();
        assert_eq!(e.field, TIME_ZONE_FIELD);
        let instant = Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).unwrap();
        assert_eq!(series_start(PublishAt::Instant(instant), Some(Paris)), Ok((Paris, at)));
        assert_eq!(series_start(PublishAt::NextSlot, Some(Paris)).unwrap_err().field, "publish_at");
    }
}
