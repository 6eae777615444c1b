//! `report.csv`: one row per delivery published in the period, by publication time. Missing
//! counters are empty cells, never 0. Text cells that a spreadsheet would run as a formula
//! (starting with `=`, `+`, `-`, `@`) get a leading `'`.

use super::data::ReportData;

pub const HEADER: [&str; 19] = [
    "published_at",
    "published_local",
    "channel",
    "platform",
    "text",
    "url",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "bookmarks",
    "impressions",
    "reach",
    "clicks",
    "engagements",
    "engagement_rate",
    "rate_basis",
    "delivery_id",
    "post_id",
];

fn cell(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() }
}

pub fn render_csv(data: &ReportData) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(HEADER);
    for p in &data.posts {
        let c = &p.counters;
        let record = [
            p.published_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            p.published_local.clone(),
            text(&p.channel),
            p.platform.as_str().to_owned(),
            text(&p.text),
            p.url.clone().unwrap_or_default(),
            cell(c.likes),
            cell(c.reposts),
            cell(c.replies),
            cell(c.quotes),
            cell(c.bookmarks),
            cell(c.impressions),
            cell(c.reach),
            cell(c.clicks),
            cell(p.engagements),
            p.engagement_rate.map(|r| format!("{r:.4}")).unwrap_or_default(),
            p.rate_basis.clone().unwrap_or_default(),
            p.delivery_id.to_string(),
            p.post_id.to_string(),
        ];
        let _ = w.write_record(&record);
    }
    w.into_inner().unwrap_or_default()
}
