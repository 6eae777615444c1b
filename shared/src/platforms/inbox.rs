//! The port for community management on a network without push: read the channel's
//! notifications into the inbox (with a cursor the caller stores), and answer through the
//! platform.
//!
//! Mastodon (for normal accounts) and Bluesky have no webhooks (platforms.md §1.1, §2.1), so a
//! scheduled poller calls [`InboxAdapter::poll`] for each channel with the cursor it stored last
//! time, saves each item under its dedupe id (one conditional write, so an item returned twice
//! is stored once), then stores the new cursor. Likes, follows and reposts are counted by the
//! metrics, not the inbox: pollers skip them.

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::{PublishError, Published};
use crate::crypto::Credentials;
use crate::domain::{Channel, Interaction, InteractionDraft};

/// What one poll found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polled {
    /// New interactions, oldest first, each with its dedupe id: the platform's own id of the
    /// post or message (a Mastodon status id, a Bluesky post `at://` URI), the same whichever
    /// notification brought it, so that a post that both replies and mentions is one item.
    pub items: Vec<(String, InteractionDraft)>,
    /// Where the next poll starts: store it and pass it back. Opaque; `None` only when the
    /// channel has never had a notification (the next poll is a first run again).
    pub cursor: Option<String>,
}

#[async_trait]
pub trait InboxAdapter: Send + Sync {
    /// Notifications newer than `cursor`, oldest first. `None` is a first run: only the most
    /// recent page, no backfill of years of history. Mentions, replies, quotes (as
    /// [`crate::domain::InteractionKind::Mention`]) and direct messages where the API offers
    /// them; likes, follows and reposts are not interactions and are skipped.
    async fn poll(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        cursor: Option<&str>,
    ) -> Result<Polled, PublishError>;

    /// Answers `to` on the platform with `text`, in its thread, and returns the reply's id and
    /// link. Repeating the same reply to the same interaction (a retry after a lost answer)
    /// does not post it twice where the platform offers a way (Mastodon `Idempotency-Key`, a
    /// Bluesky record key derived from both).
    async fn reply(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        to: &Interaction,
        text: &str,
    ) -> Result<Published, PublishError>;
}

/// A digest of (interaction, reply text): the same for a retry of one reply, different for
/// another reply or another interaction.
pub(crate) fn reply_digest(to: &Interaction, text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(to.id.to_string().as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.finalize().into()
}
