//! The report's store reads: [`build`] reads what one report needs and hands it to the pure
//! functions of `kpi.rs`, which compute the figures.
//!
//! What a report reads (O(posts + interactions + days), never O(snapshots)): the team, its
//! channels, the calendar from the previous period's start to the period's end, each distinct
//! post once (for its text), the daily metric roll-ups from a week before the previous period to
//! the cut-off, the inbox of both periods (four statuses), and incidents back to the previous
//! period's start. [`ItemsRead`] counts them.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures_util::stream::{StreamExt, TryStreamExt};

use super::data::{
    ChannelReport, Compared, FailedRow, IncidentRow, ItemsRead, MEASURE_WINDOW_DAYS, Period,
    PostRow, ReportBrand, ReportData,
};
use super::kpi::{self, Measured, Measures, PostRate, Tally};
use crate::domain::{Channel, ChannelId, DeliveryState, InteractionStatus, Platform, PostId, Team};
use crate::services::ServiceError;
use crate::store::{InboxQuery, PageRequest, Store};

/// Builds the report of `team` over `[from, to]` (days in the team's zone) as of `now`.
pub async fn build(store: &dyn Store, team: &Team, from: NaiveDate, to: NaiveDate, now: DateTime<Utc>) -> Result<ReportData, ServiceError> {
    let zone = team.time_zone;
    let period = Period::new(from, to, zone)?;
    let previous = period.previous(zone);
    let measured_until = (period.end + Duration::days(MEASURE_WINDOW_DAYS)).min(now.max(period.start));
    let mut read = ItemsRead::default();

    let channels = store.list_channels(&team.id).await?;
    read.channels = channels.len();
    let by_id: HashMap<ChannelId, &Channel> = channels.iter().map(|c| (c.id, c)).collect();

    // Deliveries scheduled from before the previous period (retries publish later) to the end.
    let mut deliveries = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    loop {
        let got = store.calendar(&team.id, previous.start - Duration::days(1), period.end, &page).await?;
        read.deliveries += got.items.len();
        deliveries.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }

    // Roll-ups: a week before the previous period (follower baselines) to the cut-off day.
    let cutoff_day = measured_until.with_timezone(&zone).date_naive() + Duration::days(1);
    let rollups = store.rollups(&team.id, previous.from - Duration::days(7), cutoff_day).await?;
    read.rollups = rollups.len();
    let measures = Measures::new(&rollups, measured_until);

    // Posts of both periods, measured.
    let published: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Published)
        .filter_map(|d| d.published_at.map(|at| (d, at)))
        .filter(|(_, at)| previous.contains(*at) || period.contains(*at))
        .collect();
    // Each post of the period once, for its text (in the first delivery's network's variant),
    // as many reads at a time as the store says are worth it (DynamoDB: each is a round trip).
    let mut wanted: Vec<(PostId, Platform)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (d, at) in &published {
        if period.contains(*at) && seen.insert(d.post_id) {
            wanted.push((d.post_id, d.platform));
        }
    }
    let team_id = &team.id;
    let fetched: Vec<(PostId, (String, Option<String>))> = futures_util::stream::iter(wanted)
        .map(|(id, platform)| async move {
            let post = store.get_post(team_id, id).await?;
            let text = post.as_ref().map(|p| p.text_for(platform).as_str().to_owned()).unwrap_or_default();
            Ok::<_, crate::store::StoreError>((id, (text, post.as_ref().and_then(|p| thumbnail_url(&p.media)))))
        })
        .buffer_unordered(store.parallel_reads().max(1))
        .try_collect()
        .await?;
    read.posts += fetched.len();
    let texts: HashMap<PostId, (String, Option<String>)> = fetched.into_iter().collect();
    let mut current: Vec<Measured> = Vec::new();
    let mut before: Vec<Measured> = Vec::new();
    for (d, at) in published {
        let channel = by_id.get(&d.channel_id);
        let channel_zone = channel.map_or(zone, |c| c.time_zone);
        let counters = measures.post(d.id).cloned().unwrap_or_default();
        let engagements = counters.engagements();
        let day = at.with_timezone(&zone).date_naive();
        let PostRate { denominator, basis, rate } =
            kpi::post_rate(engagements, counters.impressions, measures.followers_on(d.channel_id, day));
        let row = PostRow {
            delivery_id: d.id,
            post_id: d.post_id,
            channel_id: d.channel_id,
            channel: channel.map_or_else(|| "(deleted channel)".to_owned(), |c| c.name.as_str().to_owned()),
            platform: d.platform,
            published_at: at,
            published_local: at.with_timezone(&channel_zone).format("%Y-%m-%d %H:%M").to_string(),
            text: texts.get(&d.post_id).map(|(text, _)| text.clone()).unwrap_or_default(),
            url: d.url.clone(),
            thumbnail_url: texts.get(&d.post_id).and_then(|(_, thumbnail)| thumbnail.clone()),
            counters,
            engagements,
            engagement_rate: rate,
            rate_basis: basis.map(str::to_owned),
        };
        let m = Measured { row, denominator: denominator.filter(|_| engagements.is_some()) };
        if period.contains(at) { current.push(m) } else { before.push(m) }
    }
    let by_time = |a: &Measured, b: &Measured| {
        a.row.published_at.cmp(&b.row.published_at).then_with(|| a.row.delivery_id.cmp(&b.row.delivery_id))
    };
    current.sort_by(by_time);
    before.sort_by(by_time);

    let failed: Vec<_> = deliveries.iter().filter(|d| d.state == DeliveryState::Failed).collect();
    let failed_in = |p: &Period, channel: Option<ChannelId>| {
        failed.iter().filter(|d| p.contains(d.publish_at) && channel.is_none_or(|c| d.channel_id == c)).count() as u64
    };

    // Per channel, then overall.
    let mut channel_reports = Vec::new();
    for c in &channels {
        let cur: Vec<&Measured> = current.iter().filter(|m| m.row.channel_id == c.id).collect();
        let prev: Vec<&Measured> = before.iter().filter(|m| m.row.channel_id == c.id).collect();
        let kpis = Compared {
            current: kpi::kpis(&cur, measures.growth(&[c.id], &period), failed_in(&period, Some(c.id))),
            previous: kpi::kpis(&prev, measures.growth(&[c.id], &previous), failed_in(&previous, Some(c.id))),
        };
        let sample: Vec<&Measured> = cur.iter().chain(prev.iter()).copied().collect();
        channel_reports.push(ChannelReport {
            channel_id: c.id,
            name: c.name.as_str().to_owned(),
            platform: c.platform,
            time_zone: c.time_zone.name().to_owned(),
            kpis,
            followers: measures.series(c.id, &period),
            best_time: kpi::best_time(&sample, c.time_zone),
        });
    }
    let ids: Vec<ChannelId> = channels.iter().map(|c| c.id).collect();
    let all_cur: Vec<&Measured> = current.iter().collect();
    let all_prev: Vec<&Measured> = before.iter().collect();
    let overall = Compared {
        current: kpi::kpis(&all_cur, measures.growth(&ids, &period), failed_in(&period, None)),
        previous: kpi::kpis(&all_prev, measures.growth(&ids, &previous), failed_in(&previous, None)),
    };
    let sample: Vec<&Measured> = all_cur.iter().chain(all_prev.iter()).copied().collect();
    let team_best = kpi::best_time(&sample, zone);

    // Top and bottom posts of the period, by engagements; the period day by day.
    let (top, bottom) = kpi::top_and_bottom(&current);
    let daily = kpi::daily(&current, &period, zone);

    // The inbox of both periods.
    let mut inbox_cur = Tally::default();
    let mut inbox_prev = Tally::default();
    for status in InteractionStatus::ALL {
        let mut query = InboxQuery::status(status);
        query.from = Some(previous.start);
        query.to = Some(period.end);
        let mut page = PageRequest::first(PageRequest::MAX_PAGE);
        loop {
            let got = store.inbox(&team.id, &query, &page).await?;
            read.interactions += got.items.len();
            for i in &got.items {
                let (tally, end) =
                    if period.contains(i.created_at) { (&mut inbox_cur, period.end) } else { (&mut inbox_prev, previous.end) };
                // Answers count as of the period's end: the same period made again later says
                // the same (an interaction answered after it is unanswered in it).
                let response = i.first_response_at.filter(|r| *r <= end).map(|r| r - i.created_at);
                tally.add(i.kind, i.sentiment.as_ref().map(|s| s.label), i.status, response);
            }
            match got.next {
                Some(next) => page.cursor = Some(next),
                None => break,
            }
        }
    }

    // Incidents, newest first, back to the previous period.
    let mut incidents = Vec::new();
    let mut incidents_previous = 0;
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    'pages: loop {
        let got = store.list_incidents(&team.id, &page).await?;
        read.incidents += got.items.len();
        for i in got.items {
            if i.opened_at < previous.start {
                break 'pages;
            }
            if period.contains(i.opened_at) {
                incidents.push(IncidentRow {
                    id: i.id.to_string(),
                    channel_id: i.channel_id,
                    channel: by_id.get(&i.channel_id).map_or_else(String::new, |c| c.name.as_str().to_owned()),
                    opened_at: i.opened_at,
                    closed_at: i.closed_at,
                    negatives_in_window: i.negatives_in_window,
                    expected: i.expected,
                });
            } else if previous.contains(i.opened_at) {
                incidents_previous += 1;
            }
        }
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    incidents.reverse();

    let mut failed_rows: Vec<FailedRow> = failed
        .iter()
        .filter(|d| period.contains(d.publish_at))
        .map(|d| FailedRow {
            delivery_id: d.id,
            post_id: d.post_id,
            channel: by_id.get(&d.channel_id).map_or_else(String::new, |c| c.name.as_str().to_owned()),
            publish_at: d.publish_at,
            attempts: d.attempts,
            reason: d.last_error.clone(),
        })
        .collect();
    failed_rows.sort_by(|a, b| a.publish_at.cmp(&b.publish_at).then(a.delivery_id.cmp(&b.delivery_id)));

    Ok(ReportData {
        team_id: team.id.clone(),
        team_name: team.name.clone(),
        language: team.language,
        brand: ReportBrand {
            accent: team.brand.accent().to_owned(),
            white_label: team.brand.white_label,
            logo_data_url: None,
        },
        time_zone: zone.name().to_owned(),
        period,
        previous_period: previous,
        generated_at: now,
        measured_until,
        engagement_rate_definition: crate::i18n::Tr::of(team.language).t("def-engagement-rate"),
        overall,
        channels: channel_reports,
        posts: current.into_iter().map(|m| m.row).collect(),
        top_posts: top,
        bottom_posts: bottom,
        daily,
        best_time: team_best,
        inbox: Compared { current: inbox_cur.stats(), previous: inbox_prev.stats() },
        incidents,
        incidents_previous,
        failed_deliveries: failed_rows,
        items_read: read,
    })
}

/// The post's first picture, when it was given by an `https` URL that names an image file
/// (`.jpg`, `.png`, `.gif`, `.webp`): a video or an upload has none to show.
fn thumbnail_url(media: &[crate::domain::MediaRef]) -> Option<String> {
    let first = media.first()?;
    if first.upload.is_some() || !first.url.starts_with("https://") {
        return None;
    }
    let path = first.url.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp"].iter().any(|ext| path.ends_with(ext)).then(|| first.url.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MediaRef, Upload};

    fn media(url: &str) -> MediaRef {
        MediaRef { url: url.to_owned(), alt: None, upload: None }
    }

    #[test]
    fn a_thumbnail_is_the_first_media_when_it_is_an_https_image() {
        assert_eq!(thumbnail_url(&[media("https://img.example/a.JPG?w=800"), media("https://img.example/b.png")]).as_deref(), Some("https://img.example/a.JPG?w=800"));
        assert_eq!(thumbnail_url(&[media("https://img.example/clip.mp4"), media("https://img.example/b.png")]), None, "a video first: none");
        assert_eq!(thumbnail_url(&[media("http://img.example/a.png")]), None, "not https");
        let upload = MediaRef { upload: Some(Upload { content_type: "image/png".into(), bytes: 10, fetchable: false }), ..media("herald-media:t/x.png") };
        assert_eq!(thumbnail_url(&[upload]), None, "an upload has no lasting public address");
        assert_eq!(thumbnail_url(&[]), None);
    }
}
