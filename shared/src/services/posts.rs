//! Posts and their deliveries: create, read, the calendar, change, cancel, approve, retry.
//!
//! Who may do what: a viewer reads; a contributor writes posts that wait for approval (and may
//! change or cancel them until they are approved); an editor or admin schedules directly,
//! approves, changes, cancels and retries. `"draft": true` keeps a post a draft for anyone.
//!
//! Every state change goes through [`Delivery::transition`], and every delivery write through
//! [`PostStore::update_delivery`] (version-checked): when someone else — the publisher, most
//! likely — wrote first, the delivery is read again and the change re-applied if still legal.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};

use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{
    Channel, ChannelId, Delivery, DeliveryState, MediaRef, Platform, Post, PostId, PostText, PublishAt, ReplyControl, Role, SeriesId,
    TeamId, ValidationError, check_not_past, check_within_horizon, next_free_slot, resolve_local, sortable_instant,
};
use crate::platforms::limits::check_post;
use crate::events::{Event, EventKind, EventSink};
use crate::store::{Page, PageRequest, PostStore, Store, StoreError};

/// A post targets at most this many channels.
pub const MAX_CHANNELS: usize = 99;

/// How many times a delivery write is re-tried after losing a version race.
const WRITE_ATTEMPTS: usize = 4;

/// `next_slot` reads the calendar this many days at a time…
const SLOT_WINDOW_DAYS: i64 = 28;
/// …for at most this many windows (about a year) before saying the queue is full.
const SLOT_WINDOWS: usize = 13;

/// At most this many calendar reads serve one page of the post listing.
const LIST_ROUNDS: usize = 20;

const VIEWERS_READ: &str = "a viewer key can read posts but not change them";
const EDITORS_ONLY: &str = "only an editor or admin key can do this";
const CONTRIBUTOR_LIMIT: &str =
    "a contributor key can change or cancel only drafts and posts awaiting approval; ask an editor";

/// A new post, parsed from the request but not yet checked against its channels.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub text: PostText,
    pub channel_ids: Vec<ChannelId>,
    pub publish_at: PublishAt,
    pub variants: BTreeMap<Platform, PostText>,
    pub media: Vec<MediaRef>,
    /// Keep it a draft, whatever the role.
    pub draft: bool,
    /// A comment (Instagram, Facebook) or reply (Threads) said right after the post.
    pub first_comment: Option<PostText>,
    /// Who may reply on Threads.
    pub reply_control: Option<ReplyControl>,
}

/// What a PATCH changes; `None` leaves it as it is.
#[derive(Debug, Clone, Default)]
pub struct PostChanges {
    pub text: Option<PostText>,
    /// Replaces every variant.
    pub variants: Option<BTreeMap<Platform, PostText>>,
    /// Replaces every media item.
    pub media: Option<Vec<MediaRef>>,
    pub publish_at: Option<PublishAt>,
    /// `true` puts the post back to draft; `false` submits a draft (for approval when the
    /// actor is a contributor, scheduled otherwise).
    pub draft: Option<bool>,
    /// `Some(None)` removes the first comment.
    pub first_comment: Option<Option<PostText>>,
    /// `Some(None)` goes back to Threads' default.
    pub reply_control: Option<Option<ReplyControl>>,
}

/// A post with all its deliveries, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PostView {
    pub post: Post,
    pub deliveries: Vec<Delivery>,
}

impl PostView {
    /// One word for the whole post: the deliveries' common state, `partially_published` when
    /// some went out and others failed, `mixed` otherwise.
    pub fn state(&self) -> &'static str {
        let mut states = self.deliveries.iter().map(|d| d.state);
        let Some(first) = states.next() else { return "empty" };
        if self.deliveries.iter().all(|d| d.state == first) {
            return first.as_str();
        }
        let has = |s| self.deliveries.iter().any(|d| d.state == s);
        if has(DeliveryState::Published) && has(DeliveryState::Failed) { "partially_published" } else { "mixed" }
    }
}

// ------------------------------------------------------------------------------------------
// Create and read
// ------------------------------------------------------------------------------------------

/// Creates a post (one delivery per channel). A contributor's awaits approval, and editors
/// hear of it: `Approval Requested`.
pub async fn create_post(
    store: &dyn Store,
    clock: &dyn Clock,
    events: &dyn EventSink,
    actor: &Actor,
    new: NewPost,
) -> Result<PostView, ServiceError> {
    actor.require(Role::Contributor, VIEWERS_READ)?;
    check_channel_ids(&new.channel_ids)?;
    let targets = load_channels(store, &actor.team_id, &new.channel_ids).await?;
    let now = clock.now();
    let view = prepare_post(store, now, actor, &targets, new, None).await?;
    store.create_post(&view.post, &view.deliveries).await?;
    tracing::info!(post_id = %view.post.id, deliveries = view.deliveries.len(), state = %view.state(), "post created");
    announce_pending(events, now, &[&view]).await;
    Ok(view)
}

/// `Approval Requested` for each of `views` that has a delivery awaiting approval: what it
/// says, who wrote it, where and when it would go out. An event that cannot be delivered is
/// logged; the post stands.
pub(super) async fn announce_pending(events: &dyn EventSink, now: DateTime<Utc>, views: &[&PostView]) {
    for view in views {
        let pending: Vec<&Delivery> =
            view.deliveries.iter().filter(|d| d.state == DeliveryState::PendingApproval).collect();
        if pending.is_empty() {
            continue;
        }
        let text: String = view.post.text.as_str().chars().take(280).collect();
        let detail = serde_json::json!({
            "post_id": view.post.id,
            "version": view.post.version,
            "created_by": view.post.created_by,
            "text": text,
            "deliveries": pending.iter().map(|d| serde_json::json!({
                "delivery_id": d.id, "channel_id": d.channel_id, "platform": d.platform, "publish_at": d.publish_at,
            })).collect::<Vec<_>>(),
        });
        let event = Event::new(EventKind::ApprovalRequested, &view.post.team_id, now, detail);
        if let Err(e) = events.emit(&event).await {
            tracing::error!(error = %e, post_id = %view.post.id, "Approval Requested not delivered");
        }
    }
}

/// Everything `create_post` checks and builds, without storing it: the post and one delivery
/// per target channel, in the state the actor's role gives (scheduled for an editor, pending
/// approval for a contributor, draft when asked). `targets` are the team's channels the post
/// goes to (the caller loaded and checked them). Series and bulk imports prepare every post
/// first and store only when all are good.
pub(super) async fn prepare_post(
    store: &dyn Store,
    now: DateTime<Utc>,
    actor: &Actor,
    targets: &[Channel],
    new: NewPost,
    series_id: Option<SeriesId>,
) -> Result<PostView, ServiceError> {
    actor.require(Role::Contributor, VIEWERS_READ)?;
    check_publishable(targets)?;
    let post = Post { review: None, version: 0, first_comment: new.first_comment, reply_control: new.reply_control,
        id: PostId::new(),
        team_id: actor.team_id.clone(),
        text: new.text,
        variants: new.variants,
        media: new.media,
        created_by: Some(actor.key_id),
        created_at: now,
        updated_at: now,
        series_id,
    };
    check_texts(&post, targets.iter().map(|c| (c.name.as_str().to_owned(), c.platform)))?;
    check_reply_options(
        post.first_comment.as_ref().map(PostText::as_str),
        post.reply_control,
        targets.iter().map(|c| (c.name.as_str().to_owned(), c.platform)),
    )?;
    let state = if new.draft {
        DeliveryState::Draft
    } else if actor.role.includes(Role::Editor) {
        DeliveryState::Scheduled
    } else {
        DeliveryState::PendingApproval
    };
    let mut deliveries = Vec::with_capacity(targets.len());
    for channel in targets {
        let at = resolve_publish_at(store, &actor.team_id, channel, new.publish_at, now, None).await?;
        deliveries.push(Delivery::new(&post, channel.id, channel.platform, state, at, now));
    }
    Ok(PostView { post, deliveries })
}

/// Refuses, naming each, the channels of networks Herald does not publish to yet (intake-only):
/// their post would only fail at publish time.
fn check_publishable(targets: &[Channel]) -> Result<(), ValidationError> {
    let intake_only: Vec<String> = targets
        .iter()
        .filter(|c| !c.platform.can_publish())
        .map(|c| format!("channel \"{}\" ({}) is intake-only: Herald does not publish to {} yet", c.name.as_str(), c.platform, crate::platforms::limits::display_name(c.platform)))
        .collect();
    if intake_only.is_empty() {
        return Ok(());
    }
    Err(ValidationError::new("channel_ids", intake_only.join("; ")))
}

/// Stores prepared posts one by one. When a write fails part-way, the posts already written are
/// taken back (their deliveries cancelled, so nothing of the batch goes out) and the error is
/// returned: a batch is never left half-scheduled.
pub(super) async fn store_all(posts: &dyn PostStore, now: DateTime<Utc>, views: &[PostView]) -> Result<(), ServiceError> {
    for (i, view) in views.iter().enumerate() {
        if let Err(e) = posts.create_post(&view.post, &view.deliveries).await {
            tracing::error!(error = %e, stored = i, of = views.len(), "batch write failed; cancelling what was stored");
            take_back(posts, now, views.get(..i).unwrap_or_default().iter()).await;
            return Err(e.into());
        }
    }
    Ok(())
}

/// [`store_all`] for posts whose ids say what they are (derived ids, see the CSV import): a
/// post whose id is already stored is not written again, and not an error. Returns, for each
/// of `views`, whether this call created it. Any other failure takes back what this call
/// stored, as `store_all` does.
pub(super) async fn store_new(posts: &dyn PostStore, now: DateTime<Utc>, views: &[PostView]) -> Result<Vec<bool>, ServiceError> {
    let mut created = Vec::with_capacity(views.len());
    for view in views {
        match posts.create_post(&view.post, &view.deliveries).await {
            Ok(()) => created.push(true),
            Err(StoreError::AlreadyExists) => created.push(false),
            Err(e) => {
                tracing::error!(error = %e, stored = created.len(), of = views.len(), "batch write failed; cancelling what was stored");
                let stored = views.iter().zip(&created).filter(|(_, c)| **c).map(|(v, _)| v);
                take_back(posts, now, stored).await;
                return Err(e.into());
            }
        }
    }
    Ok(created)
}

/// Cancels the deliveries of posts a failed batch stored, so nothing of the batch goes out.
async fn take_back(posts: &dyn PostStore, now: DateTime<Utc>, stored: impl Iterator<Item = &PostView>) {
    for done in stored {
        let cancel = |d: &mut Delivery| d.transition(DeliveryState::Cancelled, now);
        if let Err(undo) = move_each(posts, &done.deliveries, now, is_cancellable, cancel).await {
            tracing::error!(error = %undo, post_id = %done.post.id, "could not cancel a post of a failed batch");
        }
    }
}

/// The team's channels with these ids, in order (checked: at least one, distinct, bounded);
/// 404 naming every one that is missing.
pub(super) async fn target_channels(
    store: &dyn Store,
    team: &TeamId,
    ids: &[ChannelId],
) -> Result<Vec<Channel>, ServiceError> {
    check_channel_ids(ids)?;
    load_channels(store, team, ids).await
}

/// The actor's team's post with its deliveries, or 404 (also when it is another team's).
pub async fn get_post(store: &dyn Store, actor: &Actor, id: PostId) -> Result<PostView, ServiceError> {
    let post = store
        .get_post(&actor.team_id, id)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no post {id} in your team")))?;
    let deliveries = store.deliveries_of_post(&actor.team_id, id).await?;
    Ok(PostView { post, deliveries })
}

/// Which deliveries put a post on the calendar, beyond the time window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostFilter {
    /// Only deliveries in this state (`pending_approval`: the approval queue).
    pub state: Option<DeliveryState>,
    /// Only deliveries to this channel.
    pub channel: Option<ChannelId>,
}

impl PostFilter {
    /// Whether `d` is one of the deliveries this filter lists.
    pub fn keeps(&self, d: &Delivery) -> bool {
        self.state.is_none_or(|s| d.state == s) && self.channel.is_none_or(|c| d.channel_id == c)
    }
}

/// The calendar: posts with at least one delivery scheduled in `from <= t < to` (and kept by
/// `filter`), in the order of their first such delivery, each with all its deliveries. A post
/// shows on one page only, even when its deliveries span several; `page.limit` bounds the posts
/// of a page. With a filter a page may hold fewer posts and still have a `next`.
pub async fn list_posts(
    store: &dyn Store,
    actor: &Actor,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filter: &PostFilter,
    page: &PageRequest,
) -> Result<Page<PostView>, ServiceError> {
    if from >= to {
        return Err(ValidationError::new("to", "must be after `from`").into());
    }
    let team = &actor.team_id;
    let want = page.effective_limit() as usize;
    let continuing = page.cursor.is_some();
    let in_range = |d: &Delivery| d.publish_at >= from && d.publish_at < to && filter.keeps(d);
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    let mut first_key: Option<(String, String)> = None;
    let mut cursor = page.cursor.clone();
    let mut next = None;
    for _ in 0..LIST_ROUNDS {
        let request = PageRequest { limit: (want - items.len()) as u32, cursor: cursor.clone() };
        let calendar = store.calendar(team, from, to, &request).await?;
        for d in &calendar.items {
            let key = calendar_key(d);
            let first = first_key.get_or_insert_with(|| key.clone()).clone();
            if !filter.keeps(d) || !seen.insert(d.post_id) {
                continue;
            }
            let Some(post) = store.get_post(team, d.post_id).await? else { continue };
            let deliveries = store.deliveries_of_post(team, d.post_id).await?;
            // Already on an earlier page: one of its deliveries in range came before this page.
            if continuing && deliveries.iter().any(|e| in_range(e) && calendar_key(e) < first) {
                continue;
            }
            items.push(PostView { post, deliveries });
        }
        next = calendar.next;
        if items.len() >= want || next.is_none() {
            break;
        }
        cursor = next.clone();
    }
    Ok(Page { items, next })
}

/// The order the calendar lists deliveries in: publish time, then id.
fn calendar_key(d: &Delivery) -> (String, String) {
    (sortable_instant(d.publish_at), d.id.to_string())
}

// ------------------------------------------------------------------------------------------
// Change
// ------------------------------------------------------------------------------------------

/// Changes a post that has not started going out. Texts are checked again against every
/// channel still to publish; a new `publish_at` re-schedules every delivery not yet cancelled
/// or failed (failed ones wait for `retry`).
pub async fn update_post(
    store: &dyn Store,
    clock: &dyn Clock,
    events: &dyn EventSink,
    actor: &Actor,
    id: PostId,
    changes: PostChanges,
) -> Result<PostView, ServiceError> {
    actor.require(Role::Contributor, VIEWERS_READ)?;
    let PostView { post, deliveries } = get_post(store, actor, id).await?;
    require_own(actor, &post)?;
    let names = channel_names(store, &actor.team_id, &deliveries).await?;
    if let Some(d) = deliveries.iter().find(|d| matches!(d.state, DeliveryState::Publishing | DeliveryState::Published))
    {
        return Err(ServiceError::Conflict(format!(
            "this post can no longer change: its delivery to channel {} is {}; cancel what has not gone out and create a new post",
            channel_label(&names, d),
            d.state
        )));
    }
    let editable = |s: DeliveryState| {
        matches!(s, DeliveryState::Draft | DeliveryState::PendingApproval | DeliveryState::Scheduled)
    };
    if !actor.role.includes(Role::Editor)
        && deliveries.iter().any(|d| matches!(d.state, DeliveryState::Scheduled | DeliveryState::Failed))
    {
        return Err(ServiceError::Forbidden(CONTRIBUTOR_LIMIT));
    }
    if !deliveries.iter().any(|d| editable(d.state) || d.state == DeliveryState::Failed) {
        return Err(ServiceError::Conflict("this post is cancelled; create a new post instead".into()));
    }

    let now = clock.now();
    let mut updated = post.clone();
    if let Some(text) = changes.text {
        updated.text = text;
    }
    if let Some(variants) = changes.variants {
        updated.variants = variants;
    }
    if let Some(media) = changes.media {
        updated.media = media;
    }
    if let Some(first_comment) = changes.first_comment {
        updated.first_comment = first_comment;
    }
    if let Some(reply_control) = changes.reply_control {
        updated.reply_control = reply_control;
    }
    let live: Vec<&Delivery> = deliveries.iter().filter(|d| d.state != DeliveryState::Cancelled).collect();
    check_texts(&updated, live.iter().map(|d| (channel_label_plain(&names, d), d.platform)))?;
    check_reply_options(
        updated.first_comment.as_ref().map(PostText::as_str),
        updated.reply_control,
        live.iter().map(|d| (channel_label_plain(&names, d), d.platform)),
    )?;

    // Work out every delivery's new time and state before writing anything.
    let mut plans: Vec<(Delivery, DateTime<Utc>, DeliveryState)> = Vec::new();
    for d in deliveries.iter().filter(|d| editable(d.state)) {
        let at = match changes.publish_at {
            Some(publish_at) => {
                let channel = names.get(&d.channel_id).ok_or_else(|| {
                    ValidationError::new(
                        "publish_at",
                        format!("channel {} was deleted; cancel this post and create a new one", d.channel_id),
                    )
                })?;
                resolve_publish_at(store, &actor.team_id, channel, publish_at, now, Some(post.id)).await?
            }
            None => d.publish_at,
        };
        let to = match (changes.draft, d.state) {
            (Some(true), _) => DeliveryState::Draft,
            (Some(false), DeliveryState::Draft) if actor.role.includes(Role::Editor) => DeliveryState::Scheduled,
            (Some(false), DeliveryState::Draft) => DeliveryState::PendingApproval,
            (_, s) => s,
        };
        if to != d.state && to == DeliveryState::Scheduled {
            check_not_past(at, now)?;
        }
        if at != d.publish_at || to != d.state {
            plans.push((d.clone(), at, to));
        }
    }

    let submitted = plans.iter().any(|(d, _, to)| *to == DeliveryState::PendingApproval && d.state != *to);
    // The post first, conditional on the version read: of two changes made from the same read
    // (two people, or an edit racing an approval), the second is refused, never merged.
    if updated != post || !plans.is_empty() {
        updated.updated_at = now;
        store.update_post(&updated).await.map_err(changed_meanwhile)?;
    }
    for (d, at, to) in plans {
        let expected = d.state;
        let label = channel_label(&names, &d);
        write_delivery(store, d, |d| {
            if d.state != expected {
                return Err(ServiceError::Conflict(format!(
                    "the delivery to channel {label} became {} meanwhile; read the post again",
                    d.state
                )));
            }
            if d.state != to {
                d.transition(to, now).map_err(|e| ServiceError::Conflict(e.to_string()))?;
            }
            d.publish_at = at;
            d.updated_at = now;
            Ok(true)
        })
        .await?;
    }
    let view = get_post(store, actor, id).await?;
    if submitted {
        announce_pending(events, now, &[&view]).await;
    }
    Ok(view)
}

/// A contributor changes and cancels only the posts its own key created (editors and admins,
/// any post of the team).
fn require_own(actor: &Actor, post: &Post) -> Result<(), ServiceError> {
    if actor.role.includes(Role::Editor) || post.created_by == Some(actor.key_id) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("a contributor key can change or cancel only the posts it created; ask an editor"))
    }
}

/// A conditional post write that lost: someone changed the post since it was read.
fn changed_meanwhile(e: crate::store::StoreError) -> ServiceError {
    match e {
        crate::store::StoreError::Conflict => ServiceError::Conflict(
            "the post changed meanwhile (someone edited or approved it); read it again and retry".into(),
        ),
        other => other.into(),
    }
}

/// Cancels every delivery that has not gone out (draft, awaiting approval, scheduled, failed).
/// 409 when there is none; deliveries publishing or published are left as they are.
pub async fn cancel_post(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: PostId,
) -> Result<PostView, ServiceError> {
    actor.require(Role::Contributor, VIEWERS_READ)?;
    let view = get_post(store, actor, id).await?;
    require_own(actor, &view.post)?;
    if !actor.role.includes(Role::Editor)
        && view.deliveries.iter().any(|d| matches!(d.state, DeliveryState::Scheduled | DeliveryState::Failed))
    {
        return Err(ServiceError::Forbidden(CONTRIBUTOR_LIMIT));
    }
    let now = clock.now();
    let changed =
        move_each(store, &view.deliveries, now, is_cancellable, |d| d.transition(DeliveryState::Cancelled, now))
            .await?;
    if changed == 0 {
        let names = channel_names(store, &actor.team_id, &view.deliveries).await?;
        return Err(ServiceError::Conflict(format!(
            "nothing to cancel: {}",
            describe_states(&names, &view.deliveries)
        )));
    }
    get_post(store, actor, id).await
}

/// Who may approve, in words.
pub const APPROVERS_ONLY: &str = "only an editor or admin key can approve posts";

/// Approves a post awaiting approval, as it was when the editor read it (`seen`, the post's
/// `version` then): its pending deliveries become scheduled. 409 when none awaits approval or
/// when the post changed since that read; 422 when its time has passed meanwhile (change
/// `publish_at`, then approve).
pub async fn approve_post(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: PostId,
    seen: Option<u64>,
) -> Result<PostView, ServiceError> {
    actor.require(Role::Editor, APPROVERS_ONLY)?;
    let view = get_post(store, actor, id).await?;
    let seen = seen.ok_or_else(|| {
        ValidationError::new(
            "version",
            "is required: the version of the post you read (GET /v1/posts/{id} shows it); \
             send {\"version\": n} or If-Match: \"n\"",
        )
    })?;
    if view.post.version != seen {
        return Err(ServiceError::Conflict(format!(
            "the post changed since you read it (you read version {seen}, it is now version {}); read it again and approve what you see",
            view.post.version
        )));
    }
    let now = clock.now();
    let pending = |d: &Delivery| d.state == DeliveryState::PendingApproval;
    for d in view.deliveries.iter().filter(|d| pending(d)) {
        check_not_past(d.publish_at, now).map_err(|e| {
            ValidationError::new(
                e.field,
                format!(
                    "{}; change publish_at (PATCH the post), then approve it",
                    e.rule.trim_end_matches("; pick a later time")
                ),
            )
        })?;
    }
    if !view.deliveries.iter().any(pending) {
        let names = channel_names(store, &actor.team_id, &view.deliveries).await?;
        return Err(ServiceError::Conflict(format!(
            "nothing to approve: {}",
            describe_states(&names, &view.deliveries)
        )));
    }
    // The approval is a write of the version read: an edit that landed after the check above
    // makes it fail instead of approving text nobody reviewed. An earlier "not yet" is settled.
    store.update_post(&Post { review: None, ..view.post.clone() }).await.map_err(changed_meanwhile)?;
    move_each(store, &view.deliveries, now, pending, |d| d.transition(DeliveryState::Scheduled, now)).await?;
    get_post(store, actor, id).await
}

/// The longest comment an editor sends a post back with.
pub const MAX_REVIEW_CHARS: usize = 2000;

/// Sends a post awaiting approval back to its author as a draft, with the editor's comment
/// (kept on the post and shown until it is approved), and says so: `Post Rejected`. 409 when
/// nothing awaits approval.
pub async fn reject_post(
    store: &dyn Store,
    clock: &dyn Clock,
    events: &dyn EventSink,
    actor: &Actor,
    id: PostId,
    comment: &str,
) -> Result<PostView, ServiceError> {
    actor.require(Role::Editor, "only an editor or admin key can send a post back")?;
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > MAX_REVIEW_CHARS {
        return Err(ValidationError::new(
            "comment",
            format!("must be 1 to {MAX_REVIEW_CHARS} characters: what the author should change"),
        )
        .into());
    }
    let view = get_post(store, actor, id).await?;
    let pending = |d: &Delivery| d.state == DeliveryState::PendingApproval;
    if !view.deliveries.iter().any(pending) {
        let names = channel_names(store, &actor.team_id, &view.deliveries).await?;
        return Err(ServiceError::Conflict(format!("nothing to send back: {}", describe_states(&names, &view.deliveries))));
    }
    let now = clock.now();
    let review = crate::domain::Review { comment: comment.to_owned(), by: actor.key_id, at: now };
    store.update_post(&Post { review: Some(review), ..view.post.clone() }).await.map_err(changed_meanwhile)?;
    move_each(store, &view.deliveries, now, pending, |d| d.transition(DeliveryState::Draft, now)).await?;
    let view = get_post(store, actor, id).await?;
    let detail = serde_json::json!({
        "post_id": view.post.id,
        "created_by": view.post.created_by,
        "rejected_by": actor.key_id,
        "comment": comment,
    });
    if let Err(e) = events.emit(&Event::new(EventKind::PostRejected, &actor.team_id, now, detail)).await {
        tracing::error!(error = %e, post_id = %id, "Post Rejected not delivered");
    }
    Ok(view)
}

/// Retries the failed deliveries of a post, and only those: each is scheduled for now with its
/// attempts reset. 409 when none failed.
pub async fn retry_post(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: PostId,
) -> Result<PostView, ServiceError> {
    actor.require(Role::Editor, EDITORS_ONLY)?;
    let view = get_post(store, actor, id).await?;
    let now = clock.now();
    let failed = |d: &Delivery| d.state == DeliveryState::Failed;
    let changed = move_each(store, &view.deliveries, now, failed, |d| {
        d.transition(DeliveryState::Scheduled, now)?;
        d.publish_at = now;
        d.attempts = 0;
        d.last_error = None;
        d.retry_at = None;
        Ok(())
    })
    .await?;
    if changed == 0 {
        let names = channel_names(store, &actor.team_id, &view.deliveries).await?;
        return Err(ServiceError::Conflict(format!(
            "nothing to retry: only failed deliveries are retried, and {}",
            describe_states(&names, &view.deliveries)
        )));
    }
    get_post(store, actor, id).await
}

/// Cancels a channel's deliveries that have not gone out, whatever post they belong to (the
/// channel is being deleted). Returns how many were cancelled.
pub(super) async fn cancel_channel_deliveries(
    store: &dyn Store,
    clock: &dyn Clock,
    team: &TeamId,
    channel: ChannelId,
) -> Result<usize, ServiceError> {
    let now = clock.now();
    let (from, to) = whole_calendar();
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    let mut cancelled = 0;
    loop {
        let calendar = store.calendar(team, from, to, &page).await?;
        let mine: Vec<Delivery> =
            calendar.items.into_iter().filter(|d| d.channel_id == channel && is_cancellable(d)).collect();
        cancelled +=
            move_each(store, &mine, now, is_cancellable, |d| d.transition(DeliveryState::Cancelled, now)).await?;
        match calendar.next {
            Some(next) => page.cursor = Some(next),
            None => return Ok(cancelled),
        }
    }
}

/// Every instant a calendar query can hold (sortable instants are four-digit years).
fn whole_calendar() -> (DateTime<Utc>, DateTime<Utc>) {
    let from = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::UNIX_EPOCH);
    let to = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().unwrap_or(DateTime::UNIX_EPOCH);
    (from, to)
}

fn is_cancellable(d: &Delivery) -> bool {
    matches!(
        d.state,
        DeliveryState::Draft | DeliveryState::PendingApproval | DeliveryState::Scheduled | DeliveryState::Failed
    )
}

// ------------------------------------------------------------------------------------------
// Writing deliveries
// ------------------------------------------------------------------------------------------

/// Applies `change` to every delivery that `applies` to, each written version-checked (and
/// re-read and re-checked after a lost race). Returns how many changed.
async fn move_each(
    posts: &dyn PostStore,
    deliveries: &[Delivery],
    now: DateTime<Utc>,
    applies: impl Fn(&Delivery) -> bool,
    change: impl Fn(&mut Delivery) -> Result<(), crate::domain::IllegalTransition>,
) -> Result<usize, ServiceError> {
    let mut changed = 0;
    for d in deliveries.iter().filter(|d| applies(d)) {
        let (_, wrote) = write_delivery(posts, d.clone(), |d| {
            // Someone else moved it meanwhile (the publisher claimed it): leave it.
            if !applies(d) {
                return Ok(false);
            }
            change(d).map_err(|e| ServiceError::Conflict(e.to_string()))?;
            d.updated_at = now;
            Ok(true)
        })
        .await?;
        if wrote {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Applies `change` to `d` and writes it if it says so; on a version conflict reads the
/// delivery again and re-applies, up to [`WRITE_ATTEMPTS`] times. Returns the delivery as it
/// now is, and whether this call wrote it.
async fn write_delivery(
    posts: &dyn PostStore,
    mut d: Delivery,
    change: impl Fn(&mut Delivery) -> Result<bool, ServiceError>,
) -> Result<(Delivery, bool), ServiceError> {
    for _ in 0..WRITE_ATTEMPTS {
        let mut next = d.clone();
        if !change(&mut next)? {
            return Ok((d, false));
        }
        match posts.update_delivery(&next).await {
            Ok(stored) => return Ok((stored, true)),
            Err(StoreError::Conflict) => {
                d = posts
                    .get_delivery(&d.team_id, d.post_id, d.id)
                    .await?
                    .ok_or_else(|| ServiceError::not_found(format!("delivery {} disappeared", d.id)))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ServiceError::Conflict(format!(
        "delivery {} kept changing while this request tried to update it; try again",
        d.id
    )))
}

// ------------------------------------------------------------------------------------------
// Checks
// ------------------------------------------------------------------------------------------

pub(crate) fn check_channel_ids(ids: &[ChannelId]) -> Result<(), ValidationError> {
    if ids.is_empty() {
        return Err(ValidationError::new("channel_ids", "must name at least one channel"));
    }
    if ids.len() > MAX_CHANNELS {
        return Err(ValidationError::new(
            "channel_ids",
            format!("names {} channels; a post targets at most {MAX_CHANNELS}", ids.len()),
        ));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(ValidationError::new("channel_ids", format!("channel {dup} is listed twice")));
    }
    Ok(())
}

/// The team's channels with these ids, in order; 404 naming every one that is missing.
async fn load_channels(
    store: &dyn Store,
    team: &TeamId,
    ids: &[ChannelId],
) -> Result<Vec<Channel>, ServiceError> {
    let mut found = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids {
        match store.get_channel(team, *id).await? {
            Some(c) => found.push(c),
            None => missing.push(id.to_string()),
        }
    }
    if !missing.is_empty() {
        let (noun, list) =
            if missing.len() == 1 { ("channel", missing[0].clone()) } else { ("channels", missing.join(", ")) };
        return Err(ServiceError::NotFound {
            message: format!("no {noun} {list} in your team"),
            field: Some("channel_ids".into()),
        });
    }
    Ok(found)
}

/// What one network makes of a post before it is saved (the composer's live counters): the
/// text it would publish (its variant, or the main text), that text's length counted the
/// network's way against its limit, and every rule the post breaks there, each with the field
/// [`check_texts`] names for it (`text`, `variants.<platform>` or `media`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkCheck {
    pub platform: Platform,
    /// What would be published on this network.
    pub text: String,
    /// `text` is this network's variant rather than the main text.
    pub from_variant: bool,
    /// `text`'s length, counted as [`crate::platforms::limits::Limits::counting`] says.
    pub length: usize,
    pub limits: crate::platforms::limits::Limits,
    /// Every broken rule, with its field; empty when the network takes the post.
    pub problems: Vec<(String, crate::platforms::limits::LimitViolation)>,
}

/// Every rule `text` (or `variant`, when the network has one) with `media_count` media breaks
/// on `platform`, without saving anything: the rules [`check_texts`] refuses a post for.
pub fn check_network(platform: Platform, text: &str, variant: Option<&str>, media_count: usize) -> NetworkCheck {
    let published = variant.unwrap_or(text);
    let problems = check_post(platform, published, media_count)
        .into_iter()
        .map(|v| {
            let field = match v.rule {
                "too_many_media" | "media_required" => "media".to_owned(),
                _ if variant.is_some() => format!("variants.{platform}"),
                _ => "text".to_owned(),
            };
            (field, v)
        })
        .collect();
    NetworkCheck {
        platform,
        text: published.to_owned(),
        from_variant: variant.is_some(),
        length: crate::platforms::limits::text_length(platform, published),
        limits: crate::platforms::limits::limits(platform),
        problems,
    }
}

/// Checks the text each target channel would publish against that platform's rules, and says
/// every broken rule at once, naming the channel: `channel "@cafe" (bluesky): text is 312
/// characters on Bluesky; the limit is 300 (graphemes)`. The field is `text`, or
/// `variants.<platform>` when a variant is what that channel publishes, or `media`.
pub fn check_texts(post: &Post, targets: impl IntoIterator<Item = (String, Platform)>) -> Result<(), ValidationError> {
    let mut field: Option<String> = None;
    let mut messages = Vec::new();
    for (i, m) in post.media.iter().enumerate() {
        if m.uploaded().is_some() && m.upload.is_none() {
            // Whoever saves a post runs `media::check_uploads` first; this is the backstop.
            return Err(ValidationError::new(format!("media[{i}].url"), "names an upload Herald has not looked at"));
        }
    }
    for (name, platform) in targets {
        let variant = post.variants.get(&platform).map(PostText::as_str);
        for (f, v) in check_network(platform, post.text.as_str(), variant, post.media.len()).problems {
            field.get_or_insert(f);
            messages.push(format!("channel \"{name}\" ({platform}): {}", v.message));
        }
        for (i, upload) in post.media.iter().enumerate().filter_map(|(i, m)| Some((i, m.upload.as_ref()?))) {
            let unreachable = crate::platforms::limits::fetches_media(platform) && !upload.fetchable;
            let why = if unreachable {
                Some(format!(
                    "{} fetches media from a public address, and uploads have none here: set HERALD_PUBLIC_URL, or give the media by its address",
                    crate::platforms::limits::display_name(platform)
                ))
            } else {
                crate::platforms::limits::check_upload(platform, &upload.content_type, upload.bytes)
            };
            if let Some(why) = why {
                field.get_or_insert(format!("media[{i}].url"));
                messages.push(format!("channel \"{name}\" ({platform}): media {}: {why}", i + 1));
            }
        }
    }
    match field {
        None => Ok(()),
        Some(field) => Err(ValidationError::new(field, messages.join("; "))),
    }
}

/// Refuses what a post's channels cannot honour: `reply_control` without a Threads channel,
/// a `first_comment` without an Instagram, Facebook or Threads channel, or one too long for one
/// of those channels (naming it, as [`check_texts`] does). Other channels ignore both. The
/// composer's live check asks the same.
pub fn check_reply_options(
    first_comment: Option<&str>,
    reply_control: Option<ReplyControl>,
    targets: impl IntoIterator<Item = (String, Platform)>,
) -> Result<(), ValidationError> {
    let targets: Vec<(String, Platform)> = targets.into_iter().collect();
    if reply_control.is_some() && !targets.iter().any(|(_, p)| *p == Platform::Threads) {
        return Err(ValidationError::new(
            "reply_control",
            "only Threads lets a post say who may reply, and none of this post's channels is on Threads; leave it out",
        ));
    }
    let Some(comment) = first_comment else { return Ok(()) };
    if !targets.iter().any(|(_, p)| crate::platforms::limits::takes_first_comment(*p)) {
        return Err(ValidationError::new(
            "first_comment",
            "only Instagram and Facebook (a comment under the post) and Threads (a reply) take a first comment, \
             and none of this post's channels is on one of them; leave it out",
        ));
    }
    let messages: Vec<String> = targets
        .iter()
        .filter_map(|(name, platform)| {
            let v = crate::platforms::limits::check_first_comment(*platform, comment)?;
            Some(format!("channel \"{name}\" ({platform}): {}", v.message))
        })
        .collect();
    if messages.is_empty() { Ok(()) } else { Err(ValidationError::new("first_comment", messages.join("; "))) }
}

/// Turns `publish_at` into this channel's instant, refusing past times.
async fn resolve_publish_at(
    store: &dyn Store,
    team: &TeamId,
    channel: &Channel,
    publish_at: PublishAt,
    now: DateTime<Utc>,
    own_post: Option<PostId>,
) -> Result<DateTime<Utc>, ServiceError> {
    let at = match publish_at {
        PublishAt::Instant(t) => t,
        PublishAt::Local { local, time_zone } => resolve_local(local, time_zone.unwrap_or(channel.time_zone))?,
        PublishAt::NextSlot => return next_slot(store, team, channel, now, own_post).await,
        // Due at once: the publisher's next run claims it (it is not in the past by definition).
        PublishAt::Now => return Ok(now),
    };
    check_not_past(at, now)?;
    check_within_horizon("publish_at", at, now)?;
    Ok(at)
}

/// The channel's first weekly queue slot after `now` that no other live delivery of the
/// channel holds (deliveries of `own_post` do not count: re-slotting a post may keep its slot).
async fn next_slot(
    store: &dyn Store,
    team: &TeamId,
    channel: &Channel,
    now: DateTime<Utc>,
    own_post: Option<PostId>,
) -> Result<DateTime<Utc>, ServiceError> {
    if channel.queue_slots.is_empty() {
        return Err(ValidationError::new(
            "publish_at",
            format!(
                "channel \"{}\" has no queue slots, so \"next_slot\" has nothing to pick from; add queue_slots to the channel or give a time",
                channel.name.as_str()
            ),
        )
        .into());
    }
    let mut start = now;
    for _ in 0..SLOT_WINDOWS {
        let end = start + Duration::days(SLOT_WINDOW_DAYS);
        let taken = taken_instants(store, team, channel.id, start, end, own_post).await?;
        if let Some(t) = next_free_slot(&channel.queue_slots, channel.time_zone, now, start..end, &taken) {
            return Ok(t);
        }
        start = end;
    }
    Err(ValidationError::new(
        "publish_at",
        format!(
            "every queue slot of channel \"{}\" in the next {} days is taken; give a time instead",
            channel.name.as_str(),
            SLOT_WINDOW_DAYS * SLOT_WINDOWS as i64
        ),
    )
    .into())
}

/// Instants (to the second) in `[from, to)` that live deliveries of `channel` hold.
async fn taken_instants(
    store: &dyn Store,
    team: &TeamId,
    channel: ChannelId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    own_post: Option<PostId>,
) -> Result<BTreeSet<DateTime<Utc>>, ServiceError> {
    let mut taken = taken_by_channel(store, team, from, to, own_post).await?;
    Ok(taken.remove(&channel).unwrap_or_default())
}

/// Instants (to the second) in `[from, to)` that live deliveries hold, channel by channel: a
/// cancelled or failed delivery frees its slot.
async fn taken_by_channel(
    store: &dyn Store,
    team: &TeamId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    own_post: Option<PostId>,
) -> Result<BTreeMap<ChannelId, BTreeSet<DateTime<Utc>>>, ServiceError> {
    let mut taken: BTreeMap<ChannelId, BTreeSet<DateTime<Utc>>> = BTreeMap::new();
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    loop {
        let calendar = store.calendar(team, from, to, &page).await?;
        for d in calendar.items.iter().filter(|d| Some(d.post_id) != own_post) {
            if !matches!(d.state, DeliveryState::Cancelled | DeliveryState::Failed) {
                taken.entry(d.channel_id).or_default().insert(d.publish_at.trunc_subsecs(0));
            }
        }
        match calendar.next {
            Some(next) => page.cursor = Some(next),
            None => return Ok(taken),
        }
    }
}

/// A queue slot nobody holds yet: what `"publish_at": "next_slot"` could pick on `channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSlot {
    pub channel_id: ChannelId,
    pub at: DateTime<Utc>,
}

/// The free queue slots of the team's channels in `[from, to)`, after `now`, in time order:
/// the same slots, and the same idea of "taken", as `next_slot` picks from.
pub async fn free_slots(
    store: &dyn Store,
    actor: &Actor,
    now: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<FreeSlot>, ServiceError> {
    if from >= to {
        return Err(ValidationError::new("to", "must be after `from`").into());
    }
    let team = &actor.team_id;
    let channels = store.list_channels(team).await?;
    if channels.iter().all(|c| c.queue_slots.is_empty()) {
        return Ok(Vec::new());
    }
    let taken = taken_by_channel(store, team, from, to, None).await?;
    let none = BTreeSet::new();
    let mut out = Vec::new();
    for channel in channels.iter().filter(|c| !c.queue_slots.is_empty()) {
        let taken = taken.get(&channel.id).unwrap_or(&none);
        let mut after = now;
        while let Some(t) = next_free_slot(&channel.queue_slots, channel.time_zone, after, from..to, taken) {
            out.push(FreeSlot { channel_id: channel.id, at: t });
            after = t;
        }
    }
    out.sort_by_key(|s| (s.at, s.channel_id));
    Ok(out)
}

/// The channels the deliveries point at, by id (a deleted channel is absent).
async fn channel_names(
    store: &dyn Store,
    team: &TeamId,
    deliveries: &[Delivery],
) -> Result<BTreeMap<ChannelId, Channel>, ServiceError> {
    let mut out = BTreeMap::new();
    for d in deliveries {
        if let Entry::Vacant(slot) = out.entry(d.channel_id)
            && let Some(c) = store.get_channel(team, d.channel_id).await?
        {
            slot.insert(c);
        }
    }
    Ok(out)
}

fn channel_label_plain(names: &BTreeMap<ChannelId, Channel>, d: &Delivery) -> String {
    names.get(&d.channel_id).map_or_else(|| d.channel_id.to_string(), |c| c.name.as_str().to_owned())
}

fn channel_label(names: &BTreeMap<ChannelId, Channel>, d: &Delivery) -> String {
    format!("\"{}\" ({})", channel_label_plain(names, d), d.platform)
}

/// "the delivery to channel "@cafe" (bluesky) is published, to "@x" (x) is scheduled".
fn describe_states(names: &BTreeMap<ChannelId, Channel>, deliveries: &[Delivery]) -> String {
    let parts: Vec<String> =
        deliveries.iter().map(|d| format!("channel {} is {}", channel_label(names, d), d.state)).collect();
    if parts.is_empty() { "this post has no deliveries".into() } else { parts.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TeamId;

    fn post(text: &str) -> Post {
        let now = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap();
        Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: PostId::new(),
            team_id: TeamId::parse("team", "cafe").unwrap(),
            text: PostText::parse("text", text).unwrap(),
            variants: BTreeMap::new(),
            media: vec![],
            created_by: None,
            created_at: now,
            updated_at: now,
            series_id: None,
        }
    }

    /// A post store that refuses the `fail_at`-th `create_post` (0-based) and delegates the rest.
    struct FailingStore {
        inner: crate::store::sqlite::SqliteStore,
        fail_at: usize,
        calls: std::sync::Mutex<usize>,
    }

    #[async_trait::async_trait]
    impl PostStore for FailingStore {
        async fn create_post(&self, post: &Post, deliveries: &[Delivery]) -> crate::store::StoreResult<()> {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                *calls - 1
            };
            if n == self.fail_at {
                return Err(StoreError::Corrupt("disk on fire".into()));
            }
            self.inner.create_post(post, deliveries).await
        }
        async fn get_post(&self, team: &TeamId, id: PostId) -> crate::store::StoreResult<Option<Post>> {
            self.inner.get_post(team, id).await
        }
        async fn update_post(&self, post: &Post) -> crate::store::StoreResult<Post> {
            self.inner.update_post(post).await
        }
        async fn deliveries_of_post(&self, team: &TeamId, post: PostId) -> crate::store::StoreResult<Vec<Delivery>> {
            self.inner.deliveries_of_post(team, post).await
        }
        async fn get_delivery(
            &self,
            team: &TeamId,
            post: PostId,
            id: crate::domain::DeliveryId,
        ) -> crate::store::StoreResult<Option<Delivery>> {
            self.inner.get_delivery(team, post, id).await
        }
        async fn update_delivery(&self, delivery: &Delivery) -> crate::store::StoreResult<Delivery> {
            self.inner.update_delivery(delivery).await
        }
        async fn calendar(
            &self,
            team: &TeamId,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
            page: &PageRequest,
        ) -> crate::store::StoreResult<Page<Delivery>> {
            self.inner.calendar(team, from, to, page).await
        }
        async fn due_deliveries(&self, until: DateTime<Utc>, limit: u32) -> crate::store::StoreResult<Vec<Delivery>> {
            self.inner.due_deliveries(until, limit).await
        }
    }

    #[tokio::test]
    async fn a_batch_that_fails_part_way_takes_back_what_it_stored() {
        let store = FailingStore {
            inner: crate::store::sqlite::SqliteStore::in_memory().unwrap(),
            fail_at: 2,
            calls: std::sync::Mutex::new(0),
        };
        let now = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap();
        let views: Vec<PostView> = (0..4)
            .map(|i| {
                let p = post("hi");
                let d = Delivery::new(
                    &p,
                    ChannelId::new(),
                    Platform::Sandbox,
                    DeliveryState::Scheduled,
                    now + Duration::days(i + 1),
                    now,
                );
                PostView { post: p, deliveries: vec![d] }
            })
            .collect();
        assert!(store_all(&store, now, &views).await.is_err());
        let team = TeamId::parse("team", "cafe").unwrap();
        let stored = store.inner.calendar(&team, now, now + Duration::days(30), &PageRequest::first(50)).await.unwrap();
        // The two written before the failure are there, cancelled: nothing of the batch goes out.
        assert_eq!(stored.items.len(), 2);
        assert!(stored.items.iter().all(|d| d.state == DeliveryState::Cancelled && d.due_at().is_none()));
        assert!(store.inner.due_deliveries(now + Duration::days(30), 10).await.unwrap().is_empty());
    }

    #[test]
    fn text_checks_name_the_channel_and_the_rule() {
        let p = post(&"a".repeat(312));
        let e = check_texts(&p, [("@cafe".to_owned(), Platform::Bluesky), ("@m".to_owned(), Platform::Mastodon)])
            .unwrap_err();
        assert_eq!(e.field, "text");
        assert_eq!(
            e.rule,
            "channel \"@cafe\" (bluesky): text is 312 characters on Bluesky; the limit is 300 (graphemes)"
        );
        assert!(check_texts(&p, [("@m".to_owned(), Platform::Mastodon)]).is_ok());
    }

    #[test]
    fn a_variant_is_checked_and_named_instead_of_the_text() {
        let mut p = post("short");
        p.variants.insert(Platform::Bluesky, PostText::parse("text", &"b".repeat(301)).unwrap());
        let e = check_texts(&p, [("@cafe".to_owned(), Platform::Bluesky)]).unwrap_err();
        assert_eq!(e.field, "variants.bluesky");
        let e = check_texts(&p, [("insta".to_owned(), Platform::Instagram)]).unwrap_err();
        assert_eq!(e.field, "media");
        assert!(e.rule.starts_with("channel \"insta\" (instagram): "), "{}", e.rule);
    }

    #[test]
    fn a_network_check_counts_its_way_and_says_every_problem_without_saving() {
        let long = "é".repeat(301);
        let c = check_network(Platform::Bluesky, &long, None, 5);
        assert_eq!((c.length, c.limits.max_text, c.from_variant), (301, Some(300), false));
        let rules: Vec<_> = c.problems.iter().map(|(f, v)| (f.as_str(), v.rule)).collect();
        assert_eq!(rules, [("text", "text_too_long"), ("media", "too_many_media")]);
        assert_eq!(c.problems[0].1.message, "text is 301 characters on Bluesky; the limit is 300 (graphemes)");
        // A variant is what the network publishes, and its problems name it.
        let c = check_network(Platform::Mastodon, "main", Some(&"m".repeat(501)), 0);
        assert_eq!((c.text.len(), c.from_variant, c.length), (501, true, 501));
        assert_eq!(c.problems.len(), 1);
        assert_eq!(c.problems[0].0, "variants.mastodon");
        // Mastodon counts a link as 23.
        let c = check_network(Platform::Mastodon, "see https://example.com/a/very/long/path/indeed/yes", None, 0);
        assert_eq!(c.length, 4 + 23);
        assert!(c.problems.is_empty());
        // The same words as the create call's.
        let mut p = post(&long);
        p.media = Vec::new();
        let e = check_texts(&p, [("@cafe".to_owned(), Platform::Bluesky)]).unwrap_err();
        let c = check_network(Platform::Bluesky, &long, None, 0);
        assert_eq!(e.rule, format!("channel \"@cafe\" (bluesky): {}", c.problems[0].1.message));
    }

    #[test]
    fn reply_options_are_refused_where_no_channel_honours_them() {
        let only = Some(ReplyControl::MentionedOnly);
        let e = check_reply_options(None, only, [("@cafe".to_owned(), Platform::Mastodon), ("insta".to_owned(), Platform::Instagram)])
            .unwrap_err();
        assert_eq!(e.field, "reply_control");
        assert!(e.rule.contains("Threads"), "{}", e.rule);
        assert!(check_reply_options(None, only, [("@m".to_owned(), Platform::Mastodon), ("th".to_owned(), Platform::Threads)]).is_ok());

        let tags = Some("#bread #paris");
        let e = check_reply_options(tags, None, [("@cafe".to_owned(), Platform::Mastodon), ("sky".to_owned(), Platform::Bluesky)])
            .unwrap_err();
        assert_eq!(e.field, "first_comment");
        assert!(e.rule.contains("Instagram") && e.rule.contains("Facebook") && e.rule.contains("Threads"), "{}", e.rule);
        for ok in [Platform::Instagram, Platform::Facebook, Platform::Threads] {
            assert!(check_reply_options(tags, None, [("@m".to_owned(), Platform::Mastodon), ("x".to_owned(), ok)]).is_ok(), "{ok}");
        }

        // Too long for Threads (501) but not for Instagram: refused, naming the Threads channel.
        let long = "t".repeat(501);
        let long = Some(long.as_str());
        let e = check_reply_options(long, None, [("insta".to_owned(), Platform::Instagram), ("th".to_owned(), Platform::Threads)])
            .unwrap_err();
        assert_eq!(e.field, "first_comment");
        assert_eq!(
            e.rule,
            "channel \"th\" (threads): first reply is 501 characters on Threads; the limit is 500 \
             (graphemes; an emoji counts as its UTF-8 bytes, usually 4 or more)"
        );
        assert!(check_reply_options(long, None, [("insta".to_owned(), Platform::Instagram)]).is_ok());
    }

    #[test]
    fn channel_ids_are_bounded_and_distinct() {
        assert!(check_channel_ids(&[]).is_err());
        let a = ChannelId::new();
        assert!(check_channel_ids(&[a]).is_ok());
        let e = check_channel_ids(&[a, ChannelId::new(), a]).unwrap_err();
        assert!(e.rule.contains("listed twice"));
        let many: Vec<_> = (0..100).map(|_| ChannelId::new()).collect();
        assert!(check_channel_ids(&many).unwrap_err().rule.contains("at most 99"));
    }
}
