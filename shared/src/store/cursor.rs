//! Opaque pagination cursors: URL-safe base64 of a small JSON value each store chooses
//! (a keyset position for SQLite, the LastEvaluatedKey for DynamoDB).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

pub struct Cursor;

impl Cursor {
    pub fn encode<T: Serialize>(position: &T) -> String {
        // Serialising plain strings and maps cannot fail.
        let json = serde_json::to_vec(position).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, StoreError> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let c = Cursor::encode(&("2027-01-01T00:00:00.000000Z", "abc"));
        let back: (String, String) = Cursor::decode(&c).unwrap();
        assert_eq!(back.1, "abc");
        assert!(matches!(Cursor::decode::<(String, String)>("%%%"), Err(StoreError::InvalidCursor)));
        assert!(matches!(Cursor::decode::<(String, String)>("e30"), Err(StoreError::InvalidCursor)));
    }
}
