//! The Settings screen (`/settings`): the team (name, zone, language), its members (remove one,
//! make a password-reset link), invites, API keys, the inbox's watch list and the calendar
//! feed's link. Each change calls the service the API's handler calls (`services::team`,
//! `services::people`, `services::keys`, `services::inbox`, `services::calendar`), so who may
//! do what is theirs to say: admins for most, editors for the watch list.
//!
//! A secret made here (an invite or reset link, an API key, the calendar feed's address) is
//! shown once, in the `200` answer to the form's post (`Cache-Control: no-store`), never in an
//! address: a redirect would have to carry it in the URL (history, logs, `Referer`).

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{EmptyForm, PageForm, csrf_field};
use super::page::{Screen, respond, shell_signed_in};
use super::page::{Refusal, problem, refusal, see_other, status_line};
use super::reports::when;
use crate::domain::{AccentColor, ApiKey, ApiKeyId, Email, HERALD_ACCENT, Language, Member, MemberId, Role, ValidationError, parse_time_zone};
use crate::http::{ApiError, AppState, Caller};
use crate::services::{ServiceError, calendar, inbox, keys, people, team};

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", axum::routing::get(page))
        .route("/settings/team", post(set_team))
        .route("/settings/logo", post(set_logo))
        .route("/settings/invites", post(invite))
        .route("/settings/members/{id}/remove", post(remove_member))
        .route("/settings/members/{id}/reset-link", post(reset_link))
        .route("/settings/keys", post(create_key))
        .route("/settings/keys/{id}/revoke", post(revoke_key))
        .route("/settings/watchlist", post(set_watchlist))
        .route("/settings/calendar-token", post(rotate_calendar_token))
}

const ROLES: [Role; 4] = [Role::Viewer, Role::Contributor, Role::Editor, Role::Admin];

/// `?done=` (what the last change did).
#[derive(Debug, Default, Deserialize)]
pub struct SettingsQuery {
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    accent_color: String,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    white_label: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct WatchForm {
    #[serde(default)]
    terms: String,
}

/// Removing a member: the box ticked to say so.
#[derive(Debug, Default, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    confirm: Option<String>,
}


/// Which form a refusal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Team,
    Logo,
    Invite,
    Key,
    Watch,
    Calendar,
    Member(MemberId),
    Revoke(ApiKeyId),
}

/// A secret made just now, shown this once.
struct Secret {
    title: &'static str,
    value: String,
    about: String,
}

/// What the screen shows besides the settings: a refused form (and what was typed), or a
/// secret just made.
#[derive(Default)]
struct Shown {
    refused: Option<(Which, Refusal)>,
    team: Option<TeamForm>,
    invite: Option<InviteForm>,
    key: Option<KeyForm>,
    watch: Option<String>,
    secret: Option<Secret>,
}

impl Shown {
    fn problem(&self, which: Which) -> Markup {
        problem(self.refused.as_ref().filter(|(w, _)| *w == which).map(|(_, r)| r))
    }

    fn refused(which: Which, r: Refusal) -> Shown {
        Shown { refused: Some((which, r)), ..Shown::default() }
    }
}

async fn page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<SettingsQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let done = match query.done.as_deref() {
        Some("team") => Some("The team's settings are saved."),
        Some("logo") => Some("The logo is saved; the next reports show it."),
        Some("removed") => Some("The member is removed; their sessions are ended."),
        Some("revoked") => Some("The key is revoked: it no longer works."),
        Some("watchlist") => Some("The watch list is saved; new messages are tagged with it from now on."),
        _ => None,
    };
    render(&state, &caller, done.map(|d| html! { (d) }), Shown::default(), StatusCode::OK).await
}

/// A listing only admins may read: the items, or the service's reason why not.
fn allowed<T>(r: Result<T, ServiceError>) -> Result<Result<T, &'static str>, WebError> {
    match r {
        Ok(items) => Ok(Ok(items)),
        Err(ServiceError::Forbidden(why)) => Ok(Err(why)),
        Err(e) => Err(e.into()),
    }
}

async fn render(state: &AppState, caller: &Caller, done: Option<Markup>, shown: Shown, status: StatusCode) -> Result<Response, WebError> {
    let actor = caller.actor();
    let team = team::get(&*state.store, &actor).await?;
    let tz = team.time_zone;
    let members = allowed(people::list_members(&*state.store, &actor).await)?;
    let api_keys = allowed(keys::list_keys(&*state.store, &actor).await)?;
    let me = caller.session.as_ref().map(|s| s.member_id);
    let team_form = shown.team.as_ref().map_or_else(
        || TeamForm {
            name: team.name.clone(),
            time_zone: tz.name().to_owned(),
            language: team.language.as_str().to_owned(),
            accent_color: team.brand.accent_color.as_ref().map_or(HERALD_ACCENT, |c| c.as_str()).to_owned(),
            white_label: team.brand.white_label.then(|| "on".to_owned()),
        },
        |f| TeamForm {
            name: f.name.clone(),
            time_zone: f.time_zone.clone(),
            language: f.language.clone(),
            accent_color: f.accent_color.clone(),
            white_label: f.white_label.clone(),
        },
    );
    let invite_form = shown.invite.as_ref().map_or(("", "editor"), |f| (f.email.as_str(), f.role.as_str()));
    let key_form = shown.key.as_ref().map_or(("", "editor"), |f| (f.name.as_str(), f.role.as_str()));
    let watch_text = shown.watch.clone().unwrap_or_else(|| team.watch_terms.join("\n"));

    let main = html! {
        h1 { "Settings" }
        (status_line(done))
        @if let Some(secret) = &shown.secret {
            section.panel.shown-once aria-labelledby="secret-h" role="status" {
                h2 #secret-h { (secret.title) }
                p { (secret.about) }
                code.secret { (secret.value) }
                p.hint { "Copy it now: it is not shown again (this page is not kept by the browser)." }
            }
        }
        div.admin {
            section.panel aria-labelledby="team-h" {
                h2 #team-h { "Team" }
                (shown.problem(Which::Team))
                form.stack method="post" action="/settings/team" {
                    (csrf_field(caller))
                    label for="team-name" { "Name" }
                    input #team-name type="text" name="name" value=(team_form.name) maxlength="100" required;
                    label for="team-zone" { "Time zone" }
                    input #team-zone type="text" name="time_zone" value=(team_form.time_zone) required;
                    p.hint { "An IANA zone name, " code { "Europe/Paris" } ": the calendar, reports and schedule use it." }
                    label for="team-language" { "Language" }
                    select #team-language name="language" {
                        @for l in Language::ALL {
                            option value=(l.as_str()) selected[team_form.language == l.as_str()] { (l.own_name()) }
                        }
                    }
                    label for="team-accent" { "Report colour" }
                    input #team-accent type="color" name="accent_color" value=(team_form.accent_color);
                    p.hint { "Headings and charts of the team's reports; dark enough to read on white." }
                    label.check for="team-white-label" {
                        input #team-white-label type="checkbox" name="white_label" checked[team_form.white_label.is_some()];
                        " White label: reports do not mention Herald"
                    }
                    button type="submit" { "Save" }
                }
                h3 #logo-h { "Logo" }
                p.hint { "Shown at the top of the team's reports. A PNG, JPEG or WebP of at most " (team::MAX_LOGO_BYTES / 1024) " KiB." }
                @if team.logo.is_some() {
                    img.logo src="/v1/team/logo" alt={ "The logo of " (team.name) };
                }
                (shown.problem(Which::Logo))
                form.stack method="post" action="/settings/logo" enctype="multipart/form-data" aria-labelledby="logo-h" {
                    (csrf_field(caller))
                    label for="team-logo" { "Image" }
                    input #team-logo type="file" name="logo" accept="image/png,image/jpeg,image/webp";
                    button type="submit" { "Upload the logo" }
                    @if team.logo.is_some() {
                        button type="submit" name="remove" value="1" { "Remove the logo" }
                    }
                }
            }
            section.panel aria-labelledby="watch-h" {
                h2 #watch-h { "Watch list" }
                p.hint { "Words the inbox tags when a message contains them." }
                (shown.problem(Which::Watch))
                form.stack method="post" action="/settings/watchlist" {
                    (csrf_field(caller))
                    label for="watch-terms" { "Watched words, one a line" }
                    textarea #watch-terms name="terms" spellcheck="false" { (watch_text) }
                    button type="submit" { "Save the watch list" }
                }
            }
            section.panel.wide aria-labelledby="members-h" {
                h2 #members-h { "Members" }
                @match &members {
                    Err(why) => p.hint { "Only admins see the members (" (why) ")." }
                    Ok(members) => {
                        @if members.is_empty() {
                            p.nothing { "Nobody has joined yet: invite someone below." }
                        } @else {
                            div.table-wrap {
                                table.listing {
                                    thead { tr {
                                        th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Role" }
                                        th scope="col" { "Joined" } th scope="col" { "Actions" }
                                    } }
                                    tbody {
                                        @for m in members { (member_row(caller, m, me, tz, &shown)) }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 #invite-h { "Invite someone" }
                (shown.problem(Which::Invite))
                form.stack method="post" action="/settings/invites" aria-labelledby="invite-h" {
                    (csrf_field(caller))
                    label for="invite-email" { "E-mail" }
                    input #invite-email type="email" name="email" value=(invite_form.0) maxlength="254" required;
                    label for="invite-role" { "Role" }
                    (role_select("invite-role", invite_form.1))
                    p.hint { "The one-time link is shown once, here; it works for 7 days." }
                    button type="submit" { "Make the invite link" }
                }
            }
            section.panel.wide aria-labelledby="keys-h" {
                h2 #keys-h { "API keys" }
                @match &api_keys {
                    Err(why) => p.hint { "Only admins see the API keys (" (why) ")." }
                    Ok(api_keys) => {
                        @if api_keys.is_empty() {
                            p.nothing { "No API key." }
                        } @else {
                            div.table-wrap {
                                table.listing {
                                    thead { tr {
                                        th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Made" } th scope="col" { "Revoke" }
                                    } }
                                    tbody {
                                        @for k in api_keys { (key_row(caller, k, tz, &shown)) }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 #newkey-h { "Make a key" }
                (shown.problem(Which::Key))
                form.stack method="post" action="/settings/keys" aria-labelledby="newkey-h" {
                    (csrf_field(caller))
                    label for="key-name" { "Name" }
                    input #key-name type="text" name="name" value=(key_form.0) maxlength="100" required;
                    p.hint { "A label for people: " code { "ci" } ", " code { "Marie's laptop" } "." }
                    label for="key-role" { "Role" }
                    (role_select("key-role", key_form.1))
                    button type="submit" { "Make the key" }
                }
            }
            section.panel aria-labelledby="feed-h" {
                h2 #feed-h { "Calendar feed" }
                p { "A private address calendar apps subscribe to, showing the team's scheduled posts." }
                p.hint {
                    @if team.calendar_token_hash.is_some() { "A feed link exists. Making a new one stops the old one." }
                    @else { "No feed link yet." }
                }
                (shown.problem(Which::Calendar))
                form.stack method="post" action="/settings/calendar-token" {
                    (csrf_field(caller))
                    button type="submit" { "Make a new feed link" }
                }
            }
            @if caller.session.is_some() {
                section.panel aria-labelledby="sessions-h" {
                    h2 #sessions-h { "Your sessions" }
                    p.hint { "Signed in on another computer or a lost phone? This ends every session of yours, this one too." }
                    form.stack method="post" action="/sign-out-everywhere" {
                        (csrf_field(caller))
                        button type="submit" { "Sign out everywhere" }
                    }
                }
            }
            section.panel aria-labelledby="hooks-h" {
                h2 #hooks-h { "Outgoing webhooks" }
                p.hint {
                    "Herald's events go to EventBridge on AWS, or, with " code { "herald serve" } ", to "
                    code { "events.jsonl" } " and the addresses it was started with ("
                    code { "--webhook-url" } ", " code { "HERALD_WEBHOOK_URLS" } "). They are set where Herald runs, not here."
                }
            }
        }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(status, shell_signed_in("Settings", Some(Screen::Settings), csrf, main)))
}

fn role_select(id: &str, selected: &str) -> Markup {
    html! {
        select id=(id) name="role" {
            @for r in ROLES {
                option value=(r.as_str()) selected[selected == r.as_str()] { (r.as_str()) }
            }
        }
    }
}

fn member_row(caller: &Caller, m: &Member, me: Option<MemberId>, tz: chrono_tz::Tz, shown: &Shown) -> Markup {
    let confirm = format!("remove-{}", m.id);
    html! {
        tr {
            th scope="row" { (m.name) @if me == Some(m.id) { " (you)" } }
            td data-label="E-mail" { (m.email.to_string()) }
            td data-label="Role" { (m.role.as_str()) }
            td data-label="Joined" { (when(m.created_at, tz)) }
            td {
                (shown.problem(Which::Member(m.id)))
                form.inline method="post" action=(format!("/settings/members/{}/reset-link", m.id)) {
                    (csrf_field(caller))
                    button type="submit" { "Make a reset link" span.visually-hidden { " for " (m.name) } }
                }
                @if me != Some(m.id) {
                    form.row method="post" action=(format!("/settings/members/{}/remove", m.id)) {
                        (csrf_field(caller))
                        input id=(confirm) type="checkbox" name="confirm" value="yes" required;
                        label for=(confirm) { "Yes, remove " (m.name) }
                        button.danger type="submit" { "Remove" span.visually-hidden { " " (m.name) } }
                    }
                }
            }
        }
    }
}

fn key_row(caller: &Caller, k: &ApiKey, tz: chrono_tz::Tz, shown: &Shown) -> Markup {
    html! {
        tr {
            th scope="row" { (k.name) @if k.id == caller.key_id { " (this key)" } }
            td data-label="Role" { (k.role.as_str()) }
            td data-label="Made" { (when(k.created_at, tz)) }
            td {
                (shown.problem(Which::Revoke(k.id)))
                form.inline method="post" action=(format!("/settings/keys/{}/revoke", k.id)) {
                    (csrf_field(caller))
                    button.danger type="submit" { "Revoke" span.visually-hidden { " " (k.name) } }
                }
            }
        }
    }
}

/// The form refused: the screen again at the refusal's status, the form keeping what was typed.
async fn again(state: &AppState, caller: &Caller, which: Which, e: impl Into<ApiError>, fill: impl FnOnce(&mut Shown)) -> Result<Response, WebError> {
    let r = refusal(e)?;
    let status = r.status;
    let mut shown = Shown::refused(which, r);
    fill(&mut shown);
    render(state, caller, None, shown, status).await
}

/// A secret just made, on the screen, at 200 (never in a redirect's address).
async fn reveal(state: &AppState, caller: &Caller, secret: Secret) -> Result<Response, WebError> {
    render(state, caller, None, Shown { secret: Some(secret), ..Shown::default() }, StatusCode::OK).await
}

/// `POST /settings/team`: as `PATCH /v1/team` with `name`, `time_zone`, `language`,
/// `accent_color` and `white_label`.
async fn set_team(State(state): State<AppState>, PageForm { caller, form }: PageForm<TeamForm>) -> Result<Response, WebError> {
    let changes = || -> Result<team::TeamChanges, ValidationError> {
        Ok(team::TeamChanges {
            name: Some(form.name.clone()),
            time_zone: Some(parse_time_zone("time_zone", form.time_zone.trim())?),
            language: Some(Language::parse("language", &form.language)?),
            logo: None,
            // Herald's own colour is stored as none, so a later change of it reaches the team.
            accent_color: Some(match form.accent_color.trim() {
                "" => None,
                c if c.eq_ignore_ascii_case(HERALD_ACCENT) => None,
                c => Some(AccentColor::parse("accent_color", c)?),
            }),
            white_label: Some(form.white_label.is_some()),
        })
    };
    let saved = match changes() {
        Ok(c) => team::update(&*state.store, &*state.report_files, &caller.actor(), c).await.map_err(ApiError::from),
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => Ok(see_other("/settings?done=team")),
        Err(e) => again(&state, &caller, Which::Team, e, |s| s.team = Some(form)).await,
    }
}

/// `POST /settings/logo` (multipart): the team's logo from a file, as `PATCH /v1/team` with
/// `logo`; `remove` takes it away. The CSRF token comes as a field like any form's, read before
/// anything is kept.
async fn set_logo(State(state): State<AppState>, req: axum::extract::Request) -> Result<Response, WebError> {
    use axum::extract::FromRequest as _;
    let headers = req.headers().clone();
    let bad = |message: String| WebError::BadParameter { name: "form", message };
    let mut multipart = axum::extract::Multipart::from_request(req, &state).await.map_err(|e| bad(e.body_text()))?;
    let (mut csrf, mut file, mut remove) = (String::new(), None, false);
    while let Some(field) = multipart.next_field().await.map_err(|e| bad(e.body_text()))? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|e| bad(e.body_text()))?,
            Some("remove") => remove = true,
            Some("logo") => {
                let media_type = field.content_type().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
                // A file input left empty still sends an empty part.
                if !bytes.is_empty() {
                    file = Some((media_type, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    let caller = crate::http::authenticate(&headers, &state, crate::http::Csrf::Sent(&csrf)).await?;
    let change = match (remove, file) {
        (true, _) => Ok(None),
        (false, Some((media_type, bytes))) => team::LogoUpload::from_file("logo", &media_type, bytes).map(Some),
        (false, None) => Err(ValidationError::new("logo", "choose a PNG, JPEG or WebP image")),
    };
    let saved = match change {
        Ok(logo) => {
            let changes = team::TeamChanges { logo: Some(logo), ..Default::default() };
            team::update(&*state.store, &*state.report_files, &caller.actor(), changes).await.map_err(ApiError::from)
        }
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => Ok(see_other("/settings?done=logo")),
        Err(e) => again(&state, &caller, Which::Logo, e, |_| {}).await,
    }
}

/// `POST /settings/invites`: the one-time link, shown once.
async fn invite(State(state): State<AppState>, PageForm { caller, form }: PageForm<InviteForm>) -> Result<Response, WebError> {
    let made = async {
        let email = Email::parse("email", &form.email)?;
        let role = Role::parse("role", &form.role)?;
        let new = people::invite(&*state.store, &*state.clock, &caller.actor(), email.clone(), role).await?;
        tracing::info!(invite_id = %new.link.id, %role, "invite created (page)");
        Ok::<_, ApiError>((email, role, new))
    }
    .await;
    match made {
        Ok((email, role, new)) => {
            let secret = Secret {
                title: "Invite link",
                value: format!("/invite/{}", new.token.reveal()),
                about: format!(
                    "Send this address on this site to {email}: it makes them a member with the {role} role, once, until {}.",
                    new.link.expires_at.with_timezone(&caller_zone(&state, &caller).await?).format("%-d %b %Y, %H:%M")
                ),
            };
            reveal(&state, &caller, secret).await
        }
        Err(e) => again(&state, &caller, Which::Invite, e, |s| s.invite = Some(form)).await,
    }
}

async fn caller_zone(state: &AppState, caller: &Caller) -> Result<chrono_tz::Tz, WebError> {
    Ok(caller.actor().team(&*state.store).await?.time_zone)
}

fn member_id(s: &str) -> Result<MemberId, WebError> {
    MemberId::parse("id", s).map_err(|_| WebError::Api(ApiError::Missing { message: format!("no member `{s}` in your team"), field: None }))
}

/// `POST /settings/members/{id}/remove`: removed (their sessions end), with the box ticked.
async fn remove_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<RemoveForm>,
) -> Result<Response, WebError> {
    let id = member_id(&id)?;
    if form.confirm.as_deref() != Some("yes") {
        let e = ValidationError::new("confirm", "tick the box to confirm the removal");
        return again(&state, &caller, Which::Member(id), e, |_| {}).await;
    }
    let me = caller.session.as_ref().map(|s| s.member_id);
    match people::remove_member(&*state.store, &caller.actor(), me, id).await {
        Ok(()) => {
            tracing::info!(member_id = %id, "member removed (page)");
            Ok(see_other("/settings?done=removed"))
        }
        Err(e) => again(&state, &caller, Which::Member(id), e, |_| {}).await,
    }
}

/// `POST /settings/members/{id}/reset-link`: the one-time link, shown once.
async fn reset_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    let id = member_id(&id)?;
    match people::reset_link(&*state.store, &*state.clock, &caller.actor(), id).await {
        Ok(new) => {
            tracing::info!(member_id = %id, "password-reset link created (page)");
            let member = state.store.get_member(&caller.team_id, id).await.ok().flatten();
            let whom = member.map_or_else(|| "the member".to_owned(), |m| format!("{} ({})", m.name, m.email));
            let secret = Secret {
                title: "Password-reset link",
                value: format!("/reset/{}", new.token.reveal()),
                about: format!("Send this address on this site to {whom}: it lets them choose a new password, once, within 24 hours."),
            };
            reveal(&state, &caller, secret).await
        }
        Err(e) => again(&state, &caller, Which::Member(id), e, |_| {}).await,
    }
}

/// `POST /settings/keys`: the new key's secret, shown once.
async fn create_key(State(state): State<AppState>, PageForm { caller, form }: PageForm<KeyForm>) -> Result<Response, WebError> {
    let made = async {
        let role = Role::parse("role", &form.role)?;
        let made = keys::create_team_key(&*state.store, &*state.clock, &caller.actor(), role, Some(&form.name)).await?;
        Ok::<_, ApiError>(made)
    }
    .await;
    match made {
        Ok((key, secret)) => {
            tracing::info!(key_id = %key.id, role = %key.role, "API key created (page)");
            let secret = Secret {
                title: "New API key",
                value: secret.reveal().to_owned(),
                about: format!("The key \u{201c}{}\u{201d} ({}): send it as `Authorization: Bearer <key>`.", key.name, key.role.as_str()),
            };
            reveal(&state, &caller, secret).await
        }
        Err(e) => again(&state, &caller, Which::Key, e, |s| s.key = Some(form)).await,
    }
}

/// `POST /settings/keys/{id}/revoke`: revoked at once.
async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    let key = ApiKeyId::parse("id", &id)
        .map_err(|_| WebError::Api(ApiError::Missing { message: format!("no API key `{id}` in your team"), field: None }))?;
    match keys::revoke_key(&*state.store, &caller.actor(), key).await {
        Ok(()) => {
            tracing::info!(key_id = %key, "API key revoked (page)");
            Ok(see_other("/settings?done=revoked"))
        }
        Err(e) => again(&state, &caller, Which::Revoke(key), e, |_| {}).await,
    }
}

/// `POST /settings/watchlist`: as `PUT /v1/watchlist`, one term a line.
async fn set_watchlist(State(state): State<AppState>, PageForm { caller, form }: PageForm<WatchForm>) -> Result<Response, WebError> {
    let terms: Vec<String> = form.terms.lines().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    match inbox::set_watch_terms(&*state.store, &caller.actor(), terms).await {
        Ok(_) => Ok(see_other("/settings?done=watchlist")),
        Err(e) => again(&state, &caller, Which::Watch, e, |s| s.watch = Some(form.terms)).await,
    }
}

/// `POST /settings/calendar-token`: a new feed address (the old one stops), shown once.
async fn rotate_calendar_token(
    State(state): State<AppState>,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    match calendar::rotate_token(&*state.store, &caller.actor()).await {
        Ok(token) => {
            let secret = Secret {
                title: "Calendar feed link",
                value: calendar::feed_path(token.reveal()),
                about: "Subscribe to this address on this site in a calendar app. The previous link, if any, no longer works.".into(),
            };
            reveal(&state, &caller, secret).await
        }
        Err(e) => again(&state, &caller, Which::Calendar, e, |_| {}).await,
    }
}
