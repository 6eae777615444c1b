//! Posts and their deliveries, with the delivery state machine.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiKeyId, ChannelId, DeliveryId, Platform, PostId, SeriesId, TeamId, ValidationError};

/// The text of a post. Platform limits are checked per target at scheduling time; this type
/// only refuses what no platform accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostText(String);

impl PostText {
    /// Far above every platform's limit; a bound on what we store.
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        if s.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(field, format!("must be at most {} bytes", Self::MAX_BYTES)));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
            return Err(ValidationError::new(field, "must not contain control characters other than line breaks and tabs"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PostText {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("text", &s)
    }
}

impl From<PostText> for String {
    fn from(t: PostText) -> String {
        t.0
    }
}

/// Who may reply to a post on Threads (the container's `reply_control`, platforms-more.md
/// §8.1 ✅). Other networks have no such setting: a post asking for it needs a Threads channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyControl {
    Everyone,
    AccountsYouFollow,
    MentionedOnly,
    ParentPostAuthorOnly,
    FollowersOnly,
}

impl ReplyControl {
    pub const ALL: [ReplyControl; 5] = [
        ReplyControl::Everyone,
        ReplyControl::AccountsYouFollow,
        ReplyControl::MentionedOnly,
        ReplyControl::ParentPostAuthorOnly,
        ReplyControl::FollowersOnly,
    ];

    /// The value Threads takes (and the API shows).
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyControl::Everyone => "everyone",
            ReplyControl::AccountsYouFollow => "accounts_you_follow",
            ReplyControl::MentionedOnly => "mentioned_only",
            ReplyControl::ParentPostAuthorOnly => "parent_post_author_only",
            ReplyControl::FollowersOnly => "followers_only",
        }
    }

    /// In words, for the composer's choice.
    pub fn label(self) -> &'static str {
        match self {
            ReplyControl::Everyone => "Everyone",
            ReplyControl::AccountsYouFollow => "Accounts the channel follows",
            ReplyControl::MentionedOnly => "Only accounts mentioned in the post",
            ReplyControl::ParentPostAuthorOnly => "Only the author of the post replied to",
            ReplyControl::FollowersOnly => "Only the channel's followers",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            ValidationError::new(
                field,
                "must be one of everyone, accounts_you_follow, mentioned_only, parent_post_author_only, followers_only",
            )
        })
    }
}

/// A picture or video the post carries: by URL (fetched at publishing time), or a file
/// uploaded to Herald (`herald-media:<team>/<id>.<ext>`, see [`crate::media`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaRef {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// For an uploaded file: its type and size, as found when the post was saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Upload>,
}

/// What an uploaded file turned out to be when the post naming it was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Upload {
    /// `image/png`, `video/mp4`…
    pub content_type: String,
    pub bytes: u64,
    /// Whether the networks that fetch media themselves (Facebook, Instagram, Threads) can:
    /// always on AWS (a presigned link), with `herald serve` when `HERALD_PUBLIC_URL` is set.
    #[serde(default)]
    pub fetchable: bool,
}

impl MediaRef {
    /// A URL or an upload's reference as a client gave it. An upload is not yet looked at
    /// (`upload` is `None` until `services::media::check_uploads` finds the file).
    pub fn parse(field: &str, url: &str, alt: Option<String>) -> Result<Self, ValidationError> {
        if url.starts_with(crate::media::SCHEME) {
            if crate::media::MediaKey::parse(url).is_none() {
                return Err(ValidationError::new(field, "is not an upload's reference (as `POST /v1/media` answers it)"));
            }
            return Ok(Self { url: url.to_owned(), alt, upload: None });
        }
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 2048
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(ValidationError::new(
                field,
                "must be an http(s) URL of at most 2048 characters, or an upload's `herald-media:` reference",
            ));
        }
        Ok(Self { url: url.to_owned(), alt, upload: None })
    }

    /// The uploaded file this names, if it names one.
    pub fn uploaded(&self) -> Option<crate::media::MediaKey> {
        crate::media::MediaKey::parse(&self.url)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub id: PostId,
    pub team_id: TeamId,
    pub text: PostText,
    /// Per-platform text that replaces `text` on that platform.
    #[serde(default)]
    pub variants: BTreeMap<Platform, PostText>,
    #[serde(default)]
    pub media: Vec<MediaRef>,
    /// The key that created the post, for approvals ("not your own draft").
    pub created_by: Option<ApiKeyId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The recurring series this post is one occurrence of (`POST /v1/posts` with a
    /// `recurrence`); `None` for a one-off post. Absent in posts stored before series existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<SeriesId>,
    /// Bumped by every stored change of the post (its text, media, time or state): an editor
    /// approves the version they read, and a write carrying an older one is refused. Posts
    /// stored before versions existed read as 0.
    #[serde(default)]
    pub version: u64,
    /// An editor's "not yet": the comment the post was sent back to its author with, until
    /// the post is approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// Said right after the post goes out: a comment under it on Instagram and Facebook, a
    /// reply to it on Threads (hashtags kept out of the caption). Checked against each of those
    /// networks' limits when the post is saved; best effort when publishing (see
    /// `services::publisher`). Absent in posts stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_comment: Option<PostText>,
    /// Who may reply on Threads; `None` leaves Threads' default (everyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_control: Option<ReplyControl>,
}

/// Why an editor sent a post back, who did, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    pub comment: String,
    /// The key of the editor who sent it back.
    pub by: ApiKeyId,
    pub at: DateTime<Utc>,
}

impl Post {
    /// The text to publish on `platform`: its variant when there is one.
    pub fn text_for(&self, platform: Platform) -> &PostText {
        self.variants.get(&platform).unwrap_or(&self.text)
    }
}

/// Where one (post, channel) publication stands.
///
/// ```text
/// draft → pending_approval → scheduled → publishing → published
///   │            │               │            ├──────→ failed ──→ scheduled (retry)
///   └────────────┴───────────────┴────────────┴──────→ cancelled (not from publishing)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Draft,
    PendingApproval,
    Scheduled,
    Publishing,
    Published,
    Failed,
    Cancelled,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 7] = [
        DeliveryState::Draft,
        DeliveryState::PendingApproval,
        DeliveryState::Scheduled,
        DeliveryState::Publishing,
        DeliveryState::Published,
        DeliveryState::Failed,
        DeliveryState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Draft => "draft",
            DeliveryState::PendingApproval => "pending_approval",
            DeliveryState::Scheduled => "scheduled",
            DeliveryState::Publishing => "publishing",
            DeliveryState::Published => "published",
            DeliveryState::Failed => "failed",
            DeliveryState::Cancelled => "cancelled",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Self::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            ValidationError::new(
                field,
                "must be one of draft, pending_approval, scheduled, publishing, published, failed, cancelled",
            )
        })
    }

    /// The one place that says which moves are legal.
    pub fn can_become(self, to: DeliveryState) -> bool {
        use DeliveryState::*;
        matches!(
            (self, to),
            (Draft, PendingApproval | Scheduled | Cancelled)
                | (PendingApproval, Draft | Scheduled | Cancelled)
                | (Scheduled, Draft | Publishing | Cancelled)
                // Publishing → Scheduled: a transient failure waits for its retry.
                // Publishing → Publishing: a claim taken over after its lease expired.
                | (Publishing, Published | Failed | Scheduled | Publishing)
                | (Failed, Scheduled | Cancelled)
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, DeliveryState::Published | DeliveryState::Cancelled)
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a delivery cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: DeliveryState,
    pub to: DeliveryState,
}

/// One (post, channel) publication with its own state, attempts and result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub team_id: TeamId,
    pub post_id: PostId,
    pub channel_id: ChannelId,
    pub platform: Platform,
    pub state: DeliveryState,
    /// The second it must go out.
    pub publish_at: DateTime<Utc>,
    /// Publishing attempts made so far.
    pub attempts: u32,
    /// After a transient failure: not before this instant.
    pub retry_at: Option<DateTime<Utc>>,
    /// While publishing: the claim is the claimer's until then.
    pub lease_until: Option<DateTime<Utc>>,
    pub platform_post_id: Option<String>,
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// The last failure, in words a user can act on ("token expired").
    pub last_error: Option<String>,
    /// Optimistic-concurrency counter: every store write checks and bumps it.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Delivery {
    /// A new delivery of `post` to a channel, in `state`, version 0 (not yet stored).
    pub fn new(
        post: &Post,
        channel_id: ChannelId,
        platform: Platform,
        state: DeliveryState,
        publish_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: DeliveryId::new(),
            team_id: post.team_id.clone(),
            post_id: post.id,
            channel_id,
            platform,
            state,
            publish_at,
            attempts: 0,
            retry_at: None,
            lease_until: None,
            platform_post_id: None,
            url: None,
            published_at: None,
            last_error: None,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Moves to `to` if the state machine allows it.
    pub fn transition(&mut self, to: DeliveryState, now: DateTime<Utc>) -> Result<(), IllegalTransition> {
        if !self.state.can_become(to) {
            return Err(IllegalTransition { from: self.state, to });
        }
        self.state = to;
        self.updated_at = now;
        if to != DeliveryState::Publishing {
            self.lease_until = None;
        }
        Ok(())
    }

    /// When the publisher must look at this delivery again, if ever: a scheduled one at its
    /// time (or its retry time), a publishing one when its lease runs out. Stores index this
    /// value (the sparse "due" index), so one range query finds all due work.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.state {
            DeliveryState::Scheduled => Some(self.retry_at.map_or(self.publish_at, |r| r.max(self.publish_at))),
            DeliveryState::Publishing => self.lease_until,
            _ => None,
        }
    }

    /// True when a publisher may claim it at `now` looking `lookahead` ahead.
    pub fn is_claimable(&self, now: DateTime<Utc>, lookahead: Duration) -> bool {
        match self.state {
            DeliveryState::Scheduled => self.due_at().is_some_and(|d| d <= now + lookahead),
            DeliveryState::Publishing => self.lease_until.is_some_and(|l| l <= now),
            _ => false,
        }
    }

    /// The claimed copy: publishing, leased until `now + lease`, one more attempt. The caller
    /// stores it with a version check so only one claimer wins.
    pub fn claimed(&self, now: DateTime<Utc>, lookahead: Duration, lease: Duration) -> Result<Delivery, IllegalTransition> {
        if !self.is_claimable(now, lookahead) {
            return Err(IllegalTransition { from: self.state, to: DeliveryState::Publishing });
        }
        let mut d = self.clone();
        d.transition(DeliveryState::Publishing, now)?;
        d.lease_until = Some(now + lease);
        d.attempts += 1;
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap()
    }

    fn delivery(state: DeliveryState) -> Delivery {
        let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: PostId::new(),
            team_id: crate::domain::TeamId::parse("t", "t").unwrap(),
            text: PostText::parse("text", "hi").unwrap(),
            variants: BTreeMap::new(),
            media: vec![],
            created_by: None,
            created_at: at(0),
            updated_at: at(0),
            series_id: None,
        };
        Delivery::new(&post, ChannelId::new(), Platform::Sandbox, state, at(100), at(0))
    }

    #[test]
    fn the_happy_path_is_legal() {
        let mut d = delivery(DeliveryState::Draft);
        for to in [
            DeliveryState::PendingApproval,
            DeliveryState::Scheduled,
            DeliveryState::Publishing,
            DeliveryState::Published,
        ] {
            d.transition(to, at(1)).unwrap();
        }
        assert_eq!(d.state, DeliveryState::Published);
    }

    #[test]
    fn terminal_states_go_nowhere() {
        for from in [DeliveryState::Published, DeliveryState::Cancelled] {
            assert!(from.is_terminal());
            for to in DeliveryState::ALL {
                assert!(!from.can_become(to), "{from} → {to}");
            }
        }
    }

    #[test]
    fn illegal_moves_are_refused_and_change_nothing() {
        let mut d = delivery(DeliveryState::Draft);
        let before = d.clone();
        let err = d.transition(DeliveryState::Published, at(5)).unwrap_err();
        assert_eq!(err, IllegalTransition { from: DeliveryState::Draft, to: DeliveryState::Published });
        assert_eq!(d, before);
        assert!(!DeliveryState::Publishing.can_become(DeliveryState::Cancelled));
        assert!(!DeliveryState::Failed.can_become(DeliveryState::Published));
    }

    #[test]
    fn due_at_follows_state_retry_and_lease() {
        let mut d = delivery(DeliveryState::Scheduled);
        assert_eq!(d.due_at(), Some(at(100)));
        d.retry_at = Some(at(160));
        assert_eq!(d.due_at(), Some(at(160)));
        let c = d.claimed(at(160), Duration::seconds(0), Duration::seconds(30)).unwrap();
        assert_eq!(c.due_at(), Some(at(190)));
        assert_eq!(c.attempts, 1);
        assert_eq!(delivery(DeliveryState::Draft).due_at(), None);
    }

    #[test]
    fn claims_respect_lookahead_and_leases() {
        let d = delivery(DeliveryState::Scheduled);
        assert!(d.claimed(at(30), Duration::seconds(60), Duration::seconds(30)).is_err());
        let c = d.claimed(at(40), Duration::seconds(60), Duration::seconds(30)).unwrap();
        assert_eq!(c.state, DeliveryState::Publishing);
        assert_eq!(c.lease_until, Some(at(70)));
        // Nobody else may take it while the lease holds; anyone may once it ran out.
        assert!(c.claimed(at(69), Duration::seconds(60), Duration::seconds(30)).is_err());
        let again = c.claimed(at(70), Duration::seconds(60), Duration::seconds(30)).unwrap();
        assert_eq!(again.attempts, 2);
        assert!(delivery(DeliveryState::Draft).claimed(at(200), Duration::seconds(60), Duration::seconds(30)).is_err());
    }

    #[test]
    fn reply_control_reads_threads_values_and_names_the_field() {
        for r in ReplyControl::ALL {
            assert_eq!(ReplyControl::parse("reply_control", r.as_str()), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.as_str()));
        }
        let e = ReplyControl::parse("reply_control", "friends").unwrap_err();
        assert_eq!(e.field, "reply_control");
        assert!(e.rule.contains("mentioned_only"), "{}", e.rule);
    }

    #[test]
    fn posts_stored_before_first_comments_still_read() {
        let d = delivery(DeliveryState::Draft);
        let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: d.post_id,
            team_id: d.team_id.clone(),
            text: PostText::parse("text", "base").unwrap(),
            variants: BTreeMap::new(),
            media: vec![],
            created_by: None,
            created_at: at(0),
            updated_at: at(0),
            series_id: None,
        };
        let json = serde_json::to_value(&post).unwrap();
        assert!(json.get("first_comment").is_none() && json.get("reply_control").is_none());
        let with = Post {
            first_comment: Some(PostText::parse("first_comment", "#bread #paris").unwrap()),
            reply_control: Some(ReplyControl::FollowersOnly),
            ..post.clone()
        };
        let back: Post = serde_json::from_value(serde_json::to_value(&with).unwrap()).unwrap();
        assert_eq!(back, with);
        let old: Post = serde_json::from_value(json).unwrap();
        assert_eq!(old, post);
    }

    #[test]
    fn variants_replace_text_per_platform() {
        let mut d = delivery(DeliveryState::Draft);
        d.platform = Platform::Mastodon;
        let mut post = Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: d.post_id,
            team_id: d.team_id.clone(),
            text: PostText::parse("text", "base").unwrap(),
            variants: BTreeMap::new(),
            media: vec![],
            created_by: None,
            created_at: at(0),
            updated_at: at(0),
            series_id: None,
        };
        post.variants.insert(Platform::Mastodon, PostText::parse("text", "toot").unwrap());
        assert_eq!(post.text_for(Platform::Mastodon).as_str(), "toot");
        assert_eq!(post.text_for(Platform::Bluesky).as_str(), "base");
    }
}
