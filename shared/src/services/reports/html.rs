//! `report.html`: one self-contained page (no scripts, no fonts, no external files) with inline
//! SVG charts — followers per channel, engagement per day, the weekday × hour heatmap and the
//! sentiment mix — that reads on a screen and prints on A4 (charts scale to the page width and
//! are never split across pages). An empty chart says so in words instead of drawing nothing.

use std::fmt::Write as _;

use super::charts;
use super::escape::esc;
use super::data::{BEST_TIME_MIN_POSTS, Compared, InboxStats, Kpis, PostRow, ReportData};
use crate::i18n::Tr;
use crate::platforms::limits::display_name;


/// A count, or `—` when the network does not report it.
pub(super) fn num(tr: &Tr, n: Option<u64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| tr.int(n))
}

/// `28 nov. 2026 18:00` in the report's zone (UTC, said so, if the zone cannot be read).
pub(super) fn local_time(tr: &Tr, t: chrono::DateTime<chrono::Utc>, zone: &str) -> String {
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => tr.datetime(t.with_timezone(&tz)),
        Err(_) => format!("{} UTC", tr.datetime(t)),
    }
}

pub(super) fn pct(tr: &Tr, r: Option<f64>) -> String {
    r.map_or_else(|| "—".to_owned(), |r| tr.pct(r, 2))
}

/// "+12 % vs the previous period" (points for rates), empty when it cannot be said.
pub(super) fn delta(tr: &Tr, cur: Option<f64>, prev: Option<f64>, rate: bool) -> String {
    match (cur, prev) {
        (Some(c), Some(p)) if rate => tr.t_with("delta-points", &[("change", signed_dec(tr, (c - p) * 100.0, 2).into())]),
        (Some(c), Some(p)) if p != 0.0 => tr.t_with("delta-percent", &[("change", signed_pct(tr, (c - p) / p).into())]),
        (Some(_), Some(_)) => tr.t("delta-previous-zero"),
        (Some(_), None) => tr.t("delta-no-previous"),
        _ => String::new(),
    }
}

/// `+1,25` / `−0,50` / `0,00`.
fn signed_dec(tr: &Tr, x: f64, places: usize) -> String {
    let shown = tr.dec(x, places);
    if x > 0.0 && shown.chars().any(|c| c.is_ascii_digit() && c != '0') { format!("+{shown}") } else { shown }
}

/// `+12 %` / `−3 %`.
fn signed_pct(tr: &Tr, fraction: f64) -> String {
    let shown = tr.pct(fraction, 0);
    if fraction > 0.0 && shown.chars().any(|c| c.is_ascii_digit() && c != '0') { format!("+{shown}") } else { shown }
}

pub(super) fn duration_words(tr: &Tr, secs: Option<i64>) -> String {
    match secs {
        None => "—".to_owned(),
        Some(s) if s < 60 => tr.t_with("duration-seconds", &[("s", s.into())]),
        Some(s) if s < 3600 => tr.t_with("duration-minutes", &[("m", (s / 60).into())]),
        Some(s) if s < 86_400 => tr.t_with("duration-hours", &[("h", (s / 3600).into()), ("m", format!("{:02}", s % 3600 / 60).into())]),
        Some(s) => tr.t_with("duration-days", &[("d", (s / 86_400).into()), ("h", (s % 86_400 / 3600).into())]),
    }
}

/// A table inside a box that scrolls on narrow screens (so the page never does).
fn table_open(h: &mut String, label: &str, headings: &[(String, bool)]) {
    let _ = write!(h, r#"<div class="wide" tabindex="0" role="region" aria-label="{}"><table><thead><tr>"#, esc(label));
    for (heading, numeric) in headings {
        let class = if *numeric { r#" class="n""# } else { "" };
        let _ = write!(h, "<th{class}>{}</th>", esc(heading));
    }
    h.push_str("</tr></thead><tbody>");
}

const TABLE_CLOSE: &str = "</tbody></table></div>";

/// report.html in the report's language, with the team's brand.
pub fn render_html(d: &ReportData) -> String {
    let tr = Tr::of(d.language);
    let mut h = String::with_capacity(64 * 1024);
    let title = tr.t_with(
        "report-title",
        &[("team", d.team_name.as_str().into()), ("from", tr.date(d.period.from).into()), ("to", tr.date(d.period.to).into())],
    );
    let accent = esc(&d.brand.accent);
    let generator = if d.brand.white_label { String::new() } else { r#"<meta name="generator" content="Herald">"#.to_owned() };
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">{generator}
<title>{t}</title>
<style>
:root {{ color-scheme: light; --accent: {accent}; }}
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; margin: 0; background: #f9fafb; }}
main {{ max-width: 960px; margin: 0 auto; padding: 24px; background: #fff; border-top: 6px solid var(--accent); }}
header.brand {{ display: flex; align-items: center; gap: 14px; }} header.brand img {{ max-height: 56px; max-width: 160px; object-fit: contain; }}
h1 {{ font-size: 22px; margin: 0 0 4px; color: var(--accent); }} h2 {{ font-size: 17px; margin: 28px 0 8px; border-bottom: 2px solid var(--accent); padding-bottom: 4px; }}
.muted {{ color: #6b7280; }} .small {{ font-size: 12px; }}
.summary {{ border-left: 4px solid var(--accent); background: #f9fafb; padding: 8px 14px; margin: 12px 0; }} .summary p {{ margin: 4px 0; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; }}
.card {{ border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px; }}
.card .v {{ font-size: 20px; font-weight: 600; }} .card .l {{ font-size: 12px; color: #6b7280; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ text-align: left; padding: 4px 6px; border-bottom: 1px solid #f3f4f6; vertical-align: top; }}
.wide {{ overflow-x: auto; }}
.wide:focus-visible {{ outline: 3px solid var(--accent); outline-offset: 2px; }}
@media (max-width: 760px) {{ main {{ padding: 12px; }} table {{ font-size: 12px; }} th, td {{ padding: 3px 4px; }} }}
th {{ color: #374151; font-weight: 600; }} td.n, th.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.text {{ min-width: 180px; max-width: 360px; overflow-wrap: anywhere; }}
svg {{ width: 100%; height: auto; display: block; }}
figure {{ margin: 8px 0 16px; break-inside: avoid; page-break-inside: avoid; }} figcaption {{ font-size: 12px; color: #6b7280; }}
section, table, .cards {{ break-inside: avoid; page-break-inside: avoid; }}
footer {{ margin-top: 24px; font-size: 12px; color: #6b7280; }}
@media print {{ body {{ background: #fff; }} main {{ padding: 0; max-width: none; }} .wide {{ overflow: visible; }} table {{ font-size: 11px; }} h2 {{ break-after: avoid; }} a {{ color: inherit; text-decoration: none; }} }}
@page {{ size: A4; margin: 14mm; }}
</style></head><body><main>
"#,
        lang = d.language.as_str(),
        t = esc(&title),
    );
    h.push_str(r#"<header class="brand">"#);
    if let Some(logo) = d.brand.logo_data_url.as_deref().filter(|u| u.starts_with("data:image/")) {
        let _ = write!(h, r#"<img src="{}" alt="{}">"#, esc(logo), esc(&tr.t_with("logo-alt", &[("team", d.team_name.as_str().into())])));
    }
    let _ = write!(
        h,
        r#"<div><h1>{}</h1><p class="muted">{}</p></div></header>"#,
        esc(&title),
        esc(&tr.t_with(
            "report-subtitle",
            &[
                ("zone", d.time_zone.as_str().into()),
                ("prev_from", tr.date(d.previous_period.from).into()),
                ("prev_to", tr.date(d.previous_period.to).into()),
                ("generated", format!("{} UTC", tr.datetime(d.generated_at)).into()),
                ("measured", format!("{} UTC", tr.datetime(d.measured_until)).into()),
            ],
        ))
    );
    let _ = write!(
        h,
        r#"<p class="small muted">{}</p>"#,
        esc(&tr.t_with("compared-same-age", &[("previous_measured", format!("{} UTC", tr.datetime(d.previous_measured_until)).into())]))
    );
    if !d.is_empty() {
        h.push_str(&super::summary::html(d, tr));
    }
    if d.is_empty() {
        let _ = write!(h, r#"<p class="card"><strong>{}</strong> {}</p>"#, esc(&tr.t("nothing-happened")), esc(&tr.t("nothing-happened-detail")));
    }

    kpi_cards(&mut h, tr, &d.overall, &d.inbox);

    section(&mut h, tr, "section-channels");
    if d.channels.is_empty() {
        let _ = write!(h, r#"<p class="muted">{}</p>"#, esc(&tr.t("no-channels")));
    } else {
        let headings: Vec<(String, bool)> = [
            ("col-channel", false),
            ("col-network", false),
            ("col-posts", true),
            ("col-impressions", true),
            ("col-engagements", true),
            ("col-rate", true),
            ("col-followers", true),
            ("col-growth", true),
            ("col-failed", true),
        ]
        .into_iter()
        .map(|(id, n)| (tr.t(id), n))
        .collect();
        table_open(&mut h, &tr.t("section-channels"), &headings);
        for c in &d.channels {
            let k = &c.kpis.current;
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(&c.name),
                esc(display_name(c.platform)),
                tr.int(k.posts_published),
                num(tr, k.impressions),
                num(tr, k.engagements),
                pct(tr, k.engagement_rate),
                num(tr, k.followers_end),
                k.follower_growth.map_or_else(|| "—".to_owned(), |g| tr.signed(g)),
                tr.int(k.failed_deliveries)
            );
        }
        h.push_str(TABLE_CLOSE);
    }

    section(&mut h, tr, "section-followers");
    h.push_str(&charts::follower_chart(d, tr).html());
    section(&mut h, tr, "section-daily");
    h.push_str(&charts::engagement_bars(d, tr).html());

    section(&mut h, tr, "section-top");
    post_table(&mut h, tr, &d.top_posts, &tr.t("top-empty"));
    section(&mut h, tr, "section-bottom");
    post_table(&mut h, tr, &d.bottom_posts, &tr.t("bottom-empty"));

    section(&mut h, tr, "section-best-time");
    let _ = write!(h, r#"<p class="small muted">{}</p>"#, esc(&tr.t_with("best-time-about", &[("min", BEST_TIME_MIN_POSTS.into())])));
    h.push_str(&charts::heatmap(&d.best_time, tr).html());
    table_open(&mut h, &tr.t("col-recommended"), &[(tr.t("col-channel"), false), (tr.t("col-recommended"), false)]);
    for c in &d.channels {
        let rec = if c.best_time.recommended.is_empty() {
            tr.t_with("best-time-not-enough", &[("min", BEST_TIME_MIN_POSTS.into()), ("sample", c.best_time.sample.into())])
        } else {
            c.best_time
                .recommended
                .iter()
                .map(|cell| {
                    tr.t_with(
                        "recommended-slot",
                        &[
                            ("weekday", tr.weekday_short(cell.weekday).into()),
                            ("hour", format!("{:02}:00", cell.hour).into()),
                            ("mean", tr.dec(cell.mean_engagements, 1).into()),
                            ("posts", cell.posts.into()),
                        ],
                    )
                })
                .collect::<Vec<_>>()
                .join(" · ")
        };
        let _ = write!(h, "<tr><td>{}</td><td>{} <span class=\"muted small\">{}</span></td></tr>", esc(&c.name), esc(&rec), esc(&c.best_time.time_zone));
    }
    h.push_str(TABLE_CLOSE);

    section(&mut h, tr, "section-inbox");
    inbox(&mut h, tr, &d.inbox);
    h.push_str(&charts::sentiment_bar(&d.inbox.current, tr).html());

    section(&mut h, tr, "section-incidents");
    if d.incidents.is_empty() {
        let _ = write!(h, "<p>{}</p>", esc(&tr.t_with("incidents-none", &[("previous", d.incidents_previous.into())])));
    } else {
        let headings = [
            (tr.t("col-channel"), false),
            (tr.t("col-opened"), false),
            (tr.t("col-closed"), false),
            (tr.t("col-negatives"), true),
            (tr.t("col-usual"), true),
        ];
        table_open(&mut h, &tr.t("section-incidents"), &headings);
        for i in &d.incidents {
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(&i.channel),
                esc(&local_time(tr, i.opened_at, &d.time_zone)),
                esc(&i.closed_at.map_or_else(|| tr.t("still-open"), |t| local_time(tr, t, &d.time_zone))),
                tr.int(u64::from(i.negatives_in_window)),
                esc(&usually(tr, i.expected))
            );
        }
        h.push_str(TABLE_CLOSE);
        let _ = write!(h, r#"<p class="small muted">{}</p>"#, esc(&tr.t_with("incidents-previous", &[("previous", d.incidents_previous.into())])));
    }

    section(&mut h, tr, "section-failed");
    if d.failed_deliveries.is_empty() {
        let _ = write!(h, "<p>{}</p>", esc(&tr.t("failed-none")));
    } else {
        let headings = [(tr.t("col-channel"), false), (tr.t("col-scheduled"), false), (tr.t("col-attempts"), true), (tr.t("col-reason"), false)];
        table_open(&mut h, &tr.t("section-failed"), &headings);
        for f in &d.failed_deliveries {
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td></tr>"#,
                esc(&f.channel),
                esc(&local_time(tr, f.publish_at, &d.time_zone)),
                f.attempts,
                esc(f.reason.as_deref().unwrap_or(""))
            );
        }
        h.push_str(TABLE_CLOSE);
    }

    section(&mut h, tr, "section-definitions");
    let _ = write!(
        h,
        r#"<p class="small">{}</p><p class="small">{}</p><p class="small">{}</p>"#,
        esc(&d.engagement_rate_definition),
        esc(&tr.t("definitions")),
        esc(&tr.t("definitions-files"))
    );
    if !d.brand.white_label {
        let _ = write!(h, "<footer>{}</footer>", esc(&tr.t("made-with-herald")));
    }
    h.push_str("\n</main></body></html>\n");
    h
}

fn section(h: &mut String, tr: &Tr, id: &str) {
    let _ = write!(h, "<h2>{}</h2>", esc(&tr.t(id)));
}

fn kpi_cards(h: &mut String, tr: &Tr, k: &Compared<Kpis>, inbox: &Compared<InboxStats>) {
    let (c, p) = (&k.current, &k.previous);
    let f = |v: Option<u64>| v.map(|v| v as f64);
    let previous = |value: String| tr.t_with("previous-value", &[("value", value.into())]);
    let cards = [
        ("kpi-posts", tr.int(c.posts_published), delta(tr, Some(c.posts_published as f64), Some(p.posts_published as f64), false)),
        ("kpi-impressions", num(tr, c.impressions), delta(tr, f(c.impressions), f(p.impressions), false)),
        ("kpi-reach", num(tr, c.reach), delta(tr, f(c.reach), f(p.reach), false)),
        ("kpi-engagements", num(tr, c.engagements), delta(tr, f(c.engagements), f(p.engagements), false)),
        ("kpi-rate", pct(tr, c.engagement_rate), delta(tr, c.engagement_rate, p.engagement_rate, true)),
        (
            "kpi-growth",
            c.follower_growth.map_or_else(|| "—".to_owned(), |g| tr.signed(g)),
            previous(p.follower_growth.map_or_else(|| "—".to_owned(), |g| tr.signed(g))),
        ),
        (
            "kpi-interactions",
            tr.int(inbox.current.total),
            delta(tr, Some(inbox.current.total as f64), Some(inbox.previous.total as f64), false),
        ),
        (
            "kpi-median-response",
            duration_words(tr, inbox.current.median_first_response_seconds),
            previous(duration_words(tr, inbox.previous.median_first_response_seconds)),
        ),
        ("kpi-failed", tr.int(c.failed_deliveries), previous(tr.int(p.failed_deliveries))),
    ];
    h.push_str(r#"<section class="cards">"#);
    for (label, value, change) in cards {
        let _ = write!(
            h,
            r#"<div class="card"><div class="l">{}</div><div class="v">{}</div><div class="small muted">{}</div></div>"#,
            esc(&tr.t(label)),
            esc(&value),
            esc(&change)
        );
    }
    h.push_str("</section>");
}

fn post_table(h: &mut String, tr: &Tr, rows: &[PostRow], empty: &str) {
    if rows.is_empty() {
        let _ = write!(h, r#"<p class="muted">{}</p>"#, esc(empty));
        return;
    }
    let headings: Vec<(String, bool)> = [
        ("col-published", false),
        ("col-channel", false),
        ("col-post", false),
        ("col-likes", true),
        ("col-reposts", true),
        ("col-replies", true),
        ("col-other", true),
        ("col-engagements", true),
        ("col-rate", true),
    ]
    .into_iter()
    .map(|(id, n)| (tr.t(id), n))
    .collect();
    table_open(h, &tr.t("col-post"), &headings);
    for r in rows {
        let text: String = r.text.chars().take(140).collect();
        let text = if r.text.chars().count() > 140 { format!("{text}…") } else { text };
        let link = match &r.url {
            Some(u) if u.starts_with("https://") => {
                format!(r#" <a href="{}">{}</a>"#, esc(u), esc(&tr.t_with("view-post", &[("network", display_name(r.platform).into())])))
            }
            _ => String::new(),
        };
        let _ = write!(
            h,
            r#"<tr><td>{}</td><td>{}</td><td class="text">{}{link}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&chrono::NaiveDateTime::parse_from_str(&r.published_local, "%Y-%m-%d %H:%M").map_or_else(|_| r.published_local.clone(), |t| tr.naive_datetime(t))),
            esc(&r.channel),
            esc(&text),
            num(tr, r.counters.likes),
            num(tr, r.counters.reposts),
            num(tr, r.counters.replies),
            num(tr, other_engagements(&r.counters)),
            num(tr, r.engagements),
            pct(tr, r.engagement_rate)
        );
    }
    h.push_str(TABLE_CLOSE);
}

fn inbox(h: &mut String, tr: &Tr, i: &Compared<InboxStats>) {
    let (c, p) = (&i.current, &i.previous);
    let kinds = |s: &InboxStats| {
        if s.by_kind.is_empty() {
            "—".to_owned()
        } else {
            s.by_kind
                .iter()
                .map(|(k, n)| tr.t_with(&format!("kind-{}", k.replace('_', "-")), &[("n", (*n).into())]))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    table_open(h, &tr.t("section-inbox"), &[(String::new(), false), (tr.t("this-period"), true), (tr.t("previous-period"), true)]);
    let rows = [
        ("inbox-received", tr.int(c.total), tr.int(p.total)),
        ("inbox-by-kind", kinds(c), kinds(p)),
        ("inbox-answered", tr.int(c.answered), tr.int(p.answered)),
        ("inbox-median", duration_words(tr, c.median_first_response_seconds), duration_words(tr, p.median_first_response_seconds)),
        ("inbox-open", tr.int(c.open_items), tr.int(p.open_items)),
    ];
    for (label, now, before) in rows {
        let _ = write!(h, r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#, esc(&tr.t(label)), esc(&now), esc(&before));
    }
    h.push_str(TABLE_CLOSE);
}

/// What a post's engagements count beyond its likes, reposts and replies (quotes, saves,
/// clicks), shown beside them so that a row adds up to its engagements.
pub(super) fn other_engagements(c: &crate::domain::MetricCounters) -> Option<u64> {
    [c.quotes, c.bookmarks, c.clicks].into_iter().flatten().reduce(u64::saturating_add)
}

/// The negatives a channel usually has in the crisis window, in words ("almost none" below 0.1).
pub(super) fn usually(tr: &Tr, expected: f64) -> String {
    if expected < 0.1 { tr.t("usual-almost-none") } else { tr.dec(expected, 1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;

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
    fn an_almost_zero_expectation_is_said_in_words() {
        let (en, fr) = (Tr::of(Language::En), Tr::of(Language::Fr));
        assert_eq!(usually(en, 0.02), "almost none");
        assert_eq!(usually(fr, 0.02), "presque aucun");
        assert_eq!(usually(fr, 2.345), "2,3");
    }

    #[test]
    fn text_is_escaped_and_numbers_grouped() {
        assert_eq!(esc(r#"<script>"a" & 'b'"#), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;");
        let (en, fr) = (Tr::of(Language::En), Tr::of(Language::Fr));
        assert_eq!(pct(en, Some(0.0345)), "3.45%");
        assert_eq!(pct(fr, Some(0.0345)), "3,45\u{a0}%");
        assert_eq!(duration_words(en, Some(5400)), "1 h 30 min");
        assert_eq!(duration_words(fr, Some(2 * 86_400 + 3600)), "2 j 1 h");
        assert_eq!(delta(en, Some(0.05), Some(0.04), true), "+1.00 pts vs the previous period");
        assert_eq!(delta(fr, Some(95.0), Some(100.0), false), "−5\u{a0}% par rapport à la période précédente");
    }
}
