//! The team's iCalendar feed (RFC 5545): `GET /v1/calendar.ics?token=…`.
//!
//! Calendar apps subscribe to a URL and cannot send headers, so the feed is authenticated by a
//! per-team secret token in the URL. An admin makes (or rotates) it; only its SHA-256 is
//! stored, on the team and in a token → team lookup (`TeamStore::team_by_calendar_token`).
//! A missing, wrong or rotated-away token is "not found", like any unknown URL.
//!
//! The feed holds one `VEVENT` per delivery that is scheduled, publishing or published, from
//! [`PAST_DAYS`] back to [`FUTURE_DAYS`] ahead: published ones are `CONFIRMED`, the others
//! `TENTATIVE` (they have not gone out yet). Drafts, posts awaiting approval, failed and
//! cancelled deliveries are left out.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Duration, Utc};
use unicode_segmentation::UnicodeSegmentation;

use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{CalendarToken, Channel, ChannelId, Delivery, DeliveryState, KeyHash, Post, PostId, Role};
use crate::store::{PageRequest, Store};

/// The feed reaches this many days back…
pub const PAST_DAYS: i64 = 30;
/// …and this many ahead.
pub const FUTURE_DAYS: i64 = 180;
/// At most this many events per feed (the earliest first); more is cut and logged.
pub const MAX_EVENTS: usize = 5000;
/// A summary shows this many characters (graphemes) of the text.
pub const SUMMARY_CHARS: usize = 60;

/// The feed's URL path with a token.
pub fn feed_path(token: &str) -> String {
    format!("/v1/calendar.ics?token={token}")
}

/// Makes a new calendar token for the actor's team, replacing (and so disabling) any previous
/// one. Admin only. The token is returned once; only its hash is kept.
pub async fn rotate_token(store: &dyn Store, actor: &Actor) -> Result<CalendarToken, ServiceError> {
    actor.require(Role::Admin, "only an admin key can create or rotate the calendar feed's token")?;
    let mut team = actor.team(store).await?;
    let token = CalendarToken::generate();
    let rotated = team.calendar_token_hash.is_some();
    team.calendar_token_hash = Some(token.hash());
    store.update_team(&team).await?;
    tracing::info!(team_id = %team.id, rotated, "calendar token set");
    Ok(token)
}

/// The feed of the team whose token this is, as iCalendar text; 404 for any other token.
pub async fn feed(
    store: &dyn Store,
    clock: &dyn Clock,
    token: Option<&str>,
) -> Result<String, ServiceError> {
    let not_found = || ServiceError::not_found("no such calendar");
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(not_found)?;
    let team = store.team_by_calendar_token(&KeyHash::of(token)).await?.ok_or_else(not_found)?;
    let now = clock.now();
    let (from, to) = (now - Duration::days(PAST_DAYS), now + Duration::days(FUTURE_DAYS));

    let mut deliveries = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    'pages: loop {
        let calendar = store.calendar(&team.id, from, to, &page).await?;
        for d in calendar.items {
            if !matches!(d.state, DeliveryState::Scheduled | DeliveryState::Publishing | DeliveryState::Published) {
                continue;
            }
            if deliveries.len() == MAX_EVENTS {
                tracing::warn!(team_id = %team.id, max = MAX_EVENTS, "calendar feed cut at its maximum size");
                break 'pages;
            }
            deliveries.push(d);
        }
        match calendar.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }

    let names: HashMap<ChannelId, Channel> =
        store.list_channels(&team.id).await?.into_iter().map(|c| (c.id, c)).collect();
    let mut texts: HashMap<PostId, Option<Post>> = HashMap::new();
    let mut ics = IcsWriter::new();
    ics.line("BEGIN", "VCALENDAR");
    ics.line("VERSION", "2.0");
    ics.line("PRODID", "-//Herald//Herald social calendar//EN");
    ics.line("CALSCALE", "GREGORIAN");
    ics.line("METHOD", "PUBLISH");
    ics.text("X-WR-CALNAME", &format!("Herald: {}", team.name));
    ics.line("X-PUBLISHED-TTL", "PT15M");
    ics.line("REFRESH-INTERVAL;VALUE=DURATION", "PT15M");
    for d in &deliveries {
        if let Entry::Vacant(slot) = texts.entry(d.post_id) {
            slot.insert(store.get_post(&team.id, d.post_id).await?);
        }
        let Some(Some(post)) = texts.get(&d.post_id) else { continue };
        event(&mut ics, d, post, names.get(&d.channel_id));
    }
    ics.line("END", "VCALENDAR");
    Ok(ics.finish())
}

fn event(ics: &mut IcsWriter, d: &Delivery, post: &Post, channel: Option<&Channel>) {
    let text = post.text_for(d.platform).as_str();
    let state = d.state.as_str();
    ics.line("BEGIN", "VEVENT");
    ics.line("UID", &format!("{}@herald", d.id));
    ics.line("DTSTAMP", &ics_instant(d.updated_at));
    ics.line(
        "DTSTART",
        &ics_instant(d.published_at.filter(|_| d.state == DeliveryState::Published).unwrap_or(d.publish_at)),
    );
    ics.text("SUMMARY", &format!("[{}] {}", d.platform, summary(text)));
    let mut description = format!("{text}\n\nState: {state}");
    if let Some(c) = channel {
        description.push_str(&format!("\nChannel: {} ({})", c.name.as_str(), c.platform));
    }
    if let Some(url) = &d.url {
        description.push_str(&format!("\nURL: {url}"));
    }
    ics.text("DESCRIPTION", &description);
    let status = if d.state == DeliveryState::Published { "CONFIRMED" } else { "TENTATIVE" };
    ics.line("STATUS", status);
    ics.line("TRANSP", "TRANSPARENT");
    if let Some(url) = d.url.as_deref().filter(|u| is_plain_uri(u)) {
        ics.line("URL", url);
    }
    ics.line("END", "VEVENT");
}

/// The first [`SUMMARY_CHARS`] characters of the text on one line, `…` when cut.
fn summary(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut graphemes = one_line.graphemes(true);
    let head: String = graphemes.by_ref().take(SUMMARY_CHARS).collect();
    if graphemes.next().is_some() { format!("{}…", head.trim_end()) } else { head }
}

/// `20270104T090000Z`
fn ics_instant(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A URI that can stand as a property value as it is: printable ASCII without spaces.
fn is_plain_uri(u: &str) -> bool {
    !u.is_empty() && u.bytes().all(|b| b.is_ascii_graphic())
}

/// Writes iCalendar content lines: CRLF endings, lines folded at 75 octets (never inside a
/// UTF-8 character), TEXT values escaped.
pub struct IcsWriter {
    out: String,
}

impl IcsWriter {
    /// The longest line, in octets, without its CRLF (RFC 5545 §3.1).
    pub const MAX_OCTETS: usize = 75;

    pub fn new() -> Self {
        Self { out: String::new() }
    }

    /// `NAME:value` with the value as it is (it must hold no line break).
    pub fn line(&mut self, name: &str, value: &str) {
        self.fold(&format!("{name}:{value}"));
    }

    /// `NAME:value` with a TEXT value, escaped.
    pub fn text(&mut self, name: &str, value: &str) {
        self.line(name, &escape_text(value));
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn fold(&mut self, line: &str) {
        let mut width = 0;
        for c in line.chars() {
            let len = c.len_utf8();
            if width + len > Self::MAX_OCTETS {
                self.out.push_str("\r\n ");
                width = 1;
            }
            self.out.push(c);
            width += len;
        }
        self.out.push_str("\r\n");
    }
}

impl Default for IcsWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// RFC 5545 TEXT: `\` `;` `,` escaped with a backslash, line breaks as `\n`, other control
/// characters dropped (tabs kept).
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("a,b;c\\d\r\ne\nf\rg"), "a\\,b\\;c\\\\d\\ne\\nf\\ng");
        assert_eq!(escape_text("tab\tok\u{7}"), "tab\tok");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut w = IcsWriter::new();
        w.text("DESCRIPTION", &"é☕".repeat(60));
        let out = w.finish();
        assert!(out.ends_with("\r\n"));
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= IcsWriter::MAX_OCTETS, "{} octets: {line}", line.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, format!("DESCRIPTION:{}", "é☕".repeat(60)));
    }

    #[test]
    fn summaries_are_one_line_and_cut_at_60_characters() {
        assert_eq!(summary("Hello\nworld"), "Hello world");
        let long = "👩‍👩‍👧".repeat(61);
        assert_eq!(summary(&long), format!("{}…", "👩‍👩‍👧".repeat(60)));
    }
}
