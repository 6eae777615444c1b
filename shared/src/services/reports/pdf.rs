//! `report.pdf`: the report on A4, typeset by typst used as a library, so that it is made the
//! same way by `herald serve` and on Lambda (which has no browser to print with, and no fonts:
//! DejaVu Sans is embedded from `fonts/`). docs/reports.md, "PDF", says why this path.
//!
//! The template, `report.typ`, holds no data. It reads three kinds of virtual file from the
//! small [`World`] below: `/data.json` (the report's values, formatted as report.html formats
//! them), `/words.json` (every word of the page, see [`english_words`]) and `/charts/*.svg` (the
//! charts of `charts.rs`, the same ones report.html draws). Values reach the page as JSON
//! strings, which typst shows as text: a post saying `#set page(width: 1pt)` prints those words.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Serialize;
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;

use super::charts::{self, Figure};
use super::data::{BEST_TIME_MIN_POSTS, Compared, InboxStats, Kpis, PostRow, ReportData};
use super::html::{self, other_engagements};
use crate::domain::Language;
use crate::i18n::{Arg, Tr};

const TEMPLATE: &str = include_str!("report.typ");

// Numbers, dates and words are the report's language's, as report.html writes them.
fn group(tr: &Tr, n: u64) -> String {
    tr.int(n)
}
fn signed(tr: &Tr, n: Option<i64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| tr.signed(n))
}
fn num(tr: &Tr, n: Option<u64>) -> String {
    html::num(tr, n)
}
fn pct(tr: &Tr, r: Option<f64>) -> String {
    html::pct(tr, r)
}
fn delta(tr: &Tr, cur: Option<f64>, prev: Option<f64>, rate: bool) -> String {
    html::delta(tr, cur, prev, rate)
}
fn duration_words(tr: &Tr, secs: Option<i64>) -> String {
    html::duration_words(tr, secs)
}
fn local_time(tr: &Tr, t: chrono::DateTime<chrono::Utc>, zone: &str) -> String {
    html::local_time(tr, t, zone)
}

/// Every word of the PDF, by key, as `/words.json` gives them to the template. Some carry
/// `{placeholders}` that are filled here, before the values go into `/data.json`.
pub type PdfWords = BTreeMap<&'static str, String>;

/// The PDF's words in the report's language, from the translation files: the keys are the
/// contract with report.typ (which fails to compile, naming the key, when one is missing);
/// `{placeholders}` are kept for [`View::new`] to fill.
pub fn words(tr: &Tr) -> PdfWords {
    fn keep<'a>(names: &[&'a str]) -> Vec<(&'a str, Arg)> {
        names.iter().map(|n| (*n, Arg::Str(format!("{{{n}}}")))).collect()
    }
    let same: [(&'static str, &str); 51] = [
        ("posts_published", "kpi-posts"),
        ("impressions", "kpi-impressions"),
        ("reach", "kpi-reach"),
        ("engagements", "kpi-engagements"),
        ("engagement_rate", "kpi-rate"),
        ("follower_growth", "kpi-growth"),
        ("interactions", "kpi-interactions"),
        ("median_first_response", "kpi-median-response"),
        ("failed_deliveries", "kpi-failed"),
        ("channels", "section-channels"),
        ("no_channels", "no-channels"),
        ("channel", "col-channel"),
        ("network", "col-network"),
        ("posts", "col-posts"),
        ("rate", "col-rate"),
        ("followers", "col-followers"),
        ("growth", "col-growth"),
        ("failed", "col-failed"),
        ("engagement_per_day", "section-daily"),
        ("top_posts", "section-top"),
        ("no_top_posts", "top-empty"),
        ("bottom_posts", "section-bottom"),
        ("no_bottom_posts", "bottom-empty"),
        ("published", "col-published"),
        ("post", "col-post"),
        ("likes", "col-likes"),
        ("reposts", "col-reposts"),
        ("replies", "col-replies"),
        ("other_engagements", "col-other"),
        ("best_time", "section-best-time"),
        ("recommended", "col-recommended"),
        ("inbox", "section-inbox"),
        ("this_period", "this-period"),
        ("previous", "previous-period"),
        ("interactions_received", "inbox-received"),
        ("by_kind", "inbox-by-kind"),
        ("answered", "inbox-answered"),
        ("open_items", "inbox-open"),
        ("incidents", "section-incidents"),
        ("opened", "col-opened"),
        ("closed", "col-closed"),
        ("still_open", "still-open"),
        ("negatives", "col-negatives"),
        ("usually", "col-usual"),
        ("scheduled", "col-scheduled"),
        ("attempts", "col-attempts"),
        ("reason", "col-reason"),
        ("none", "failed-none"),
        ("definitions", "section-definitions"),
        ("summary", "summary-title"),
        ("page", "pdf-page"),
    ];
    let mut w: PdfWords = same.into_iter().map(|(k, id)| (k, tr.t(id))).collect();
    w.insert("page", tr.t_with("pdf-page", &keep(&["n", "total"])));
    w.insert("heading", tr.t_with("pdf-heading", &keep(&["from", "to"])));
    w.insert("subtitle", tr.t_with("pdf-subtitle", &keep(&["zone", "prev_from", "prev_to", "measured"])));
    w.insert("generated", tr.t_with("pdf-generated", &keep(&["at"])));
    w.insert("generated_white_label", tr.t_with("pdf-generated-plain", &keep(&["at"])));
    w.insert("nothing_happened", format!("{} {}", tr.t("nothing-happened"), tr.t("nothing-happened-detail")));
    w.insert("previous_value", tr.t_with("previous-value", &keep(&["value"])));
    w.insert("best_time_intro", tr.t_with("best-time-about", &keep(&["min"])));
    let slot = [("weekday", Arg::Str("{day}".into())), ("hour", Arg::Str("{hour}:00".into())), ("mean", Arg::Str("{mean}".into())), ("posts", Arg::Str("{posts}".into()))];
    w.insert("slot", tr.t_with("recommended-slot", &slot));
    w.insert("incidents_none", tr.t_with("incidents-none", &keep(&["previous"])));
    w.insert("incidents_previous", tr.t_with("incidents-previous", &keep(&["previous"])));
    w.insert("definitions_more", format!("{} {}", tr.t("definitions"), tr.t("definitions-files")));
    w
}

/// The PDF's words in English.
pub fn english_words() -> PdfWords {
    words(Tr::of(Language::En))
}

/// Why a PDF could not be made: typst's diagnostics, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report.pdf could not be made: {0}")]
pub struct PdfError(pub String);

/// The report as an A4 PDF.
pub fn render_pdf(d: &ReportData, words: &PdfWords) -> Result<Vec<u8>, PdfError> {
    let document = layout(d, words)?;
    let options = typst_pdf::PdfOptions { ident: typst::foundations::Smart::Custom(d.team_id.to_string()), ..Default::default() };
    typst_pdf::pdf(&document, &options).map_err(|errors| PdfError(describe(None, &errors)))
}

/// The report laid out on pages, before it is written as a PDF.
fn layout(d: &ReportData, words: &PdfWords) -> Result<PagedDocument, PdfError> {
    let tr = Tr::of(d.language);
    let figures = [
        ("followers", charts::follower_chart(d, tr)),
        ("engagement", charts::engagement_bars(d, tr)),
        ("heatmap", charts::heatmap(&d.best_time, tr)),
        ("sentiment", charts::sentiment_bar(&d.inbox.current, tr)),
    ];
    let view = View::new(d, words, &figures);
    let json = |e: serde_json::Error| PdfError(format!("serialising the report: {e}"));
    let mut files = BTreeMap::new();
    files.insert("/data.json".to_owned(), Bytes::new(serde_json::to_vec(&view).map_err(json)?));
    files.insert("/words.json".to_owned(), Bytes::new(serde_json::to_vec(words).map_err(json)?));
    for (name, figure) in figures {
        files.insert(format!("/charts/{name}.svg"), Bytes::new(figure.svg.into_bytes()));
    }
    if let Some((path, bytes)) = logo(d) {
        files.insert(path, Bytes::new(bytes));
    }
    let world = ReportWorld::new(files)?;
    let compiled = typst::compile::<PagedDocument>(&world);
    // typst memoises across compilations; a long-running `herald serve` keeps none of it.
    typst::comemo::evict(0);
    compiled.output.map_err(|errors| PdfError(describe(Some(&world), &errors)))
}

/// typst's errors in one line, each with where it is when that is the template.
fn describe(world: Option<&ReportWorld>, errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .map(|e| {
            let line = world
                .filter(|world| e.span.id() == Some(world.main.id()))
                .and_then(|world| world.range(e.span))
                .and_then(|range| TEMPLATE.get(..range.start))
                .map(|before| format!(" (report.typ line {})", before.lines().count()));
            format!("{}{}", e.message, line.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// What the template reads

/// `/data.json`: the report's values as the page shows them (strings formatted here, where
/// report.html's formatting lives, so both say the same).
#[derive(Serialize)]
struct View {
    lang: &'static str,
    /// The team's accent colour, `#rrggbb`: headings' rules and the top border.
    accent: String,
    title: String,
    team: String,
    period: String,
    heading: String,
    subtitle: String,
    generated: String,
    empty: Option<String>,
    /// The plain-words summary, a sentence each (none for an empty period).
    summary: Vec<String>,
    /// `/logo.png` (or .jpg, .webp) when the team has a logo.
    logo: Option<String>,
    cards: Vec<Card>,
    channels_head: Vec<String>,
    channels: Vec<Vec<String>>,
    charts: BTreeMap<&'static str, Chart>,
    posts_head: Vec<String>,
    top_posts: Vec<Vec<String>>,
    bottom_posts: Vec<Vec<String>>,
    best_time_intro: String,
    recommended: Vec<Vec<String>>,
    inbox: Vec<Vec<String>>,
    incidents_head: Vec<String>,
    incidents: Vec<Vec<String>>,
    incidents_none: String,
    incidents_previous: String,
    failed_head: Vec<String>,
    failed: Vec<Vec<String>>,
    definitions: Vec<String>,
    items_read: String,
}

#[derive(Serialize)]
struct Card {
    label: String,
    value: String,
    change: String,
}

#[derive(Serialize)]
struct Chart {
    file: String,
    alt: String,
    /// The caption as runs of text, some in a colour (a legend's swatches).
    caption: Vec<Run>,
}

#[derive(Debug, PartialEq, Serialize)]
struct Run {
    text: String,
    color: Option<String>,
}

/// The team's logo as a file of the PDF's world: its path and bytes, from the page's data URL.
fn logo(d: &ReportData) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let url = d.brand.logo_data_url.as_deref()?;
    let (media, data) = url.strip_prefix("data:")?.split_once(";base64,")?;
    let ext = match media {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        _ => return None,
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
    Some((format!("/logo.{ext}"), bytes))
}

/// Fills `{name}` placeholders.
fn fill(pattern: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(pattern.to_owned(), |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
}

impl View {
    fn new(d: &ReportData, w: &PdfWords, figures: &[(&'static str, Figure)]) -> Self {
        let tr = Tr::of(d.language);
        let word = |k: &str| w.get(k).cloned().unwrap_or_else(|| k.to_owned());
        let words = |ks: &[&str]| ks.iter().map(|k| word(k)).collect::<Vec<_>>();
        let date = |day: chrono::NaiveDate| tr.date(day);
        let (from, to) = (date(d.period.from), date(d.period.to));
        let heading = fill(&word("heading"), &[("from", &from), ("to", &to)]);
        let measured = d.measured_until.format("%Y-%m-%d %H:%M UTC").to_string();
        let subtitle = fill(
            &word("subtitle"),
            &[
                ("zone", &d.time_zone),
                ("prev_from", &date(d.previous_period.from)),
                ("prev_to", &date(d.previous_period.to)),
                ("measured", &measured),
            ],
        );
        let channels = d
            .channels
            .iter()
            .map(|c| {
                let k = &c.kpis.current;
                vec![
                    c.name.clone(),
                    c.platform.as_str().to_owned(),
                    group(tr, k.posts_published),
                    num(tr, k.impressions),
                    num(tr, k.engagements),
                    pct(tr, k.engagement_rate),
                    num(tr, k.followers_end),
                    signed(tr, k.follower_growth),
                    group(tr, k.failed_deliveries),
                ]
            })
            .collect();
        let charts = figures.iter().map(|(name, f)| (*name, Chart::new(name, f))).collect();
        let post_rows = |rows: &[PostRow]| rows.iter().map(|r| post_row(tr, r)).collect::<Vec<_>>();
        let recommended = d
            .channels
            .iter()
            .map(|c| {
                let slots = c
                    .best_time
                    .recommended
                    .iter()
                    .map(|cell| {
                        let (mean, posts) = (format!("{:.1}", cell.mean_engagements), cell.posts.to_string());
                        let day = tr.weekday_short(cell.weekday);
                        fill(&word("slot"), &[("day", &day), ("hour", &format!("{:02}", cell.hour)), ("mean", &mean), ("posts", &posts)])
                    })
                    .collect::<Vec<_>>();
                let said = match slots.is_empty() {
                    true => c.best_time.note.clone().unwrap_or_default(),
                    false => slots.join(" · "),
                };
                vec![c.name.clone(), format!("{said} ({})", c.best_time.time_zone)]
            })
            .collect();
        let previous = d.incidents_previous.to_string();
        let incidents = d
            .incidents
            .iter()
            .map(|i| {
                vec![
                    i.channel.clone(),
                    local_time(tr, i.opened_at, &d.time_zone),
                    i.closed_at.map_or_else(|| word("still_open"), |t| local_time(tr, t, &d.time_zone)),
                    i.negatives_in_window.to_string(),
                    html::usually(tr, i.expected),
                ]
            })
            .collect();
        let failed = d
            .failed_deliveries
            .iter()
            .map(|f| {
                vec![f.channel.clone(), local_time(tr, f.publish_at, &d.time_zone), f.attempts.to_string(), f.reason.clone().unwrap_or_default()]
            })
            .collect();
        View {
            lang: "en",
            accent: Some(d.brand.accent.clone()).filter(|c| is_hex_colour(c)).unwrap_or_else(|| "#2563eb".to_owned()),
            title: format!("{} — {heading}", d.team_name),
            team: d.team_name.clone(),
            period: format!("{from} – {to}"),
            heading,
            subtitle,
            // A white-label report does not name Herald.
            generated: fill(
                &word(if d.brand.white_label { "generated_white_label" } else { "generated" }),
                &[("at", &d.generated_at.format("%Y-%m-%d %H:%M UTC").to_string())],
            ),
            empty: d.is_empty().then(|| word("nothing_happened")),
            summary: if d.is_empty() { Vec::new() } else { super::summary::sentences(&d.summary, tr) },
            logo: logo(d).map(|(path, _)| path),
            cards: cards(tr, &d.overall, &d.inbox, &word),
            channels_head: words(&["channel", "network", "posts", "impressions", "engagements", "rate", "followers", "growth", "failed"]),
            channels,
            charts,
            posts_head: words(&["published", "channel", "post", "likes", "reposts", "replies", "other_engagements", "engagements", "rate"]),
            top_posts: post_rows(&d.top_posts),
            bottom_posts: post_rows(&d.bottom_posts),
            best_time_intro: fill(&word("best_time_intro"), &[("min", &BEST_TIME_MIN_POSTS.to_string())]),
            recommended,
            inbox: inbox_rows(tr, &d.inbox, &word),
            incidents_head: words(&["channel", "opened", "closed", "negatives", "usually"]),
            incidents,
            incidents_none: fill(&word("incidents_none"), &[("previous", &previous)]),
            incidents_previous: fill(&word("incidents_previous"), &[("previous", &previous)]),
            failed_head: words(&["channel", "scheduled", "attempts", "reason"]),
            failed,
            definitions: vec![d.engagement_rate_definition.clone(), word("definitions_more")],
            items_read: String::new(),
        }
    }
}

impl Chart {
    fn new(name: &str, f: &Figure) -> Self {
        let alt = svg_label(&f.svg).unwrap_or_else(|| name.to_owned());
        Chart { file: format!("/charts/{name}.svg"), alt, caption: runs(&f.caption) }
    }
}

fn cards(tr: &Tr, k: &Compared<Kpis>, inbox: &Compared<InboxStats>, word: &dyn Fn(&str) -> String) -> Vec<Card> {
    let (c, p) = (&k.current, &k.previous);
    let f = |v: Option<u64>| v.map(|v| v as f64);
    let previous = |value: String| fill(&word("previous_value"), &[("value", &value)]);
    [
        ("posts_published", group(tr, c.posts_published), delta(tr, Some(c.posts_published as f64), Some(p.posts_published as f64), false)),
        ("impressions", num(tr, c.impressions), delta(tr, f(c.impressions), f(p.impressions), false)),
        ("reach", num(tr, c.reach), delta(tr, f(c.reach), f(p.reach), false)),
        ("engagements", num(tr, c.engagements), delta(tr, f(c.engagements), f(p.engagements), false)),
        ("engagement_rate", pct(tr, c.engagement_rate), delta(tr, c.engagement_rate, p.engagement_rate, true)),
        ("follower_growth", signed(tr, c.follower_growth), previous(signed(tr, p.follower_growth))),
        ("interactions", group(tr, inbox.current.total), delta(tr, Some(inbox.current.total as f64), Some(inbox.previous.total as f64), false)),
        (
            "median_first_response",
            duration_words(tr, inbox.current.median_first_response_seconds),
            previous(duration_words(tr, inbox.previous.median_first_response_seconds)),
        ),
        ("failed_deliveries", group(tr, c.failed_deliveries), previous(group(tr, p.failed_deliveries))),
    ]
    .into_iter()
    .map(|(label, value, change)| Card { label: word(label), value, change })
    .collect()
}

fn post_row(tr: &Tr, r: &PostRow) -> Vec<String> {
    let mut text: String = r.text.chars().take(140).collect();
    if r.text.chars().count() > 140 {
        text.push('…');
    }
    vec![
        r.published_local.clone(),
        r.channel.clone(),
        text,
        num(tr, r.counters.likes),
        num(tr, r.counters.reposts),
        num(tr, r.counters.replies),
        num(tr, other_engagements(&r.counters)),
        num(tr, r.engagements),
        pct(tr, r.engagement_rate),
    ]
}

fn inbox_rows(tr: &Tr, i: &Compared<InboxStats>, word: &dyn Fn(&str) -> String) -> Vec<Vec<String>> {
    let (c, p) = (&i.current, &i.previous);
    let kinds = |s: &InboxStats| match s.by_kind.is_empty() {
        true => "—".to_owned(),
        false => s.by_kind.iter().map(|(k, n)| format!("{} {n}", k.replace('_', " "))).collect::<Vec<_>>().join(", "),
    };
    vec![
        vec![word("interactions_received"), group(tr, c.total), group(tr, p.total)],
        vec![word("by_kind"), kinds(c), kinds(p)],
        vec![word("answered"), group(tr, c.answered), group(tr, p.answered)],
        vec![
            word("median_first_response"),
            duration_words(tr, c.median_first_response_seconds),
            duration_words(tr, p.median_first_response_seconds),
        ],
        vec![word("open_items"), group(tr, c.open_items), group(tr, p.open_items)],
    ]
}

// ---------------------------------------------------------------------------------------------
// From the charts' HTML captions to text

/// A chart's `aria-label`, its description for the PDF's alternative text.
fn svg_label(svg: &str) -> Option<String> {
    let start = svg.find("aria-label=\"")? + "aria-label=\"".len();
    let len = svg.get(start..)?.find('"')?;
    Some(plain(svg.get(start..start + len)?))
}

/// A caption's HTML (as charts.rs writes it: text, entities, and `<span style="color:#rrggbb">`
/// swatches) as runs of plain text, the swatches keeping their colour. Other tags are dropped.
fn runs(html: &str) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut color: Option<String> = None;
    let mut rest = html;
    while !rest.is_empty() {
        let (text, tag) = match rest.find('<') {
            Some(i) => (&rest[..i], rest.get(i..).and_then(|t| t.find('>').map(|j| &t[..=j]))),
            None => (rest, None),
        };
        if !text.is_empty() {
            let text = plain(text);
            match out.last_mut() {
                Some(last) if last.color == color => last.text.push_str(&text),
                _ => out.push(Run { text, color: color.clone() }),
            }
        }
        let Some(tag) = tag else { break };
        if tag.starts_with("<span") {
            color = tag.split("color:").nth(1).map(|c| c.chars().take(7).collect::<String>()).filter(|c| is_hex_colour(c));
        } else if tag == "</span>" {
            color = None;
        }
        rest = rest.get(text.len() + tag.len()..).unwrap_or("");
    }
    out
}

fn is_hex_colour(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c.chars().skip(1).all(|ch| ch.is_ascii_hexdigit())
}

/// HTML text (entities of `esc` and `&nbsp;`) as plain text.
fn plain(html: &str) -> String {
    html.replace("&nbsp;", "\u{a0}")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

// ---------------------------------------------------------------------------------------------
// The World: the template, the virtual files, the fonts

static FONTS: LazyLock<(LazyHash<FontBook>, Vec<Font>)> = LazyLock::new(|| {
    let fonts: Vec<Font> = [include_bytes!("fonts/DejaVuSans.ttf").as_slice(), include_bytes!("fonts/DejaVuSans-Bold.ttf").as_slice()]
        .into_iter()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
});

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

/// Everything typst may read: nothing from the disk or the network.
struct ReportWorld {
    main: Source,
    files: HashMap<FileId, Bytes>,
}

fn file_id(path: &str) -> Result<FileId, PdfError> {
    let vpath = VirtualPath::new(path).map_err(|e| PdfError(format!("virtual path {path}: {e:?}")))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

impl ReportWorld {
    fn new(files: BTreeMap<String, Bytes>) -> Result<Self, PdfError> {
        let main = Source::new(file_id("/report.typ")?, TEMPLATE.to_owned());
        let files = files.into_iter().map(|(path, bytes)| Ok((file_id(&path)?, bytes))).collect::<Result<_, PdfError>>()?;
        Ok(Self { main, files })
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.0
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        match id == self.main.id() {
            true => Ok(self.main.clone()),
            false => Err(FileError::NotSource),
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        match self.files.get(&id) {
            Some(bytes) => Ok(bytes.clone()),
            None if id == self.main.id() => Ok(Bytes::from_string(self.main.clone())),
            None => Err(FileError::NotFound(id.vpath().get_with_slash().into())),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.1.get(index).cloned()
    }

    /// No `datetime.today()` in the template: a report says when it was made from its data.
    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, NaiveDate, Utc};

    use super::*;
    use crate::domain::{ChannelId, DeliveryId, MetricCounters, Platform, PostId, TeamId};
    use crate::services::reports::data::{BestTime, Cell, ChannelReport, DayRow, FailedRow, IncidentRow, ItemsRead, Period};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("test instant")
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test day")
    }

    /// A week like the demo's: three channels, 21 posts (one whose text is typst markup),
    /// an inbox, an incident and a failed delivery.
    pub(crate) fn sample(post_text: &str) -> ReportData {
        let zone = chrono_tz::Europe::Paris;
        let period = Period::new(day("2027-01-04"), day("2027-01-10"), zone).expect("period");
        let channels: Vec<ChannelReport> = [("Café Lumière", Platform::Mastodon, 1200), ("@lumiere.bsky", Platform::Bluesky, 640), ("Lumière on X", Platform::X, 3100)]
            .into_iter()
            .map(|(name, platform, base)| ChannelReport {
                channel_id: ChannelId::new(),
                name: name.to_owned(),
                platform,
                time_zone: "Europe/Paris".to_owned(),
                kpis: Compared {
                    current: Kpis { posts_published: 7, impressions: Some(base * 9), engagements: Some(base / 4), engagement_rate: Some(0.0281), followers_start: Some(base), followers_end: Some(base + 37), follower_growth: Some(37), ..Kpis::default() },
                    previous: Kpis { posts_published: 6, impressions: Some(base * 8), engagements: Some(base / 5), ..Kpis::default() },
                },
                followers: (0..7).map(|i| (period.from + Duration::days(i), base + 5 * i as u64)).collect(),
                best_time: BestTime { time_zone: "Europe/Paris".to_owned(), sample: 13, cells: vec![], recommended: vec![Cell { weekday: 1, hour: 18, posts: 3, mean_engagements: 41.3 }], note: None },
            })
            .collect();
        let posts: Vec<PostRow> = (0..21)
            .map(|i| {
                let at = period.start + Duration::hours(9 + 8 * i);
                let c = &channels[i as usize % 3];
                PostRow {
                    delivery_id: DeliveryId::new(),
                    post_id: PostId::new(),
                    channel_id: c.channel_id,
                    channel: c.name.clone(),
                    platform: c.platform,
                    published_at: at,
                    published_local: at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string(),
                    text: match i {
                        0 => post_text.to_owned(),
                        _ => format!("Post {i}: our new seasonal menu, with a long enough sentence to wrap in the table's text column."),
                    },
                    url: Some(format!("https://example.social/@lumiere/{i}")),
                    thumbnail_url: None,
                    counters: MetricCounters { likes: Some(40 + i as u64), reposts: Some(5), replies: Some(3), quotes: Some(1), impressions: Some(900), ..MetricCounters::default() },
                    engagements: Some(49 + i as u64),
                    engagement_rate: Some((49 + i) as f64 / 900.0),
                    rate_basis: Some("impressions".to_owned()),
                }
            })
            .collect();
        let cells = (0..7).flat_map(|d| [9, 13, 18].map(|h| Cell { weekday: d, hour: h, posts: 1 + (d as usize + h as usize) % 4, mean_engagements: f64::from(d * 3 + h) })).collect();
        ReportData {
            team_id: TeamId::parse("team", "cafe").expect("team"),
            team_name: "Café Lumière".to_owned(),
            language: Language::En,
            brand: crate::services::reports::data::ReportBrand::default(),
            time_zone: "Europe/Paris".to_owned(),
            previous_period: period.previous(zone),
            period: period.clone(),
            generated_at: utc("2027-01-11T07:00:00Z"),
            measured_until: utc("2027-01-11T07:00:00Z"),
            previous_measured_until: utc("2027-01-04T07:00:00Z"),
            summary: Vec::new(),
            engagement_rate_definition: Tr::of(Language::En).t("def-engagement-rate"),
            overall: Compared {
                current: Kpis { posts_published: 21, impressions: Some(44_460), reach: Some(30_000), engagements: Some(1_235), engagement_rate: Some(0.0278), follower_growth: Some(111), failed_deliveries: 1, ..Kpis::default() },
                previous: Kpis { posts_published: 18, impressions: Some(40_000), engagements: Some(1_100), engagement_rate: Some(0.0275), follower_growth: Some(80), ..Kpis::default() },
            },
            top_posts: posts.iter().rev().take(5).cloned().collect(),
            bottom_posts: posts.iter().take(5).cloned().collect(),
            daily: (0..7).map(|i| DayRow { day: period.from + Duration::days(i), posts: 3, engagements: 150 + 20 * i as u64 }).collect(),
            best_time: BestTime { time_zone: "Europe/Paris".to_owned(), sample: 39, recommended: vec![Cell { weekday: 1, hour: 18, posts: 3, mean_engagements: 21.0 }], cells, note: None },
            inbox: Compared {
                current: InboxStats {
                    total: 48,
                    by_kind: [("comment".to_owned(), 30), ("direct_message".to_owned(), 18)].into(),
                    by_sentiment: [("positive".to_owned(), 25), ("neutral".to_owned(), 15), ("negative".to_owned(), 8)].into(),
                    answered: 40,
                    median_first_response_seconds: Some(2_700),
                    open_items: 3,
                },
                previous: InboxStats { total: 41, answered: 30, median_first_response_seconds: Some(3_600), ..InboxStats::default() },
            },
            incidents: vec![IncidentRow {
                id: "inc-1".to_owned(),
                channel_id: channels[0].channel_id,
                channel: channels[0].name.clone(),
                opened_at: utc("2027-01-07T17:00:00Z"),
                closed_at: Some(utc("2027-01-07T19:00:00Z")),
                negatives_in_window: 9,
                first_answer_at: None,
                expected: 0.02,
            }],
            incidents_previous: 0,
            failed_deliveries: vec![FailedRow {
                delivery_id: DeliveryId::new(),
                post_id: PostId::new(),
                channel: channels[2].name.clone(),
                publish_at: utc("2027-01-08T11:00:00Z"),
                attempts: 3,
                reason: Some("the network said: rate limited (429)".to_owned()),
            }],
            items_read: ItemsRead { channels: 3, deliveries: 40, posts: 40, rollups: 21, interactions: 89, incidents: 1 },
            channels,
            posts,
        }
    }

    /// The pages' count and each page's size in points, read from the PDF's page objects.
    fn pages(pdf: &[u8]) -> Vec<(f64, f64)> {
        let text = String::from_utf8_lossy(pdf);
        let page_objects = text.match_indices("/Type/Page").filter(|(i, _)| text.get(i + 10..i + 11) != Some("s")).count();
        let boxes: Vec<(f64, f64)> = text
            .split("/MediaBox[")
            .skip(1)
            .filter_map(|rest| {
                let numbers: Vec<f64> = rest.split(']').next()?.split_whitespace().filter_map(|n| n.parse().ok()).collect();
                match numbers[..] {
                    [0.0, 0.0, w, h] => Some((w, h)),
                    _ => None,
                }
            })
            .collect();
        assert_eq!(boxes.len(), page_objects, "one MediaBox per page");
        boxes
    }

    /// Everything written on the laid-out pages, without white space (a cell wraps its text).
    fn written(d: &ReportData) -> String {
        fn walk(frame: &typst::layout::Frame, out: &mut String) {
            for (_, item) in frame.items() {
                match item {
                    typst::layout::FrameItem::Text(t) => out.push_str(&t.text),
                    typst::layout::FrameItem::Group(g) => walk(&g.frame, out),
                    _ => {}
                }
            }
        }
        let document = layout(d, &english_words()).expect("laid out");
        let mut out = String::new();
        for page in document.pages() {
            walk(&page.frame, &mut out);
        }
        out.split_whitespace().collect()
    }

    #[test]
    fn a_week_like_the_demos_is_a_six_page_a4_pdf() {
        let started = std::time::Instant::now();
        let pdf = render_pdf(&sample("Our brunch is back on Sunday."), &english_words()).expect("a PDF");
        eprintln!("rendered in {:?}: {} bytes", started.elapsed(), pdf.len());
        assert!(pdf.starts_with(b"%PDF-"), "a PDF header");
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"), "a complete PDF");
        let again = render_pdf(&sample("Our brunch is back on Sunday."), &english_words()).expect("a PDF");
        assert!(again == pdf, "the same report, the same bytes (no clock, no random id)");
        let pages = pages(&pdf);
        // Key figures and channels; the two charts; top posts; bottom posts (ten rows of
        // wrapped text); best time; inbox, incidents, failures and definitions.
        assert_eq!(pages.len(), 6, "{pages:?}");
        for (w, h) in pages {
            assert!((w - 595.28).abs() < 0.01 && (h - 841.89).abs() < 0.01, "A4 is 595.28 x 841.89 pt, not {w} x {h}");
        }
    }

    /// A post is text, whatever it says: typst markup and code in it are printed, not run.
    #[test]
    fn typst_markup_in_a_post_is_printed_as_text() {
        let hostile = r#"#pagebreak() #set page(width: 1pt) $x^2$ *b* _i_ ] [ \ // @ref <l> #panic("no")"#;
        let plain = written(&sample("Our brunch is back on Sunday."));
        let written = written(&sample(hostile));
        let expected: String = hostile.split_whitespace().collect();
        assert!(written.contains(&expected), "{written}");
        let pdf = render_pdf(&sample(hostile), &english_words()).expect("a PDF");
        assert_eq!(pages(&pdf).len(), 6, "no page break, no page size change");
        assert_eq!(written.replace(&expected, ""), plain.replace("Ourbrunchisbackon" , "").replace("Sunday.", ""), "nothing else changed");
    }

    #[test]
    fn every_word_comes_from_the_words_and_a_missing_one_is_named() {
        let mut words = english_words();
        words.insert("followers", "Abonnés".to_owned());
        let d = sample("Bonjour");
        let layout = layout(&d, &words).expect("laid out");
        assert!(!layout.pages().is_empty());
        words.remove("inbox");
        let e = render_pdf(&d, &words).expect_err("a word is missing");
        assert!(e.0.contains("\"inbox\"") && e.0.contains("report.typ line"), "{e}");
    }

    #[test]
    fn an_empty_period_is_a_pdf_that_says_so() {
        let mut d = sample("");
        d.channels.clear();
        d.posts.clear();
        d.top_posts.clear();
        d.bottom_posts.clear();
        d.daily.clear();
        d.best_time = BestTime::default();
        d.inbox = Compared { current: InboxStats::default(), previous: InboxStats::default() };
        d.incidents.clear();
        d.failed_deliveries.clear();
        assert!(d.is_empty());
        let written = written(&d);
        assert!(written.contains("Nothinghappenedinthisperiod"), "{written}");
        assert!(written.contains("Theteamhasnochannels."), "{written}");
        assert!(written.contains("Nomeasuredpostinthisperiod."), "{written}");
        let pdf = render_pdf(&d, &english_words()).expect("a PDF");
        assert_eq!(pages(&pdf).len(), 4, "the same sections, each saying it has nothing");
    }

    #[test]
    fn the_summary_and_the_logo_are_on_the_first_page() {
        use base64::Engine as _;
        let mut d = sample("Hello");
        d.summary = super::super::summary::facts(&d);
        let first = super::super::summary::sentences(&d.summary, Tr::of(Language::En));
        fn first_page_images(d: &ReportData) -> usize {
            fn walk(frame: &typst::layout::Frame) -> usize {
                frame
                    .items()
                    .map(|(_, item)| match item {
                        typst::layout::FrameItem::Image(..) => 1,
                        typst::layout::FrameItem::Group(g) => walk(&g.frame),
                        _ => 0,
                    })
                    .sum()
            }
            layout(d, &english_words()).expect("laid out").pages().first().map_or(0, |p| walk(&p.frame))
        }
        let plain = first_page_images(&d);
        assert!(written(&d).contains("Summary") && written(&d).contains(&first[0].replace(' ', "")), "{first:?}");
        let png = include_bytes!("../../../../cli/src/demo/logo.png");
        d.brand.logo_data_url = Some(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)));
        assert_eq!((plain, first_page_images(&d)), (0, 1), "the logo is the first page's one picture");
        assert!(render_pdf(&d, &english_words()).is_ok());
    }

    #[test]
    fn a_white_label_report_does_not_name_herald() {
        let mut d = sample("Hello");
        assert!(written(&d).contains("MadewithHerald"));
        d.brand.white_label = true;
        d.brand.accent = "#7c2d12".to_owned();
        let written = written(&d);
        assert!(!written.contains("Herald"), "{written}");
        assert!(written.contains("Madeon2027-01-11"), "{written}");
    }

    #[test]
    fn render_all_gives_the_pdf_beside_the_other_files() {
        let files = super::super::render_all(&sample("Hello"));
        let formats: Vec<_> = files.iter().map(|(f, _)| *f).collect();
        assert_eq!(formats, crate::domain::ReportFormat::ALL);
        let (_, pdf) = files.iter().find(|(f, _)| *f == crate::domain::ReportFormat::Pdf).expect("a PDF");
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn a_captions_swatches_keep_their_colour_and_its_entities_are_text() {
        let html = r#"<span style="color:#2563eb">■</span> Caf&eacute; &lt;Lumière&gt; (+37) &nbsp; <span style="color:red">■</span> X &amp; Y"#;
        let runs = runs(html);
        let expected = [
            Run { text: "■".into(), color: Some("#2563eb".into()) },
            Run { text: " Caf&eacute; <Lumière> (+37) \u{a0} ■ X & Y".into(), color: None },
        ];
        assert_eq!(runs, expected, "a colour that is not #rrggbb is left out");
        assert_eq!(svg_label(r#"<svg role="img" aria-label="Followers &amp; more">"#).as_deref(), Some("Followers & more"));
    }
}
