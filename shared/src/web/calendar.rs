//! `GET /calendar`: the team's posts by day, a month (`?month=2027-01`, the default: this
//! month on the team's clock) or a week (`?week=2027-01-04`), in the team's time zone, with
//! filters by channel and state and, in the week, the channels' free queue slots.
//!
//! Everything it shows comes from the services ([`posts::list_posts`], [`posts::free_slots`],
//! [`PostView::state`]); this module only lays it out by local day.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::assets;
use super::page::{Screen, WebError, respond, shell_with_scripts};
use crate::domain::{Channel, ChannelId, DeliveryState, PostId};
use crate::http::{AppState, Caller};
use crate::services::posts::{self, FreeSlot, PostFilter, PostView};
use crate::services::reports::midnight;
use crate::services::{Actor, channels};
use crate::store::PageRequest;

/// A chip shows at most this many characters (graphemes) of the post's text.
const CHIP_TEXT: usize = 90;
/// Pages of [`PageRequest::MAX_PAGE`] posts read for one screen at most (a month of 10,000).
const MAX_PAGES: usize = 20;

/// The query string, as given; [`Request::read`] checks it.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    month: Option<String>,
    week: Option<String>,
    channel: Option<String>,
    state: Option<String>,
}

/// A month (its first day) or a week (its Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Month(NaiveDate),
    Week(NaiveDate),
}

impl Period {
    /// The days on screen: whole weeks, Monday first.
    fn days(self) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Week(monday) => (monday, monday + Duration::days(7)),
            Period::Month(first) => {
                let next = next_month(first);
                let start = monday_of(first);
                let end = monday_of(next - Duration::days(1)) + Duration::days(7);
                (start, end)
            }
        }
    }

    fn previous(self) -> Period {
        match self {
            Period::Week(monday) => Period::Week(monday - Duration::days(7)),
            Period::Month(first) => Period::Month(prev_month(first)),
        }
    }

    fn next(self) -> Period {
        match self {
            Period::Week(monday) => Period::Week(monday + Duration::days(7)),
            Period::Month(first) => Period::Month(next_month(first)),
        }
    }

    /// The query parameter naming it: `month=2027-01` or `week=2027-01-04`.
    fn param(self) -> String {
        match self {
            Period::Month(first) => format!("month={}", first.format("%Y-%m")),
            Period::Week(monday) => format!("week={}", monday.format("%Y-%m-%d")),
        }
    }

    fn title(self) -> String {
        match self {
            Period::Month(first) => first.format("%B %Y").to_string(),
            Period::Week(monday) => format!("Week of {}", monday.format("%-d %B %Y")),
        }
    }
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn next_month(first: NaiveDate) -> NaiveDate {
    first.checked_add_months(chrono::Months::new(1)).unwrap_or(first)
}

fn prev_month(first: NaiveDate) -> NaiveDate {
    first.checked_sub_months(chrono::Months::new(1)).unwrap_or(first)
}

/// Years a page may show: far enough either way, and never near chrono's limits.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=9998;

/// The request, read and checked.
#[derive(Debug)]
struct Request {
    period: Option<Period>,
    filter: PostFilter,
}

impl Request {
    fn read(q: &CalendarQuery) -> Result<Request, WebError> {
        let bad = |name: &'static str, message: String| WebError::BadParameter { name, message };
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let (month, week) = (given(&q.month), given(&q.week));
        let period = match (month, week) {
            (Some(_), Some(_)) => return Err(bad("week", "give `month` or `week`, not both".into())),
            (Some(m), None) => {
                let first = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                    .ok()
                    .filter(|d| m.len() == 7 && YEARS.contains(&d.year()))
                    .ok_or_else(|| bad("month", format!("`{m}` is not a month like 2027-01")))?;
                Some(Period::Month(first))
            }
            (None, Some(w)) => {
                let day = NaiveDate::parse_from_str(&w, "%Y-%m-%d")
                    .ok()
                    .filter(|d| w.len() == 10 && YEARS.contains(&d.year()))
                    .ok_or_else(|| bad("week", format!("`{w}` is not a date like 2027-01-04")))?;
                Some(Period::Week(monday_of(day)))
            }
            (None, None) => None,
        };
        let channel = given(&q.channel)
            .map(|c| ChannelId::parse("channel", &c).map_err(|e| bad("channel", e.rule)))
            .transpose()?;
        let state = given(&q.state)
            .map(|s| DeliveryState::parse("state", &s).map_err(|e| bad("state", e.rule)))
            .transpose()?;
        Ok(Request { period, filter: PostFilter { state, channel } })
    }
}


/// One post on one local day: its deliveries of that day that the filter keeps.
struct Chip {
    post: PostId,
    /// Still movable (draft, pending approval, scheduled): the chip can be dragged, and has a
    /// "Move" link.
    movable: bool,
    at: DateTime<Tz>,
    text: String,
    /// The state word of these deliveries together ([`PostView::state`]).
    state: &'static str,
    /// Channel names, each with its own state when it differs from the chip's.
    channels: Vec<(String, Option<&'static str>)>,
}

/// What a day shows.
#[derive(Default)]
struct Day {
    chips: Vec<Chip>,
    slots: Vec<(DateTime<Tz>, String)>,
}

pub async fn page(
    State(state): State<AppState>,
    caller: Result<Caller, crate::http::ApiError>,
    query: Result<Query<CalendarQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let started = Instant::now();
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let request = Request::read(&query)?;
    let actor = caller.actor();
    let team = actor.team(&*state.store).await?;
    let tz = team.time_zone;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let period = request.period.unwrap_or_else(|| Period::Month(today.with_day(1).unwrap_or(today)));
    let (first_day, end_day) = period.days();
    // A day starts at its first existing instant (the reports' own rule: midnight, or the end
    // of a DST gap that skips it).
    let (from, to) = (midnight(first_day, tz), midnight(end_day, tz));

    let channels: BTreeMap<ChannelId, Channel> =
        channels::list_channels(&*state.store, &actor).await?.into_iter().map(|c| (c.id, c)).collect();
    let name_of = |id: &ChannelId| channels.get(id).map_or_else(|| "a deleted channel".to_owned(), |c| c.name.as_str().to_owned());

    let mut days: HashMap<NaiveDate, Day> = HashMap::new();
    for view in read_posts(&state, &actor, from, to, &request.filter).await? {
        let mut by_day: BTreeMap<NaiveDate, Vec<_>> = BTreeMap::new();
        for d in view.deliveries.iter().filter(|d| d.publish_at >= from && d.publish_at < to && request.filter.keeps(d)) {
            by_day.entry(d.publish_at.with_timezone(&tz).date_naive()).or_default().push(d.clone());
        }
        for (date, deliveries) in by_day {
            let at = deliveries.iter().map(|d| d.publish_at).min().unwrap_or(from).with_timezone(&tz);
            let these = PostView { post: view.post.clone(), deliveries };
            let state_word = these.state();
            let channels = these
                .deliveries
                .iter()
                .map(|d| (name_of(&d.channel_id), (d.state.as_str() != state_word).then_some(d.state.as_str())))
                .collect();
            let movable = these.deliveries.iter().all(|d| {
                matches!(d.state, DeliveryState::Draft | DeliveryState::PendingApproval | DeliveryState::Scheduled)
            });
            days.entry(date).or_default().chips.push(Chip {
                post: view.post.id,
                movable,
                at,
                text: excerpt(view.post.text.as_str()),
                state: state_word,
                channels,
            });
        }
    }
    if matches!(period, Period::Week(_)) {
        let slots = posts::free_slots(&*state.store, &actor, now, from, to).await?;
        for FreeSlot { channel_id, at } in slots {
            if request.filter.channel.is_none_or(|c| c == channel_id) {
                let at = at.with_timezone(&tz);
                days.entry(at.date_naive()).or_default().slots.push((at, name_of(&channel_id)));
            }
        }
    }
    for day in days.values_mut() {
        day.chips.sort_by_key(|c| c.at);
    }

    let screen = View { period, today, request: &request, tz, channels: &channels, days: &days, first_day, end_day };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    let markup = shell_with_scripts(
        &format!("{} · {}", period.title(), team.name),
        Some(Screen::Calendar),
        csrf,
        &[&assets::CALENDAR_JS],
        screen.render(),
    );
    let mut response = respond(StatusCode::OK, markup);
    let took = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={took:.1}")) {
        response.headers_mut().insert("server-timing", v);
    }
    Ok(response)
}

/// Every post of the window that the filter keeps, page after page.
async fn read_posts(
    state: &AppState,
    actor: &Actor,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filter: &PostFilter,
) -> Result<Vec<PostView>, WebError> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    for _ in 0..MAX_PAGES {
        let got = posts::list_posts(&*state.store, actor, from, to, filter, &page).await?;
        out.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    Ok(out)
}

/// The start of a post's text for a chip, whole graphemes, with `…` when cut.
fn excerpt(text: &str) -> String {
    crate::text::excerpt(text, CHIP_TEXT)
}

/// The calendar screen, laid out.
struct View<'a> {
    period: Period,
    today: NaiveDate,
    request: &'a Request,
    tz: Tz,
    channels: &'a BTreeMap<ChannelId, Channel>,
    days: &'a HashMap<NaiveDate, Day>,
    first_day: NaiveDate,
    end_day: NaiveDate,
}

const WEEKDAYS: [Weekday; 7] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

impl View<'_> {
    /// `/calendar?<period>` with the current filters.
    fn href(&self, period: Option<Period>) -> String {
        let mut params: Vec<String> = period.map(Period::param).into_iter().collect();
        if let Some(c) = self.request.filter.channel {
            params.push(format!("channel={c}"));
        }
        if let Some(s) = self.request.filter.state {
            params.push(format!("state={}", s.as_str()));
        }
        match params.is_empty() {
            true => "/calendar".to_owned(),
            false => format!("/calendar?{}", params.join("&")),
        }
    }

    fn render(&self) -> Markup {
        let period = self.period;
        let (is_month, month_of) = match period {
            Period::Month(first) => (true, Some(first.month())),
            Period::Week(_) => (false, None),
        };
        let today_period = match period {
            Period::Month(_) => Period::Month(self.today.with_day(1).unwrap_or(self.today)),
            Period::Week(_) => Period::Week(monday_of(self.today)),
        };
        let month_view = Period::Month(match period {
            Period::Month(first) => first,
            Period::Week(monday) => monday.with_day(1).unwrap_or(monday),
        });
        let week_view = Period::Week(match period {
            Period::Week(monday) => monday,
            Period::Month(first) if first.month() == self.today.month() && first.year() == self.today.year() => {
                monday_of(self.today)
            }
            Period::Month(first) => monday_of(first),
        });
        let (unit, noun) = if is_month { ("month", "posts this month") } else { ("week", "posts this week") };
        let dates: Vec<NaiveDate> = self.first_day.iter_days().take_while(|d| *d < self.end_day).collect();
        let in_period = |d: &NaiveDate| month_of.is_none_or(|m| d.month() == m);
        let posts_shown: usize = self.days.iter().filter(|(d, _)| in_period(d)).map(|(_, day)| day.chips.len()).sum();
        html! {
            h1 { (period.title()) }
            p.zone { "Times on the team's clock: " (self.tz.name()) "." }
            div.toolbar {
                ul.views aria-label="View" {
                    li { a href=(self.href(Some(month_view))) aria-current=[is_month.then_some("page")] { "Month" } }
                    li { a href=(self.href(Some(week_view))) aria-current=[(!is_month).then_some("page")] { "Week" } }
                }
                ul.pager aria-label="Go to" {
                    li { a href=(self.href(Some(period.previous()))) rel="prev" { "← Previous " (unit) } }
                    li { a href=(self.href(Some(today_period))) { "Today" } }
                    li { a href=(self.href(Some(period.next()))) rel="next" { "Next " (unit) " →" } }
                }
            }
            form.filters method="get" action="/calendar" data-autosubmit {
                @match period {
                    Period::Month(first) => { input type="hidden" name="month" value=(first.format("%Y-%m")); }
                    Period::Week(monday) => { input type="hidden" name="week" value=(monday.format("%Y-%m-%d")); }
                }
                label {
                    "Channel"
                    select name="channel" {
                        option value="" { "All channels" }
                        @for (id, c) in self.channels {
                            option value=(id) selected[self.request.filter.channel == Some(*id)] {
                                (c.name.as_str()) " (" (c.platform.as_str()) ")"
                            }
                        }
                    }
                }
                label {
                    "State"
                    select name="state" {
                        option value="" { "All states" }
                        @for s in DeliveryState::ALL {
                            option value=(s.as_str()) selected[self.request.filter.state == Some(s)] { (state_label(s.as_str())) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            div class=(if is_month { "month" } else { "week" }) {
                ul.weekdays aria-hidden="true" {
                    @for w in WEEKDAYS { li { (w) } }
                }
                ol.days {
                    @for date in &dates {
                        @let day = self.days.get(date);
                        @let empty = day.is_none_or(|d| d.chips.is_empty() && d.slots.is_empty());
                        @let outside = !in_period(date);
                        @let class = format!(
                            "day{}{}{}",
                            if empty { " empty" } else { "" },
                            if outside { " outside" } else { "" },
                            if *date == self.today { " today" } else { "" },
                        );
                        li class=(class) data-date=(date.format("%Y-%m-%d")) {
                            h2 { time datetime=(date.format("%Y-%m-%d")) { (date.format("%a %-d %b")) } }
                            @if let Some(day) = day {
                                @if !day.chips.is_empty() {
                                    ul.chips { @for chip in &day.chips { (chip_markup(chip)) } }
                                }
                                @if !day.slots.is_empty() {
                                    ul.slots aria-label="Free queue slots" {
                                        @for (at, channel) in &day.slots {
                                            li.slot {
                                                time.when datetime=(at.to_rfc3339()) { (at.format("%H:%M")) }
                                                "free slot · " (channel)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if posts_shown == 0 {
                p.nothing { "No " (noun) @if self.request.filter != PostFilter::default() { " with these filters" } "." }
            }
            p.hint.drag-hint { "Drag a post to another day to move it, or use its “Move” link." }
            p #calendar-status role="status" aria-live="polite" {}
            ul.legend aria-label="States" {
                @for s in DeliveryState::ALL {
                    li class=(format!("chip s-{}", s.as_str())) { span.state { (state_label(s.as_str())) } }
                }
            }
        }
    }
}

fn chip_markup(chip: &Chip) -> Markup {
    html! {
        li class=(format!("chip s-{}", chip.state)) data-post=[chip.movable.then_some(chip.post)] data-time=(chip.at.format("%H:%M")) {
            time.when datetime=(chip.at.to_rfc3339()) { (chip.at.format("%H:%M")) }
            span.state { (state_label(chip.state)) }
            span.text { (chip.text) }
            span.channels {
                @for (i, (name, own)) in chip.channels.iter().enumerate() {
                    @if i > 0 { ", " }
                    (name)
                    @if let Some(own) = own { " (" (state_label(own)) ")" }
                }
            }
            @if chip.movable {
                // Link texts are short: the chip around them says which post (WCAG 2.4.4, in context).
                span.chip-actions {
                    a.edit href=(format!("/compose?post={}", chip.post)) { "Edit" }
                    " · "
                    a.move href=(format!("/calendar/move/{}", chip.post)) { "Move" }
                }
            }
        }
    }
}

/// A state word as people read it: `pending_approval` → "pending approval".
fn state_label(word: &str) -> String {
    word.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(month: Option<&str>, week: Option<&str>) -> CalendarQuery {
        CalendarQuery { month: month.map(Into::into), week: week.map(Into::into), ..Default::default() }
    }

    fn bad_name(r: Result<Request, WebError>) -> &'static str {
        match r {
            Err(WebError::BadParameter { name, .. }) => name,
            other => panic!("expected a bad parameter, got {other:?}"),
        }
    }

    #[test]
    fn months_and_weeks_read_and_bad_ones_are_named() {
        let first = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(Request::read(&q(Some("2027-01"), None)).unwrap().period, Some(Period::Month(first)));
        let monday = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        assert_eq!(Request::read(&q(None, Some("2027-01-07"))).unwrap().period, Some(Period::Week(monday)));
        for m in ["2027-13", "2027-1", "27-01", "2027-01-01", "soon", "99999-01", "0000-01"] {
            assert_eq!(bad_name(Request::read(&q(Some(m), None))), "month", "{m}");
        }
        for w in ["2027-02-30", "2027-1-4", "monday"] {
            assert_eq!(bad_name(Request::read(&q(None, Some(w)))), "week", "{w}");
        }
        assert_eq!(bad_name(Request::read(&q(Some("2027-01"), Some("2027-01-04")))), "week");
        let state = CalendarQuery { state: Some("lost".into()), ..Default::default() };
        assert_eq!(bad_name(Request::read(&state)), "state");
        let channel = CalendarQuery { channel: Some("nope".into()), ..Default::default() };
        assert_eq!(bad_name(Request::read(&channel)), "channel");
    }

    #[test]
    fn a_month_shows_whole_weeks_and_a_day_starts_at_its_local_midnight() {
        let (start, end) = Period::Month(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()).days();
        assert_eq!((start.to_string(), end.to_string()), ("2026-12-28".into(), "2027-02-01".into()));
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(midnight(NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(), paris).to_rfc3339(), "2027-01-09T23:00:00+00:00");
        // Santiago skips midnight on the day its summer time starts: the day starts at 01:00.
        let santiago = chrono_tz::America::Santiago;
        assert_eq!(midnight(NaiveDate::from_ymd_opt(2026, 9, 6).unwrap(), santiago).to_rfc3339(), "2026-09-06T04:00:00+00:00");
    }

    #[test]
    fn excerpts_cut_on_graphemes() {
        assert_eq!(excerpt("short\n text"), "short text");
        let long = "é".repeat(CHIP_TEXT + 5);
        assert_eq!(excerpt(&long).chars().count(), CHIP_TEXT + 1);
        assert!(excerpt(&long).ends_with('…'));
    }
}
