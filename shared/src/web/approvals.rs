//! The Approvals screen (`/approvals`): the posts awaiting approval (the list of
//! `GET /v1/posts?state=pending_approval`, same service, same window), each with its text, its
//! channels, when it would go out on the team's clock and who wrote it. An editor or admin
//! approves the version shown ("Approve" carries the post's `version`, as the API asks) or sends
//! it back to its author as a draft with a comment ("Send back"), through the services of
//! `POST /v1/posts/{id}/approve` and `/reject`; then `303` back here with a word of what was
//! done. Others see the queue read-only, and a post by them is refused by the service (403).

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Duration;
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{PageForm, csrf_field};
use super::page::{Screen, respond, see_other, shell_signed_in};
use crate::domain::{ApiKeyId, Channel, ChannelId, DeliveryState, HORIZON_YEARS, PostId, Role, ValidationError};
use crate::http::posts as api;
use crate::http::{ApiError, AppState, Caller};
use crate::platforms::limits::display_name;
use crate::services::posts::{self, PostFilter, PostView};
use crate::services::{channels, people};
use crate::store::PageRequest;

/// Pages of [`PageRequest::MAX_PAGE`] posts read for the queue at most.
const MAX_PAGES: usize = 20;

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(page))
        .route("/approvals/{id}/approve", post(approve))
        .route("/approvals/{id}/reject", post(reject))
}

/// `?done=approved` or `?done=sent_back`: what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct ApprovalsQuery {
    done: Option<String>,
}

/// What "Approve" sends: the version of the post shown.
#[derive(Debug, Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    version: String,
}

/// What "Send back" sends.
#[derive(Debug, Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    comment: String,
}

/// A refusal on one post: its id, the words, and the comment typed (kept).
struct Refusal {
    post: Option<PostId>,
    message: String,
    comment: String,
}

/// `GET /approvals`.
async fn page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<ApprovalsQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let done = match query.done.as_deref() {
        Some("approved") => Some("Approved: the post is scheduled."),
        Some("sent_back") => Some("Sent back: the post is a draft again, with your comment for its author."),
        _ => None,
    };
    render(&state, &caller, StatusCode::OK, done, None).await
}

/// `POST /approvals/{id}/approve`: the version shown approved, then `303` back here.
async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<ApproveForm>,
) -> Result<Response, WebError> {
    let result = async {
        let id = api::post_id(&id)?;
        let version = form
            .version
            .trim()
            .parse::<u64>()
            .map_err(|_| ValidationError::new("version", "must be the version of the post you read"))?;
        posts::approve_post(&*state.store, &*state.clock, &caller.actor(), id, Some(version)).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    finish(&state, &caller, &id, result, "approved", String::new()).await
}

/// `POST /approvals/{id}/reject`: sent back to its author with the comment, then `303` back here.
async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<RejectForm>,
) -> Result<Response, WebError> {
    let result = async {
        let id = api::post_id(&id)?;
        posts::reject_post(&*state.store, &*state.clock, &*state.events, &caller.actor(), id, &form.comment).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    finish(&state, &caller, &id, result, "sent_back", form.comment).await
}

/// `303` to the queue with what was done, or the queue again with the service's refusal at its
/// status (403 for a role that may not, 409 for a post changed since it was shown, 422 naming
/// the field).
async fn finish(
    state: &AppState,
    caller: &Caller,
    id: &str,
    result: Result<(), ApiError>,
    done: &'static str,
    comment: String,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => {
            Ok(see_other(&format!("/approvals?done={done}")))
        }
        Err(e) => {
            let (status, _) = e.status();
            let message = match &e {
                _ if status.is_server_error() => {
                    tracing::error!(error = %e, "an approval failed");
                    "Something went wrong on our side; try again in a moment.".to_owned()
                }
                ApiError::Invalid(v) => format!("The field {} is not right: {}", v.field, v.rule),
                _ => e.to_string(),
            };
            let refusal = Refusal { post: PostId::parse("id", id).ok(), message, comment };
            render(state, caller, status, None, Some(&refusal)).await
        }
    }
}

/// The queue, with a word of what was done or of what was refused.
async fn render(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    done: Option<&str>,
    refusal: Option<&Refusal>,
) -> Result<Response, WebError> {
    let actor = caller.actor();
    let zone = actor.team(&*state.store).await?.time_zone;
    let channels: BTreeMap<ChannelId, Channel> =
        channels::list_channels(&*state.store, &actor).await?.into_iter().map(|c| (c.id, c)).collect();
    // The authors' names ("you" for one's own; a post made with an API key has none).
    let names: HashMap<ApiKeyId, String> = people::member_names(&*state.store, &actor)
        .await?
        .into_iter()
        .map(|(id, name)| (ApiKeyId::from_uuid(id.uuid()), name))
        .collect();
    let queue = pending(state, caller).await?;
    let view = View { caller, zone, channels: &channels, names: &names, editor: actor.role.includes(Role::Editor) };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(status, shell_signed_in("Approvals", Some(Screen::Approvals), csrf, view.render(&queue, done, refusal))))
}

/// The posts awaiting approval, in the window `GET /v1/posts?state=pending_approval` reads (a
/// year back to the horizon ahead), page after page.
async fn pending(state: &AppState, caller: &Caller) -> Result<Vec<PostView>, WebError> {
    let now = state.clock.now();
    let (from, to) = (now - Duration::days(366), now + Duration::days(366 * HORIZON_YEARS));
    let filter = PostFilter { state: Some(DeliveryState::PendingApproval), channel: None };
    let mut out = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    for _ in 0..MAX_PAGES {
        let got = posts::list_posts(&*state.store, &caller.actor(), from, to, &filter, &page).await?;
        out.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    Ok(out)
}

struct View<'a> {
    caller: &'a Caller,
    zone: Tz,
    channels: &'a BTreeMap<ChannelId, Channel>,
    names: &'a HashMap<ApiKeyId, String>,
    editor: bool,
}

impl View<'_> {
    fn author(&self, by: Option<ApiKeyId>) -> String {
        match by {
            Some(k) if k == self.caller.key_id => "you".to_owned(),
            Some(k) => self.names.get(&k).cloned().unwrap_or_else(|| "an API key".to_owned()),
            None => "unknown".to_owned(),
        }
    }

    fn render(&self, queue: &[PostView], done: Option<&str>, refusal: Option<&Refusal>) -> Markup {
        html! {
            h1 { "Approvals" }
            p.zone { "Posts awaiting approval. Times on the team's clock: " (self.zone.name()) "." }
            @if let Some(done) = done {
                p.notice role="status" { (done) }
            }
            @if let Some(r) = refusal {
                div.problem role="alert" { p { (r.message) } }
            }
            @if !self.editor {
                p.hint { "Only editors and admins approve posts; you see the queue as it is." }
            }
            @if queue.is_empty() {
                p.nothing { "Nothing awaits approval." }
            } @else {
                ol.queue {
                    @for v in queue { (self.item(v, refusal)) }
                }
            }
        }
    }

    fn item(&self, v: &PostView, refusal: Option<&Refusal>) -> Markup {
        let pending: Vec<_> = v.deliveries.iter().filter(|d| d.state == DeliveryState::PendingApproval).collect();
        let id = v.post.id;
        let comment = refusal.filter(|r| r.post == Some(id)).map(|r| r.comment.as_str()).unwrap_or("");
        html! {
            li.approval {
                h2 {
                    @if let Some(first) = pending.iter().map(|d| d.publish_at).min() {
                        @let at = first.with_timezone(&self.zone);
                        time datetime=(at.to_rfc3339()) { (at.format("%a %-d %b %Y, %H:%M")) }
                    }
                    " · by " (self.author(v.post.created_by))
                }
                div.post-text { (v.post.text.as_str()) }
                @for (platform, text) in &v.post.variants {
                    div.variant-text {
                        p.hint { "On " (display_name(*platform)) ":" }
                        div.post-text { (text.as_str()) }
                    }
                }
                @if !v.post.media.is_empty() {
                    ul.media-list aria-label="Media" {
                        @for m in &v.post.media {
                            li { a href=(m.url) rel="noreferrer" { (m.url) } @if let Some(alt) = &m.alt { " — " (alt) } }
                        }
                    }
                }
                ul.deliveries aria-label="Channels" {
                    @for d in &pending {
                        @let at = d.publish_at.with_timezone(&self.zone);
                        li {
                            (self.channels.get(&d.channel_id).map_or("a deleted channel", |c| c.name.as_str()))
                            " · " (display_name(d.platform)) " · "
                            time datetime=(at.to_rfc3339()) { (at.format("%-d %b %H:%M")) }
                        }
                    }
                }
                @if let Some(review) = &v.post.review {
                    p.hint { "Sent back before: “" (review.comment) "”" }
                }
                @if self.editor {
                    p { a href=(format!("/compose?post={id}")) { "Change it before approving" } }
                    div.decide {
                        form.approve method="post" action=(format!("/approvals/{id}/approve")) {
                            (csrf_field(self.caller))
                            input type="hidden" name="version" value=(v.post.version);
                            button.primary type="submit" { "Approve" }
                        }
                        form.send-back method="post" action=(format!("/approvals/{id}/reject")) {
                            (csrf_field(self.caller))
                            label for=(format!("comment-{id}")) { "What should change" }
                            textarea id=(format!("comment-{id}")) name="comment" rows="2" maxlength="2000" required { (comment) }
                            button type="submit" { "Send back" }
                        }
                    }
                }
            }
        }
    }
}
