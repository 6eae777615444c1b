//! Connecting with OAuth from the browser: the Channels page's "Connect with Facebook /
//! Instagram / Threads" buttons post to `/channels/connect`, which answers a page with the link
//! to the network's consent screen (a `303` there would be blocked: the pages' policy allows
//! form posts to this origin only, redirects included); the network sends the person back to
//! the callback (`http/connect.rs`), which sends them here, to `/connect/{id}`: the accounts
//! found, each with a checkbox, and the channels' time zone.
//!
//! Every step calls [`crate::services::connect`], the service the API's handlers call.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::WebError;
use super::form::{PageForm, csrf_field};
use super::page::{Refusal, Screen, problem, refusal, respond, see_other, shell_signed_in};
use crate::domain::{Platform, ValidationError, parse_time_zone};
use crate::http::{ApiError, AppState, Caller};
use crate::services::connect::{self as service, PendingConnection};

/// The networks with a button, in the order shown.
pub const OAUTH_PLATFORMS: [Platform; 3] = [Platform::Facebook, Platform::Instagram, Platform::Threads];

pub fn routes() -> Router<AppState> {
    Router::new().route("/channels/connect", post(start)).route("/connect/{id}", get(picker).post(finish))
}

/// The "Connect with …" buttons of the networks this server is configured for (none: nothing).
pub fn buttons(state: &AppState, caller: &Caller) -> Markup {
    let configured: Vec<Platform> = OAUTH_PLATFORMS.into_iter().filter(|p| state.connect.configured(*p)).collect();
    html! {
        @if !configured.is_empty() {
            section.panel.wide aria-labelledby="oauth-h" {
                h2 #oauth-h { "Connect with your account" }
                p.hint { "Sign in on the network and pick the accounts to add; Herald keeps their tokens sealed." }
                div.oauth-buttons {
                    @for p in &configured {
                        form method="post" action="/channels/connect" {
                            (csrf_field(caller))
                            input type="hidden" name="platform" value=(p.as_str());
                            button type="submit" { "Connect with " (label(*p)) }
                        }
                    }
                }
            }
        }
    }
}

fn label(p: Platform) -> &'static str {
    match p {
        Platform::Facebook => "Facebook",
        Platform::Instagram => "Instagram",
        Platform::Threads => "Threads",
        other => other.as_str(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    platform: String,
}

async fn start(State(state): State<AppState>, PageForm { caller, form }: PageForm<StartForm>) -> Result<Response, WebError> {
    let platform = Platform::parse("platform", &form.platform).map_err(ApiError::from)?;
    let started = service::start(&state.connect, &state.cipher, &*state.clock, &caller.actor(), platform)?;
    let main = html! {
        h1 { "Connect with " (label(platform)) }
        p { "Sign in on " (label(platform)) ", allow Herald, and pick the accounts to add. The link is good for ten minutes." }
        p { a.button #continue href=(started.authorize_url.as_str()) { "Continue to " (label(platform)) } }
        p { a href="/channels" { "Back to the channels" } }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(StatusCode::OK, shell_signed_in("Connect", Some(Screen::Channels), csrf, main)))
}

fn parse_id(raw: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::BadParameter { name: "id", message: "is not a connection id".into() })
}

async fn picker(State(state): State<AppState>, caller: Result<Caller, ApiError>, Path(raw): Path<String>) -> Result<Response, WebError> {
    let caller = caller?;
    let id = parse_id(&raw)?;
    let pending = service::get_connection(&*state.store, &*state.clock, &caller.actor(), id).await?;
    let team = caller.actor().team(&*state.store).await?;
    render(&caller, &pending, &[], team.time_zone.name(), None, StatusCode::OK)
}

fn render(
    caller: &Caller,
    pending: &PendingConnection,
    ticked: &[String],
    time_zone: &str,
    refused: Option<&Refusal>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let main = html! {
        h1 { "Pick the accounts to connect" }
        (problem(refused))
        @if pending.accounts.is_empty() {
            p.nothing { "The network found no account you may post to: for Facebook, a Page you manage (and its linked Instagram professional account); for Threads, your profile." }
            p { a href="/channels" { "Back to the channels" } }
        } @else {
            form.stack.picker method="post" action=(format!("/connect/{}", pending.id)) {
                (csrf_field(caller))
                fieldset {
                    legend { "Accounts" }
                    @for (i, a) in pending.accounts.iter().enumerate() {
                        @let field = format!("account-{i}");
                        div.check {
                            input type="checkbox" id=(field) name="account" value=(a.id) checked[ticked.contains(&a.id)];
                            label for=(field) { (a.name) " " span.badge { (a.platform.as_str()) } }
                        }
                    }
                }
                label for="time_zone" { "Time zone" }
                input #time_zone type="text" name="time_zone" value=(time_zone) required;
                p.hint { "An IANA zone name, " code { "Europe/Paris" } ": the channels' queue slots are on this clock." }
                button type="submit" { "Connect the chosen accounts" }
            }
        }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(status, shell_signed_in("Connect", Some(Screen::Channels), csrf, main)))
}

async fn finish(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    PageForm { caller, form }: PageForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let id = parse_id(&raw)?;
    let actor = caller.actor();
    let accounts: Vec<String> = form.iter().filter(|(k, _)| k == "account").map(|(_, v)| v.clone()).collect();
    let tz_text = form.iter().find(|(k, _)| k == "time_zone").map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let made = async {
        let tz = parse_time_zone("time_zone", &tz_text)?;
        if accounts.is_empty() {
            return Err(ApiError::from(ValidationError::new("accounts", "pick at least one account")));
        }
        service::finish(&*state.store, &*state.clock, &state.cipher, &state.adapters, &actor, id, &accounts, tz).await?;
        Ok(())
    }
    .await;
    match made {
        Ok(()) => Ok(see_other("/channels?done=connected")),
        Err(e) => {
            let r = refusal(e)?;
            let pending = service::get_connection(&*state.store, &*state.clock, &actor, id).await?;
            render(&caller, &pending, &accounts, &tz_text, Some(&r), r.status)
        }
    }
}

/// The callback's refusal, for a browser: the error page, with the words of the API.
pub fn callback_problem(e: ApiError) -> Response {
    WebError::Api(e).into_response()
}
