//! The DynamoDB adapter: every store port on one table (single-table design).
//!
//! Which item carries which `pk`/`sk`/`gsiNpk`/`gsiNsk` is written down in docs/data-model.md;
//! the `*_item` functions below are the one implementation of that table. Each item is the
//! entity's serde form (`serde_dynamo`) plus its key attributes; reading ignores the keys.
//!
//! Consistency: key reads (GetItem, Query on the table) are strongly consistent; GSI queries
//! (calendar, due work, inbox, threads, authors, lists) are eventually consistent in real
//! DynamoDB, so a write may take a moment to show there. Writes that must not race (claims)
//! are conditional on the item itself, never on what an index said.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex, IndexStatus, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, SseSpecification, TableStatus,
    TimeToLiveSpecification, TransactWriteItem,
};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::{
    ApiKeyStore, BucketCounts, CounterStore, PeopleStore, ChannelStore, Cursor, ErasureStore, InboxQuery, IncidentStore, InteractionStore, MAX_EXAMINED_PER_PAGE,
    MetricStore, Page, PageRequest, PostStore, RawEventStore, ReportStore, StateStore, StoreError, StoreResult,
    TeamStore, Versioned,
};
use crate::domain::{
    ApiKey, ApiKeyId, Email, Member, MemberId, OneTimeToken, Session, Channel, ChannelId, Delivery, DeliveryId, ErasedEvent, Incident, Interaction, InteractionId,
    InteractionStatus, KeyHash, MetricRollup, MetricSnapshot, MetricSubject, Platform, Post, PostId, RawEvent, RawEventId, Report,
    ReportId, Team, TeamId, sortable_instant,
};

/// A post and its deliveries are written in one TransactWriteItems, which holds at most 100
/// items: the post plus at most this many deliveries. `create_post` refuses more.
pub const MAX_DELIVERIES_PER_POST: usize = 99;

type Attrs = HashMap<String, AttributeValue>;

/// Every store port on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Creates Herald's table as template.yaml does (on-demand; `pk`/`sk` strings; GSIs gsi1..gsi4
    /// on `gsiNpk`/`gsiNsk` strings projecting everything; SSE with the AWS managed key), waits
    /// until it and its indexes are ACTIVE, then enables TTL on `ttl`. Point-in-time recovery is
    /// left to the template. [`StoreError::AlreadyExists`] when the table exists.
    pub async fn create_table(client: &Client, table: &str) -> StoreResult<()> {
        const OP: &str = "CreateTable";
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| backend(OP, e))
        };
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(|e| backend(OP, e))
        };

        let mut attributes = vec![attribute("pk")?, attribute("sk")?];
        let mut indexes = Vec::new();
        for index in Index::GSIS {
            attributes.push(attribute(index.pk_attr())?);
            attributes.push(attribute(index.sk_attr())?);
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name().unwrap_or_default())
                    .key_schema(key(index.pk_attr(), KeyType::Hash)?)
                    .key_schema(key(index.sk_attr(), KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(|e| backend(OP, e))?,
            );
        }

        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .set_global_secondary_indexes(Some(indexes))
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .send()
            .await
            .map_err(|e| match e.into_service_error() {
                CreateTableError::ResourceInUseException(_) => StoreError::AlreadyExists,
                other => backend(OP, other),
            })?;

        wait_until_active(client, table).await?;

        let ttl = TimeToLiveSpecification::builder()
            .attribute_name("ttl")
            .enabled(true)
            .build()
            .map_err(|e| backend("UpdateTimeToLive", e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| backend("UpdateTimeToLive", e))?;
        Ok(())
    }
}

/// A client for a DynamoDB-compatible server at `endpoint` (moto on loopback in tests), with
/// fixed fake credentials and region so the SDK never looks for real ones.
pub async fn client_for_endpoint(endpoint: &str) -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static"))
        .load()
        .await;
    Client::new(&config)
}

async fn wait_until_active(client: &Client, table: &str) -> StoreResult<()> {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(600);
    let mut pause = StdDuration::from_millis(100);
    loop {
        let out = client.describe_table().table_name(table).send().await.map_err(|e| backend("DescribeTable", e))?;
        let active = out.table().is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes()
                    .iter()
                    .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active))
        });
        if active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failure("DescribeTable", format!("table {table} is still not ACTIVE after 10 minutes")));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(StdDuration::from_secs(2));
    }
}

// ------------------------------------------------------------------------------------------
// Errors

/// What DynamoDB (or this adapter) said, as one readable line.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation}: {message}")]
struct DynamoError {
    operation: &'static str,
    message: String,
}

fn backend(operation: &'static str, e: impl std::error::Error) -> StoreError {
    failure(operation, DisplayErrorContext(&e).to_string())
}

fn failure(operation: &'static str, message: String) -> StoreError {
    StoreError::backend(DynamoError { operation, message })
}

// ------------------------------------------------------------------------------------------
// Items and keys: the single-table design (docs/data-model.md)

/// The table and its four GSIs, with the attributes that key each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    Table,
    Gsi1,
    Gsi2,
    Gsi3,
    Gsi4,
}

impl Index {
    const GSIS: [Index; 4] = [Index::Gsi1, Index::Gsi2, Index::Gsi3, Index::Gsi4];

    fn name(self) -> Option<&'static str> {
        match self {
            Index::Table => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
            Index::Gsi3 => Some("gsi3"),
            Index::Gsi4 => Some("gsi4"),
        }
    }

    fn pk_attr(self) -> &'static str {
        match self {
            Index::Table => "pk",
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
            Index::Gsi3 => "gsi3pk",
            Index::Gsi4 => "gsi4pk",
        }
    }

    fn sk_attr(self) -> &'static str {
        match self {
            Index::Table => "sk",
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
            Index::Gsi3 => "gsi3sk",
            Index::Gsi4 => "gsi4sk",
        }
    }
}

/// One item being written: the entity's serde form plus key attributes.
struct Item(Attrs);

impl Item {
    fn of<T: Serialize>(entity: &T, pk: String, sk: impl Into<String>) -> StoreResult<Item> {
        let attrs: Attrs = to_item(entity).map_err(|e| backend("serialize", e))?;
        Ok(Item(attrs).with("pk", s(pk)).with("sk", s(sk)))
    }

    fn index(self, index: Index, pk: String, sk: String) -> Item {
        self.with(index.pk_attr(), s(pk)).with(index.sk_attr(), s(sk))
    }

    /// DynamoDB deletes the item some time (up to days) after this instant.
    fn expires(self, at: DateTime<Utc>) -> Item {
        self.with("ttl", AttributeValue::N(ttl_secs(at).to_string()))
    }

    fn with(mut self, name: &str, value: AttributeValue) -> Item {
        self.0.insert(name.to_owned(), value);
        self
    }
}

/// `at` as the table's `ttl`: epoch seconds, rounded up.
fn ttl_secs(at: DateTime<Utc>) -> i64 {
    at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// `<sortable instant>#<id>`: a sort key in time order, unique per item.
fn at_id(t: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    format!("{}#{id}", sortable_instant(t))
}

/// Free text inside a key, made unable to fake a `#` separator.
fn key_part(text: &str) -> String {
    text.replace('%', "%25").replace('#', "%23")
}

mod pk {
    use super::*;

    pub fn team(id: &TeamId) -> String {
        format!("TEAM#{id}")
    }
    pub const TEAMS: &str = "TEAMS";
    pub fn api_key(hash: &KeyHash) -> String {
        format!("APIKEY#{}", hash.as_str())
    }
    pub fn calendar_token(hash: &KeyHash) -> String {
        format!("CALTOKEN#{}", hash.as_str())
    }
    pub fn keys_of(team: &TeamId) -> String {
        format!("KEYS#{team}")
    }
    pub fn channel(id: ChannelId) -> String {
        format!("CHANNEL#{id}")
    }
    pub fn channels_of(team: &TeamId) -> String {
        format!("CHANNELS#{team}")
    }
    pub fn channels_on(platform: Platform) -> String {
        format!("PLATFORM#{}", platform.as_str())
    }
    pub fn post(id: PostId) -> String {
        format!("POST#{id}")
    }
    pub fn calendar(team: &TeamId) -> String {
        format!("CAL#{team}")
    }
    pub const DUE: &str = "DUE";
    pub fn interaction(id: InteractionId) -> String {
        format!("INTERACTION#{id}")
    }
    pub fn inbox(team: &TeamId, status: InteractionStatus) -> String {
        format!("INBOX#{team}#{}", status.as_str())
    }
    pub fn author(team: &TeamId, platform: Platform, author_id: &str) -> String {
        format!("AUTHOR#{team}#{}#{author_id}", platform.as_str())
    }
    pub fn thread(team: &TeamId, channel: ChannelId, thread_id: &str) -> String {
        format!("THREAD#{team}#{channel}#{thread_id}")
    }
    pub fn metric(team: &TeamId, subject: &MetricSubject) -> String {
        match subject {
            MetricSubject::Delivery { delivery_id, .. } => format!("METRIC#{team}#D#{delivery_id}"),
            MetricSubject::Channel { channel_id } => format!("METRIC#{team}#C#{channel_id}"),
        }
    }
    /// A team's roll-ups of one calendar month (`YYYY-MM` of the day, in the team's zone).
    pub fn rollups(team: &TeamId, year: i32, month: u32) -> String {
        format!("ROLLUP#{team}#{year:04}-{month:02}")
    }
    pub fn report(id: ReportId) -> String {
        format!("REPORT#{id}")
    }
    pub fn reports_of(team: &TeamId) -> String {
        format!("REPORTS#{team}")
    }
    pub fn raw_event(id: RawEventId) -> String {
        format!("RAW#{id}")
    }
    pub fn raw_events_of(channel: ChannelId) -> String {
        format!("RAWCH#{channel}")
    }
    pub fn erased_event(fingerprint: &str) -> String {
        format!("ERASED#{}", key_part(fingerprint))
    }
    pub fn state(key: &str) -> String {
        format!("STATE#{}", key_part(key))
    }
    /// One shard of a counter series: its items are the buckets, sort key [`counter_bucket`].
    pub fn counter(series: &str, shard: u32) -> String {
        format!("COUNTER#{}#{shard}", key_part(series))
    }
    /// A bucket index as a sort key that sorts as the number does (negative ones too): the
    /// index with its sign bit flipped, in 20 decimal digits.
    pub fn counter_bucket(bucket: i64) -> String {
        format!("{:020}", (bucket as u64) ^ (1 << 63))
    }
    pub fn incident(id: crate::domain::IncidentId) -> String {
        format!("INCIDENT#{id}")
    }
    pub fn incidents_of(team: &TeamId) -> String {
        format!("INCIDENTS#{team}")
    }
    pub fn member(email: &Email) -> String {
        format!("MEMBER#{}", key_part(email.as_str()))
    }
    pub fn members_of(team: &TeamId) -> String {
        format!("MEMBERS#{team}")
    }
    pub fn link(hash: &KeyHash) -> String {
        format!("LINK#{}", hash.as_str())
    }
    pub fn session(hash: &KeyHash) -> String {
        format!("SESSION#{}", hash.as_str())
    }
    pub fn sessions_of(member: MemberId) -> String {
        format!("SESSIONS#{member}")
    }
    pub fn attempts(key: &str) -> String {
        format!("ATTEMPTS#{}", key_part(key))
    }
}

/// `MEMBER#<email>` / `MEMBER` (the e-mail is the key: unique per deployment, and the sign-in
/// lookup is one read), listed under its team on gsi1.
fn member_item(m: &Member) -> StoreResult<Item> {
    Ok(Item::of(m, pk::member(&m.email), "MEMBER")?.index(Index::Gsi1, pk::members_of(&m.team_id), m.id.to_string()))
}

/// `LINK#<token hash>` / `LINK`, with the table's `ttl` at its expiry.
fn link_item(l: &OneTimeToken) -> StoreResult<Item> {
    Ok(Item::of(l, pk::link(&l.hash), "LINK")?.expires(l.expires_at))
}

/// `SESSION#<id hash>` / `SESSION`, with `ttl`, listed under its member on gsi1 (sign out
/// everywhere).
fn session_item(x: &Session) -> StoreResult<Item> {
    Ok(Item::of(x, pk::session(&x.hash), "SESSION")?
        .index(Index::Gsi1, pk::sessions_of(x.member_id), x.hash.as_str().to_owned())
        .expires(x.expires_at))
}

fn delivery_sk(id: DeliveryId) -> String {
    format!("DELIVERY#{id}")
}

/// A team, listed under `TEAMS` (gsi1) for the report generator's round.
fn team_item(t: &Team) -> StoreResult<Item> {
    Ok(Item::of(t, pk::team(&t.id), "TEAM")?.index(Index::Gsi1, pk::TEAMS.to_owned(), t.id.to_string()))
}

/// The calendar-token lookup: a token's hash → its team.
#[derive(Serialize, serde::Deserialize)]
struct CalendarTokenRecord {
    team_id: TeamId,
}

fn calendar_token_item(hash: &KeyHash, team: &TeamId) -> StoreResult<Item> {
    Item::of(&CalendarTokenRecord { team_id: team.clone() }, pk::calendar_token(hash), "CALTOKEN")
}

fn api_key_item(k: &ApiKey) -> StoreResult<Item> {
    Ok(Item::of(k, pk::api_key(&k.hash), "APIKEY")?.index(Index::Gsi1, pk::keys_of(&k.team_id), k.id.to_string()))
}

/// A channel is listed under its team (gsi1) and under its platform (gsi2, for pollers).
fn channel_item(c: &Channel) -> StoreResult<Item> {
    Ok(Item::of(c, pk::channel(c.id), "CHANNEL")?
        .index(Index::Gsi1, pk::channels_of(&c.team_id), c.id.to_string())
        .index(Index::Gsi2, pk::channels_on(c.platform), c.id.to_string()))
}

fn post_item(p: &Post) -> StoreResult<Item> {
    Item::of(p, pk::post(p.id), "POST")
}

/// A delivery is in the calendar always, and in the sparse DUE index only while
/// [`Delivery::due_at`] says the publisher must look at it (a full put drops stale keys).
fn delivery_item(d: &Delivery) -> StoreResult<Item> {
    let item = Item::of(d, pk::post(d.post_id), delivery_sk(d.id))?.index(
        Index::Gsi1,
        pk::calendar(&d.team_id),
        at_id(d.publish_at, d.id),
    );
    Ok(match d.due_at() {
        Some(due) => item.index(Index::Gsi2, pk::DUE.to_owned(), at_id(due, d.id)),
        None => item,
    })
}

fn interaction_item(i: &Interaction) -> StoreResult<Item> {
    let sk = at_id(i.created_at, i.id);
    Ok(Item::of(i, pk::interaction(i.id), "INTERACTION")?
        .index(Index::Gsi1, pk::inbox(&i.team_id, i.status), sk.clone())
        .index(Index::Gsi3, pk::author(&i.team_id, i.platform, &i.author_id), sk.clone())
        .index(Index::Gsi4, pk::thread(&i.team_id, i.channel_id, &i.thread_id), sk))
}

fn snapshot_item(m: &MetricSnapshot) -> StoreResult<Item> {
    let item = Item::of(m, pk::metric(&m.team_id, &m.subject), sortable_instant(m.taken_at))?;
    Ok(match m.expires_at {
        Some(at) => item.expires(at),
        None => item,
    })
}

/// `ROLLUP#<team>#<YYYY-MM>` / `<YYYY-MM-DD>#<subject key>`: a report's day range is one
/// key-condition range per month partition. `rollup_taken_at` (sortable) guards the upsert.
fn rollup_item(r: &MetricRollup) -> StoreResult<Item> {
    let sk = format!("{}#{}", r.day.format("%Y-%m-%d"), r.subject.key());
    Ok(Item::of(r, pk::rollups(&r.team_id, r.day.year(), r.day.month()), sk)?
        .with("rollup_taken_at", s(sortable_instant(r.taken_at))))
}

fn report_item(r: &Report) -> StoreResult<Item> {
    Ok(Item::of(r, pk::report(r.id), "REPORT")?.index(
        Index::Gsi1,
        pk::reports_of(&r.team_id),
        at_id(r.created_at, r.id),
    ))
}

fn raw_event_item(e: &RawEvent) -> StoreResult<Item> {
    Ok(Item::of(e, pk::raw_event(e.id), "RAW")?
        .index(Index::Gsi1, pk::raw_events_of(e.channel_id), at_id(e.received_at, e.id))
        .expires(e.expires_at))
}

/// `ERASED#<fingerprint>` / `ERASED`, with the table's `ttl` at its expiry.
fn erased_event_item(e: &ErasedEvent) -> StoreResult<Item> {
    Ok(Item::of(e, pk::erased_event(&e.fingerprint), "ERASED")?.expires(e.expires_at))
}

fn incident_item(i: &Incident) -> StoreResult<Item> {
    Ok(Item::of(i, pk::incident(i.id), "INCIDENT")?.index(
        Index::Gsi1,
        pk::incidents_of(&i.team_id),
        at_id(i.opened_at, i.id),
    ))
}

/// A versioned state value (see [`StateStore`]).
#[derive(Serialize, serde::Deserialize)]
struct StateRecord {
    value: String,
    version: u64,
}

fn read<T: DeserializeOwned>(item: Attrs) -> StoreResult<T> {
    let at = match item.get("pk").zip(item.get("sk")) {
        Some((AttributeValue::S(pk), AttributeValue::S(sk))) => format!("{pk} / {sk}"),
        _ => "without keys".to_owned(),
    };
    from_item(item).map_err(|e| StoreError::Corrupt(format!("item {at}: {e}")))
}

// ------------------------------------------------------------------------------------------
// Conditions and queries

/// A condition expression with its placeholders.
struct Condition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    fn new(expression: &'static str) -> Self {
        Self { expression, names: HashMap::new(), values: HashMap::new() }
    }

    fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.insert(placeholder.to_owned(), attribute.to_owned());
        self
    }

    fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    /// The item does not exist yet.
    fn absent() -> Self {
        Self::new("attribute_not_exists(pk)")
    }

    /// The item exists and belongs to `team`.
    fn owned_by(team: &TeamId) -> Self {
        Self::new("attribute_exists(pk) AND #team = :team").name("#team", "team_id").value(":team", s(team.as_str()))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Which sort keys of a partition a query reads.
#[derive(Debug, Clone)]
enum SortRange {
    All,
    Equals(String),
    Prefix(String),
    /// Inclusive at both ends.
    Between(String, String),
    AtLeast(String),
    Below(String),
    AtMost(String),
}

impl SortRange {
    /// `from <= t < to` (either bound optional) over sort keys `<sortable t>#<id>`.
    fn instants(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> SortRange {
        match (from, to) {
            // "<to>" sorts before every "<to>#<id>", so an inclusive bound at "<to>" excludes `to`.
            (Some(f), Some(t)) => SortRange::Between(sortable_instant(f), sortable_instant(t)),
            (Some(f), None) => SortRange::AtLeast(sortable_instant(f)),
            (None, Some(t)) => SortRange::Below(sortable_instant(t)),
            (None, None) => SortRange::All,
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, SortRange::Between(a, b) if a >= b)
    }

    fn contains(&self, key: &str) -> bool {
        match self {
            SortRange::All => true,
            SortRange::Equals(v) => key == v,
            SortRange::Prefix(p) => key.starts_with(p.as_str()),
            SortRange::Between(a, b) => a.as_str() <= key && key <= b.as_str(),
            SortRange::AtLeast(a) => key >= a.as_str(),
            SortRange::Below(b) => key < b.as_str(),
            SortRange::AtMost(b) => key <= b.as_str(),
        }
    }

    /// The sort-key part of a key condition on `#sk`, with its values.
    fn condition(&self) -> (Option<&'static str>, Vec<(&'static str, String)>) {
        match self.clone() {
            SortRange::All => (None, vec![]),
            SortRange::Equals(v) => (Some("#sk = :a"), vec![(":a", v)]),
            SortRange::Prefix(p) => (Some("begins_with(#sk, :a)"), vec![(":a", p)]),
            SortRange::Between(a, b) => (Some("#sk BETWEEN :a AND :b"), vec![(":a", a), (":b", b)]),
            SortRange::AtLeast(a) => (Some("#sk >= :a"), vec![(":a", a)]),
            SortRange::Below(b) => (Some("#sk < :b"), vec![(":b", b)]),
            SortRange::AtMost(b) => (Some("#sk <= :b"), vec![(":b", b)]),
        }
    }
}

/// One partition of the table or of a GSI, read in sort-key order.
struct Query {
    index: Index,
    partition: String,
    range: SortRange,
    ascending: bool,
}

impl Query {
    fn new(index: Index, partition: String, range: SortRange, ascending: bool) -> Self {
        Self { index, partition, range, ascending }
    }

    /// The key attributes of a position in this query: the table key, plus the index key.
    fn key_attrs(&self) -> Vec<&'static str> {
        let mut attrs = vec!["pk", "sk"];
        if self.index != Index::Table {
            attrs.extend([self.index.pk_attr(), self.index.sk_attr()]);
        }
        attrs
    }

    /// The cursor after `item`: its key attributes (what DynamoDB's LastEvaluatedKey holds).
    fn cursor_after(&self, item: &Attrs) -> StoreResult<String> {
        let mut position = BTreeMap::new();
        for attr in self.key_attrs() {
            match item.get(attr) {
                Some(AttributeValue::S(v)) => position.insert(attr, v.as_str()),
                _ => return Err(StoreError::Corrupt(format!("item without string key attribute {attr}"))),
            };
        }
        Ok(Cursor::encode(&position))
    }

    /// A cursor back into an ExclusiveStartKey, refused unless it is a position of this very
    /// query (same key attributes, same partition, inside the range).
    fn start_at(&self, cursor: &str) -> StoreResult<Attrs> {
        let position: BTreeMap<String, String> = Cursor::decode(cursor)?;
        let attrs = self.key_attrs();
        let fits = position.len() == attrs.len()
            && attrs.iter().all(|a| position.contains_key(*a))
            && position.get(self.index.pk_attr()) == Some(&self.partition)
            && position.get(self.index.sk_attr()).is_some_and(|sk| self.range.contains(sk));
        if !fits {
            return Err(StoreError::InvalidCursor);
        }
        Ok(position.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
    }
}

impl DynamoStore {
    /// GetItem, strongly consistent.
    async fn get<T: DeserializeOwned>(&self, pk: String, sk: &str) -> StoreResult<Option<T>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        out.item.map(read).transpose()
    }

    /// PutItem under an optional condition: `Ok(false)` when the condition failed.
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<bool> {
        let mut request = self.client.put_item().table_name(&self.table).set_item(Some(item.0));
        if let Some(c) = condition {
            request = request
                .condition_expression(c.expression)
                .set_expression_attribute_names(c.names())
                .set_expression_attribute_values(c.values());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(backend("PutItem", other)),
            },
        }
    }

    /// DeleteItem under an optional condition: `Ok(false)` when the condition failed.
    async fn delete(&self, pk: String, sk: &str, condition: Option<Condition>) -> StoreResult<bool> {
        let mut request = self.client.delete_item().table_name(&self.table).key("pk", s(pk)).key("sk", s(sk));
        if let Some(c) = condition {
            request = request
                .condition_expression(c.expression)
                .set_expression_attribute_names(c.names())
                .set_expression_attribute_values(c.values());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                DeleteItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(backend("DeleteItem", other)),
            },
        }
    }

    /// One TransactWriteItems of puts (each under an optional condition) and deletes (by key):
    /// `Ok(false)` when a condition failed, [`StoreError::Conflict`] when another transaction
    /// got in the way.
    async fn transact(
        &self,
        puts: Vec<(Item, Option<Condition>)>,
        deletes: Vec<(String, &str)>,
    ) -> StoreResult<bool> {
        const OP: &str = "TransactWriteItems";
        let mut writes = Vec::with_capacity(puts.len() + deletes.len());
        for (item, condition) in puts {
            let mut put = Put::builder().table_name(&self.table).set_item(Some(item.0));
            if let Some(c) = condition {
                put = put
                    .condition_expression(c.expression)
                    .set_expression_attribute_names(c.names())
                    .set_expression_attribute_values(c.values());
            }
            writes.push(TransactWriteItem::builder().put(put.build().map_err(|e| backend(OP, e))?).build());
        }
        for (pk, sk) in deletes {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .build()
                .map_err(|e| backend(OP, e))?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let codes: Vec<&str> = c.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
                    if codes.contains(&"ConditionalCheckFailed") {
                        Ok(false)
                    } else if codes.contains(&"TransactionConflict") {
                        Err(StoreError::Conflict)
                    } else {
                        Err(backend(OP, c))
                    }
                }
                other => Err(backend(OP, other)),
            },
        }
    }

    /// Runs `q` from `start`, following LastEvaluatedKey, until `max` items (all when `None`).
    async fn query(&self, q: &Query, start: Option<Attrs>, max: Option<usize>) -> StoreResult<Vec<Attrs>> {
        if q.range.is_empty() || max == Some(0) {
            return Ok(vec![]);
        }
        let (sk_condition, sk_values) = q.range.condition();
        let expression = match sk_condition {
            Some(c) => format!("#pk = :pk AND {c}"),
            None => "#pk = :pk".to_owned(),
        };
        let mut names = HashMap::from([("#pk".to_owned(), q.index.pk_attr().to_owned())]);
        if sk_condition.is_some() {
            names.insert("#sk".to_owned(), q.index.sk_attr().to_owned());
        }
        let mut values = HashMap::from([(":pk".to_owned(), s(q.partition.as_str()))]);
        values.extend(sk_values.into_iter().map(|(k, v)| (k.to_owned(), s(v))));

        let mut items = Vec::new();
        let mut start = start;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(q.index.name().map(str::to_owned))
                .key_condition_expression(expression.as_str())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(q.ascending)
                // GSIs only offer eventually consistent reads.
                .consistent_read(q.index == Index::Table)
                .set_exclusive_start_key(start.take());
            if let Some(max) = max {
                let remaining = max.saturating_sub(items.len()).min(1000);
                request = request.limit(i32::try_from(remaining).unwrap_or(1000));
            }
            let out = request.send().await.map_err(|e| backend("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            let wanted_more = max.is_none_or(|m| items.len() < m);
            match out.last_evaluated_key {
                Some(key) if wanted_more && !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        if let Some(max) = max {
            items.truncate(max);
        }
        Ok(items)
    }

    async fn query_all<T: DeserializeOwned>(&self, q: Query) -> StoreResult<Vec<T>> {
        self.query(&q, None, None).await?.into_iter().map(read).collect()
    }

    /// One page of `q`. Reads one item more than asked to know whether a next page exists, so
    /// the last page has `next: None` (as SQLite's keyset pages do).
    async fn query_page<T: DeserializeOwned>(&self, q: Query, page: &PageRequest) -> StoreResult<Page<T>> {
        let start = page.cursor.as_deref().map(|c| q.start_at(c)).transpose()?;
        let limit = page.effective_limit() as usize;
        let mut items = self.query(&q, start, Some(limit + 1)).await?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| q.cursor_after(last)).transpose()?
        } else {
            None
        };
        let items = items.into_iter().map(read).collect::<StoreResult<_>>()?;
        Ok(Page { items, next })
    }
}

impl DynamoStore {
    /// One page of `q` keeping only items that `keep` accepts: reads on until `limit` are kept,
    /// the partition ends, or [`MAX_EXAMINED_PER_PAGE`] items were examined (then `next`
    /// continues after the last one examined, and the page may be short).
    async fn query_page_filtered<T: DeserializeOwned>(
        &self,
        q: Query,
        page: &PageRequest,
        keep: impl Fn(&T) -> bool,
    ) -> StoreResult<Page<T>> {
        let limit = page.effective_limit() as usize;
        let mut start = page.cursor.as_deref().map(|c| q.start_at(c)).transpose()?;
        let mut kept: Vec<(String, T)> = Vec::new();
        let mut examined = 0;
        loop {
            let batch = self.query(&q, start.take(), Some(limit + 1)).await?;
            let exhausted = batch.len() < limit + 1;
            for item in batch {
                examined += 1;
                let position = q.cursor_after(&item)?;
                let value: T = read(item)?;
                if keep(&value) {
                    kept.push((position.clone(), value));
                    if kept.len() > limit {
                        kept.truncate(limit);
                        let next = kept.last().map(|(p, _)| p.clone());
                        return Ok(Page { items: kept.into_iter().map(|(_, t)| t).collect(), next });
                    }
                }
                if examined >= MAX_EXAMINED_PER_PAGE {
                    return Ok(Page { items: kept.into_iter().map(|(_, t)| t).collect(), next: Some(position) });
                }
                start = Some(q.start_at(&position)?);
            }
            if exhausted {
                return Ok(Page { items: kept.into_iter().map(|(_, t)| t).collect(), next: None });
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// The ports

#[async_trait]
impl TeamStore for DynamoStore {
    async fn create_team(&self, team: &Team) -> StoreResult<()> {
        let mut writes = vec![(team_item(team)?, Some(Condition::absent()))];
        if let Some(hash) = &team.calendar_token_hash {
            writes.push((calendar_token_item(hash, &team.id)?, Some(Condition::absent())));
        }
        match self.transact(writes, vec![]).await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists),
        }
    }

    async fn get_team(&self, id: &TeamId) -> StoreResult<Option<Team>> {
        self.get(pk::team(id), "TEAM").await
    }

    /// One TransactWriteItems: the team (conditional on it existing and still having the token
    /// hash just read, so two rotations cannot both win), the new `CALTOKEN#<hash>` item, and
    /// the deletion of the one it replaces.
    async fn update_team(&self, team: &Team) -> StoreResult<Team> {
        let stored: Team = self.get(pk::team(&team.id), "TEAM").await?.ok_or(StoreError::NotFound)?;
        if stored.version != team.version {
            return Err(StoreError::Conflict);
        }
        let next = Team { version: team.version.checked_add(1).ok_or(StoreError::Conflict)?, ..team.clone() };
        let (old, new) = (stored.calendar_token_hash.as_ref(), team.calendar_token_hash.as_ref());
        // The version read is still the stored one (items written before versions have none).
        let condition = Condition::new("attribute_exists(pk) AND (attribute_not_exists(#version) OR #version = :expected)")
            .name("#version", "version")
            .value(":expected", AttributeValue::N(team.version.to_string()));
        let mut puts = vec![(team_item(&next)?, Some(condition))];
        let mut deletes = vec![];
        if old != new {
            if let Some(hash) = new {
                puts.push((calendar_token_item(hash, &team.id)?, Some(Condition::absent())));
            }
            if let Some(hash) = old {
                deletes.push((pk::calendar_token(hash), "CALTOKEN"));
            }
        }
        match self.transact(puts, deletes).await? {
            true => Ok(next),
            false => Err(StoreError::Conflict),
        }
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        self.query_all(Query::new(Index::Gsi1, pk::TEAMS.to_owned(), SortRange::All, true)).await
    }

    async fn team_by_calendar_token(&self, hash: &KeyHash) -> StoreResult<Option<Team>> {
        let Some(record) = self.get::<CalendarTokenRecord>(pk::calendar_token(hash), "CALTOKEN").await? else {
            return Ok(None);
        };
        // The team's own hash is the truth; a lookup item it no longer names is stale.
        Ok(self.get_team(&record.team_id).await?.filter(|t| t.calendar_token_hash.as_ref() == Some(hash)))
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn put_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.put(api_key_item(key)?, None).await.map(drop)
    }

    async fn api_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>> {
        self.get(pk::api_key(hash), "APIKEY").await
    }

    /// In key-id order.
    async fn list_api_keys(&self, team: &TeamId) -> StoreResult<Vec<ApiKey>> {
        self.query_all(Query::new(Index::Gsi1, pk::keys_of(team), SortRange::All, true)).await
    }

    async fn delete_api_key(&self, team: &TeamId, id: ApiKeyId) -> StoreResult<()> {
        let q = Query::new(Index::Gsi1, pk::keys_of(team), SortRange::Equals(id.to_string()), true);
        let found: Vec<ApiKey> = self.query_all(q).await?;
        let key = found.into_iter().next().ok_or(StoreError::NotFound)?;
        match self.delete(pk::api_key(&key.hash), "APIKEY", Some(Condition::owned_by(team))).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }
}

#[async_trait]
impl ChannelStore for DynamoStore {
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()> {
        match self.put(channel_item(channel)?, Some(Condition::absent())).await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists),
        }
    }

    async fn get_channel(&self, team: &TeamId, id: ChannelId) -> StoreResult<Option<Channel>> {
        Ok(self.channel_by_id(id).await?.filter(|c| &c.team_id == team))
    }

    async fn channel_by_id(&self, id: ChannelId) -> StoreResult<Option<Channel>> {
        self.get(pk::channel(id), "CHANNEL").await
    }

    /// In channel-id order.
    async fn channels_on(&self, platform: Platform) -> StoreResult<Vec<Channel>> {
        self.query_all(Query::new(Index::Gsi2, pk::channels_on(platform), SortRange::All, true)).await
    }

    async fn list_channels(&self, team: &TeamId) -> StoreResult<Vec<Channel>> {
        self.query_all(Query::new(Index::Gsi1, pk::channels_of(team), SortRange::All, true)).await
    }

    async fn update_channel(&self, channel: &Channel) -> StoreResult<()> {
        match self.put(channel_item(channel)?, Some(Condition::owned_by(&channel.team_id))).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }

    async fn delete_channel(&self, team: &TeamId, id: ChannelId) -> StoreResult<()> {
        match self.delete(pk::channel(id), "CHANNEL", Some(Condition::owned_by(team))).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }
}

/// Claim writes in flight at once ([`PostStore::update_deliveries`]): a write takes a few
/// milliseconds, so 16 claim about 2,000–4,000 deliveries a second from one invocation.
const CLAIM_WRITES_IN_FLIGHT: usize = 16;

#[async_trait]
impl PostStore for DynamoStore {
    /// Each read is a network round trip: a report's post reads go 16 at a time.
    fn parallel_reads(&self) -> usize {
        16
    }

    /// One TransactWriteItems: the post and every delivery, each only if absent. More than
    /// [`MAX_DELIVERIES_PER_POST`] deliveries is refused with a backend error.
    async fn create_post(&self, post: &Post, deliveries: &[Delivery]) -> StoreResult<()> {
        const OP: &str = "TransactWriteItems";
        if deliveries.len() > MAX_DELIVERIES_PER_POST {
            return Err(failure(
                OP,
                format!(
                    "a post has at most {MAX_DELIVERIES_PER_POST} deliveries (one transaction); got {}",
                    deliveries.len()
                ),
            ));
        }
        let mut items = vec![post_item(post)?];
        for d in deliveries {
            items.push(delivery_item(d)?);
        }
        let writes = items
            .into_iter()
            .map(|item| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item.0))
                    .condition_expression(Condition::absent().expression)
                    .build()
                    .map_err(|e| backend(OP, e))?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let codes: Vec<&str> = c.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
                    if codes.contains(&"ConditionalCheckFailed") {
                        StoreError::AlreadyExists
                    } else if codes.contains(&"TransactionConflict") {
                        StoreError::Conflict
                    } else {
                        backend(OP, c)
                    }
                }
                other => backend(OP, other),
            }),
        }
    }

    async fn get_post(&self, team: &TeamId, id: PostId) -> StoreResult<Option<Post>> {
        Ok(self.get::<Post>(pk::post(id), "POST").await?.filter(|p| &p.team_id == team))
    }

    async fn update_post(&self, post: &Post) -> StoreResult<Post> {
        let next = Post { version: post.version.checked_add(1).ok_or(StoreError::Conflict)?, ..post.clone() };
        let condition = Condition::new(
            "attribute_exists(pk) AND #team = :team AND (attribute_not_exists(#version) OR #version = :expected)",
        )
        .name("#team", "team_id")
        .value(":team", s(post.team_id.as_str()))
        .name("#version", "version")
        .value(":expected", AttributeValue::N(post.version.to_string()));
        match self.put(post_item(&next)?, Some(condition)).await? {
            true => Ok(next),
            // Absent, another team's, or changed since it was read: tell them apart with a read.
            false => match self.get_post(&post.team_id, post.id).await? {
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            },
        }
    }

    /// In delivery-id order.
    async fn deliveries_of_post(&self, team: &TeamId, post: PostId) -> StoreResult<Vec<Delivery>> {
        let q = Query::new(Index::Table, pk::post(post), SortRange::Prefix("DELIVERY#".to_owned()), true);
        let deliveries: Vec<Delivery> = self.query_all(q).await?;
        Ok(deliveries.into_iter().filter(|d| &d.team_id == team).collect())
    }

    async fn get_delivery(&self, team: &TeamId, post: PostId, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        Ok(self.get::<Delivery>(pk::post(post), &delivery_sk(id)).await?.filter(|d| &d.team_id == team))
    }

    async fn update_delivery(&self, delivery: &Delivery) -> StoreResult<Delivery> {
        let mut next = delivery.clone();
        next.version = delivery.version.checked_add(1).ok_or(StoreError::Conflict)?;
        let condition = Condition::new("#version = :expected AND #team = :team")
            .name("#version", "version")
            .value(":expected", AttributeValue::N(delivery.version.to_string()))
            .name("#team", "team_id")
            .value(":team", s(delivery.team_id.as_str()));
        match self.put(delivery_item(&next)?, Some(condition)).await? {
            true => Ok(next),
            false => Err(StoreError::Conflict),
        }
    }

    /// One conditional put per delivery, [`CLAIM_WRITES_IN_FLIGHT`] at a time: each claim
    /// stays version-checked on its own item. (A TransactWriteItems would lose every claim of
    /// the batch to one conflict, and holds at most 100 items.)
    async fn update_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<Vec<StoreResult<Delivery>>> {
        use futures_util::StreamExt;
        // Made first, then driven a few at a time (futures do nothing until polled).
        let writes: Vec<_> = deliveries.iter().map(|d| self.update_delivery(d)).collect();
        Ok(futures_util::stream::iter(writes).buffered(CLAIM_WRITES_IN_FLIGHT).collect().await)
    }

    async fn calendar(
        &self,
        team: &TeamId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let range = SortRange::instants(Some(from), Some(to));
        self.query_page(Query::new(Index::Gsi1, pk::calendar(team), range, true), page).await
    }

    async fn due_deliveries(&self, until: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Delivery>> {
        // '~' sorts after every character of an id, so deliveries due AT `until` are included.
        let range = SortRange::AtMost(format!("{}#~", sortable_instant(until)));
        let q = Query::new(Index::Gsi2, pk::DUE.to_owned(), range, true);
        self.query(&q, None, Some(limit as usize)).await?.into_iter().map(read).collect()
    }
}

#[async_trait]
impl InteractionStore for DynamoStore {
    async fn create_interaction(&self, interaction: &Interaction) -> StoreResult<()> {
        match self.put(interaction_item(interaction)?, Some(Condition::absent())).await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists),
        }
    }

    async fn get_interaction(&self, team: &TeamId, id: InteractionId) -> StoreResult<Option<Interaction>> {
        Ok(self.get::<Interaction>(pk::interaction(id), "INTERACTION").await?.filter(|i| &i.team_id == team))
    }

    /// A full put: the inbox keys follow the new status.
    async fn update_interaction(&self, interaction: &Interaction) -> StoreResult<()> {
        match self.put(interaction_item(interaction)?, Some(Condition::owned_by(&interaction.team_id))).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }

    async fn inbox(&self, team: &TeamId, query: &InboxQuery, page: &PageRequest) -> StoreResult<Page<Interaction>> {
        let range = SortRange::instants(query.from, query.to);
        let q = Query::new(Index::Gsi1, pk::inbox(team, query.status), range, false);
        if query.filters() {
            self.query_page_filtered(q, page, |i: &Interaction| query.matches(i)).await
        } else {
            self.query_page(q, page).await
        }
    }

    async fn delete_interaction(&self, team: &TeamId, id: InteractionId) -> StoreResult<()> {
        match self.delete(pk::interaction(id), "INTERACTION", Some(Condition::owned_by(team))).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }

    async fn thread(&self, team: &TeamId, channel: ChannelId, thread_id: &str) -> StoreResult<Vec<Interaction>> {
        self.query_all(Query::new(Index::Gsi4, pk::thread(team, channel, thread_id), SortRange::All, true)).await
    }

    async fn by_author(
        &self,
        team: &TeamId,
        platform: Platform,
        author_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Interaction>> {
        let q = Query::new(Index::Gsi3, pk::author(team, platform, author_id), SortRange::All, false);
        self.query_page(q, page).await
    }
}

#[async_trait]
impl RawEventStore for DynamoStore {
    async fn put_raw_event(&self, event: &RawEvent) -> StoreResult<()> {
        self.put(raw_event_item(event)?, None).await.map(drop)
    }

    async fn get_raw_event(&self, id: RawEventId) -> StoreResult<Option<RawEvent>> {
        self.get(pk::raw_event(id), "RAW").await
    }

    async fn raw_events(
        &self,
        channel: ChannelId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<RawEvent>> {
        let range = SortRange::instants(Some(from), Some(to));
        self.query_page(Query::new(Index::Gsi1, pk::raw_events_of(channel), range, true), page).await
    }

    async fn delete_raw_event(&self, id: RawEventId) -> StoreResult<()> {
        self.delete(pk::raw_event(id), "RAW", None).await.map(drop)
    }
}

impl DynamoStore {
    /// UpdateItem of one key under a condition: `Ok(false)` when the condition failed.
    async fn update(&self, pk: String, sk: &str, update: &str, condition: Condition) -> StoreResult<bool> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression(update)
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values());
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(backend("UpdateItem", other)),
            },
        }
    }
}

#[async_trait]
impl PeopleStore for DynamoStore {
    async fn create_member(&self, member: &Member) -> StoreResult<()> {
        match self.put(member_item(member)?, Some(Condition::absent())).await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists),
        }
    }

    async fn update_member(&self, member: &Member) -> StoreResult<()> {
        let condition = Condition::new("attribute_exists(pk) AND #id = :id")
            .name("#id", "id")
            .value(":id", s(member.id.to_string()));
        match self.put(member_item(member)?, Some(condition)).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }

    async fn member_by_email(&self, email: &Email) -> StoreResult<Option<Member>> {
        self.get(pk::member(email), "MEMBER").await
    }

    async fn get_member(&self, team: &TeamId, id: MemberId) -> StoreResult<Option<Member>> {
        let q = Query::new(Index::Gsi1, pk::members_of(team), SortRange::Equals(id.to_string()), true);
        let found: Vec<Member> = self.query_all(q).await?;
        Ok(found.into_iter().next())
    }

    /// In member-id order.
    async fn list_members(&self, team: &TeamId) -> StoreResult<Vec<Member>> {
        self.query_all(Query::new(Index::Gsi1, pk::members_of(team), SortRange::All, true)).await
    }

    async fn delete_member(&self, team: &TeamId, id: MemberId) -> StoreResult<()> {
        let member = self.get_member(team, id).await?.ok_or(StoreError::NotFound)?;
        let condition = Condition::owned_by(team).name("#id", "id").value(":id", s(id.to_string()));
        let condition = Condition { expression: "attribute_exists(pk) AND #team = :team AND #id = :id", ..condition };
        if !self.delete(pk::member(&member.email), "MEMBER", Some(condition)).await? {
            return Err(StoreError::NotFound);
        }
        self.delete_sessions_of(id).await.map(drop)
    }

    async fn put_link(&self, link: &OneTimeToken) -> StoreResult<()> {
        match self.put(link_item(link)?, Some(Condition::absent())).await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists),
        }
    }

    async fn link_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<OneTimeToken>> {
        self.get(pk::link(hash), "LINK").await
    }

    /// A DeleteItem conditional on the item still being there and its `ttl` not passed: of
    /// concurrent takers (on any number of hosts) one deletes it, the others fail the condition.
    async fn take_link(&self, hash: &KeyHash, now: DateTime<Utc>) -> StoreResult<Option<OneTimeToken>> {
        let Some(link) = self.link_by_hash(hash).await?.filter(|l: &OneTimeToken| l.is_live(now)) else {
            return Ok(None);
        };
        let condition = Condition::new("attribute_exists(pk) AND #ttl > :now")
            .name("#ttl", "ttl")
            .value(":now", AttributeValue::N(now.timestamp().to_string()));
        Ok(self.delete(pk::link(hash), "LINK", Some(condition)).await?.then_some(link))
    }

    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        match self.put(session_item(session)?, Some(Condition::absent())).await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists),
        }
    }

    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<Session>> {
        self.get(pk::session(hash), "SESSION").await
    }

    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()> {
        self.delete(pk::session(hash), "SESSION", None).await.map(drop)
    }

    /// Reads the member's sessions from gsi1 (eventually consistent: a session made in the
    /// last instant may be missed, and then ends at its TTL or its own sign-out).
    async fn delete_sessions_of(&self, member: MemberId) -> StoreResult<usize> {
        let sessions: Vec<Session> =
            self.query_all(Query::new(Index::Gsi1, pk::sessions_of(member), SortRange::All, true)).await?;
        for x in &sessions {
            self.delete(pk::session(&x.hash), "SESSION", None).await?;
        }
        Ok(sessions.len())
    }

    /// One UpdateItem: `count = count + 1` on the condition `count < max`, atomic in DynamoDB
    /// whichever Lambda instance sends it.
    async fn take_attempt(&self, key: &str, max: u32, expires_at: DateTime<Utc>) -> StoreResult<bool> {
        let condition = Condition::new("attribute_not_exists(#count) OR #count < :max")
            .name("#count", "count")
            .name("#ttl", "ttl")
            .value(":max", AttributeValue::N(max.to_string()))
            .value(":zero", AttributeValue::N("0".into()))
            .value(":one", AttributeValue::N("1".into()))
            .value(":ttl", AttributeValue::N(expires_at.timestamp().to_string()));
        if max == 0 {
            return Ok(false);
        }
        self.update(
            pk::attempts(key),
            "ATTEMPTS",
            "SET #count = if_not_exists(#count, :zero) + :one, #ttl = if_not_exists(#ttl, :ttl)",
            condition,
        )
        .await
    }

    async fn give_back_attempt(&self, key: &str) -> StoreResult<()> {
        let condition = Condition::new("#count > :zero")
            .name("#count", "count")
            .value(":zero", AttributeValue::N("0".into()))
            .value(":one", AttributeValue::N("1".into()));
        self.update(pk::attempts(key), "ATTEMPTS", "SET #count = #count - :one", condition).await.map(drop)
    }
}

#[async_trait]
impl ErasureStore for DynamoStore {
    async fn put_erased_event(&self, event: &ErasedEvent) -> StoreResult<()> {
        self.put(erased_event_item(event)?, None).await.map(drop)
    }

    async fn erased_event(&self, fingerprint: &str) -> StoreResult<Option<ErasedEvent>> {
        self.get(pk::erased_event(fingerprint), "ERASED").await
    }
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn get_state(&self, key: &str) -> StoreResult<Option<Versioned>> {
        let record: Option<StateRecord> = self.get(pk::state(key), "STATE").await?;
        Ok(record.map(|r| Versioned { value: r.value, version: r.version }))
    }

    async fn put_state(&self, key: &str, value: &str, expected: Option<u64>) -> StoreResult<u64> {
        self.write_state(key, value, expected, None).await
    }

    /// With the table's `ttl` at `until`: DynamoDB deletes the item within days of it.
    async fn put_state_until(&self, key: &str, value: &str, expected: Option<u64>, until: DateTime<Utc>) -> StoreResult<u64> {
        self.write_state(key, value, expected, Some(until)).await
    }
}

impl DynamoStore {
    async fn write_state(&self, key: &str, value: &str, expected: Option<u64>, until: Option<DateTime<Utc>>) -> StoreResult<u64> {
        let version = expected.map_or(Some(1), |v| v.checked_add(1)).ok_or(StoreError::Conflict)?;
        let mut item = Item::of(&StateRecord { value: value.to_owned(), version }, pk::state(key), "STATE")?;
        if let Some(until) = until {
            item = item.expires(until);
        }
        let condition = match expected {
            None => Condition::absent(),
            Some(v) => Condition::new("#version = :expected")
                .name("#version", "version")
                .value(":expected", AttributeValue::N(v.to_string())),
        };
        match self.put(item, Some(condition)).await? {
            true => Ok(version),
            false => Err(StoreError::Conflict),
        }
    }
}

/// Items one counter bucket is spread over. An add goes to one of them at random and a read
/// sums them, so a bucket takes `COUNTER_SHARDS` times DynamoDB's write limit for one item
/// (1,000 writes a second): 8,000 interactions a second on one channel. Each shard is its own
/// partition key, so the shards do not share a partition's limit either.
pub const COUNTER_SHARDS: u32 = 8;

/// Each add is one UpdateItem with `ADD` (atomic, unconditional: nothing to retry); a read is
/// one Query per shard, made at once.
#[async_trait]
impl CounterStore for DynamoStore {
    async fn add_to_bucket(&self, series: &str, bucket: i64, add: BucketCounts, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let shard = rand::Rng::gen_range(&mut rand::thread_rng(), 0..COUNTER_SHARDS);
        let ttl = ttl_secs(expires_at);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk::counter(series, shard)))
            .key("sk", s(pk::counter_bucket(bucket)))
            .update_expression("ADD #all :all, #neg :neg SET #ttl = :ttl, #bucket = :bucket")
            .expression_attribute_names("#all", "interactions")
            .expression_attribute_names("#neg", "negatives")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#bucket", "bucket")
            .expression_attribute_values(":all", AttributeValue::N(add.interactions.to_string()))
            .expression_attribute_values(":neg", AttributeValue::N(add.negatives.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()))
            .expression_attribute_values(":bucket", AttributeValue::N(bucket.to_string()))
            .send()
            .await
            .map_err(|e| backend("UpdateItem", e))?;
        Ok(())
    }

    async fn buckets(&self, series: &str, first: i64, last: i64) -> StoreResult<Vec<(i64, BucketCounts)>> {
        if first > last {
            return Ok(vec![]);
        }
        let range = SortRange::Between(pk::counter_bucket(first), pk::counter_bucket(last));
        let queries = (0..COUNTER_SHARDS).map(|shard| {
            let q = Query::new(Index::Table, pk::counter(series, shard), range.clone(), true);
            async move { self.query(&q, None, None).await }
        });
        let mut sums: BTreeMap<i64, BucketCounts> = BTreeMap::new();
        for items in futures_util::future::try_join_all(queries).await? {
            for item in items {
                let number = |name: &str| match item.get(name) {
                    Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
                    _ => None,
                };
                let (Some(bucket), Some(all), Some(neg)) = (number("bucket"), number("interactions"), number("negatives")) else {
                    return Err(StoreError::Corrupt(format!("counter item of {series} without its numbers")));
                };
                let sum = sums.entry(bucket).or_default();
                sum.interactions = sum.interactions.saturating_add(u64::try_from(all).unwrap_or(0));
                sum.negatives = sum.negatives.saturating_add(u64::try_from(neg).unwrap_or(0));
            }
        }
        Ok(sums.into_iter().collect())
    }
}

#[async_trait]
impl IncidentStore for DynamoStore {
    async fn put_incident(&self, incident: &Incident) -> StoreResult<()> {
        self.put(incident_item(incident)?, None).await.map(drop)
    }

    async fn list_incidents(&self, team: &TeamId, page: &PageRequest) -> StoreResult<Page<Incident>> {
        self.query_page(Query::new(Index::Gsi1, pk::incidents_of(team), SortRange::All, false), page).await
    }
}

#[async_trait]
impl MetricStore for DynamoStore {
    /// A second snapshot of the same subject at the same instant replaces the first.
    async fn put_snapshot(&self, snapshot: &MetricSnapshot) -> StoreResult<()> {
        self.put(snapshot_item(snapshot)?, None).await.map(drop)
    }

    async fn snapshots(
        &self,
        team: &TeamId,
        subject: &MetricSubject,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<MetricSnapshot>> {
        let (from_key, to_key) = (sortable_instant(from), sortable_instant(to));
        if from_key >= to_key {
            return Ok(vec![]);
        }
        // The sort key is the bare instant: BETWEEN is inclusive, so drop a snapshot AT `to`.
        let q = Query::new(Index::Table, pk::metric(team, subject), SortRange::Between(from_key, to_key.clone()), true);
        let items = self.query(&q, None, None).await?;
        items
            .into_iter()
            .filter(|item| !matches!(item.get("sk"), Some(AttributeValue::S(sk)) if *sk == to_key))
            .map(read)
            .collect()
    }

    async fn put_rollup(&self, rollup: &MetricRollup) -> StoreResult<()> {
        let condition = Condition::new("attribute_not_exists(pk) OR #taken <= :taken")
            .name("#taken", "rollup_taken_at")
            .value(":taken", s(sortable_instant(rollup.taken_at)));
        // A failed condition means a later snapshot of that day is stored already: keep it.
        self.put(rollup_item(rollup)?, Some(condition)).await.map(drop)
    }

    async fn rollups(&self, team: &TeamId, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MetricRollup>> {
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        // One query per month partition the range touches; "<to>" sorts before "<to>#…".
        let (mut year, mut month) = (from.year(), from.month());
        let range = SortRange::Between(from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
        while (year, month) <= (to.year(), to.month()) {
            let q = Query::new(Index::Table, pk::rollups(team, year, month), range.clone(), true);
            out.extend(self.query_all::<MetricRollup>(q).await?);
            (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        }
        Ok(out)
    }
}

#[async_trait]
impl ReportStore for DynamoStore {
    async fn put_report(&self, report: &Report) -> StoreResult<()> {
        self.put(report_item(report)?, None).await.map(drop)
    }

    async fn get_report(&self, team: &TeamId, id: ReportId) -> StoreResult<Option<Report>> {
        Ok(self.get::<Report>(pk::report(id), "REPORT").await?.filter(|r| &r.team_id == team))
    }

    async fn list_reports(&self, team: &TeamId, page: &PageRequest) -> StoreResult<Page<Report>> {
        self.query_page(Query::new(Index::Gsi1, pk::reports_of(team), SortRange::All, false), page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).single().unwrap()
    }

    #[test]
    fn instant_ranges_include_from_and_exclude_to() {
        let r = SortRange::instants(Some(at(0)), Some(at(10)));
        assert!(r.contains(&at_id(at(0), "a")));
        assert!(r.contains(&at_id(at(9), "z")));
        assert!(!r.contains(&at_id(at(10), "a")));
        assert!(SortRange::instants(Some(at(10)), Some(at(10))).is_empty());
        let below = SortRange::instants(None, Some(at(10)));
        assert!(below.contains(&at_id(at(9), "f")) && !below.contains(&at_id(at(10), "0")));
    }

    #[test]
    fn the_due_bound_includes_items_due_at_until() {
        let bound = SortRange::AtMost(format!("{}#~", sortable_instant(at(5))));
        assert!(bound.contains(&at_id(at(5), DeliveryId::new())));
        assert!(!bound.contains(&at_id(at(6), DeliveryId::new())));
    }

    #[test]
    fn cursors_only_fit_their_own_query() {
        let q = Query::new(Index::Gsi1, "CAL#a".into(), SortRange::All, true);
        let item: Attrs = [("pk", "POST#1"), ("sk", "DELIVERY#2"), ("gsi1pk", "CAL#a"), ("gsi1sk", "x#2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), s(v)))
            .collect();
        let cursor = q.cursor_after(&item).unwrap();
        assert_eq!(q.start_at(&cursor).unwrap(), item);
        let other_team = Query::new(Index::Gsi1, "CAL#b".into(), SortRange::All, true);
        assert!(matches!(other_team.start_at(&cursor), Err(StoreError::InvalidCursor)));
        let table = Query::new(Index::Table, "CAL#a".into(), SortRange::All, true);
        assert!(matches!(table.start_at(&cursor), Err(StoreError::InvalidCursor)));
        assert!(matches!(q.start_at("not a cursor"), Err(StoreError::InvalidCursor)));
    }

    #[test]
    fn free_text_cannot_fake_a_separator() {
        assert_eq!(pk::state("poll#a%23"), "STATE#poll%23a%2523");
        assert_ne!(key_part("a#b"), key_part("a%23b"));
    }
}
