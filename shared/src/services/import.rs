//! Bulk import of posts from CSV.
//!
//! The file has a header row naming its columns, in any order: `text`, `channels` (channel ids
//! separated by `;` or `|`), `local_time` (`2027-01-04T09:00` or `…:00`, a wall-clock time) and
//! `time_zone` (an IANA zone). `local time` and `zone`/`timezone` are accepted as names too.
//! Each row becomes one post, checked exactly as `POST /v1/posts` checks one (platform limits
//! per channel, DST gaps and overlaps, past times, unknown zones and channels, the actor's
//! role: a contributor's rows await approval).
//!
//! By default a file is all or nothing: every row is checked before anything is stored, and if
//! any row is bad nothing is imported and **every** bad row is reported with its line number in
//! the file (the header is line 1; a quoted field spanning lines counts its lines). With
//! `partial`, the good rows are imported and the bad ones reported.

use std::collections::HashMap;

use chrono::DateTime;
use chrono::Utc;

use super::posts::{NewPost, PostView, announce_pending, check_channel_ids, prepare_post, store_all};
use crate::events::EventSink;
use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{Channel, ChannelId, PostText, PublishAt, Role, ValidationError, parse_local, parse_time_zone};
use crate::store::Store;

/// At most this many rows (besides the header) per file.
pub const MAX_ROWS: usize = 1000;

/// The field file-level errors name.
pub const CSV_FIELD: &str = "csv";

const COLUMNS: [(Column, &[&str]); 4] = [
    (Column::Text, &["text"]),
    (Column::Channels, &["channels"]),
    (Column::LocalTime, &["local_time", "local time", "localtime"]),
    (Column::TimeZone, &["time_zone", "time zone", "timezone", "zone"]),
];

const HEADER_HELP: &str = "the first row must name the columns text,channels,local_time,time_zone";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Text,
    Channels,
    LocalTime,
    TimeZone,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Text => "text",
            Column::Channels => "channels",
            Column::LocalTime => "local_time",
            Column::TimeZone => "time_zone",
        }
    }
}

/// One problem with one row: its line in the file, the column, and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl RowError {
    fn new(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { line, field: field.into(), message: message.into() }
    }
}

/// A post made from the row on `line`.
#[derive(Debug, Clone)]
pub struct ImportedPost {
    pub line: u64,
    pub view: PostView,
}

/// What an import did.
#[derive(Debug, Clone)]
pub enum ImportOutcome {
    /// Posts were stored; with `partial`, `rejected` lists the rows left out.
    Imported { posts: Vec<ImportedPost>, rejected: Vec<RowError> },
    /// Nothing was stored: `message` says why, `rows` lists every problem.
    Refused { message: String, rows: Vec<RowError> },
}

/// Imports the posts of a CSV file (see the module docs). File-level problems that are not
/// about rows (empty, too many rows) are [`ServiceError::Invalid`] on field `csv`.
pub async fn import_csv(
    store: &dyn Store,
    clock: &dyn Clock,
    events: &dyn EventSink,
    actor: &Actor,
    body: &[u8],
    partial: bool,
) -> Result<ImportOutcome, ServiceError> {
    actor.require(Role::Contributor, "a viewer key can read posts but not import them")?;
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ValidationError::new(CSV_FIELD, format!("is empty; {HEADER_HELP}, then one row per post")).into());
    }
    let rows = read_rows(body)?;
    let columns = match header(&rows.header) {
        Ok(columns) => columns,
        Err(errors) => {
            return Ok(ImportOutcome::Refused {
                message: format!("the header row is not usable: {HEADER_HELP}; nothing was imported"),
                rows: errors,
            });
        }
    };
    if rows.records.is_empty() {
        return Err(ValidationError::new(CSV_FIELD, "has a header row but no rows to import").into());
    }

    let team_channels: HashMap<ChannelId, Channel> =
        store.list_channels(&actor.team_id).await?.into_iter().map(|c| (c.id, c)).collect();
    let now = clock.now();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for record in &rows.records {
        match check_row(store, now, actor, &team_channels, &columns, record).await? {
            Ok(view) => good.push(ImportedPost { line: record.line, view }),
            Err(errors) => bad.extend(errors),
        }
    }
    let bad_lines = {
        let mut lines: Vec<u64> = bad.iter().map(|e| e.line).collect();
        lines.dedup();
        lines.len()
    };
    if !bad.is_empty() && (!partial || good.is_empty()) {
        let message = if good.is_empty() {
            format!("no row of {} can be imported; nothing was imported", rows.records.len())
        } else {
            format!(
                "{bad_lines} of {} rows are invalid, so nothing was imported (send ?partial=true to import the {} good rows)",
                rows.records.len(),
                good.len()
            )
        };
        return Ok(ImportOutcome::Refused { message, rows: bad });
    }
    let views: Vec<PostView> = good.iter().map(|p| p.view.clone()).collect();
    store_all(store, now, &views).await?;
    announce_pending(events, now, &views.iter().collect::<Vec<_>>()).await;
    tracing::info!(imported = good.len(), rejected = bad_lines, "CSV import");
    Ok(ImportOutcome::Imported { posts: good, rejected: bad })
}

/// One data row: its line in the file and its fields (or why it cannot be read).
struct Record {
    line: u64,
    fields: Result<Vec<String>, String>,
}

struct Rows {
    header: Record,
    records: Vec<Record>,
}

fn read_rows(body: &[u8]) -> Result<Rows, ServiceError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
    let mut record = csv::ByteRecord::new();
    let mut all = Vec::new();
    let mut lines = LineCounter::default();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                return Err(ValidationError::new(CSV_FIELD, format!("could not be read at line {line}: {e}")).into());
            }
        }
        if all.len() > MAX_ROWS {
            return Err(ValidationError::new(
                CSV_FIELD,
                format!("has more than {MAX_ROWS} rows; split it into files of at most {MAX_ROWS} rows"),
            )
            .into());
        }
        let line = match record.position() {
            Some(p) => lines.line_of(body, p.byte()),
            None => all.len() as u64 + 1,
        };
        let fields = record
            .iter()
            .map(|f| std::str::from_utf8(f).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "is not valid UTF-8 text; save the file as UTF-8".to_owned());
        all.push(Record { line, fields });
    }
    let mut all = all.into_iter();
    let header = all.next().ok_or_else(|| ValidationError::new(CSV_FIELD, format!("is empty; {HEADER_HELP}")))?;
    Ok(Rows { header, records: all.collect() })
}

/// Line numbers of record starts, counted from byte offsets (the CSV reader's own line count
/// lags behind after CRLF endings and blank lines). Offsets only grow, so counting is linear.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    /// Line breaks before `offset`.
    breaks: u64,
}

impl LineCounter {
    /// The 1-based line of the record the reader says starts at `byte`: that offset may still
    /// point at the previous line's terminator or at blank lines, which no record starts with.
    fn line_of(&mut self, body: &[u8], byte: u64) -> u64 {
        let mut start = usize::try_from(byte).unwrap_or(body.len()).min(body.len());
        while matches!(body.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start > self.offset {
            let span = body.get(self.offset..start).unwrap_or_default();
            let mut breaks = 0;
            for (i, b) in span.iter().enumerate() {
                // `\n`, or a `\r` not followed by `\n` (old Mac endings).
                let next = body.get(self.offset + i + 1);
                if *b == b'\n' || (*b == b'\r' && next != Some(&b'\n')) {
                    breaks += 1;
                }
            }
            self.breaks += breaks;
            self.offset = start;
        }
        self.breaks + 1
    }
}

/// Where each column is, from the header row; every problem with it, on its line.
fn header(record: &Record) -> Result<Vec<Column>, Vec<RowError>> {
    let line = record.line;
    let names = record.fields.as_ref().map_err(|why| vec![RowError::new(line, CSV_FIELD, format!("header {why}"))])?;
    let mut columns = Vec::with_capacity(names.len());
    let mut errors = Vec::new();
    for name in names {
        let wanted = name.trim().to_lowercase();
        match COLUMNS.iter().find(|(_, names)| names.contains(&wanted.as_str())) {
            Some((c, _)) if columns.contains(c) => {
                errors.push(RowError::new(line, CSV_FIELD, format!("column `{}` appears twice", c.name())))
            }
            Some((c, _)) => columns.push(*c),
            None => errors.push(RowError::new(
                line,
                CSV_FIELD,
                format!("`{}` is not a column Herald imports ({HEADER_HELP})", name.trim()),
            )),
        }
    }
    for (c, _) in COLUMNS {
        if !columns.contains(&c) {
            errors.push(RowError::new(line, CSV_FIELD, format!("column `{}` is missing: {HEADER_HELP}", c.name())));
        }
    }
    if errors.is_empty() { Ok(columns) } else { Err(errors) }
}

/// A row as a prepared post, or every problem with it. The outer error is a store failure.
async fn check_row(
    store: &dyn Store,
    now: DateTime<Utc>,
    actor: &Actor,
    team_channels: &HashMap<ChannelId, Channel>,
    columns: &[Column],
    record: &Record,
) -> Result<Result<PostView, Vec<RowError>>, ServiceError> {
    let line = record.line;
    let fields = match &record.fields {
        Ok(fields) => fields,
        Err(why) => return Ok(Err(vec![RowError::new(line, CSV_FIELD, format!("line {line} {why}"))])),
    };
    if fields.len() != columns.len() {
        return Ok(Err(vec![RowError::new(
            line,
            CSV_FIELD,
            format!(
                "has {} fields but the header has {} columns (a field holding a comma must be in double quotes)",
                fields.len(),
                columns.len()
            ),
        )]));
    }
    let get = |c: Column| columns.iter().position(|x| *x == c).and_then(|i| fields.get(i)).map_or("", String::as_str);
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| errors.push(RowError::new(line, field, message));

    let text = get(Column::Text);
    let text = if text.trim().is_empty() {
        fail("text", "is empty; every row needs the text of its post".into());
        None
    } else {
        PostText::parse("text", text).map_err(|e| fail("text", e.rule)).ok()
    };

    let targets = channels_of(get(Column::Channels), team_channels).map_err(|m| fail("channels", m)).ok();

    let zone = get(Column::TimeZone).trim();
    let time_zone = if zone.is_empty() {
        fail("time_zone", "is empty; give an IANA zone like Europe/Paris".into());
        None
    } else {
        parse_time_zone("time_zone", zone).map_err(|e| fail("time_zone", e.rule)).ok()
    };

    let local_text = get(Column::LocalTime).trim();
    let local = if local_text.is_empty() {
        fail("local_time", "is empty; give a wall-clock time like 2027-01-04T09:00".into());
        None
    } else {
        parse_local(local_text).map_err(|e| fail("local_time", e.rule)).ok()
    };

    let (Some(text), Some(targets), Some(time_zone), Some(local)) = (text, targets, time_zone, local) else {
        return Ok(Err(errors));
    };
    let new = NewPost {
        text,
        channel_ids: targets.iter().map(|c| c.id).collect(),
        publish_at: PublishAt::Local { local, time_zone: Some(time_zone) },
        variants: Default::default(),
        media: vec![],
        draft: false,
    };
    match prepare_post(store, now, actor, &targets, new, None).await {
        Ok(view) => Ok(Ok(view)),
        Err(ServiceError::Invalid(v)) => {
            // Times are checked on `publish_at`; in a file that is the local_time column.
            let (field, rule) = if v.field == "publish_at" {
                // A row cannot hold an offset: say what it can do instead.
                let rule = v.rule.replace("give an instant with an offset instead", "pick a time outside the repeated hour");
                ("local_time".to_owned(), rule)
            } else {
                (v.field, v.rule)
            };
            Ok(Err(vec![RowError::new(line, field, rule)]))
        }
        Err(e) => Err(e),
    }
}

/// The team's channels a `channels` cell names: ids separated by `;` or `|`.
fn channels_of(cell: &str, team_channels: &HashMap<ChannelId, Channel>) -> Result<Vec<Channel>, String> {
    let names: Vec<&str> = cell.split([';', '|']).map(str::trim).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        return Err("is empty; give one or more channel ids separated by `;` or `|`".into());
    }
    let mut ids = Vec::with_capacity(names.len());
    let mut unknown = Vec::new();
    for name in names {
        match ChannelId::parse("channels", name).ok().filter(|id| team_channels.contains_key(id)) {
            Some(id) => ids.push(id),
            None => unknown.push(format!("`{name}`")),
        }
    }
    if !unknown.is_empty() {
        let noun = if unknown.len() == 1 { "channel" } else { "channels" };
        return Err(format!("no {noun} {} in your team", unknown.join(", ")));
    }
    check_channel_ids(&ids).map_err(|e| e.rule)?;
    Ok(ids.iter().filter_map(|id| team_channels.get(id).cloned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: u64, fields: &[&str]) -> Record {
        Record { line, fields: Ok(fields.iter().map(|s| (*s).to_owned()).collect()) }
    }

    #[test]
    fn headers_are_matched_by_name_in_any_order() {
        let cols = header(&record(1, &["Time_Zone", "text", "local time", "channels"])).unwrap();
        assert_eq!(cols, vec![Column::TimeZone, Column::Text, Column::LocalTime, Column::Channels]);
        let errors = header(&record(1, &["text", "text", "when"])).unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("appears twice")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("`when` is not a column")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("`channels` is missing")), "{messages:?}");
        assert!(errors.iter().all(|e| e.line == 1 && e.field == "csv"));
    }

    #[test]
    fn rows_keep_their_line_numbers_across_quoted_line_breaks() {
        let rows = read_rows(b"text,channels\n\"two\nlines\",a\nnext,b\n").unwrap();
        assert_eq!(rows.header.line, 1);
        assert_eq!(rows.records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(rows.records[0].fields, Ok(vec!["two\nlines".to_owned(), "a".to_owned()]));
        // CRLF, a blank line and an old-Mac CR ending.
        let rows = read_rows(b"text,channels\r\na,b\r\n\r\n\"x\r\ny\",c\r\nd,e\rf,g\n").unwrap();
        assert_eq!(rows.records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4, 6, 7]);
    }

    #[test]
    fn bad_utf8_is_reported_on_its_row() {
        let rows = read_rows(b"text,channels\ncaf\xe9,a\n").unwrap();
        assert!(rows.records[0].fields.is_err());
    }

    #[test]
    fn too_many_rows_are_refused() {
        let mut body = String::from("text,channels,local_time,time_zone\n");
        for _ in 0..=MAX_ROWS {
            body.push_str("a,b,c,d\n");
        }
        let err = read_rows(body.as_bytes()).err().unwrap();
        assert!(err.to_string().contains("more than 1000 rows"), "{err}");
    }
}
