//! The words Herald says to people, in their language: one Fluent file per language
//! (`en.ftl`, `fr.ftl`, compiled in), and the locale's way of writing numbers, percentages and
//! dates, which each file also carries (`-locale-*` messages), so that a third language is a
//! translation file and one line in [`Language`], not code.
//!
//! A message missing from a language falls back to English, then to its id (and a warning in
//! the log), so a half-translated file never breaks a report.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use crate::domain::Language;

/// An argument of a message: a number (plurals select on it) or text shown as given.
#[derive(Debug, Clone)]
pub enum Arg {
    Num(f64),
    Str(String),
}

impl From<u64> for Arg {
    fn from(n: u64) -> Self {
        Arg::Num(n as f64)
    }
}
impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Num(n as f64)
    }
}
impl From<usize> for Arg {
    fn from(n: usize) -> Self {
        Arg::Num(n as f64)
    }
}
impl From<f64> for Arg {
    fn from(n: f64) -> Self {
        Arg::Num(n)
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

/// How a locale writes numbers and dates, read from its file's `locale-*` messages.
struct Formats {
    decimal: String,
    group: String,
    /// `{value}` is replaced by the number.
    percent: String,
    minus: String,
    date: String,
    day_month: String,
    datetime: String,
    chrono: chrono::Locale,
}

/// The translator of one language: its messages, with English behind them, and its formats.
pub struct Tr {
    language: Language,
    bundle: FluentBundle<FluentResource>,
    formats: Formats,
}

fn source(language: Language) -> &'static str {
    match language {
        Language::En => include_str!("en.ftl"),
        Language::Fr => include_str!("fr.ftl"),
    }
}

fn bundle(language: Language) -> FluentBundle<FluentResource> {
    let id: unic_langid::LanguageIdentifier = language.as_str().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Plain text out: no Unicode isolation marks around arguments (reports are left to right).
    bundle.set_use_isolating(false);
    // The files are compiled in and checked by the tests below; a syntax error in one
    // still keeps every message that parsed.
    let resource = FluentResource::try_new(source(language).to_owned()).unwrap_or_else(|(partial, errors)| {
        tracing::warn!(language = language.as_str(), ?errors, "translation file has errors");
        partial
    });
    let _ = bundle.add_resource(resource);
    bundle
}

static TRANSLATORS: LazyLock<Vec<Tr>> = LazyLock::new(|| Language::ALL.into_iter().map(Tr::build).collect());

impl Tr {
    /// The translator for `language`, built once.
    pub fn of(language: Language) -> &'static Tr {
        // ALL lists every language, so the lookup always finds it.
        let i = Language::ALL.iter().position(|l| *l == language).unwrap_or(0);
        &TRANSLATORS[i]
    }

    fn build(language: Language) -> Tr {
        let bundle = bundle(language);
        let get = |id: &str, default: &str| -> String {
            bundle
                .get_message(id)
                .and_then(|m| m.value())
                .map(|p| bundle.format_pattern(p, None, &mut Vec::new()).into_owned())
                .unwrap_or_else(|| default.to_owned())
        };
        let formats = Formats {
            decimal: get("locale-decimal-separator", "."),
            group: get("locale-group-separator", "\u{202f}"),
            percent: get("locale-percent", "{value}\u{a0}%"),
            minus: get("locale-minus", "−"),
            date: get("locale-date", "%-d %b %Y"),
            day_month: get("locale-day-month", "%-d %b"),
            datetime: get("locale-datetime", "%-d %b %Y %H:%M"),
            chrono: chrono::Locale::try_from(get("locale-chrono", "en_GB").as_str()).unwrap_or(chrono::Locale::en_GB),
        };
        Tr { language, bundle, formats }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The message `id`.
    pub fn t(&self, id: &str) -> String {
        self.t_with(id, &[])
    }

    /// The message `id` with its `$arguments`.
    pub fn t_with(&self, id: &str, args: &[(&str, Arg)]) -> String {
        let fluent_args = (!args.is_empty()).then(|| {
            let mut a = FluentArgs::new();
            for (name, value) in args {
                match value {
                    Arg::Num(n) => a.set(*name, FluentValue::from(*n)),
                    Arg::Str(s) => a.set(*name, FluentValue::from(s.clone())),
                }
            }
            a
        });
        if let Some(text) = Self::format(&self.bundle, id, fluent_args.as_ref()) {
            return text;
        }
        if self.language != Language::En
            && let Some(text) = Self::format(&Tr::of(Language::En).bundle, id, fluent_args.as_ref())
        {
            return text;
        }
        tracing::warn!(id, language = self.language.as_str(), "no such message");
        id.to_owned()
    }

    fn format(bundle: &FluentBundle<FluentResource>, id: &str, args: Option<&FluentArgs>) -> Option<String> {
        let pattern = bundle.get_message(id)?.value()?;
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors).into_owned();
        if !errors.is_empty() {
            tracing::warn!(id, ?errors, "message formatted with errors");
        }
        Some(text)
    }

    /// `1 234 567`, grouped the locale's way.
    pub fn int(&self, n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + 8);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(&self.formats.group);
            }
            out.push(c);
        }
        out
    }

    /// `+12`, `−3`, `0`.
    pub fn signed(&self, n: i64) -> String {
        match n {
            n if n > 0 => format!("+{}", self.int(n.unsigned_abs())),
            n if n < 0 => format!("{}{}", self.formats.minus, self.int(n.unsigned_abs())),
            _ => "0".to_owned(),
        }
    }

    /// `x` with `places` decimals, the locale's separators (`1 234,5`).
    pub fn dec(&self, x: f64, places: usize) -> String {
        if !x.is_finite() {
            return "—".to_owned();
        }
        let text = format!("{:.*}", places, x.abs());
        let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
        let whole = self.int(whole.parse().unwrap_or(0));
        // "-0.0" is shown as 0.
        let negative = x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
        let sign = if negative { self.formats.minus.as_str() } else { "" };
        if frac.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}{}{frac}", self.formats.decimal) }
    }

    /// A fraction as a percentage: 0.0826 → `8,26 %` (fr), `8.26%` (en).
    pub fn pct(&self, fraction: f64, places: usize) -> String {
        self.formats.percent.replace("{value}", &self.dec(fraction * 100.0, places))
    }

    /// `28 nov. 2026`.
    pub fn date(&self, d: NaiveDate) -> String {
        d.format_localized(&self.formats.date, self.formats.chrono).to_string()
    }

    /// `28 nov.`.
    pub fn day_month(&self, d: NaiveDate) -> String {
        d.format_localized(&self.formats.day_month, self.formats.chrono).to_string()
    }

    /// The weekday's short name, Monday = 0 (`lun.`, `Mon`).
    pub fn weekday_short(&self, monday0: u32) -> String {
        // 2024-01-01 was a Monday.
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default() + chrono::Duration::days(i64::from(monday0 % 7));
        debug_assert_eq!(day.weekday().num_days_from_monday(), monday0 % 7);
        day.format_localized("%a", self.formats.chrono).to_string()
    }

    /// `28 nov. 2026 18:00` for a wall-clock time.
    pub fn naive_datetime(&self, t: chrono::NaiveDateTime) -> String {
        // The pattern has no zone: formatting it as UTC writes the wall clock as it is.
        t.and_utc().format_localized(&self.formats.datetime, self.formats.chrono).to_string()
    }

    /// `28 nov. 2026 18:00`, in the zone `t` carries.
    pub fn datetime<Z: TimeZone>(&self, t: DateTime<Z>) -> String
    where
        Z::Offset: std::fmt::Display,
    {
        t.format_localized(&self.formats.datetime, self.formats.chrono).to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ids(language: Language) -> BTreeSet<String> {
        let resource = FluentResource::try_new(source(language).to_owned()).unwrap_or_else(|(_, e)| panic!("{language:?}: {e:?}"));
        resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_language_file_parses_and_has_the_same_messages_as_english() {
        let english = ids(Language::En);
        assert!(english.len() > 5);
        for language in Language::ALL {
            let theirs = ids(language);
            let missing: Vec<_> = english.difference(&theirs).collect();
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{language:?}: missing {missing:?}, not in English {extra:?}");
        }
    }

    #[test]
    fn numbers_percentages_and_dates_are_written_the_locales_way() {
        let (en, fr) = (Tr::of(Language::En), Tr::of(Language::Fr));
        assert_eq!(fr.pct(0.0826, 2), "8,26\u{a0}%");
        assert_eq!(en.pct(0.0826, 2), "8.26%");
        assert_eq!(fr.int(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(en.int(1_234_567), "1,234,567");
        assert_eq!(fr.dec(-1234.56, 1), "−1\u{202f}234,6");
        assert_eq!(en.dec(-0.04, 1), "0.0");
        assert_eq!(fr.signed(-3), "−3");
        assert_eq!(en.signed(1200), "+1,200");
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
        assert_eq!(fr.date(day), "28 nov. 2026");
        assert_eq!(en.date(day), "28 Nov 2026");
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 28, 18, 0, 0).single().expect("instant");
        assert_eq!(fr.datetime(at), "28 nov. 2026 18:00");
        assert_eq!(fr.weekday_short(0), "lun.");
        assert_eq!(en.weekday_short(6), "Sun");
    }

    #[test]
    fn plurals_arguments_and_fallbacks() {
        let (en, fr) = (Tr::of(Language::En), Tr::of(Language::Fr));
        assert_eq!(en.t_with("posts-count", &[("n", 1u64.into())]), "1 post");
        assert_eq!(en.t_with("posts-count", &[("n", 3u64.into())]), "3 posts");
        assert_eq!(fr.t_with("posts-count", &[("n", 1u64.into())]), "1 publication");
        assert_eq!(fr.t_with("posts-count", &[("n", 3u64.into())]), "3 publications");
        assert_eq!(fr.t("no-such-message"), "no-such-message", "a missing message shows its id");
    }
}
