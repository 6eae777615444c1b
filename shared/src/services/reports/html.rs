//! `report.html`: one self-contained page (no scripts, no fonts, no external files) with inline
//! SVG charts — followers per channel, engagement per day, the weekday × hour heatmap and the
//! sentiment mix — that reads on a screen and prints on A4 (charts scale to the page width and
//! are never split across pages). An empty chart says so in words instead of drawing nothing.

use std::fmt::Write as _;

use super::charts;
use super::data::{BEST_TIME_MIN_POSTS, Compared, InboxStats, Kpis, PostRow, ReportData};

pub(super) const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn num(n: Option<u64>) -> String {
    n.map_or_else(|| "—".to_owned(), group)
}

pub(super) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// `Thu 19 Nov 19:42` in the report's zone (UTC, said so, if the zone cannot be read).
pub(super) fn local_time(t: chrono::DateTime<chrono::Utc>, zone: &str) -> String {
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => t.with_timezone(&tz).format("%a %-d %b %H:%M").to_string(),
        Err(_) => t.format("%a %-d %b %H:%M UTC").to_string(),
    }
}

pub(super) fn pct(r: Option<f64>) -> String {
    // A no-break space keeps "14.41 %" on one line in narrow table cells.
    r.map_or_else(|| "—".to_owned(), |r| format!("{:.2}\u{a0}%", r * 100.0))
}

pub(super) fn signed(n: Option<i64>) -> String {
    match n {
        Some(n) if n > 0 => format!("+{}", group(n as u64)),
        Some(n) if n < 0 => format!("−{}", group(n.unsigned_abs())),
        Some(_) => "0".to_owned(),
        None => "—".to_owned(),
    }
}

/// "+12 % vs previous" (or the point change for rates), empty when it cannot be said.
pub(super) fn delta(cur: Option<f64>, prev: Option<f64>, rate: bool) -> String {
    match (cur, prev) {
        (Some(c), Some(p)) if rate => format!("{:+.2} pts vs previous", (c - p) * 100.0),
        (Some(c), Some(p)) if p != 0.0 => format!("{:+.0} % vs previous", (c - p) / p * 100.0),
        (Some(_), Some(_)) => "previous: 0".to_owned(),
        (Some(_), None) => "no previous figure".to_owned(),
        _ => String::new(),
    }
}

pub(super) fn duration_words(secs: Option<i64>) -> String {
    match secs {
        None => "—".to_owned(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} min", s / 60),
        Some(s) if s < 86_400 => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
        Some(s) => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

pub fn render_html(d: &ReportData) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!(
        "{} — social media report, {} to {}",
        d.team_name,
        d.period.from.format("%-d %b %Y"),
        d.period.to.format("%-d %b %Y")
    );
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<style>
:root {{ color-scheme: light; }}
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; margin: 0; background: #f9fafb; }}
main {{ max-width: 960px; margin: 0 auto; padding: 24px; background: #fff; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} h2 {{ font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }}
.muted {{ color: #6b7280; }} .small {{ font-size: 12px; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; }}
.card {{ border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px; }}
.card .v {{ font-size: 20px; font-weight: 600; }} .card .l {{ font-size: 12px; color: #6b7280; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ text-align: left; padding: 4px 6px; border-bottom: 1px solid #f3f4f6; vertical-align: top; }}
.wide {{ overflow-x: auto; }}
.wide:focus-visible {{ outline: 3px solid #2563eb; outline-offset: 2px; }}
@media (max-width: 760px) {{ main {{ padding: 12px; }} table {{ font-size: 12px; }} th, td {{ padding: 3px 4px; }} }}
th {{ color: #374151; font-weight: 600; }} td.n, th.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.text {{ min-width: 180px; max-width: 360px; overflow-wrap: anywhere; }}
svg {{ width: 100%; height: auto; display: block; }}
figure {{ margin: 8px 0 16px; break-inside: avoid; page-break-inside: avoid; }} figcaption {{ font-size: 12px; color: #6b7280; }}
section, table, .cards {{ break-inside: avoid; page-break-inside: avoid; }}
@media print {{ body {{ background: #fff; }} main {{ padding: 0; max-width: none; }} .wide {{ overflow: visible; }} table {{ font-size: 11px; }} h2 {{ break-after: avoid; }} a {{ color: inherit; text-decoration: none; }} }}
@page {{ size: A4; margin: 14mm; }}
</style></head><body><main>
<h1>{t}</h1>
<p class="muted">Times in {zone} · compared with {pf} to {pt} · generated {gen} · counters as measured until {mu}</p>
"#,
        t = esc(&title),
        zone = esc(&d.time_zone),
        pf = d.previous_period.from.format("%-d %b %Y"),
        pt = d.previous_period.to.format("%-d %b %Y"),
        gen = d.generated_at.format("%Y-%m-%d %H:%M UTC"),
        mu = d.measured_until.format("%Y-%m-%d %H:%M UTC"),
    );
    if d.is_empty() {
        h.push_str(r#"<p class="card"><strong>Nothing happened in this period:</strong> no post was published, no interaction came in, no incident was opened and no delivery failed.</p>"#);
    }

    kpi_cards(&mut h, &d.overall, &d.inbox);

    h.push_str("<h2>Channels</h2>");
    if d.channels.is_empty() {
        h.push_str(r#"<p class="muted">The team has no channels.</p>"#);
    } else {
        h.push_str(r#"<div class="wide" tabindex="0" role="region" aria-label="Channels"><table><thead><tr><th>Channel</th><th>Network</th><th class="n">Posts</th><th class="n">Impressions</th><th class="n">Engagements</th><th class="n">Eng. rate</th><th class="n">Followers</th><th class="n">Growth</th><th class="n">Failed</th></tr></thead><tbody>"#);
        for c in &d.channels {
            let k = &c.kpis.current;
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(&c.name),
                c.platform.as_str(),
                group(k.posts_published),
                num(k.impressions),
                num(k.engagements),
                pct(k.engagement_rate),
                num(k.followers_end),
                signed(k.follower_growth),
                k.failed_deliveries
            );
        }
        h.push_str("</tbody></table></div>");
    }

    h.push_str("<h2>Followers</h2>");
    h.push_str(&charts::follower_chart(d).html());
    h.push_str("<h2>Engagement per day</h2>");
    h.push_str(&charts::engagement_bars(d).html());

    h.push_str("<h2>Top posts</h2>");
    post_table(&mut h, &d.top_posts, "No measured post in this period.");
    h.push_str("<h2>Bottom posts</h2>");
    post_table(&mut h, &d.bottom_posts, "Too few measured posts to list bottom ones apart from the top.");

    h.push_str("<h2>Best time to post</h2>");
    let _ = write!(
        h,
        r#"<p class="small muted">Mean engagements per post by weekday and hour, over this period and the previous one. A slot is recommended only when at least {BEST_TIME_MIN_POSTS} posts went out in it; paler cells have fewer.</p>"#
    );
    h.push_str(&charts::heatmap(&d.best_time).html());
    h.push_str(r#"<div class="wide" tabindex="0" role="region" aria-label="Recommended times"><table><thead><tr><th>Channel</th><th>Recommended (local time)</th></tr></thead><tbody>"#);
    for c in &d.channels {
        let rec = if c.best_time.recommended.is_empty() {
            esc(c.best_time.note.as_deref().unwrap_or(""))
        } else {
            c.best_time
                .recommended
                .iter()
                .map(|cell| {
                    format!(
                        "{} {:02}:00 ({:.1} eng./post, {} posts)",
                        WEEKDAYS[cell.weekday as usize % 7],
                        cell.hour,
                        cell.mean_engagements,
                        cell.posts
                    )
                })
                .collect::<Vec<_>>()
                .join(" · ")
        };
        let _ = write!(h, "<tr><td>{}</td><td>{rec} <span class=\"muted small\">{}</span></td></tr>", esc(&c.name), esc(&c.best_time.time_zone));
    }
    h.push_str("</tbody></table></div>");

    h.push_str("<h2>Inbox</h2>");
    inbox(&mut h, &d.inbox);
    h.push_str(&charts::sentiment_bar(&d.inbox.current).html());

    h.push_str("<h2>Crisis incidents</h2>");
    if d.incidents.is_empty() {
        let _ = write!(h, r#"<p>None in this period <span class="muted">(previous period: {}).</span></p>"#, d.incidents_previous);
    } else {
        h.push_str(r#"<div class="wide" tabindex="0" role="region" aria-label="Crisis incidents"><table><thead><tr><th>Channel</th><th>Opened</th><th>Closed</th><th class="n">Negatives</th><th class="n">Usually</th></tr></thead><tbody>"#);
        for i in &d.incidents {
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(&i.channel),
                local_time(i.opened_at, &d.time_zone),
                i.closed_at.map_or_else(|| "still open".to_owned(), |t| local_time(t, &d.time_zone)),
                i.negatives_in_window,
                usually(i.expected)
            );
        }
        let _ = write!(h, r#"</tbody></table></div><p class="small muted">Previous period: {}.</p>"#, d.incidents_previous);
    }

    h.push_str("<h2>Failed deliveries</h2>");
    if d.failed_deliveries.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str(r#"<div class="wide" tabindex="0" role="region" aria-label="Failed deliveries"><table><thead><tr><th>Channel</th><th>Scheduled</th><th class="n">Attempts</th><th>Reason</th></tr></thead><tbody>"#);
        for f in &d.failed_deliveries {
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td></tr>"#,
                esc(&f.channel),
                local_time(f.publish_at, &d.time_zone),
                f.attempts,
                esc(f.reason.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</tbody></table></div>");
    }

    let _ = write!(
        h,
        r#"<h2>Definitions</h2><p class="small">{}</p><p class="small">Impressions and reach are summed over the posts whose network reports them (— when none does). Follower growth is the last count of the period minus the last count before it, over channels measured at both ends. Answered and median first response count the answers given through Herald before the period ended, so making the same period again later gives the same figures; half the answered interactions got their first answer faster than the median. Open items: interactions of the period still open or assigned when the report was made. The per-post table is in report.csv; everything is in report.json.</p>
<p class="small muted">Read {} items to make this report.</p>
</main></body></html>
"#,
        esc(&d.engagement_rate_definition),
        d.items_read.total()
    );
    h
}

fn kpi_cards(h: &mut String, k: &Compared<Kpis>, inbox: &Compared<InboxStats>) {
    let (c, p) = (&k.current, &k.previous);
    let f = |v: Option<u64>| v.map(|v| v as f64);
    let cards = [
        ("Posts published", group(c.posts_published), delta(Some(c.posts_published as f64), Some(p.posts_published as f64), false)),
        ("Impressions", num(c.impressions), delta(f(c.impressions), f(p.impressions), false)),
        ("Reach", num(c.reach), delta(f(c.reach), f(p.reach), false)),
        ("Engagements", num(c.engagements), delta(f(c.engagements), f(p.engagements), false)),
        ("Engagement rate", pct(c.engagement_rate), delta(c.engagement_rate, p.engagement_rate, true)),
        ("Follower growth", signed(c.follower_growth), format!("previous: {}", signed(p.follower_growth))),
        (
            "Interactions",
            group(inbox.current.total),
            delta(Some(inbox.current.total as f64), Some(inbox.previous.total as f64), false),
        ),
        (
            "Median first response",
            duration_words(inbox.current.median_first_response_seconds),
            format!("previous: {}", duration_words(inbox.previous.median_first_response_seconds)),
        ),
        ("Failed deliveries", group(c.failed_deliveries), format!("previous: {}", p.failed_deliveries)),
    ];
    h.push_str(r#"<section class="cards">"#);
    for (label, value, change) in cards {
        let _ = write!(h, r#"<div class="card"><div class="l">{label}</div><div class="v">{value}</div><div class="small muted">{}</div></div>"#, esc(&change));
    }
    h.push_str("</section>");
}

fn post_table(h: &mut String, rows: &[PostRow], empty: &str) {
    if rows.is_empty() {
        let _ = write!(h, r#"<p class="muted">{}</p>"#, esc(empty));
        return;
    }
    h.push_str(r#"<div class="wide" tabindex="0" role="region" aria-label="Posts"><table><thead><tr><th>Published</th><th>Channel</th><th>Post</th><th class="n">Likes</th><th class="n">Reposts</th><th class="n">Replies</th><th class="n">Quotes, saves, clicks</th><th class="n">Engagements</th><th class="n">Rate</th></tr></thead><tbody>"#);
    for r in rows {
        let text: String = r.text.chars().take(140).collect();
        let text = if r.text.chars().count() > 140 { format!("{text}…") } else { text };
        let link = match &r.url {
            Some(u) if u.starts_with("https://") => format!(r#" <a href="{}">link</a>"#, esc(u)),
            _ => String::new(),
        };
        let _ = write!(
            h,
            r#"<tr><td>{}</td><td>{}</td><td class="text">{}{link}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&r.published_local),
            esc(&r.channel),
            esc(&text),
            num(r.counters.likes),
            num(r.counters.reposts),
            num(r.counters.replies),
            num(other_engagements(&r.counters)),
            num(r.engagements),
            pct(r.engagement_rate)
        );
    }
    h.push_str("</tbody></table></div>");
}

fn inbox(h: &mut String, i: &Compared<InboxStats>) {
    let (c, p) = (&i.current, &i.previous);
    let kinds = |s: &InboxStats| {
        if s.by_kind.is_empty() {
            "—".to_owned()
        } else {
            s.by_kind.iter().map(|(k, n)| format!("{} {n}", k.replace('_', " "))).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = write!(
        h,
        r#"<div class="wide" tabindex="0" role="region" aria-label="This period against the previous one"><table><thead><tr><th></th><th class="n">This period</th><th class="n">Previous</th></tr></thead><tbody>
<tr><td>Interactions received</td><td class="n">{}</td><td class="n">{}</td></tr>
<tr><td>By kind</td><td class="n">{}</td><td class="n">{}</td></tr>
<tr><td>Answered through Herald</td><td class="n">{}</td><td class="n">{}</td></tr>
<tr><td>Median first response</td><td class="n">{}</td><td class="n">{}</td></tr>
<tr><td>Still open or assigned (when made)</td><td class="n">{}</td><td class="n">{}</td></tr>
</tbody></table></div>"#,
        c.total,
        p.total,
        esc(&kinds(c)),
        esc(&kinds(p)),
        c.answered,
        p.answered,
        duration_words(c.median_first_response_seconds),
        duration_words(p.median_first_response_seconds),
        c.open_items,
        p.open_items
    );
}

/// What a post's engagements count beyond its likes, reposts and replies (quotes, saves,
/// clicks), shown beside them so that a row adds up to its engagements.
pub(super) fn other_engagements(c: &crate::domain::MetricCounters) -> Option<u64> {
    [c.quotes, c.bookmarks, c.clicks].into_iter().flatten().reduce(u64::saturating_add)
}

/// The negatives a channel usually has in the window, as the incidents table says it (HTML).
pub(super) fn usually(expected: f64) -> String {
    if expected < 0.1 { "&lt;\u{a0}0.1".to_owned() } else { format!("{expected:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_row_adds_up_to_its_engagements() {
        let counters = crate::domain::MetricCounters {
            likes: Some(194),
            reposts: Some(58),
            replies: Some(24),
            quotes: Some(10),
            bookmarks: Some(80),
            clicks: Some(4),
            ..Default::default()
        };
        let other = other_engagements(&counters);
        assert_eq!(other, Some(94));
        assert_eq!(Some(194 + 58 + 24 + 94), counters.engagements(), "the columns add up");
        assert_eq!(other_engagements(&crate::domain::MetricCounters { likes: Some(3), ..Default::default() }), None, "none given: empty, not 0");
    }

    #[test]
    fn an_almost_zero_expectation_is_said_in_escaped_html() {
        assert_eq!(usually(0.02), "&lt;\u{a0}0.1");
        assert_eq!(usually(2.345), "2.3");
    }

    #[test]
    fn text_is_escaped_and_numbers_grouped() {
        assert_eq!(esc(r#"<script>"a" & 'b'"#), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;");
        assert_eq!(group(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(signed(Some(-12)), "−12");
        assert_eq!(pct(Some(0.0345)), "3.45\u{a0}%");
        assert_eq!(duration_words(Some(5400)), "1 h 30 min");
    }
}
