//! Typed identifiers. Each is a UUID v4 underneath, shown with a short prefix-free hyphenated form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValidationError;

/// Namespace of Herald's derived (v5) identifiers.
const HERALD_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_8d4a_4f0e_9a57_2c1e_0b9d_7a31);

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The same identifier for the same `name` every time (UUID v5 in Herald's
            /// namespace): how a redelivered platform event maps onto the item it made.
            pub fn derived(name: &str) -> Self {
                Self(Uuid::new_v5(&HERALD_NAMESPACE, name.as_bytes()))
            }

            /// The UUID underneath.
            pub fn uuid(self) -> Uuid {
                self.0
            }

            /// The identifier with this UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// Parses a client-supplied identifier; `field` names it in the error.
            pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| ValidationError::new(field, concat!("must be a ", $what, " id (a UUID)")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse("id", s)
            }
        }
    };
}

id_type!(/// An API key's public identifier (never the secret).
    ApiKeyId, "API key");
id_type!(/// A connected social account.
    ChannelId, "channel");
id_type!(/// A post: content planned for one or more channels.
    PostId, "post");
id_type!(/// One (post, channel) publication.
    DeliveryId, "delivery");
id_type!(/// A comment, mention or message in the inbox.
    InteractionId, "interaction");
id_type!(/// A crisis incident: a wave of negative interactions on one channel.
    IncidentId, "incident");
id_type!(/// A webhook body as received, kept for replay.
    RawEventId, "raw event");
id_type!(/// A team member (a person who signs in).
    MemberId, "member");
id_type!(/// A one-time link: an invite or a password reset.
    LinkId, "invite");
id_type!(/// A generated report.
    ReportId, "report");
id_type!(/// The posts made from one recurrence rule share it.
    SeriesId, "series");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        let id = PostId::new();
        assert_eq!(PostId::parse("post_id", &id.to_string()), Ok(id));
        let err = PostId::parse("post_id", "not-a-uuid").unwrap_err();
        assert_eq!(err.field, "post_id");
        assert!(err.rule.contains("post id"));
    }
}
