//! The New post screen (`/compose`): one text, the channels to post to, a text per network when
//! wanted, a first comment and who may reply on Threads (shown when the team has a network that
//! takes them), media by URL with alt text, and when (a time on the team's clock, the next free queue
//! slot, or a recurrence). "Schedule" and "Save draft" create the post through the same service
//! as `POST /v1/posts` (a contributor's post then awaits approval: the service decides), with the
//! API's own parsing of each field; a refusal shows the form again, as typed, with the API's
//! status and message.
//!
//! `/compose?post=<id>` opens a post to change it (`PATCH /v1/posts/{id}`'s service), with the
//! comment an editor sent it back with, if any.
//!
//! `POST /compose/check` answers the per-network counters as an HTML fragment: each chosen
//! network's count of the text it would publish (counted its way) against its limit, every rule
//! the post breaks there ([`posts::check_network`], the checks of the create call), and a
//! preview. `compose.js` asks it as the person types; without the script the same fragment is
//! part of the page when it is shown again.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::assets;
use super::form::{PageForm, csrf_field};
use super::page::{Screen, respond, see_other, shell_with_scripts};
use crate::domain::{
    Channel, ChannelId, LocalTimeInput, Platform, PostText, PublishAt, PublishAtInput, ReplyControl, Role, ValidationError,
};
use crate::http::posts::{self as api, MediaBody};
use crate::http::{ApiError, AppState, Caller};
use crate::platforms::limits::display_name;
use crate::services::{channels, media};
use crate::services::posts::{self, NetworkCheck, NewPost, PostChanges, PostView};
use crate::services::series::{self, RecurrenceRequest};

/// Media rows the form shows (more when a post being changed has more).
const MEDIA_ROWS: usize = 4;

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/compose", get(page).post(submit)).route("/compose/check", post(check))
}

/// `?post=<id>`: the post to change.
#[derive(Debug, Default, Deserialize)]
pub struct ComposeQuery {
    post: Option<String>,
}

/// When the post goes out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum When {
    /// At `local`, on the team's clock.
    #[default]
    At,
    /// Each channel's next free queue slot.
    NextSlot,
}

/// What the form sends, as typed (read from its fields in order: a browser sends a checkbox
/// once per ticked box, and the media rows' two fields in row order).
#[derive(Debug, Clone, Default)]
struct Draft {
    /// The post being changed.
    post: Option<String>,
    text: String,
    channels: Vec<String>,
    /// Network (`mastodon`) → its text, as typed (empty: the main text).
    variants: BTreeMap<String, String>,
    /// (URL, alt text) per row, as typed.
    media: Vec<(String, String)>,
    when: When,
    /// `2027-01-10T09:30`, from `<input type="datetime-local">`.
    local: String,
    /// The time the post had when the form was opened (a change keeps the times of each
    /// channel unless this one changes).
    local_was: String,
    rrule: String,
    /// "Save draft" rather than "Schedule".
    draft: bool,
    /// Said right after the post (Instagram, Facebook: a comment; Threads: a reply); empty: none.
    first_comment: String,
    /// Threads' `reply_control` value; empty: Threads' default.
    reply_control: String,
}

impl Draft {
    fn read(fields: Vec<(String, String)>) -> Draft {
        let mut d = Draft::default();
        let mut urls = Vec::new();
        let mut alts = Vec::new();
        for (name, value) in fields {
            match name.as_str() {
                "post" => d.post = Some(value.trim().to_owned()).filter(|v| !v.is_empty()),
                "text" => d.text = value,
                "channel" => d.channels.push(value),
                "media_url" => urls.push(value),
                "media_alt" => alts.push(value),
                "when" => d.when = if value == "next_slot" { When::NextSlot } else { When::At },
                "local" => d.local = value,
                "local_was" => d.local_was = value,
                "rrule" => d.rrule = value,
                "action" => d.draft = value == "draft",
                "first_comment" => d.first_comment = value,
                "reply_control" => d.reply_control = value,
                other => {
                    if let Some(platform) = other.strip_prefix("variant_") {
                        d.variants.insert(platform.to_owned(), value);
                    }
                }
            }
        }
        let rows = urls.len().max(alts.len());
        d.media = (0..rows)
            .map(|i| (urls.get(i).cloned().unwrap_or_default(), alts.get(i).cloned().unwrap_or_default()))
            .collect();
        d
    }

    /// The variants given (an empty box is no variant), as the API's `variants` object.
    fn given_variants(&self) -> BTreeMap<String, String> {
        self.variants.iter().filter(|(_, t)| !t.trim().is_empty()).map(|(p, t)| (p.clone(), t.clone())).collect()
    }

    /// The media rows with an address, as the API's `media` items (an alt text without an
    /// address is refused, naming the row).
    fn media_bodies(&self) -> Result<Vec<MediaBody>, ValidationError> {
        let mut out = Vec::new();
        for (i, (url, alt)) in self.media.iter().enumerate() {
            let (url, alt) = (url.trim(), alt.trim());
            if url.is_empty() {
                if !alt.is_empty() {
                    return Err(ValidationError::new("media", format!("row {} has a description but no address", i + 1)));
                }
                continue;
            }
            out.push(MediaBody { url: url.to_owned(), alt: Some(alt.to_owned()).filter(|a| !a.is_empty()) });
        }
        Ok(out)
    }

    /// `reply_control` as the API takes it: the select's empty choice is none.
    fn reply_control(&self) -> Result<Option<ReplyControl>, ValidationError> {
        api::reply_control(Some(self.reply_control.trim()).filter(|r| !r.is_empty()))
    }

    /// `publish_at` as the API takes it: a wall-clock time in the team's zone, or `next_slot`.
    fn publish_at(&self, zone: Tz) -> Result<PublishAt, ValidationError> {
        let input = match self.when {
            When::NextSlot => PublishAtInput::Text("next_slot".into()),
            When::At if self.local.trim().is_empty() => {
                return Err(ValidationError::new("publish_at", "choose a date and a time, or the next free queue slot"));
            }
            When::At => PublishAtInput::Local(LocalTimeInput {
                local: self.local.trim().to_owned(),
                time_zone: Some(zone.name().to_owned()),
            }),
        };
        PublishAt::parse(&input)
    }

    /// The post as `POST /v1/posts` reads it, in the order its handler checks the fields.
    fn new_post(&self, zone: Tz) -> Result<(NewPost, Option<RecurrenceRequest>), ApiError> {
        let new = NewPost {
            text: PostText::parse("text", &self.text)?,
            channel_ids: api::channel_ids(&self.channels)?,
            publish_at: self.publish_at(zone)?,
            variants: api::variants(self.given_variants())?,
            media: api::media(self.media_bodies()?)?,
            draft: self.draft,
            first_comment: api::first_comment(Some(&self.first_comment))?,
            reply_control: self.reply_control()?,
        };
        let rrule = self.rrule.trim();
        let recurrence = (!rrule.is_empty()).then(|| RecurrenceRequest { rrule: rrule.to_owned(), time_zone: Some(zone) });
        Ok((new, recurrence))
    }

    /// The change as `PATCH /v1/posts/{id}` reads it: everything the form shows, and the time
    /// only when it was changed (each channel keeps its own otherwise).
    fn changes(&self, zone: Tz) -> Result<PostChanges, ApiError> {
        let retime = self.when == When::NextSlot || self.local.trim() != self.local_was.trim();
        Ok(PostChanges {
            text: Some(PostText::parse("text", &self.text)?),
            variants: Some(api::variants(self.given_variants())?),
            media: Some(api::media(self.media_bodies()?)?),
            publish_at: retime.then(|| self.publish_at(zone)).transpose()?,
            draft: Some(self.draft),
            first_comment: Some(api::first_comment(Some(&self.first_comment))?),
            reply_control: Some(self.reply_control()?),
        })
    }

    /// The form filled in from a stored post.
    fn of(view: &PostView, zone: Tz) -> Draft {
        let first = view.deliveries.iter().map(|d| d.publish_at).min();
        let local = first.map(|t| t.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default();
        let mut channels: Vec<String> = Vec::new();
        for d in &view.deliveries {
            let id = d.channel_id.to_string();
            if !channels.contains(&id) {
                channels.push(id);
            }
        }
        Draft {
            post: Some(view.post.id.to_string()),
            text: view.post.text.as_str().to_owned(),
            channels,
            variants: view.post.variants.iter().map(|(p, t)| (p.as_str().to_owned(), t.as_str().to_owned())).collect(),
            media: view.post.media.iter().map(|m| (m.url.clone(), m.alt.clone().unwrap_or_default())).collect(),
            when: When::At,
            local_was: local.clone(),
            local,
            rrule: String::new(),
            draft: false,
            first_comment: view.post.first_comment.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
            reply_control: view.post.reply_control.map(|r| r.as_str().to_owned()).unwrap_or_default(),
        }
    }
}

/// A refusal, shown on the form: the field it names and the words, at the API's status.
struct Refusal {
    status: StatusCode,
    field: Option<String>,
    message: String,
}

impl Refusal {
    fn of(e: ApiError) -> Refusal {
        let (status, _) = e.status();
        if status.is_server_error() {
            tracing::error!(error = %e, "the composer failed");
            return Refusal { status, field: None, message: "Something went wrong on our side; try again in a moment.".into() };
        }
        let (field, message) = match &e {
            ApiError::Invalid(v) => (Some(v.field.clone()), v.rule.clone()),
            ApiError::Missing { field, message } => (field.clone(), message.clone()),
            _ => (None, e.to_string()),
        };
        Refusal { status, field, message }
    }
}

/// Everything the screen shows besides the draft.
struct Screenful<'a> {
    caller: &'a Caller,
    zone: Tz,
    /// The team's channels, by name.
    channels: &'a [Channel],
    /// The post being changed.
    editing: Option<&'a PostView>,
}

/// `GET /compose` (`?post=<id>` to change a post).
async fn page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<ComposeQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let actor = caller.actor();
    let zone = actor.team(&*state.store).await?.time_zone;
    let channels = team_channels(&state, &caller).await?;
    let editing = match query.post.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(id) => Some(posts::get_post(&*state.store, &actor, api::post_id(id)?).await?),
        None => None,
    };
    let draft = editing.as_ref().map(|v| Draft::of(v, zone)).unwrap_or_default();
    let screen = Screenful { caller: &caller, zone, channels: &channels, editing: editing.as_ref() };
    Ok(with_upload_policy(&state, respond(StatusCode::OK, screen.render(&draft, None))).await)
}

/// The composer's policy with uploads going to `upload_origin` (none: this origin).
pub fn policy(upload_origin: Option<&str>) -> String {
    let connect = match upload_origin {
        Some(origin) => format!("connect-src 'self' {origin}"),
        None => "connect-src 'self'".to_owned(),
    };
    super::CONTENT_SECURITY_POLICY
        .replace("connect-src 'self'", &connect)
        .replace("img-src 'self' data:", "img-src 'self' data: blob:")
}

/// The composer's own policy: the pages' one, plus the origin files are uploaded to when it
/// is not this one (the media bucket, on AWS) and `blob:` pictures (the preview of a file
/// chosen on this device, never sent anywhere but the upload address).
async fn with_upload_policy(state: &AppState, mut response: Response) -> Response {
    let policy = policy(state.media.upload_origin().await.as_deref());
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        response.headers_mut().insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `POST /compose`: the post created (or changed), then `303` to its month on the calendar;
/// or the form again, as typed, with what to change.
async fn submit(State(state): State<AppState>, PageForm { caller, form }: PageForm<Vec<(String, String)>>) -> Result<Response, WebError> {
    let draft = Draft::read(form);
    let actor = caller.actor();
    let zone = actor.team(&*state.store).await?.time_zone;
    let result = match &draft.post {
        Some(id) => change(&state, &caller, zone, id, &draft).await,
        None => create(&state, &caller, zone, &draft).await,
    };
    match result {
        Ok(first) => {
            let month = first.with_timezone(&zone).format("%Y-%m");
            Ok(see_other(&format!("/calendar?month={month}")))
        }
        Err(e) => {
            let refusal = Refusal::of(e);
            let channels = team_channels(&state, &caller).await?;
            let editing = match draft.post.as_deref().map(api::post_id) {
                Some(Ok(id)) => posts::get_post(&*state.store, &actor, id).await.ok(),
                _ => None,
            };
            let screen = Screenful { caller: &caller, zone, channels: &channels, editing: editing.as_ref() };
            Ok(with_upload_policy(&state, respond(refusal.status, screen.render(&draft, Some(&refusal)))).await)
        }
    }
}

/// Creates the post (or the series) as `POST /v1/posts` does; its first delivery's time.
async fn create(state: &AppState, caller: &Caller, zone: Tz, draft: &Draft) -> Result<DateTime<Utc>, ApiError> {
    let (mut new, recurrence) = draft.new_post(zone)?;
    let actor = caller.actor();
    media::check_uploads(&*state.media, &actor, &mut new.media).await?;
    let views = match recurrence {
        Some(recurrence) => {
            series::create_series(&*state.store, &*state.clock, &*state.events, &actor, new, recurrence).await?.posts
        }
        None => vec![posts::create_post(&*state.store, &*state.clock, &*state.events, &actor, new).await?],
    };
    let first = views.iter().flat_map(|v| v.deliveries.iter().map(|d| d.publish_at)).min();
    Ok(first.unwrap_or_else(|| state.clock.now()))
}

/// Changes the post as `PATCH /v1/posts/{id}` does; its first delivery's time.
async fn change(state: &AppState, caller: &Caller, zone: Tz, id: &str, draft: &Draft) -> Result<DateTime<Utc>, ApiError> {
    let id = api::post_id(id)?;
    let mut changes = draft.changes(zone)?;
    if let Some(refs) = changes.media.as_mut() {
        media::check_uploads(&*state.media, &caller.actor(), refs).await?;
    }
    let view = posts::update_post(&*state.store, &*state.clock, &*state.events, &caller.actor(), id, changes).await?;
    Ok(view.deliveries.iter().map(|d| d.publish_at).min().unwrap_or_else(|| state.clock.now()))
}

/// `POST /compose/check`: the per-network counters, problems and previews of what the form
/// says, as an HTML fragment (nothing is saved).
async fn check(State(state): State<AppState>, PageForm { caller, form }: PageForm<Vec<(String, String)>>) -> Result<Response, WebError> {
    let draft = Draft::read(form);
    let channels = team_channels(&state, &caller).await?;
    Ok(respond(StatusCode::OK, checks(&draft, &channels)))
}

/// The team's channels Herald publishes to, by name.
async fn team_channels(state: &AppState, caller: &Caller) -> Result<Vec<Channel>, ApiError> {
    let mut list = channels::list_channels(&*state.store, &caller.actor()).await?;
    list.sort_by_key(|c| c.name.as_str().to_lowercase());
    Ok(list)
}

/// The chosen channels' networks, each with its channels' names, in the order of [`Platform::ALL`].
fn chosen_networks<'a>(draft: &Draft, channels: &'a [Channel]) -> Vec<(Platform, Vec<&'a str>)> {
    let chosen: Vec<ChannelId> = draft.channels.iter().filter_map(|c| ChannelId::parse("channel", c).ok()).collect();
    Platform::ALL
        .into_iter()
        .filter_map(|p| {
            let names: Vec<&str> =
                channels.iter().filter(|c| c.platform == p && chosen.contains(&c.id)).map(|c| c.name.as_str()).collect();
            (!names.is_empty()).then_some((p, names))
        })
        .collect()
}

/// The counters, problems and previews of each chosen network.
fn checks(draft: &Draft, channels: &[Channel]) -> Markup {
    let networks = chosen_networks(draft, channels);
    // What the API would refuse before counting: a text, a variant or a media item that does
    // not read at all; and a first comment or reply control no chosen channel can honour.
    let mut unreadable: Vec<ValidationError> = Vec::new();
    if let Err(e) = PostText::parse("text", &draft.text) {
        unreadable.push(e);
    }
    if let Err(e) = api::variants(draft.given_variants()) {
        unreadable.push(e);
    }
    let media_count = match draft.media_bodies().and_then(api::media) {
        Ok(m) => m.len(),
        Err(e) => {
            unreadable.push(e);
            draft.media.iter().filter(|(u, _)| !u.trim().is_empty()).count()
        }
    };
    let variants = draft.given_variants();
    // The first comment and who may reply, against the chosen channels: the create call's check.
    let comment = api::first_comment(Some(&draft.first_comment)).unwrap_or_else(|e| {
        unreadable.push(e);
        None
    });
    let reply_control = draft.reply_control().unwrap_or_else(|e| {
        unreadable.push(e);
        None
    });
    let chosen: Vec<ChannelId> = draft.channels.iter().filter_map(|c| ChannelId::parse("channel", c).ok()).collect();
    let targets = channels.iter().filter(|c| chosen.contains(&c.id)).map(|c| (c.name.as_str().to_owned(), c.platform));
    if !networks.is_empty()
        && let Err(e) = posts::check_reply_options(comment.as_ref().map(PostText::as_str), reply_control, targets)
    {
        unreadable.push(e);
    }
    html! {
        @for e in &unreadable {
            p.check-problem { strong { (e.field) } ": " (e.rule) }
        }
        @if networks.is_empty() {
            p.hint { "Choose a channel to see how long the post is on its network." }
        }
        @for (platform, names) in &networks {
            @let c = posts::check_network(*platform, &draft.text, variants.get(platform.as_str()).map(String::as_str), media_count);
            (network_check(&c, names))
        }
    }
}

fn network_check(c: &NetworkCheck, names: &[&str]) -> Markup {
    let name = display_name(c.platform);
    let over = c.limits.max_text.is_some_and(|max| c.length > max);
    html! {
        section.net aria-label=(name) {
            h3 { (name) " " span.hint { "(" (names.join(", ")) ")" } }
            p class=(if over { "count over" } else { "count" }) {
                @match c.limits.max_text {
                    Some(max) => { span.num { (c.length) " / " (max) } " " span.hint { (c.limits.counting.describe()) } }
                    None => { span.num { (c.length) } " characters" }
                }
                @if c.from_variant { " · its own text" }
            }
            @if c.problems.is_empty() && c.platform.can_publish() {
                p.ok { "✓ " (name) " takes this post." }
            } @else {
                ul.check-problems {
                    @if !c.platform.can_publish() {
                        // The create call's own refusal (`check_publishable`): intake-only networks.
                        li { "✗ " strong { "channel_ids" } ": Herald does not publish to " (name) " yet (it reads its comments and messages only); untick its channels" }
                    }
                    @for (field, v) in &c.problems {
                        li { "✗ " strong { (field) } ": " (v.message) }
                    }
                }
            }
            details.preview {
                summary { "Preview on " (name) }
                div.preview-text { (c.text) }
            }
        }
    }
}

impl Screenful<'_> {
    fn render(&self, draft: &Draft, refusal: Option<&Refusal>) -> Markup {
        let editing = self.editing;
        let title = if editing.is_some() { "Change a post" } else { "New post" };
        let editor = self.caller.role.includes(Role::Editor);
        let csrf = self.caller.session.as_ref().map(|s| s.csrf_token.as_str());
        // Networks of the team that Herald publishes to, for the per-network texts.
        let networks: Vec<Platform> = Platform::ALL
            .into_iter()
            .filter(|p| p.can_publish() && self.channels.iter().any(|c| c.platform == *p))
            .collect();
        let chosen: Vec<Platform> = chosen_networks(draft, self.channels).into_iter().map(|(p, _)| p).collect();
        let rows = draft.media.len().max(MEDIA_ROWS);
        let any_variant = draft.variants.values().any(|t| !t.trim().is_empty());
        // The first comment where the team has a network that takes it (or it was typed).
        let commenting = !draft.first_comment.is_empty()
            || networks.iter().any(|p| crate::platforms::limits::takes_first_comment(*p));
        let on_threads = !draft.reply_control.is_empty() || networks.contains(&Platform::Threads);
        let main = html! {
            h1 { (title) }
            @if let Some(view) = editing {
                p.hint { "State now: " (view.state().replace('_', " ")) "." }
                @if let Some(review) = &view.post.review {
                    div.review role="note" {
                        h2 { "Sent back by an editor" }
                        p { (review.comment) }
                        p.hint { time datetime=(review.at.to_rfc3339()) { (review.at.with_timezone(&self.zone).format("%-d %b %Y, %H:%M")) } }
                    }
                }
            }
            @if let Some(r) = refusal {
                div.problem role="alert" {
                    @match &r.field {
                        Some(field) => p { "The field " a href=(format!("#{}", input_of(field))) { code { (field) } } " is not right: " (r.message) },
                        None => p { (r.message) },
                    }
                }
            }
            form #compose .compose method="post" action="/compose" {
                (csrf_field(self.caller))
                @if let Some(view) = editing {
                    input type="hidden" name="post" value=(view.post.id);
                    input type="hidden" name="local_was" value=(draft.local_was);
                }
                div.compose-part.compose-text {
                    label for="text" { "Text" }
                    textarea #text name="text" rows="8" aria-describedby="text-hint" { (draft.text) }
                    p.hint #text-hint { "Published on every channel, unless a network has its own text below." }

                    fieldset.channels {
                        legend { "Channels" }
                        @if let Some(view) = editing {
                            p.hint { "A post's channels do not change; cancel it and write a new one for others." }
                            ul {
                                @for d in &view.deliveries {
                                    li {
                                        input type="hidden" name="channel" value=(d.channel_id) data-network=(d.platform.as_str());
                                        (self.channel_label(d.channel_id)) " · " (display_name(d.platform))
                                    }
                                }
                            }
                        } @else if self.channels.is_empty() {
                            p { "No channel yet. " a href="/channels" { "Add one" } " first." }
                        } @else {
                            @for c in self.channels {
                                @let id = format!("ch-{}", c.id);
                                div.check {
                                    input type="checkbox" id=(id) name="channel" value=(c.id)
                                        data-network=(c.platform.as_str())
                                        checked[draft.channels.contains(&c.id.to_string())];
                                    label for=(id) {
                                        (c.name.as_str()) " · " (display_name(c.platform))
                                        @if !c.platform.can_publish() { " (intake only)" }
                                    }
                                }
                            }
                        }
                    }

                }
                // The counters right after the text and the channels on a phone; beside the
                // form from 900 px.
                aside.compose-side aria-labelledby="checks-title" {
                    h2 #checks-title { "On each network" }
                    div #checks aria-live="polite" { (checks(draft, self.channels)) }
                    noscript { p.hint { "The counts are updated when you schedule or save." } }
                }
                div.compose-part.compose-rest {
                    @if !networks.is_empty() {
                        details.variants open[any_variant] {
                            summary { "A different text per network" }
                            p.hint { "Leave a box empty to publish the main text there." }
                            @for p in &networks {
                                @let id = format!("variant_{}", p.as_str());
                                div.variant data-network=(p.as_str()) data-chosen=(if chosen.contains(p) { "yes" } else { "no" }) {
                                    label for=(id) { "Text on " (display_name(*p)) }
                                    textarea id=(id) name=(id) rows="4" { (draft.variants.get(p.as_str()).map(String::as_str).unwrap_or("")) }
                                }
                            }
                        }
                    }

                    @if commenting || on_threads {
                        fieldset.replies #replies {
                            legend { "First comment and replies" }
                            @if commenting {
                                label for="first_comment" { "First comment (optional)" }
                                textarea #first_comment name="first_comment" rows="3" aria-describedby="first_comment-hint" { (draft.first_comment) }
                                p.hint #first_comment-hint {
                                    "Instagram and Facebook: a comment under the post; Threads: a reply. Other networks leave it out."
                                }
                            }
                            @if on_threads {
                                label for="reply_control" { "Who can reply on Threads" }
                                select #reply_control name="reply_control" {
                                    option value="" selected[draft.reply_control.is_empty()] { "Threads' default (everyone)" }
                                    @for r in ReplyControl::ALL {
                                        option value=(r.as_str()) selected[draft.reply_control == r.as_str()] { (r.label()) }
                                    }
                                }
                            }
                        }
                    }

                    fieldset.media #media {
                        legend { "Media" }
                        p.hint { "Pictures and videos uploaded from this device, or by their http(s) address (fetched when the post goes out), each with a description for people who cannot see it." }
                        // Shown by compose.js, which sends each file to its upload address
                        // and puts its reference in the first free row.
                        div.upload hidden {
                            label for="media_file" { "Upload pictures or videos" }
                            input #media_file type="file" multiple accept=(crate::media::MediaType::allowed());
                            p.hint { "JPEG, PNG, GIF or WebP pictures up to 20 MB; MP4, MOV or WebM videos up to 1 GB." }
                            p #upload-status role="status" {}
                        }
                        @for i in 0..rows {
                            @let (url, alt) = draft.media.get(i).cloned().unwrap_or_default();
                            div.media-row {
                                label for=(format!("media_url_{i}")) { "Address " (i + 1) }
                                input id=(format!("media_url_{i}")) type="url" name="media_url" value=(url) placeholder="https://";
                                label for=(format!("media_alt_{i}")) { "Description " (i + 1) }
                                input id=(format!("media_alt_{i}")) type="text" name="media_alt" value=(alt) maxlength="5000";
                                @if let Some(key) = crate::media::MediaKey::parse(&url) {
                                    p.upload-note { "An uploaded " (key.media_type.kind()) " (" (key.media_type.ext.to_uppercase()) ")" }
                                }
                            }
                        }
                    }

                    fieldset.when {
                        legend { "When" }
                        div.check {
                            input #when_at type="radio" name="when" value="at" checked[draft.when == When::At];
                            label for="when_at" { "At a time" }
                        }
                        label for="local" { "Date and time" }
                        input #local type="datetime-local" name="local" value=(draft.local) aria-describedby="local-hint";
                        p.hint #local-hint { "On the team's clock: " (self.zone.name()) "." }
                        div.check {
                            input #when_next_slot type="radio" name="when" value="next_slot" checked[draft.when == When::NextSlot];
                            label for="when_next_slot" { "Each channel's next free queue slot" }
                        }
                        @if editing.is_none() {
                            label for="rrule" { "Repeat (optional)" }
                            input #rrule type="text" name="rrule" value=(draft.rrule) placeholder="FREQ=WEEKLY;BYDAY=MO;COUNT=4"
                                aria-describedby="rrule-hint" spellcheck="false" autocomplete="off";
                            p.hint #rrule-hint { "A rule like FREQ=WEEKLY;BYDAY=MO;COUNT=4 (with COUNT or UNTIL, at most 52 posts), starting at the time above." }
                        }
                    }

                    div.compose-actions {
                        button.primary type="submit" name="action" value="schedule" {
                            @if editor { "Schedule" } @else { "Submit for approval" }
                        }
                        button type="submit" name="action" value="draft" { "Save draft" }
                    }
                    @if !self.caller.role.includes(Role::Contributor) {
                        p.hint { "A viewer reads the team's posts but does not write them; ask an admin for another role." }
                    } @else if !editor {
                        p.hint { "An editor approves your post before it is scheduled." }
                    }
                }
            }
        };
        shell_with_scripts(title, Some(Screen::Compose), csrf, &[&assets::COMPOSE_JS], main)
    }

    fn channel_label(&self, id: ChannelId) -> String {
        self.channels.iter().find(|c| c.id == id).map_or_else(|| "a deleted channel".to_owned(), |c| c.name.as_str().to_owned())
    }
}

/// The form input a field of the API names (`media[0].url` → the media rows).
fn input_of(field: &str) -> String {
    match field {
        "text" => "text".into(),
        "channel_ids" => "compose".into(),
        "publish_at" => "local".into(),
        "first_comment" => "first_comment".into(),
        "reply_control" => "reply_control".into(),
        f if f.starts_with("media") => "media".into(),
        f if f.starts_with("recurrence") || f == "rrule" => "rrule".into(),
        f => match f.strip_prefix("variants.") {
            Some(p) => format!("variant_{}", p.chars().filter(char::is_ascii_alphanumeric).collect::<String>()),
            None => "compose".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn the_form_reads_as_the_api_takes_it() {
        let d = Draft::read(pairs(&[
            ("csrf", "x"),
            ("text", "Bonjour"),
            ("channel", "a"),
            ("channel", "b"),
            ("variant_mastodon", "Salut"),
            ("variant_bluesky", "  "),
            ("media_url", "https://img.example/1.png"),
            ("media_alt", "A croissant"),
            ("media_url", ""),
            ("media_alt", ""),
            ("when", "at"),
            ("local", "2027-01-10T09:30"),
            ("action", "draft"),
            ("first_comment", "#croissant #paris"),
            ("reply_control", "followers_only"),
        ]));
        assert_eq!(d.channels, ["a", "b"]);
        assert!(d.draft);
        assert_eq!(d.given_variants().into_iter().collect::<Vec<_>>(), [("mastodon".to_owned(), "Salut".to_owned())]);
        let media = d.media_bodies().unwrap();
        assert_eq!(media.len(), 1);
        assert_eq!(media[0].alt.as_deref(), Some("A croissant"));
        let paris = chrono_tz::Europe::Paris;
        assert!(matches!(d.publish_at(paris).unwrap(), PublishAt::Local { time_zone: Some(z), .. } if z == paris));
        // No time: refused, naming publish_at; an alt text alone: refused, naming media.
        let none = Draft::read(pairs(&[("when", "at"), ("local", "")]));
        assert_eq!(none.publish_at(paris).unwrap_err().field, "publish_at");
        assert!(matches!(Draft::read(pairs(&[("when", "next_slot")])).publish_at(paris).unwrap(), PublishAt::NextSlot));
        let alt_only = Draft::read(pairs(&[("media_url", " "), ("media_alt", "a cat")]));
        assert_eq!(alt_only.media_bodies().unwrap_err().field, "media");
        // The first comment and who may reply, as the API reads them; empty is none.
        assert_eq!(d.reply_control().unwrap(), Some(ReplyControl::FollowersOnly));
        let comment = api::first_comment(Some(&d.first_comment)).unwrap();
        assert_eq!(comment.as_ref().map(PostText::as_str), Some("#croissant #paris"));
        let blank = Draft::read(pairs(&[("first_comment", "  "), ("reply_control", "")]));
        assert_eq!(blank.reply_control().unwrap(), None);
        assert_eq!(api::first_comment(Some(&blank.first_comment)).unwrap(), None);
        let bad = Draft::read(pairs(&[("reply_control", "friends")]));
        assert_eq!(bad.reply_control().unwrap_err().field, "reply_control");
    }

    #[test]
    fn a_field_leads_to_its_input() {
        assert_eq!(input_of("text"), "text");
        assert_eq!(input_of("variants.bluesky"), "variant_bluesky");
        assert_eq!(input_of("media[2].url"), "media");
        assert_eq!(input_of("publish_at"), "local");
        assert_eq!(input_of("variants.\"><x"), "variant_x");
    }
}
