//! `report.html`: one self-contained page (no scripts, no fonts, no external files) with inline
//! SVG charts — followers per channel, engagement per day, the weekday × hour heatmap and the
//! sentiment mix — that reads on a screen and prints on A4 (charts scale to the page width and
//! are never split across pages). An empty chart says so in words instead of drawing nothing.

use std::fmt::Write as _;

use super::data::{BEST_TIME_MIN_POSTS, BestTime, Compared, InboxStats, Kpis, PostRow, ReportData};

const PALETTE: [&str; 10] =
    ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#dc2626", "#4b5563", "#65a30d"];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

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

fn num(n: Option<u64>) -> String {
    n.map_or_else(|| "—".to_owned(), group)
}

fn group(n: u64) -> String {
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
fn local_time(t: chrono::DateTime<chrono::Utc>, zone: &str) -> String {
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => t.with_timezone(&tz).format("%a %-d %b %H:%M").to_string(),
        Err(_) => t.format("%a %-d %b %H:%M UTC").to_string(),
    }
}

fn pct(r: Option<f64>) -> String {
    // A no-break space keeps "14.41 %" on one line in narrow table cells.
    r.map_or_else(|| "—".to_owned(), |r| format!("{:.2}\u{a0}%", r * 100.0))
}

fn signed(n: Option<i64>) -> String {
    match n {
        Some(n) if n > 0 => format!("+{}", group(n as u64)),
        Some(n) if n < 0 => format!("−{}", group(n.unsigned_abs())),
        Some(_) => "0".to_owned(),
        None => "—".to_owned(),
    }
}

/// "+12 % vs previous" (or the point change for rates), empty when it cannot be said.
fn delta(cur: Option<f64>, prev: Option<f64>, rate: bool) -> String {
    match (cur, prev) {
        (Some(c), Some(p)) if rate => format!("{:+.2} pts vs previous", (c - p) * 100.0),
        (Some(c), Some(p)) if p != 0.0 => format!("{:+.0} % vs previous", (c - p) / p * 100.0),
        (Some(_), Some(_)) => "previous: 0".to_owned(),
        (Some(_), None) => "no previous figure".to_owned(),
        _ => String::new(),
    }
}

fn duration_words(secs: Option<i64>) -> String {
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
    follower_chart(&mut h, d);
    h.push_str("<h2>Engagement per day</h2>");
    engagement_bars(&mut h, d);

    h.push_str("<h2>Top posts</h2>");
    post_table(&mut h, &d.top_posts, "No measured post in this period.");
    h.push_str("<h2>Bottom posts</h2>");
    post_table(&mut h, &d.bottom_posts, "Too few measured posts to list bottom ones apart from the top.");

    h.push_str("<h2>Best time to post</h2>");
    let _ = write!(
        h,
        r#"<p class="small muted">Mean engagements per post by weekday and hour, over this period and the previous one. A slot is recommended only when at least {BEST_TIME_MIN_POSTS} posts went out in it; paler cells have fewer.</p>"#
    );
    heatmap(&mut h, &d.best_time);
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
    sentiment_bar(&mut h, &d.inbox.current);

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

fn empty_chart(h: &mut String, what: &str) {
    let _ = write!(
        h,
        r##"<figure><svg viewBox="0 0 640 60" role="img" aria-label="{w}"><rect x="0" y="0" width="640" height="60" fill="#f9fafb" stroke="#e5e7eb"/><text x="320" y="35" text-anchor="middle" font-size="13" fill="#6b7280">{w}</text></svg></figure>"##,
        w = esc(what)
    );
}

fn follower_chart(h: &mut String, d: &ReportData) {
    let series: Vec<_> = d.channels.iter().filter(|c| !c.followers.is_empty()).collect();
    if series.is_empty() {
        return empty_chart(h, "No follower counts measured in this period.");
    }
    let (w, ht, left, bottom, top) = (640.0, 220.0, 56.0, 24.0, 10.0);
    let days = d.period.days().max(1) as f64;
    let min = series.iter().flat_map(|c| c.followers.iter().map(|(_, f)| *f)).min().unwrap_or(0) as f64;
    let max = series.iter().flat_map(|c| c.followers.iter().map(|(_, f)| *f)).max().unwrap_or(1) as f64;
    let (lo, hi) = if (max - min).abs() < 1.0 { (min - 1.0, max + 1.0) } else { (min - (max - min) * 0.1, max + (max - min) * 0.1) };
    let x = |day: chrono::NaiveDate| {
        let i = (day - d.period.from).num_days() as f64;
        left + if days <= 1.0 { (w - left - 10.0) / 2.0 } else { i / (days - 1.0) * (w - left - 10.0) }
    };
    let y = |v: f64| top + (hi - v) / (hi - lo) * (ht - top - bottom);
    let _ = write!(h, r#"<figure><svg viewBox="0 0 {w} {ht}" role="img" aria-label="Followers per channel">"#);
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let _ = write!(
            h,
            r##"<line x1="{left}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e5e7eb"/><text x="{lx}" y="{ty:.1}" font-size="10" text-anchor="end" fill="#6b7280">{label}</text>"##,
            x2 = w - 10.0,
            yy = y(v),
            lx = left - 4.0,
            ty = y(v) + 3.0,
            label = group(v.round().max(0.0) as u64)
        );
    }
    let _ = write!(
        h,
        r##"<text x="{left}" y="{by}" font-size="10" fill="#6b7280">{from}</text><text x="{rx}" y="{by}" font-size="10" text-anchor="end" fill="#6b7280">{to}</text>"##,
        by = ht - 6.0,
        rx = w - 10.0,
        from = d.period.from.format("%-d %b"),
        to = d.period.to.format("%-d %b")
    );
    for (i, c) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<String> = c.followers.iter().map(|(day, f)| format!("{:.1},{:.1}", x(*day), y(*f as f64))).collect();
        let _ = write!(h, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, points.join(" "));
        for (day, f) in &c.followers {
            let _ = write!(h, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"><title>{} {}: {}</title></circle>"#, x(*day), y(*f as f64), esc(&c.name), day, f);
        }
    }
    h.push_str("</svg><figcaption>");
    for (i, c) in series.iter().enumerate() {
        let _ = write!(h, r#"<span style="color:{}">■</span> {} ({}) &nbsp; "#, PALETTE[i % PALETTE.len()], esc(&c.name), signed(c.kpis.current.follower_growth));
    }
    h.push_str("</figcaption></figure>");
}

fn engagement_bars(h: &mut String, d: &ReportData) {
    let max = d.daily.iter().map(|r| r.engagements).max().unwrap_or(0);
    if max == 0 {
        return empty_chart(h, "No engagement measured on posts of this period.");
    }
    let (w, ht, left, bottom, top) = (640.0, 200.0, 48.0, 22.0, 10.0);
    let n = d.daily.len().max(1) as f64;
    let slot = (w - left - 10.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let _ = write!(h, r#"<figure><svg viewBox="0 0 {w} {ht}" role="img" aria-label="Engagements per day">"#);
    let _ = write!(
        h,
        r##"<line x1="{left}" x2="{x2}" y1="{yb}" y2="{yb}" stroke="#9ca3af"/><text x="{lx}" y="{ty}" font-size="10" text-anchor="end" fill="#6b7280">{max}</text>"##,
        x2 = w - 10.0,
        yb = ht - bottom,
        lx = left - 4.0,
        ty = top + 8.0,
        max = group(max)
    );
    let label_every = (d.daily.len() / 10).max(1);
    for (i, r) in d.daily.iter().enumerate() {
        let bh = r.engagements as f64 / max as f64 * (ht - top - bottom);
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let _ = write!(
            h,
            r##"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}" fill="#2563eb"><title>{}: {} engagements, {} posts</title></rect>"##,
            ht - bottom - bh,
            r.day,
            r.engagements,
            r.posts
        );
        if i % label_every == 0 {
            let _ = write!(
                h,
                r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#6b7280">{}</text>"##,
                x + bar / 2.0,
                ht - 6.0,
                r.day.format("%a %-d")
            );
        }
    }
    h.push_str("</svg><figcaption>Engagements of the posts published each day (as measured).</figcaption></figure>");
}

fn heatmap(h: &mut String, b: &BestTime) {
    if b.cells.is_empty() {
        return empty_chart(h, "No measured posts yet: no best time to show.");
    }
    let (left, top, cw, ch) = (40.0, 16.0, 24.0, 22.0);
    let (w, ht) = (left + cw * 24.0 + 4.0, top + ch * 7.0 + 4.0);
    let max = b.cells.iter().map(|c| c.mean_engagements).fold(0.0, f64::max).max(1.0);
    let _ = write!(h, r#"<figure><svg viewBox="0 0 {w} {ht}" role="img" aria-label="Engagement by weekday and hour">"#);
    for hour in (0..24).step_by(3) {
        let _ = write!(h, r##"<text x="{:.1}" y="11" font-size="9" text-anchor="middle" fill="#6b7280">{hour:02}h</text>"##, left + cw * f64::from(hour) + cw / 2.0);
    }
    for (i, day) in WEEKDAYS.iter().enumerate() {
        let y = top + ch * i as f64;
        let _ = write!(h, r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#6b7280">{day}</text>"##, left - 4.0, y + ch / 2.0 + 3.0);
        for hour in 0..24 {
            let _ = write!(h, r##"<rect x="{:.1}" y="{y:.1}" width="{}" height="{}" fill="#f3f4f6" stroke="#fff"/>"##, left + cw * f64::from(hour), cw, ch);
        }
    }
    for c in &b.cells {
        let strength = (c.mean_engagements / max).clamp(0.05, 1.0);
        let opacity = if c.posts >= BEST_TIME_MIN_POSTS { strength } else { strength * 0.45 };
        let recommended = b.recommended.iter().any(|r| r.weekday == c.weekday && r.hour == c.hour);
        let _ = write!(
            h,
            r##"<rect x="{:.1}" y="{:.1}" width="{cw}" height="{ch}" fill="#2563eb" fill-opacity="{opacity:.2}" stroke="{}" stroke-width="{}"><title>{} {:02}:00 — {:.1} engagements per post over {} posts</title></rect>"##,
            left + cw * f64::from(c.hour),
            top + ch * f64::from(c.weekday),
            if recommended { "#111827" } else { "#fff" },
            if recommended { 2 } else { 1 },
            WEEKDAYS[c.weekday as usize % 7],
            c.hour,
            c.mean_engagements,
            c.posts
        );
    }
    let caption = match &b.note {
        Some(note) => esc(note),
        None => format!("Outlined: the recommended slots. Times in {}; {} posts measured.", esc(&b.time_zone), b.sample),
    };
    let _ = write!(h, "</svg><figcaption>{caption}</figcaption></figure>");
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

fn sentiment_bar(h: &mut String, s: &InboxStats) {
    if s.total == 0 {
        return empty_chart(h, "No interactions in this period: no sentiment mix.");
    }
    let parts = [("positive", "#16a34a"), ("neutral", "#9ca3af"), ("negative", "#dc2626"), ("unscored", "#e5e7eb")];
    let (w, left) = (640.0, 0.0);
    let _ = write!(h, r#"<figure><svg viewBox="0 0 {w} 52" role="img" aria-label="Sentiment mix">"#);
    let mut x = left;
    for (label, color) in parts {
        let n = s.by_sentiment.get(label).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let width = n as f64 / s.total as f64 * w;
        let _ = write!(h, r#"<rect x="{x:.1}" y="4" width="{width:.1}" height="24" fill="{color}"><title>{label}: {n}</title></rect>"#);
        if width > 60.0 {
            let _ = write!(
                h,
                r##"<text x="{:.1}" y="44" font-size="11" text-anchor="middle" fill="#374151">{label} {:.0} %</text>"##,
                x + width / 2.0,
                n as f64 / s.total as f64 * 100.0
            );
        }
        x += width;
    }
    h.push_str("</svg><figcaption>");
    for (label, color) in parts {
        let n = s.by_sentiment.get(label).copied().unwrap_or(0);
        let _ = write!(h, r#"<span style="color:{color}">■</span> {label} {n} &nbsp; "#);
    }
    h.push_str("</figcaption></figure>");
}

/// What a post's engagements count beyond its likes, reposts and replies (quotes, saves,
/// clicks), shown beside them so that a row adds up to its engagements.
fn other_engagements(c: &crate::domain::MetricCounters) -> Option<u64> {
    [c.quotes, c.bookmarks, c.clicks].into_iter().flatten().reduce(u64::saturating_add)
}

/// The negatives a channel usually has in the window, as the incidents table says it (HTML).
fn usually(expected: f64) -> String {
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
