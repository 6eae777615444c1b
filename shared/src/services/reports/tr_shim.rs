//! TEMPORARY stand-in for `crate::i18n::Tr` (being written on main): the same calls, English
//! only, so that the charts are written against the translator's interface. Deleted when the
//! translator is merged; the messages move to `shared/src/i18n/{en,fr}.ftl`.

use chrono::NaiveDate;

pub enum Arg {
    Num(f64),
    Str(String),
}

impl From<u64> for Arg {
    fn from(n: u64) -> Self {
        Arg::Num(n as f64)
    }
}
impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Str(s.to_owned())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Str(s)
    }
}

pub struct Tr;

const MESSAGES: &[(&str, &str)] = &[
    ("chart-weekday-day", "{ $weekday } { $day }"),
    ("chart-followers-label", "Followers per channel"),
    ("chart-followers-empty", "No follower counts measured in this period."),
    ("chart-followers-axis", "Followers gained or lost since the end of { $date }"),
    ("chart-followers-point", "{ $channel }, { $date }: { $count } followers ({ $change })"),
    ("chart-followers-legend", "{ $channel }: { $change } ({ $from } → { $to })"),
    ("chart-followers-caption", "Each line is one channel's change in followers since the end of { $date }: small and large accounts on one scale."),
    ("chart-engagement-label", "Engagements per day"),
    ("chart-engagement-empty", "No engagement measured on posts of this period."),
    ("chart-engagement-y", "Engagements (likes, reposts, replies…)"),
    ("chart-engagement-x", "Day the posts were published"),
    ("chart-engagement-bar", "{ $date }: { $engagements } engagements on { $posts } posts"),
    ("chart-engagement-caption", "Each bar: the engagements of the posts published that day, as measured."),
    ("chart-heatmap-label", "Engagement by weekday and hour"),
    ("chart-heatmap-empty", "No measured posts yet: no best time to show."),
    ("chart-heatmap-cell", "{ $weekday } { $hour }: { $mean } engagements per post ({ $posts } posts)"),
    ("chart-heatmap-scale", "{ $max } engagements per post"),
    ("chart-heatmap-recommended", "recommended"),
    ("chart-heatmap-few", "crossed: fewer than { $n } posts"),
    ("chart-heatmap-caption", "Times in { $zone }; { $posts } measured posts, this period and the previous one."),
    ("chart-sentiment-label", "Sentiment mix"),
    ("chart-sentiment-empty", "No interactions in this period: no sentiment mix."),
    ("chart-sentiment-positive", "Positive"),
    ("chart-sentiment-neutral", "Neutral"),
    ("chart-sentiment-negative", "Negative"),
    ("chart-sentiment-unscored", "Not scored"),
    ("chart-sentiment-part", "{ $label }: { $n } of { $total } ({ $share })"),
    ("chart-sentiment-legend", "{ $label }: { $n }"),
    ("chart-post-link", "View on { $network }"),
    ("chart-sentiment-caption", "The tone of the comments, mentions and messages received in the period."),
];

impl Tr {
    pub fn english() -> &'static Tr {
        &Tr
    }

    pub fn t(&self, id: &str) -> String {
        self.t_with(id, &[])
    }

    pub fn t_with(&self, id: &str, args: &[(&str, Arg)]) -> String {
        let mut out = MESSAGES.iter().find(|(k, _)| *k == id).map_or(id, |(_, v)| v).to_owned();
        for (name, value) in args {
            let value = match value {
                Arg::Num(n) => n.to_string(),
                Arg::Str(s) => s.clone(),
            };
            out = out.replace(&format!("{{ ${name} }}"), &value);
        }
        out
    }

    pub fn int(&self, n: u64) -> String {
        super::html::group(n)
    }

    pub fn signed(&self, n: i64) -> String {
        super::html::signed(Some(n))
    }

    pub fn dec(&self, x: f64, places: usize) -> String {
        format!("{x:.places$}")
    }

    pub fn pct(&self, fraction: f64, places: usize) -> String {
        format!("{:.places$}%", fraction * 100.0)
    }

    pub fn date(&self, d: NaiveDate) -> String {
        d.format("%-d %b %Y").to_string()
    }

    pub fn day_month(&self, d: NaiveDate) -> String {
        d.format("%-d %b").to_string()
    }

    pub fn weekday_short(&self, monday0: u32) -> String {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][monday0 as usize % 7].to_owned()
    }
}
