//! The report's charts as standalone SVG documents — followers per channel, engagement per day,
//! the weekday × hour heatmap and the sentiment mix — drawn once and used by both renderings:
//! inline in report.html and as images in report.pdf. An empty chart says so in words instead
//! of drawing nothing. Data marks are in colour and carry a `<title>` tooltip; axes, labels and
//! placeholders are grey (the browser check in tests/system/reports.rs relies on both).
//!
//! Sizes: every chart is [`WIDTH`] user units wide with [`FONT`]-unit text, so that text is at
//! least 11 px on a 390 px phone (where the chart is about 366 px wide) without any CSS: the PDF
//! draws these SVGs without the page's styles. On a wide screen report.html keeps a chart at
//! most [`MAX_SHOWN_PX`] wide, so the same text is not blown up past 17.5 px.
//! Axes have round ticks ([`nice_ticks`]) and say what they count; every word and number goes
//! through the report's translator.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use super::data::{BEST_TIME_MIN_POSTS, BestTime, ChannelReport, InboxStats, ReportData};
use super::escape::esc;
use crate::i18n::{Arg, Tr};

/// Each chart's width in SVG user units.
const WIDTH: f64 = 480.0;
/// Text size in user units: 15 × 366 / 480 ≈ 11.4 px on a 390 px screen.
const FONT: f64 = 15.0;
/// The widest report.html shows a chart (text is then 15 × 560 / 480 = 17.5 px).
const MAX_SHOWN_PX: u32 = 560;
/// A character's advance in a sans-serif font, in ems: for laying labels out without a font
/// at hand (generous, so that estimated labels do not collide; DejaVu Sans, a wide fallback,
/// measured): most characters, capitals, and the widest letters.
const EM_ADVANCE: f64 = 0.62;
const EM_CAPITAL: f64 = 0.8;
const EM_WIDE: f64 = 1.0;
const TEXT: &str = "#4b5563";
const GRID: &str = "#e5e7eb";
const AXIS: &str = "#9ca3af";
const DATA: &str = "#2563eb";

const PALETTE: [&str; 10] =
    ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#dc2626", "#4b5563", "#65a30d"];

/// One chart: the SVG document and its caption (HTML, may be empty).
pub struct Figure {
    pub svg: String,
    pub caption: String,
}

impl Figure {
    /// The chart as report.html shows it.
    pub fn html(&self) -> String {
        let style = format!(r#" style="max-width:{MAX_SHOWN_PX}px""#);
        if self.caption.is_empty() {
            format!("<figure{style}>{}</figure>", self.svg)
        } else {
            format!("<figure{style}>{}<figcaption>{}</figcaption></figure>", self.svg, self.caption)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Round ticks

/// An axis from `lo` to `hi` in steps of `step`, all round numbers (1, 2 or 5 × 10^k).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticks {
    pub lo: i64,
    pub hi: i64,
    pub step: i64,
}

impl Ticks {
    /// `lo`, `lo + step`, … `hi`.
    pub fn values(&self) -> Vec<i64> {
        let mut out = Vec::new();
        let mut v = self.lo;
        while v <= self.hi {
            out.push(v);
            match v.checked_add(self.step) {
                Some(next) => v = next,
                None => break,
            }
        }
        out
    }

    fn span(&self) -> f64 {
        (self.hi as f64 - self.lo as f64).max(1.0)
    }
}

/// Round ticks covering `[min, max]` (counts, so steps are whole) in about `target` steps: the
/// smallest step of 1, 2 or 5 × 10^k that needs no more than `target` of them, the axis
/// widened to the multiples of it around the data. A range of one value is widened by one on
/// each side, so a flat line sits in the middle of the chart rather than on its edge.
pub fn nice_ticks(min: i64, max: i64, target: u32) -> Ticks {
    let (min, max) = if min <= max { (min, max) } else { (max, min) };
    let (min, max) = if min == max { (min.saturating_sub(1), max.saturating_add(1)) } else { (min, max) };
    let span = u128::try_from(i128::from(max) - i128::from(min)).unwrap_or(1);
    let target = u128::from(target.max(1));
    let raw = span.div_ceil(target).max(1);
    let mut magnitude: u128 = 1;
    while magnitude.saturating_mul(10) <= raw {
        magnitude = magnitude.saturating_mul(10);
    }
    let step = [1, 2, 5, 10].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10 * magnitude);
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let lo = min.div_euclid(step).saturating_mul(step);
    let hi = max.div_euclid(step).saturating_add(i64::from(max.rem_euclid(step) != 0)).saturating_mul(step);
    Ticks { lo, hi, step }
}

/// A vertical axis: value → y coordinate, its grid lines and labels.
struct YAxis {
    ticks: Ticks,
    /// y of `ticks.hi` and of `ticks.lo`.
    top: f64,
    bottom: f64,
}

impl YAxis {
    fn y(&self, v: f64) -> f64 {
        self.bottom - (v - self.ticks.lo as f64) / self.ticks.span() * (self.bottom - self.top)
    }

    /// Grid lines across `[left, right]` with their labels left of `left`; the zero line darker.
    fn draw(&self, h: &mut String, left: f64, right: f64, label: impl Fn(i64) -> String) {
        for v in self.ticks.values() {
            let y = self.y(v as f64);
            let stroke = if v == 0 { AXIS } else { GRID };
            let _ = write!(h, r#"<line x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="{stroke}"/>"#);
            text(h, left - 6.0, y + FONT * 0.35, "end", &label(v));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

fn text_width(s: &str) -> f64 {
    let ems: f64 = s
        .chars()
        .map(|c| match c {
            'M' | 'W' | 'm' | 'w' => EM_WIDE,
            c if c.is_uppercase() => EM_CAPITAL,
            _ => EM_ADVANCE,
        })
        .sum();
    ems * FONT
}

fn text(h: &mut String, x: f64, y: f64, anchor: &str, s: &str) {
    let _ = write!(h, r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" fill="{TEXT}">{}</text>"#, esc(s));
}

fn open(h: &mut String, height: f64, label: &str) {
    let _ = write!(
        h,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="{FONT}">"#,
        esc(label)
    );
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Words in lines of at most `max` characters (a longer word gets a line of its own).
fn wrap(s: &str, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= max => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// The chart that has nothing to draw: its sentence, in grey.
fn empty_chart(label: &str, what: &str) -> Figure {
    let lines = wrap(what, (WIDTH / (FONT * EM_ADVANCE)) as usize - 4);
    let height = 24.0 + FONT * 1.4 * lines.len() as f64;
    let mut h = String::new();
    open(&mut h, height, label);
    let _ = write!(h, r##"<rect x="0.5" y="0.5" width="{}" height="{}" fill="#f9fafb" stroke="{GRID}"/>"##, WIDTH - 1.0, height - 1.0);
    for (i, line) in lines.iter().enumerate() {
        text(&mut h, WIDTH / 2.0, 12.0 + FONT * (1.4 * i as f64 + 1.0), "middle", line);
    }
    h.push_str("</svg>");
    Figure { svg: h, caption: String::new() }
}

/// Day labels under `n` slots `slot` wide starting at `left`: every k-th day, k as small as
/// lets the labels not touch.
fn day_labels(h: &mut String, days: &[NaiveDate], left: f64, slot: f64, y: f64, tr: &Tr) {
    let label = |d: NaiveDate| {
        if days.len() <= 14 {
            tr.t_with(
                "chart-weekday-day",
                &[("weekday", Arg::from(tr.weekday_short(d.weekday().num_days_from_monday()))), ("day", Arg::from(u64::from(d.day())))],
            )
        } else {
            tr.day_month(d)
        }
    };
    let widest = days.iter().map(|d| text_width(&label(*d))).fold(0.0, f64::max);
    let every = ((widest + 8.0) / slot.max(1.0)).ceil().max(1.0) as usize;
    for (i, d) in days.iter().enumerate().step_by(every) {
        text(h, left + slot * (i as f64 + 0.5), y, "middle", &label(*d));
    }
}

/// A line of legend: a colour square and its words.
fn legend_row(h: &mut String, x: f64, y: f64, color: &str, words: &str) {
    let _ = write!(h, r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{color}"/>"#, y - 11.0);
    text(h, x + 18.0, y, "start", words);
}

// ---------------------------------------------------------------------------------------------
// The charts

/// Each channel's change in followers since the period began (its count at the end of the day
/// before, the baseline of its follower growth): channels of 50 and of 50 000 followers on one
/// axis, and the growth the key figures announce is where each line ends.
pub(super) fn follower_chart(d: &ReportData, tr: &Tr) -> Figure {
    let label = tr.t("chart-followers-label");
    let series: Vec<(&ChannelReport, u64)> = d
        .channels
        .iter()
        .filter_map(|c| {
            let first = c.followers.first()?.1;
            Some((c, c.kpis.current.followers_start.unwrap_or(first)))
        })
        .collect();
    if series.is_empty() {
        return empty_chart(&label, &tr.t("chart-followers-empty"));
    }
    let days: Vec<NaiveDate> = d.period.from.iter_days().take_while(|day| d.period.contains_day(*day)).collect();
    let change = |f: u64, base: u64| f as i64 - base as i64;
    let changes = series.iter().flat_map(|(c, base)| c.followers.iter().map(move |(_, f)| change(*f, *base)));
    let (min, max) = changes.fold((0, 0), |(lo, hi), v| (v.min(lo), v.max(hi)));
    let ticks = nice_ticks(min, max, 4);
    let tick_label = |v: i64| tr.signed(v);
    let left = ticks.values().into_iter().map(|v| text_width(&tick_label(v))).fold(0.0, f64::max) + 10.0;
    let (right, top, plot_bottom) = (WIDTH - 12.0, 40.0, 220.0);
    let legend_top = plot_bottom + 56.0;
    let height = legend_top + 24.0 * series.len() as f64;
    let axis = YAxis { ticks, top, bottom: plot_bottom };
    let slot = (right - left) / days.len().max(1) as f64;
    // A day's count above its label; the baseline (the end of the day before) on the left edge.
    let x = |day: NaiveDate| left + slot * ((day - d.period.from).num_days() as f64 + 0.5);

    let mut h = String::new();
    open(&mut h, height, &label);
    let before = d.period.from.pred_opt().unwrap_or(d.period.from);
    text(&mut h, 4.0, 18.0, "start", &tr.t_with("chart-followers-axis", &[("date", Arg::from(tr.day_month(before)))]));
    axis.draw(&mut h, left, right, tick_label);
    let _ = write!(h, r#"<line x1="{left}" x2="{left}" y1="{top}" y2="{plot_bottom}" stroke="{AXIS}"/>"#);
    day_labels(&mut h, &days, left, slot, plot_bottom + 22.0, tr);
    for (i, (c, base)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut points: Vec<String> = Vec::new();
        if c.kpis.current.followers_start.is_some() && c.followers.first().is_some_and(|(day, _)| *day == d.period.from) {
            points.push(format!("{left:.1},{:.1}", axis.y(0.0)));
        }
        points.extend(c.followers.iter().map(|(day, f)| format!("{:.1},{:.1}", x(*day), axis.y(change(*f, *base) as f64))));
        let _ = write!(h, r#"<polyline fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round" points="{}"/>"#, points.join(" "));
        let radius = if days.len() > 31 { 2.0 } else { 3.5 };
        for (day, f) in &c.followers {
            let tip = tr.t_with(
                "chart-followers-point",
                &[
                    ("channel", Arg::from(c.name.as_str())),
                    ("date", Arg::from(tr.date(*day))),
                    ("count", Arg::from(tr.int(*f))),
                    ("change", Arg::from(tr.signed(change(*f, *base)))),
                ],
            );
            let _ = write!(
                h,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{color}"><title>{}</title></circle>"#,
                x(*day),
                axis.y(change(*f, *base) as f64),
                esc(&tip)
            );
        }
        let end = c.followers.last().map_or(*base, |(_, f)| *f);
        let words = tr.t_with(
            "chart-followers-legend",
            &[
                ("channel", Arg::from(clip(&c.name, 26))),
                ("change", Arg::from(tr.signed(change(end, *base)))),
                ("from", Arg::from(tr.int(*base))),
                ("to", Arg::from(tr.int(end))),
            ],
        );
        legend_row(&mut h, 4.0, legend_top + 24.0 * i as f64, color, &words);
    }
    h.push_str("</svg>");
    let caption = esc(&tr.t_with("chart-followers-caption", &[("date", Arg::from(tr.day_month(before)))]));
    Figure { svg: h, caption }
}

pub(super) fn engagement_bars(d: &ReportData, tr: &Tr) -> Figure {
    let label = tr.t("chart-engagement-label");
    let max = d.daily.iter().map(|r| r.engagements).max().unwrap_or(0);
    if max == 0 {
        return empty_chart(&label, &tr.t("chart-engagement-empty"));
    }
    let ticks = nice_ticks(0, i64::try_from(max).unwrap_or(i64::MAX), 4);
    let tick_label = |v: i64| tr.int(v.unsigned_abs());
    let left = ticks.values().into_iter().map(|v| text_width(&tick_label(v))).fold(0.0, f64::max) + 10.0;
    let (right, top, plot_bottom) = (WIDTH - 12.0, 40.0, 220.0);
    let height = plot_bottom + 56.0;
    let axis = YAxis { ticks, top, bottom: plot_bottom };
    let slot = (right - left) / d.daily.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);

    let mut h = String::new();
    open(&mut h, height, &label);
    text(&mut h, 4.0, 18.0, "start", &tr.t("chart-engagement-y"));
    axis.draw(&mut h, left, right, tick_label);
    for (i, r) in d.daily.iter().enumerate() {
        let y = axis.y(r.engagements as f64);
        let tip = tr.t_with(
            "chart-engagement-bar",
            &[
                ("date", Arg::from(tr.date(r.day))),
                ("engagements", Arg::from(tr.int(r.engagements))),
                ("n", Arg::from(r.engagements)),
                ("posts", Arg::from(r.posts)),
            ],
        );
        let _ = write!(
            h,
            r#"<rect x="{:.1}" y="{y:.1}" width="{bar:.1}" height="{:.1}" fill="{DATA}"><title>{}</title></rect>"#,
            left + slot * i as f64 + (slot - bar) / 2.0,
            plot_bottom - y,
            esc(&tip)
        );
    }
    let days: Vec<NaiveDate> = d.daily.iter().map(|r| r.day).collect();
    day_labels(&mut h, &days, left, slot, plot_bottom + 22.0, tr);
    text(&mut h, left + (right - left) / 2.0, plot_bottom + 48.0, "middle", &tr.t("chart-engagement-x"));
    h.push_str("</svg>");
    Figure { svg: h, caption: esc(&tr.t("chart-engagement-caption")) }
}

pub(super) fn heatmap(b: &BestTime, tr: &Tr) -> Figure {
    let label = tr.t("chart-heatmap-label");
    if b.cells.is_empty() {
        return empty_chart(&label, &tr.t("chart-heatmap-empty"));
    }
    let weekdays: Vec<String> = (0..7).map(|i| tr.weekday_short(i)).collect();
    let left = weekdays.iter().map(|w| text_width(w)).fold(0.0, f64::max) + 10.0;
    let (top, ch) = (26.0, 24.0);
    let cw = (WIDTH - left - 4.0) / 24.0;
    let grid_bottom = top + ch * 7.0;
    let legend_y = grid_bottom + 30.0;
    let height = legend_y + 34.0;
    let max = b.cells.iter().map(|c| c.mean_engagements).fold(0.0, f64::max).max(1.0);
    // How dark a cell is says its mean engagements per post, and nothing else.
    let opacity = |mean: f64| 0.12 + 0.88 * (mean / max).clamp(0.0, 1.0);

    let mut h = String::new();
    open(&mut h, height, &label);
    for hour in (0..24).step_by(6) {
        text(&mut h, left + cw * f64::from(hour), 17.0, "start", &format!("{hour:02}:00"));
    }
    for hour in (0..=24).step_by(3) {
        let x = left + cw * f64::from(hour);
        let _ = write!(h, r#"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{top}" stroke="{AXIS}"/>"#, top - 4.0);
    }
    for (i, day) in weekdays.iter().enumerate() {
        let y = top + ch * i as f64;
        text(&mut h, left - 6.0, y + ch / 2.0 + FONT * 0.35, "end", day);
        for hour in 0..24 {
            let _ = write!(h, r##"<rect x="{:.1}" y="{y:.1}" width="{cw:.1}" height="{ch}" fill="#f3f4f6" stroke="#fff"/>"##, left + cw * f64::from(hour));
        }
    }
    for c in &b.cells {
        let recommended = b.recommended.iter().any(|r| r.weekday == c.weekday && r.hour == c.hour);
        let (x, y) = (left + cw * f64::from(c.hour), top + ch * f64::from(c.weekday % 7));
        let tip = tr.t_with(
            "chart-heatmap-cell",
            &[
                ("weekday", Arg::from(weekdays[c.weekday as usize % 7].as_str())),
                ("hour", Arg::from(format!("{:02}:00", c.hour))),
                ("mean", Arg::from(tr.dec(c.mean_engagements, 1))),
                ("posts", Arg::from(c.posts as u64)),
            ],
        );
        let _ = write!(
            h,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{cw:.1}" height="{ch}" fill="{DATA}" fill-opacity="{:.2}" stroke="{}" stroke-width="{}"><title>{}</title></rect>"##,
            opacity(c.mean_engagements),
            if recommended { "#111827" } else { "#fff" },
            if recommended { 2.5 } else { 1.0 },
            esc(&tip)
        );
        if c.posts < BEST_TIME_MIN_POSTS {
            // Too few posts to be recommended: a white slash across the cell.
            let _ = write!(h, r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#fff" stroke-width="1.5"/>"##, x + 3.0, y + ch - 3.0, x + cw - 3.0, y + 3.0);
        }
    }
    // The legend: what dark means, what the outline and the slash mean.
    let scale_x = 4.0 + text_width("0") + 6.0;
    text(&mut h, 4.0, legend_y, "start", "0");
    for i in 0..5 {
        let _ = write!(
            h,
            r#"<rect x="{:.1}" y="{:.1}" width="16" height="14" fill="{DATA}" fill-opacity="{:.2}"/>"#,
            scale_x + 16.0 * f64::from(i),
            legend_y - 12.0,
            opacity(max * f64::from(i) / 4.0)
        );
    }
    let per_post = tr.t_with("chart-heatmap-scale", &[("max", Arg::from(tr.dec(max, 1)))]);
    text(&mut h, scale_x + 16.0 * 5.0 + 6.0, legend_y, "start", &per_post);
    let _ = write!(h, r##"<rect x="5" y="{:.1}" width="14" height="14" fill="#fff" stroke="#111827" stroke-width="2.5"/>"##, legend_y + 10.0);
    text(&mut h, 26.0, legend_y + 22.0, "start", &tr.t("chart-heatmap-recommended"));
    let few_x = 26.0 + text_width(&tr.t("chart-heatmap-recommended")) + 18.0;
    let _ = write!(
        h,
        r##"<rect x="{few_x:.1}" y="{:.1}" width="14" height="14" fill="{DATA}" fill-opacity="0.5"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#fff" stroke-width="1.5"/>"##,
        legend_y + 10.0,
        few_x + 2.0,
        legend_y + 22.0,
        few_x + 12.0,
        legend_y + 12.0
    );
    text(&mut h, few_x + 20.0, legend_y + 22.0, "start", &tr.t_with("chart-heatmap-few", &[("n", Arg::from(BEST_TIME_MIN_POSTS as u64))]));
    h.push_str("</svg>");
    let mut caption = tr.t_with(
        "chart-heatmap-caption",
        &[("zone", Arg::from(b.time_zone.as_str())), ("n", Arg::from(b.sample)), ("posts", Arg::from(tr.int(b.sample as u64)))],
    );
    if b.recommended.is_empty() {
        // `note` says the same in English; the report says it in its language.
        let why = tr.t_with("best-time-not-enough", &[("min", Arg::from(BEST_TIME_MIN_POSTS)), ("sample", Arg::from(b.sample))]);
        caption = format!("{why} {caption}");
    }
    let caption = esc(&caption);
    Figure { svg: h, caption }
}

pub(super) fn sentiment_bar(s: &InboxStats, tr: &Tr) -> Figure {
    let label = tr.t("chart-sentiment-label");
    if s.total == 0 {
        return empty_chart(&label, &tr.t("chart-sentiment-empty"));
    }
    let parts = [("positive", "#16a34a"), ("neutral", "#9ca3af"), ("negative", "#dc2626"), ("unscored", "#e5e7eb")];
    let counted: Vec<(String, &str, u64)> = parts
        .iter()
        .map(|(key, color)| (tr.t(&format!("chart-sentiment-{key}")), *color, s.by_sentiment.get(*key).copied().unwrap_or(0)))
        .collect();
    let share = |n: u64| n as f64 / s.total as f64;
    let (bar_top, bar_h) = (4.0, 32.0);
    let legend_top = bar_top + bar_h + 26.0;
    let height = legend_top + 24.0 * 2.0;

    let mut h = String::new();
    open(&mut h, height, &label);
    let mut x = 0.0;
    for (name, color, n) in &counted {
        if *n == 0 {
            continue;
        }
        let width = share(*n) * WIDTH;
        let tip = tr.t_with(
            "chart-sentiment-part",
            &[("label", Arg::from(name.as_str())), ("n", Arg::from(tr.int(*n))), ("total", Arg::from(tr.int(s.total))), ("share", Arg::from(tr.pct(share(*n), 0)))],
        );
        let _ = write!(h, r#"<rect x="{x:.1}" y="{bar_top}" width="{width:.1}" height="{bar_h}" fill="{color}"><title>{}</title></rect>"#, esc(&tip));
        let pct = tr.pct(share(*n), 0);
        if width > text_width(&pct) + 8.0 {
            let ink = if matches!(*color, "#16a34a" | "#dc2626") { "#fff" } else { "#111827" };
            let _ = write!(
                h,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{ink}" font-weight="600">{}</text>"##,
                x + width / 2.0,
                bar_top + bar_h / 2.0 + FONT * 0.35,
                esc(&pct)
            );
        }
        x += width;
    }
    // The legend, two columns: every part with its count, even a part with none.
    for (i, (name, color, n)) in counted.iter().enumerate() {
        let (col, row) = (i % 2, i / 2);
        let words = tr.t_with("chart-sentiment-legend", &[("label", Arg::from(name.as_str())), ("n", Arg::from(tr.int(*n)))]);
        legend_row(&mut h, 4.0 + WIDTH / 2.0 * col as f64, legend_top + 24.0 * row as f64, color, &words);
    }
    h.push_str("</svg>");
    Figure { svg: h, caption: esc(&tr.t("chart-sentiment-caption")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::reports::data::{Cell, Compared, DayRow, Kpis, Period};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A week (Monday 4 to Sunday 10 January 2027) with `channels` and `daily`, nothing else.
    fn week(channels: Vec<ChannelReport>, daily: Vec<DayRow>) -> ReportData {
        let zone = chrono_tz::Europe::Paris;
        let period = Period::new(day("2027-01-04"), day("2027-01-10"), zone).unwrap();
        ReportData {
            team_id: crate::domain::TeamId::parse("team", "cafe").unwrap(),
            team_name: "Café".into(),
            language: crate::domain::Language::En,
            brand: Default::default(),
            time_zone: "Europe/Paris".into(),
            previous_period: period.previous(zone),
            generated_at: period.end,
            measured_until: period.end,
            period,
            engagement_rate_definition: String::new(),
            overall: Compared { current: Kpis::default(), previous: Kpis::default() },
            channels,
            posts: vec![],
            top_posts: vec![],
            bottom_posts: vec![],
            daily,
            best_time: BestTime::default(),
            inbox: Compared { current: InboxStats::default(), previous: InboxStats::default() },
            incidents: vec![],
            incidents_previous: 0,
            failed_deliveries: vec![],
            items_read: Default::default(),
        }
    }

    fn channel(name: &str, start: Option<u64>, counts: &[(&str, u64)]) -> ChannelReport {
        let followers: Vec<(NaiveDate, u64)> = counts.iter().map(|(d, f)| (day(d), *f)).collect();
        let end = followers.last().map(|(_, f)| *f);
        ChannelReport {
            channel_id: crate::domain::ChannelId::new(),
            name: name.into(),
            platform: crate::domain::Platform::Sandbox,
            time_zone: "Europe/Paris".into(),
            kpis: Compared {
                current: Kpis { followers_start: start, followers_end: end, follower_growth: start.zip(end).map(|(s, e)| e as i64 - s as i64), ..Kpis::default() },
                previous: Kpis::default(),
            },
            followers,
            best_time: BestTime::default(),
        }
    }

    /// The words a chart shows (its `<text>` elements), unescaped no further.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text ").skip(1).filter_map(|t| t.split_once('>').and_then(|(_, rest)| rest.split_once("</text>")).map(|(w, _)| w.to_owned())).collect()
    }

    fn en() -> &'static Tr {
        Tr::of(crate::domain::Language::En)
    }

    /// `n` as the English report writes it.
    fn int(n: u64) -> String {
        en().int(n)
    }

    #[test]
    fn followers_are_each_channels_change_on_a_round_axis_with_a_legend_of_it() {
        let d = week(
            vec![
                channel("Café & Co <3", Some(1000), &[("2027-01-04", 1000), ("2027-01-08", 1000), ("2027-01-09", 1040), ("2027-01-10", 1040)]),
                channel("Small", Some(500), &[("2027-01-04", 500), ("2027-01-05", 510), ("2027-01-10", 530)]),
            ],
            vec![],
        );
        let f = follower_chart(&d, en());
        let words = texts(&f.svg);
        for tick in ["0", "+10", "+20", "+30", "+40"] {
            assert!(words.iter().any(|w| w == tick), "tick {tick} in {words:?}");
        }
        assert!(!words.iter().any(|w| w.contains(&int(1000)) && !w.contains('→')), "no absolute axis: {words:?}");
        assert!(words.contains(&format!("Café &amp; Co &lt;3: +40 ({} → {})", int(1000), int(1040))), "{words:?}");
        assert!(words.contains(&"Small: +30 (500 → 530)".to_owned()), "{words:?}");
        assert!(words.iter().any(|w| w == "Followers gained or lost since the end of 3 Jan"), "{words:?}");
        // Both lines start at 0 (y 220) on the left edge; the big channel's last point is at +40, the top (y 40).
        let lines: Vec<&str> = f.svg.split("points=\"").skip(1).map(|p| p.split('"').next().unwrap()).collect();
        assert_eq!(lines.len(), 2);
        for line in &lines {
            let first = line.split(' ').next().unwrap();
            assert!(first.ends_with(",220.0"), "{line}");
        }
        assert!(lines[0].ends_with(",40.0"), "{}", lines[0]);
        assert_eq!(f.svg.matches("<circle").count(), 7, "a dot per count, each with its tooltip");
        assert!(f.svg.contains("<title>Small, 5 Jan 2027: 510 followers (+10)</title>"), "{}", f.svg);
        assert!(f.svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && f.svg.ends_with("</svg>"));
    }

    #[test]
    fn a_channel_losing_followers_goes_below_zero_on_round_ticks() {
        let d = week(vec![channel("Shrinking", Some(2000), &[("2027-01-04", 1990), ("2027-01-10", 1963)])], vec![]);
        let words = texts(&follower_chart(&d, en()).svg);
        for tick in ["−40", "−20", "0"] {
            assert!(words.iter().any(|w| w == tick), "tick {tick} in {words:?}");
        }
        assert!(words.iter().any(|w| w.starts_with("Shrinking: −37")), "{words:?}");
    }

    #[test]
    fn engagement_bars_have_round_ticks_and_say_what_each_axis_counts() {
        let daily = vec![
            DayRow { day: day("2027-01-04"), posts: 2, engagements: 3002 },
            DayRow { day: day("2027-01-05"), posts: 1, engagements: 696 },
            DayRow { day: day("2027-01-06"), posts: 0, engagements: 0 },
        ];
        let f = engagement_bars(&week(vec![], daily), en());
        let words = texts(&f.svg);
        let ticks: Vec<String> = [0, 1000, 2000, 3000, 4000].into_iter().map(int).collect();
        for tick in &ticks {
            assert!(words.contains(tick), "tick {tick} in {words:?}");
        }
        assert!(!words.iter().any(|w| w.contains("696") || w.contains(&int(3002))), "data values are not ticks: {words:?}");
        assert!(words.contains(&"Engagements (likes, reposts, replies…)".to_owned()), "the y axis says what it counts");
        assert!(words.contains(&"Day the posts were published".to_owned()), "the x axis too");
        assert!(words.contains(&"Mon 4".to_owned()), "{words:?}");
        assert_eq!(f.svg.matches("<title>").count(), 3);
        assert!(f.svg.contains(&format!("<title>4 Jan 2027: {} engagements on 2 posts</title>", int(3002))), "{}", f.svg);
    }

    #[test]
    fn a_month_of_days_is_labelled_without_crowding() {
        let daily: Vec<DayRow> = (0..31).map(|i| DayRow { day: day("2027-01-01") + chrono::Duration::days(i), posts: 1, engagements: 5 }).collect();
        let words = texts(&engagement_bars(&week(vec![], daily), en()).svg);
        let dates: Vec<&String> = words.iter().filter(|w| w.ends_with("Jan") || w.ends_with("Feb")).collect();
        assert!((4..=8).contains(&dates.len()), "{dates:?}");
        assert_eq!(dates[0], "1 Jan");
    }

    #[test]
    fn the_heatmap_says_what_dark_means_and_marks_thin_cells() {
        let cell = |weekday, hour, posts, mean| Cell { weekday, hour, posts, mean_engagements: mean };
        let b = BestTime {
            time_zone: "Europe/Paris".into(),
            sample: 7,
            cells: vec![cell(0, 9, 4, 30.0), cell(2, 18, 1, 12.5)],
            recommended: vec![cell(0, 9, 4, 30.0)],
            note: None,
        };
        let f = heatmap(&b, en());
        let words = texts(&f.svg);
        for w in ["Mon", "Sun", "00:00", "18:00", "30.0 engagements per post", "recommended", "crossed: fewer than 3 posts"] {
            assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
        }
        assert!(f.svg.contains("<title>Wed 18:00: 12.5 engagements per post (1 post)</title>"), "{}", f.svg);
        assert_eq!(f.svg.matches("stroke-width=\"2.5\"><title>").count(), 1, "one cell outlined as recommended");
        assert!(f.svg.contains(r##"fill-opacity="1.00" stroke="#111827""##), "the best cell is the darkest");
        assert_eq!(f.caption, "Times in Europe/Paris; 7 measured posts, this period and the previous one.");
    }

    #[test]
    fn a_french_report_draws_french_words_and_numbers() {
        let fr = Tr::of(crate::domain::Language::Fr);
        let b = BestTime { time_zone: "Europe/Paris".into(), sample: 1, cells: vec![Cell { weekday: 0, hour: 9, posts: 1, mean_engagements: 2.5 }], recommended: vec![], note: Some("English".into()) };
        let f = heatmap(&b, fr);
        let words = texts(&f.svg);
        for w in ["lun.", "dim.", "2,5 interactions par publication", "recommandé"] {
            assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
        }
        assert!(f.caption.contains("1 publication mesurée") && !f.caption.contains("English"), "{}", f.caption);
        let daily = vec![DayRow { day: day("2027-01-04"), posts: 1, engagements: 1500 }];
        let words = texts(&engagement_bars(&week(vec![], daily), fr).svg);
        assert!(words.contains(&"1\u{202f}500".to_owned()) && words.contains(&"lun. 4".to_owned()) && words.contains(&"Jour de publication".to_owned()), "{words:?}");
    }

    #[test]
    fn the_sentiment_bar_shows_shares_and_a_legend_with_every_part() {
        let s = InboxStats { total: 4, by_sentiment: [("positive".to_owned(), 3), ("negative".to_owned(), 1)].into(), ..InboxStats::default() };
        let f = sentiment_bar(&s, en());
        let words = texts(&f.svg);
        for w in ["75%", "25%", "Positive: 3", "Neutral: 0", "Negative: 1", "Not scored: 0"] {
            assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
        }
        assert_eq!(f.svg.matches("<title>").count(), 2, "parts with none are not drawn");
    }

    #[test]
    fn an_empty_chart_says_so_and_draws_no_data() {
        let d = week(vec![channel("No counts", None, &[])], vec![DayRow { day: day("2027-01-04"), posts: 1, engagements: 0 }]);
        for f in [follower_chart(&d, en()), engagement_bars(&d, en()), heatmap(&d.best_time, en()), sentiment_bar(&d.inbox.current, en())] {
            assert!(!f.svg.contains("<title>"), "{}", f.svg);
            assert!(texts(&f.svg).join(" ").ends_with('.'), "a sentence: {}", f.svg);
        }
        assert_eq!(texts(&follower_chart(&d, en()).svg), ["No follower counts measured in this period."]);
        assert_eq!(texts(&sentiment_bar(&d.inbox.current, en()).svg), ["No comments or messages came in this period."]);
        let long = "A sentence far too long for one line of the chart, so it goes on a second line.";
        assert_eq!(texts(&empty_chart("x", long).svg).join(" "), long, "wrapped, not cut");
    }

    #[test]
    fn ticks_are_round_numbers_around_the_data() {
        assert_eq!(nice_ticks(0, 3002, 4), Ticks { lo: 0, hi: 4000, step: 1000 });
        assert_eq!(nice_ticks(0, 3002, 4).values(), [0, 1000, 2000, 3000, 4000]);
        assert_eq!(nice_ticks(696, 3002, 4), Ticks { lo: 0, hi: 4000, step: 1000 });
        assert_eq!(nice_ticks(0, 100, 4).values(), [0, 50, 100]);
        assert_eq!(nice_ticks(0, 7, 4).values(), [0, 2, 4, 6, 8]);
        assert_eq!(nice_ticks(0, 1, 4).values(), [0, 1], "counts: no step below 1");
        assert_eq!(nice_ticks(0, 23, 4).values(), [0, 10, 20, 30]);
    }

    #[test]
    fn negative_and_reversed_ranges_have_round_ticks_through_zero() {
        assert_eq!(nice_ticks(-37, 12, 4).values(), [-40, -20, 0, 20]);
        assert_eq!(nice_ticks(-5, -3, 4).values(), [-5, -4, -3]);
        assert_eq!(nice_ticks(12, -37, 4), nice_ticks(-37, 12, 4));
    }

    #[test]
    fn a_range_of_one_value_is_widened_to_show_it_in_the_middle() {
        assert_eq!(nice_ticks(0, 0, 4).values(), [-1, 0, 1]);
        assert_eq!(nice_ticks(5, 5, 4).values(), [4, 5, 6]);
    }

    #[test]
    fn extreme_ranges_do_not_overflow() {
        let t = nice_ticks(i64::MIN, i64::MAX, 4);
        assert!(t.step > 0 && t.lo <= 0 && t.hi > 0, "{t:?}");
        assert!(!t.values().is_empty());
        let t = nice_ticks(0, u32::MAX.into(), 0);
        assert!(t.hi >= i64::from(u32::MAX), "{t:?}");
    }

    #[test]
    fn long_sentences_wrap_and_long_names_are_clipped() {
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(clip("Le Café des Arts, Lyon 2e", 10), "Le Café d…");
        assert_eq!(clip("Short", 10), "Short");
    }
}
