//! Bulk import of posts from CSV.
//!
//! The file has a header row naming its columns, in any order: `text`, `channels` (channel ids
//! or names separated by `;` or `|`), `local_time` (`2027-01-04T09:00` or `…:00`, a wall-clock
//! time) and, optionally, `time_zone` (an IANA zone). `local time` and `zone`/`timezone` are
//! accepted as names too. Columns are separated by commas, semicolons (what spreadsheets set to
//! French and other languages with a decimal comma save) or tabs: whichever the header row
//! uses outside quotes.
//!
//! A channel is named by its id or by its name (trimmed, in any case), which must then be the
//! name of exactly one of the team's channels (a name holding `;` or `|` can only be given by
//! its id). Without a time zone (no column, or an empty
//! cell) the local time is read in each channel's own zone, as `POST /v1/posts` does with
//! `{"local":…}` and no `time_zone`: a row for two channels in different zones gives two
//! deliveries at the same wall-clock time, at different instants.
//!
//! Each row becomes one post, checked exactly as `POST /v1/posts` checks one (platform limits
//! per channel, DST gaps and overlaps, past times, unknown zones and channels, the actor's
//! role: a contributor's rows await approval).
//!
//! By default a file is all or nothing: every row is checked before anything is stored, and if
//! any row is bad nothing is imported and **every** bad row is reported with its line number in
//! the file (the header is line 1; a quoted field spanning lines counts its lines). With
//! `partial`, the good rows are imported and the bad ones reported.
//!
//! Importing is idempotent: a row is its team, text, channels and instants, and the post made
//! from it gets an id derived from those ([`import_key`], a UUID v5 as for redelivered webhook
//! events). A row whose post already exists — imported before, or earlier in the same file — is
//! a *duplicate*: nothing is written, and the answer lists it with that post's id. Both stores
//! refuse a second post with the same id in the conditional write that creates it, so two
//! imports of one file racing each other still create each post once. A post whose every
//! delivery was cancelled (by someone, or by a failed import taking back what it stored) does
//! not count: importing the row again makes a new post.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::posts::{NewPost, PostView, announce_pending, check_channel_ids, prepare_post, store_new};
use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{
    Channel, ChannelId, DeliveryState, PostId, PostText, PublishAt, Role, TeamId, ValidationError, parse_local,
    parse_time_zone, resolve_local,
};
use crate::events::EventSink;
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

const HEADER_HELP: &str =
    "the first row must name the columns text,channels,local_time (and time_zone, if the times are not in each channel's own zone)";

/// The column separators a file may use, with their names.
const DELIMITERS: [(u8, &str); 3] = [(b',', "comma"), (b';', "semicolon"), (b'\t', "tab")];

/// How many posts one row may have made and seen cancelled before importing it again is refused
/// (each re-import of a cancelled row takes the next derived id).
const MAX_GENERATIONS: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Text,
    Channels,
    LocalTime,
    TimeZone,
}

impl Column {
    /// Whether a file may leave the column out.
    fn optional(self) -> bool {
        self == Column::TimeZone
    }

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

/// A row whose post already exists: imported before, or on an earlier line of the same file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRow {
    pub line: u64,
    /// The post the row made the first time.
    pub post_id: PostId,
}

/// What an import did.
#[derive(Debug, Clone)]
pub enum ImportOutcome {
    /// Posts were stored (perhaps none, when every row is a duplicate); `duplicates` lists the
    /// rows whose post already existed; with `partial`, `rejected` lists the rows left out.
    Imported { posts: Vec<ImportedPost>, duplicates: Vec<DuplicateRow>, rejected: Vec<RowError> },
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

    let channels = TeamChannels::new(store.list_channels(&actor.team_id).await?);
    let now = clock.now();
    // Rows are checked a few at a time where each store read is a round trip (DynamoDB), in
    // order. The futures are made first (they do nothing until polled): a stream that maps
    // borrowed rows to futures is not provably `Send` to the compiler.
    let pending: Vec<_> =
        rows.records.iter().map(|record| check_row(store, now, actor, &channels, &columns, rows.delimiter, record)).collect();
    let checks: Vec<Result<Checked, ServiceError>> =
        futures_util::stream::iter(pending).buffered(store.parallel_reads().max(1)).collect().await;
    let mut good: Vec<ImportedPost> = Vec::new();
    let mut duplicates = Vec::new();
    let mut bad = Vec::new();
    // The posts this file makes, by id: a later row with the same content is a duplicate.
    let mut made: HashMap<PostId, u64> = HashMap::new();
    for (record, checked) in rows.records.iter().zip(checks) {
        match checked? {
            Checked::New(view) => {
                let view = *view;
                if made.insert(view.post.id, record.line).is_some() {
                    duplicates.push(DuplicateRow { line: record.line, post_id: view.post.id });
                } else {
                    good.push(ImportedPost { line: record.line, view });
                }
            }
            Checked::Duplicate(post_id) => duplicates.push(DuplicateRow { line: record.line, post_id }),
            Checked::Bad(errors) => bad.extend(errors),
        }
    }
    let bad_lines = {
        let mut lines: Vec<u64> = bad.iter().map(|e| e.line).collect();
        lines.dedup();
        lines.len()
    };
    let total = rows.records.len();
    if !bad.is_empty() && (!partial || (good.is_empty() && duplicates.is_empty())) {
        let message = match (good.len(), duplicates.len()) {
            (0, 0) => format!("no row of {total} can be imported; nothing was imported"),
            (0, d) => format!(
                "{bad_lines} of {total} rows are invalid and the other {d} were imported before, so nothing was imported"
            ),
            (g, d) => {
                let before = if d == 0 { String::new() } else { format!("; {d} rows were imported before and would be skipped") };
                format!(
                    "{bad_lines} of {total} rows are invalid, so nothing was imported (send ?partial=true to import the {g} good rows{before})"
                )
            }
        };
        return Ok(ImportOutcome::Refused { message, rows: bad });
    }
    let views: Vec<PostView> = good.iter().map(|p| p.view.clone()).collect();
    let created = store_new(store, now, &views).await?;
    // A row another import of the same content stored meanwhile is a duplicate too.
    let mut posts = Vec::with_capacity(good.len());
    for (post, created) in good.into_iter().zip(created) {
        if created {
            posts.push(post);
        } else {
            duplicates.push(DuplicateRow { line: post.line, post_id: post.view.post.id });
        }
    }
    duplicates.sort_by_key(|d| d.line);
    let stored: Vec<&PostView> = posts.iter().map(|p| &p.view).collect();
    announce_pending(events, now, &stored).await;
    tracing::info!(imported = posts.len(), duplicates = duplicates.len(), rejected = bad_lines, "CSV import");
    Ok(ImportOutcome::Imported { posts, duplicates, rejected: bad })
}

/// One data row: its line in the file and its fields (or why it cannot be read).
struct Record {
    line: u64,
    fields: Result<Vec<String>, String>,
}

struct Rows {
    /// The column separator the header row uses.
    delimiter: u8,
    header: Record,
    records: Vec<Record>,
}

/// The column separator of a file: the one of `,`, `;` and tab that its header row (the first
/// line that is not blank) uses outside double quotes, the most often if it uses several.
fn detect_delimiter(body: &[u8]) -> Result<u8, ServiceError> {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    let start = body.iter().position(|b| !b.is_ascii_whitespace() || *b == b'\t').unwrap_or(body.len());
    for &b in body.get(start..).unwrap_or_default() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|(d, _)| *d == b) {
                    counts[i] = counts[i].saturating_add(1);
                }
            }
            _ => {}
        }
    }
    let most = counts.iter().copied().max().unwrap_or(0);
    let winners: Vec<usize> = (0..DELIMITERS.len()).filter(|i| counts[*i] == most).collect();
    match winners.as_slice() {
        [i] if most > 0 => Ok(DELIMITERS[*i].0),
        _ => {
            let why = if most == 0 {
                "its header row has no comma, semicolon or tab between column names".to_owned()
            } else {
                let tied: Vec<String> = winners.iter().map(|i| format!("{most} {}s", DELIMITERS[*i].1)).collect();
                format!("its header row has {} between column names", tied.join(" and "))
            };
            Err(ValidationError::new(
                CSV_FIELD,
                format!("could not tell how its columns are separated: {why}; use commas ({HEADER_HELP})"),
            )
            .into())
        }
    }
}

fn delimiter_name(delimiter: u8) -> &'static str {
    DELIMITERS.iter().find(|(d, _)| *d == delimiter).map_or("comma", |(_, name)| name)
}

fn read_rows(body: &[u8]) -> Result<Rows, ServiceError> {
    let delimiter = detect_delimiter(body)?;
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(body);
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
    Ok(Rows { delimiter, header, records: all.collect() })
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
        if !c.optional() && !columns.contains(&c) {
            errors.push(RowError::new(line, CSV_FIELD, format!("column `{}` is missing: {HEADER_HELP}", c.name())));
        }
    }
    if errors.is_empty() { Ok(columns) } else { Err(errors) }
}

/// What one row is.
enum Checked {
    /// A new post, prepared (not stored), with its derived id.
    New(Box<PostView>),
    /// The row's post already exists: this one.
    Duplicate(PostId),
    /// Every problem with the row.
    Bad(Vec<RowError>),
}

/// A row as a prepared post, a duplicate, or every problem with it. The error is a store
/// failure.
async fn check_row(
    store: &dyn Store,
    now: DateTime<Utc>,
    actor: &Actor,
    channels: &TeamChannels,
    columns: &[Column],
    delimiter: u8,
    record: &Record,
) -> Result<Checked, ServiceError> {
    let line = record.line;
    let fields = match &record.fields {
        Ok(fields) => fields,
        Err(why) => return Ok(Checked::Bad(vec![RowError::new(line, CSV_FIELD, format!("line {line} {why}"))])),
    };
    // Optional columns at the end of the header may be missing from a row altogether.
    let short_but_fine = columns.get(fields.len()..).is_some_and(|rest| rest.iter().all(|c| c.optional()));
    if fields.len() != columns.len() && !short_but_fine {
        let name = delimiter_name(delimiter);
        return Ok(Checked::Bad(vec![RowError::new(
            line,
            CSV_FIELD,
            format!(
                "has {} fields but the header has {} columns (a field holding a {name} must be in double quotes)",
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

    let targets = channels.named_in(get(Column::Channels)).map_err(|m| fail("channels", m)).ok();

    // No zone: each channel's own.
    let zone = get(Column::TimeZone).trim();
    let time_zone = if zone.is_empty() {
        Some(None)
    } else {
        parse_time_zone("time_zone", zone).map(Some).map_err(|e| fail("time_zone", e.rule)).ok()
    };

    let local_text = get(Column::LocalTime).trim();
    let local = if local_text.is_empty() {
        fail("local_time", "is empty; give a wall-clock time like 2027-01-04T09:00".into());
        None
    } else {
        parse_local(local_text).map_err(|e| fail("local_time", e.rule)).ok()
    };

    let (Some(text), Some(targets), Some(time_zone), Some(local)) = (text, targets, time_zone, local) else {
        return Ok(Checked::Bad(errors));
    };
    // Whether the post exists is asked before the row is checked further: a row imported
    // before is a duplicate even once its time has passed.
    let id = match import_key(&actor.team_id, &text, &targets, local, time_zone) {
        Some(key) => match existing(store, &actor.team_id, &key).await? {
            Lookup::Live(id) => return Ok(Checked::Duplicate(id)),
            Lookup::Free(id) => id,
            Lookup::Exhausted => {
                return Ok(Checked::Bad(vec![RowError::new(
                    line,
                    CSV_FIELD,
                    format!(
                        "was imported and cancelled {MAX_GENERATIONS} times already; create it with POST /v1/posts or change its text"
                    ),
                )]));
            }
        },
        // A local time that does not resolve: `prepare_post` says why.
        None => PostId::new(),
    };
    let new = NewPost {
        text,
        channel_ids: targets.iter().map(|c| c.id).collect(),
        publish_at: PublishAt::Local { local, time_zone },
        variants: Default::default(),
        media: vec![],
        draft: false,
        first_comment: None,
        reply_control: None,
    };
    match prepare_post(store, now, actor, &targets, new, None).await {
        Ok(mut view) => {
            view.post.id = id;
            for d in &mut view.deliveries {
                d.post_id = id;
            }
            Ok(Checked::New(Box::new(view)))
        }
        Err(ServiceError::Invalid(v)) => {
            // Times are checked on `publish_at`; in a file that is the local_time column.
            let (field, rule) = if v.field == "publish_at" {
                // A row cannot hold an offset: say what it can do instead.
                let rule = v.rule.replace("give an instant with an offset instead", "pick a time outside the repeated hour");
                ("local_time".to_owned(), rule)
            } else {
                (v.field, v.rule)
            };
            Ok(Checked::Bad(vec![RowError::new(line, field, rule)]))
        }
        Err(e) => Err(e),
    }
}

/// What a row is, as a key: the SHA-256 (hex) of its team, its text, and each target channel
/// with the instant the row's local time is there, in channel order. Two rows with the same key
/// make the same post, however they name the channels, order them or write the time. `None`
/// when the local time does not exist (or happens twice) in a channel's zone.
pub fn import_key(
    team: &TeamId,
    text: &PostText,
    targets: &[Channel],
    local: NaiveDateTime,
    time_zone: Option<Tz>,
) -> Option<String> {
    let mut deliveries = Vec::with_capacity(targets.len());
    for channel in targets {
        let at = resolve_local(local, time_zone.unwrap_or(channel.time_zone)).ok()?;
        deliveries.push((channel.id.to_string(), at.timestamp()));
    }
    deliveries.sort();
    // JSON: an unambiguous encoding of the parts, whatever the text holds.
    let canonical = serde_json::to_string(&(team.as_str(), text.as_str(), deliveries)).ok()?;
    Some(hex::encode(Sha256::digest(canonical.as_bytes())))
}

/// The id of the post the `generation`-th import of a row with this key makes.
fn derived_id(key: &str, generation: u32) -> PostId {
    PostId::derived(&format!("import/{key}/{generation}"))
}

enum Lookup {
    /// A post of the row exists and is not wholly cancelled.
    Live(PostId),
    /// The id the row's post takes.
    Free(PostId),
    /// Every id the row may take is a cancelled post.
    Exhausted,
}

/// Whether the row with `key` was imported before: its first derived id that is free or holds a
/// post not wholly cancelled.
async fn existing(store: &dyn Store, team: &TeamId, key: &str) -> Result<Lookup, ServiceError> {
    for generation in 0..MAX_GENERATIONS {
        let id = derived_id(key, generation);
        if store.get_post(team, id).await?.is_none() {
            return Ok(Lookup::Free(id));
        }
        let deliveries = store.deliveries_of_post(team, id).await?;
        if deliveries.is_empty() || deliveries.iter().any(|d| d.state != DeliveryState::Cancelled) {
            return Ok(Lookup::Live(id));
        }
    }
    Ok(Lookup::Exhausted)
}

/// The team's channels, by id and by name.
struct TeamChannels {
    by_id: HashMap<ChannelId, Channel>,
    /// Lowercased trimmed name → the channels with that name.
    by_name: HashMap<String, Vec<ChannelId>>,
}

impl TeamChannels {
    fn new(channels: Vec<Channel>) -> Self {
        let mut by_name: HashMap<String, Vec<ChannelId>> = HashMap::new();
        for c in &channels {
            by_name.entry(name_key(c.name.as_str())).or_default().push(c.id);
        }
        Self { by_id: channels.into_iter().map(|c| (c.id, c)).collect(), by_name }
    }

    /// The channels a `channels` cell names: ids or names separated by `;` or `|`.
    fn named_in(&self, cell: &str) -> Result<Vec<Channel>, String> {
        let names: Vec<&str> = cell.split([';', '|']).map(str::trim).filter(|s| !s.is_empty()).collect();
        if names.is_empty() {
            return Err("is empty; give one or more channel ids or names separated by `;` or `|`".into());
        }
        let mut ids = Vec::with_capacity(names.len());
        let mut unknown = Vec::new();
        let mut ambiguous = Vec::new();
        for name in names {
            let by_id = ChannelId::parse("channels", name).ok().filter(|id| self.by_id.contains_key(id));
            match (by_id, self.by_name.get(&name_key(name)).map(Vec::as_slice)) {
                (Some(id), _) | (None, Some(&[id])) => ids.push(id),
                (None, Some(many)) if many.len() > 1 => {
                    let mut listed: Vec<String> = many.iter().map(ChannelId::to_string).collect();
                    listed.sort();
                    ambiguous.push(format!(
                        "`{name}` is the name of {} channels of your team ({}); give the id of the one you mean",
                        many.len(),
                        listed.join(", ")
                    ));
                }
                _ => unknown.push(format!("`{name}`")),
            }
        }
        let mut problems = Vec::new();
        if !unknown.is_empty() {
            let noun = if unknown.len() == 1 { "channel" } else { "channels" };
            problems.push(format!("no {noun} {} in your team (give a channel's id or its name)", unknown.join(", ")));
        }
        problems.extend(ambiguous);
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        check_channel_ids(&ids).map_err(|e| e.rule)?;
        Ok(ids.iter().filter_map(|id| self.by_id.get(id).cloned()).collect())
    }
}

/// How a channel name is compared: trimmed, in lower case.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
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
    fn the_delimiter_is_the_one_the_header_uses_outside_quotes() {
        let delimiter = |body: &[u8]| detect_delimiter(body).map_err(|e| e.to_string());
        assert_eq!(delimiter(b"text,channels,local_time\n"), Ok(b','));
        assert_eq!(delimiter(b"\r\n\ntext;channels;local_time;time_zone\r\nx,y;z,w\n"), Ok(b';'));
        assert_eq!(delimiter(b"text\tchannels\tlocal_time\n"), Ok(b'\t'));
        // Separators inside quotes do not count, nor do the rows after the header.
        assert_eq!(delimiter(b"\"text, the post\";\"channels, ids\";local_time\na,b,c,d,e\n"), Ok(b';'));
        assert_eq!(delimiter(b"\"a;b\nc;d\",x,y\n"), Ok(b','));
        for bad in [&b"text\nhello,x,y\n"[..], b"text,channels;local_time\n", b"\"text,channels,local_time\"\n"] {
            let e = delimiter(bad).unwrap_err();
            assert!(e.starts_with("csv: could not tell how its columns are separated") && e.contains("use commas"), "{e}");
        }
        assert!(delimiter(b"text,channels;local_time\n").unwrap_err().contains("1 commas and 1 semicolons"));
        // The rows are read with it.
        let rows = read_rows(b"text;channels\n\"a;b\";c,d\n").unwrap();
        assert_eq!(rows.records[0].fields, Ok(vec!["a;b".to_owned(), "c,d".to_owned()]));
    }

    #[test]
    fn the_time_zone_column_is_optional() {
        assert_eq!(
            header(&record(1, &["text", "channels", "local_time"])).unwrap(),
            vec![Column::Text, Column::Channels, Column::LocalTime]
        );
    }

    fn channel(name: &str) -> Channel {
        Channel {
            id: ChannelId::new(),
            team_id: TeamId::parse("team", "cafe").unwrap(),
            platform: crate::domain::Platform::Sandbox,
            name: crate::domain::ChannelName::parse("name", name).unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: None,
            queue_slots: vec![],
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn channels_are_named_by_id_or_by_unambiguous_name() {
        let (cafe, shop, dup1, dup2) = (channel("Café Mastodon"), channel("Shop"), channel("twin"), channel("Twin"));
        let team = TeamChannels::new(vec![cafe.clone(), shop.clone(), dup1.clone(), dup2.clone()]);
        let ids = |cell: &str| team.named_in(cell).map(|cs| cs.iter().map(|c| c.id).collect::<Vec<_>>());
        assert_eq!(ids(&format!(" café mastodon | {}", shop.id)), Ok(vec![cafe.id, shop.id]));
        assert_eq!(ids("SHOP"), Ok(vec![shop.id]));
        assert_eq!(ids(&dup1.id.to_string()), Ok(vec![dup1.id]));
        let e = ids("twin;nope").unwrap_err();
        assert!(e.contains("no channel `nope` in your team"), "{e}");
        assert!(e.contains("`twin` is the name of 2 channels of your team"), "{e}");
        assert!(e.contains(&dup1.id.to_string()) && e.contains(&dup2.id.to_string()), "{e}");
        assert!(ids(&format!("shop;{}", shop.id)).unwrap_err().contains("listed twice"));
    }

    #[test]
    fn the_import_key_is_the_content_and_the_instants() {
        let team = TeamId::parse("team", "cafe").unwrap();
        let (a, b) = (channel("a"), channel("b"));
        let text = PostText::parse("text", "hi").unwrap();
        let local = parse_local("2027-01-05T09:00").unwrap();
        let key = |t: &PostText, cs: &[Channel], l, z| import_key(&team, t, cs, l, z).unwrap();
        let k = key(&text, &[a.clone(), b.clone()], local, None);
        assert_eq!(k, key(&text, &[b.clone(), a.clone()], local, None), "channel order does not matter");
        assert_eq!(k, key(&text, &[a.clone(), b.clone()], local, Some(chrono_tz::Europe::Paris)), "same instants");
        assert_ne!(k, key(&text, &[a.clone(), b.clone()], local, Some(chrono_tz::Europe::London)));
        assert_ne!(k, key(&text, std::slice::from_ref(&a), local, None));
        assert_ne!(k, key(&PostText::parse("text", "hi!").unwrap(), &[a.clone(), b.clone()], local, None));
        let gap = parse_local("2027-03-28T02:30").unwrap();
        assert_eq!(import_key(&team, &text, &[a], gap, None), None);
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
