//! The report's charts as standalone SVG documents — followers per channel, engagement per day,
//! the weekday × hour heatmap and the sentiment mix — drawn once and used by both renderings:
//! inline in report.html and as images in report.pdf. An empty chart says so in words instead
//! of drawing nothing. Data marks are in colour and carry a `<title>` tooltip; axes and
//! placeholders are grey (the browser check in tests/system/reports.rs relies on both).

use std::fmt::Write as _;

use super::data::{BEST_TIME_MIN_POSTS, BestTime, InboxStats, ReportData};
use super::escape::esc;
use crate::domain::Language;
use crate::i18n::Tr;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const PALETTE: [&str; 10] =
    ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#dc2626", "#4b5563", "#65a30d"];

/// Digits grouped with a narrow no-break space (`1 234`): the charts' axis labels until they
/// speak the report's language.
fn group(n: u64) -> String {
    Tr::of(Language::Fr).int(n)
}

/// `+12`, `−3`, `0`, `—`.
fn signed(n: Option<i64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| Tr::of(Language::En).signed(n))
}

/// One chart: the SVG document and its caption (HTML, may be empty).
pub struct Figure {
    pub svg: String,
    pub caption: String,
}

impl Figure {
    /// The chart as report.html shows it.
    pub fn html(&self) -> String {
        if self.caption.is_empty() {
            format!("<figure>{}</figure>", self.svg)
        } else {
            format!("<figure>{}<figcaption>{}</figcaption></figure>", self.svg, self.caption)
        }
    }
}

fn empty_chart(what: &str) -> Figure {
    let mut h = String::new();
    let _ = write!(
        h,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 60" role="img" aria-label="{w}"><rect x="0" y="0" width="640" height="60" fill="#f9fafb" stroke="#e5e7eb"/><text x="320" y="35" text-anchor="middle" font-size="13" fill="#6b7280">{w}</text></svg>"##,
        w = esc(what)
    );
    Figure { svg: h, caption: String::new() }
}

pub(super) fn follower_chart(d: &ReportData) -> Figure {
    let mut h = String::new();
    let h = &mut h;
    let series: Vec<_> = d.channels.iter().filter(|c| !c.followers.is_empty()).collect();
    if series.is_empty() {
        return empty_chart("No follower counts measured in this period.");
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
    let _ = write!(h, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {ht}" role="img" aria-label="Followers per channel">"#);
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
    h.push_str("</svg>");
    let mut caption = String::new();
    for (i, c) in series.iter().enumerate() {
        let _ = write!(caption, r#"<span style="color:{}">■</span> {} ({}) &nbsp; "#, PALETTE[i % PALETTE.len()], esc(&c.name), signed(c.kpis.current.follower_growth));
    }
    Figure { svg: std::mem::take(h), caption }
}

pub(super) fn engagement_bars(d: &ReportData) -> Figure {
    let mut h = String::new();
    let h = &mut h;
    let max = d.daily.iter().map(|r| r.engagements).max().unwrap_or(0);
    if max == 0 {
        return empty_chart("No engagement measured on posts of this period.");
    }
    let (w, ht, left, bottom, top) = (640.0, 200.0, 48.0, 22.0, 10.0);
    let n = d.daily.len().max(1) as f64;
    let slot = (w - left - 10.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let _ = write!(h, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {ht}" role="img" aria-label="Engagements per day">"#);
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
    h.push_str("</svg>");
    Figure { svg: std::mem::take(h), caption: "Engagements of the posts published each day (as measured).".to_owned() }
}

pub(super) fn heatmap(b: &BestTime) -> Figure {
    let mut h = String::new();
    let h = &mut h;
    if b.cells.is_empty() {
        return empty_chart("No measured posts yet: no best time to show.");
    }
    let (left, top, cw, ch) = (40.0, 16.0, 24.0, 22.0);
    let (w, ht) = (left + cw * 24.0 + 4.0, top + ch * 7.0 + 4.0);
    let max = b.cells.iter().map(|c| c.mean_engagements).fold(0.0, f64::max).max(1.0);
    let _ = write!(h, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {ht}" role="img" aria-label="Engagement by weekday and hour">"#);
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
    h.push_str("</svg>");
    Figure { svg: std::mem::take(h), caption }
}

pub(super) fn sentiment_bar(s: &InboxStats) -> Figure {
    let mut h = String::new();
    let h = &mut h;
    if s.total == 0 {
        return empty_chart("No interactions in this period: no sentiment mix.");
    }
    let parts = [("positive", "#16a34a"), ("neutral", "#9ca3af"), ("negative", "#dc2626"), ("unscored", "#e5e7eb")];
    let (w, left) = (640.0, 0.0);
    let _ = write!(h, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} 52" role="img" aria-label="Sentiment mix">"#);
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
    h.push_str("</svg>");
    let mut caption = String::new();
    for (label, color) in parts {
        let n = s.by_sentiment.get(label).copied().unwrap_or(0);
        let _ = write!(caption, r#"<span style="color:{color}">■</span> {label} {n} &nbsp; "#);
    }
    Figure { svg: std::mem::take(h), caption }
}

