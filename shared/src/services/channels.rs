//! Channels: a team's connected social accounts. Everyone in the team reads them; only admins
//! create, change or delete them. Credentials are sealed before any store sees them and are
//! never given back.

use chrono_tz::Tz;

use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::crypto::{CredentialCipher, Credentials};
use crate::domain::{
    Channel, ChannelId, ChannelName, Platform, QueueSlot, Role, ValidationError, slot_time_text, weekday_name,
};
use crate::platforms::{Adapters, PublishError, credentials};
use crate::store::Store;

/// At most this many weekly queue slots per channel (one an hour, every day, and then some).
pub const MAX_QUEUE_SLOTS: usize = 200;

const ADMIN_ONLY: &str = "only an admin key can manage channels";

/// A channel to create, already parsed.
#[derive(Debug)]
pub struct NewChannel {
    pub platform: Platform,
    pub name: ChannelName,
    pub time_zone: Tz,
    pub credentials: Option<Credentials>,
    pub queue_slots: Vec<QueueSlot>,
}

/// What a PATCH changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ChannelChanges {
    pub name: Option<ChannelName>,
    pub time_zone: Option<Tz>,
    /// `Some(Some(c))` replaces the credentials, `Some(None)` removes them.
    pub credentials: Option<Option<Credentials>>,
    pub queue_slots: Option<Vec<QueueSlot>>,
}

/// Refuses duplicate slots and absurdly many.
pub fn check_queue_slots(field: &str, slots: &[QueueSlot]) -> Result<(), ValidationError> {
    if slots.len() > MAX_QUEUE_SLOTS {
        return Err(ValidationError::new(field, format!("at most {MAX_QUEUE_SLOTS} slots per channel")));
    }
    for (i, s) in slots.iter().enumerate() {
        if slots[..i].contains(s) {
            return Err(ValidationError::new(
                format!("{field}[{i}]"),
                format!("{} {} is listed twice", weekday_name(s.weekday), slot_time_text(s.time)),
            ));
        }
    }
    Ok(())
}

/// Connects an account. Its credentials are checked first, their shape and then (for a network
/// Herald publishes to) with the network itself, so a post never fails later for credentials
/// that never worked.
pub async fn create_channel(
    store: &dyn Store,
    clock: &dyn Clock,
    cipher: &CredentialCipher,
    adapters: &Adapters,
    actor: &Actor,
    new: NewChannel,
) -> Result<Channel, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    check_queue_slots("queue_slots", &new.queue_slots)?;
    let id = ChannelId::new();
    let now = clock.now();
    let mut queue_slots = new.queue_slots;
    sort_slots(&mut queue_slots);
    let channel = Channel {
        id,
        team_id: actor.team_id.clone(),
        platform: new.platform,
        name: new.name,
        time_zone: new.time_zone,
        credentials: None,
        queue_slots,
        created_at: now,
        updated_at: now,
    };
    check_credentials(adapters, &channel, new.credentials.as_ref()).await?;
    let channel = Channel { credentials: new.credentials.as_ref().map(|c| cipher.seal(id, c)), ..channel };
    store.create_channel(&channel).await?;
    tracing::info!(channel_id = %channel.id, platform = %channel.platform, "channel created");
    Ok(channel)
}

pub async fn list_channels(store: &dyn Store, actor: &Actor) -> Result<Vec<Channel>, ServiceError> {
    Ok(store.list_channels(&actor.team_id).await?)
}

/// The actor's team's channel, or 404 (also when it is another team's).
pub async fn get_channel(store: &dyn Store, actor: &Actor, id: ChannelId) -> Result<Channel, ServiceError> {
    store
        .get_channel(&actor.team_id, id)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no channel {id} in your team")))
}

/// Changes a channel; replaced credentials are checked as when connecting it.
pub async fn update_channel(
    store: &dyn Store,
    clock: &dyn Clock,
    cipher: &CredentialCipher,
    adapters: &Adapters,
    actor: &Actor,
    id: ChannelId,
    changes: ChannelChanges,
) -> Result<Channel, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    let mut channel = get_channel(store, actor, id).await?;
    if let Some(name) = changes.name {
        channel.name = name;
    }
    if let Some(tz) = changes.time_zone {
        channel.time_zone = tz;
    }
    if let Some(credentials) = changes.credentials {
        check_credentials(adapters, &channel, credentials.as_ref()).await?;
        channel.credentials = credentials.as_ref().map(|c| cipher.seal(id, c));
    }
    if let Some(mut slots) = changes.queue_slots {
        check_queue_slots("queue_slots", &slots)?;
        sort_slots(&mut slots);
        channel.queue_slots = slots;
    }
    channel.updated_at = clock.now();
    store.update_channel(&channel).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ServiceError::not_found(format!("no channel {id} in your team")),
        other => other.into(),
    })?;
    Ok(channel)
}

/// Deletes a channel. Its deliveries that have not gone out (draft, awaiting approval,
/// scheduled, failed) are cancelled first, so nothing is later published to an account the
/// team disconnected; published ones stay in the history. Returns how many were cancelled.
pub async fn delete_channel(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: ChannelId,
) -> Result<usize, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    get_channel(store, actor, id).await?;
    let cancelled = super::posts::cancel_channel_deliveries(store, clock, &actor.team_id, id).await?;
    store.delete_channel(&actor.team_id, id).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ServiceError::not_found(format!("no channel {id} in your team")),
        other => other.into(),
    })?;
    tracing::info!(channel_id = %id, cancelled, "channel deleted");
    Ok(cancelled)
}

/// Credentials a channel of this network can work with: present where the network needs them,
/// of the right shape ([`credentials::check_shape`]), and, where Herald publishes to the
/// network, taken by it (one cheap authenticated call). Refused credentials are a 422 naming
/// the field the network judged; a network that cannot be asked is a 503 and nothing is kept.
async fn check_credentials(
    adapters: &Adapters,
    channel: &Channel,
    given: Option<&Credentials>,
) -> Result<(), ServiceError> {
    let platform = channel.platform;
    let Some(given) = given else {
        if !credentials::needs_credentials(platform) {
            return Ok(());
        }
        let needed: Vec<&str> = credentials::fields(platform).iter().filter(|f| f.required).map(|f| f.name).collect();
        let rule = format!("a {platform} channel needs credentials: {}", needed.join(", "));
        return Err(ValidationError::new("credentials", rule).into());
    };
    credentials::check_shape(platform, given)?;
    let Some(adapter) = adapters.get(platform) else { return Ok(()) };
    match adapter.check_credentials(channel, given).await {
        Ok(()) => Ok(()),
        Err(PublishError::Auth { reason }) => {
            let field = match platform {
                Platform::Mastodon => "credentials.access_token",
                Platform::Bluesky => "credentials.app_password",
                Platform::Facebook => "credentials.page_access_token",
                Platform::Instagram | Platform::Threads => "credentials.access_token",
                _ => "credentials",
            };
            Err(ValidationError::new(field, format!("{} refused them: {reason}", crate::platforms::limits::display_name(platform))).into())
        }
        // Not a judgement on the secret: the address cannot be used (refused by the network
        // guard, not a server of this network, or it answered that the account cannot post).
        Err(PublishError::Permanent { reason }) => {
            let field = match platform {
                Platform::Mastodon => "credentials.instance_url",
                Platform::Bluesky => "credentials.service",
                // The account id led nowhere Meta lets this token post to.
                Platform::Facebook => "credentials.page_id",
                Platform::Instagram => "credentials.ig_user_id",
                Platform::Threads => "credentials.threads_user_id",
                _ => "credentials",
            };
            Err(ValidationError::new(field, format!("cannot be used: {reason}")).into())
        }
        Err(PublishError::Transient { reason, retry_after }) => Err(ServiceError::Unavailable {
            reason: format!("could not check the credentials with {platform}: {reason}; nothing was saved, try again"),
            retry_after,
        }),
    }
}

fn sort_slots(slots: &mut [QueueSlot]) {
    slots.sort_by_key(|s| (s.weekday.num_days_from_monday(), s.time));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    #[test]
    fn duplicate_slots_are_named() {
        let s = |d, h| QueueSlot { weekday: d, time: NaiveTime::from_hms_opt(h, 0, 0).unwrap() };
        assert!(check_queue_slots("queue_slots", &[s(Weekday::Mon, 9), s(Weekday::Tue, 9)]).is_ok());
        let e = check_queue_slots("queue_slots", &[s(Weekday::Mon, 9), s(Weekday::Tue, 9), s(Weekday::Mon, 9)])
            .unwrap_err();
        assert_eq!(e.field, "queue_slots[2]");
        assert_eq!(e.rule, "mon 09:00 is listed twice");
    }
}
