//! Channel credentials: write-only through the API, sealed with AES-256-GCM before any store
//! sees them, and wrapped in `secrecy` so no log line can print them.
//!
//! The key comes from `HERALD_CREDENTIALS_KEY` (base64 of 32 bytes) or, on AWS, an SSM
//! SecureString parameter; locally `herald serve` creates a key file in its data directory on
//! first run. The channel id is bound in as associated data, so a sealed blob copied onto
//! another channel does not open.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::{ChannelId, SealedCredentials, ValidationError};

const VERSION: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the credentials key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("sealed credentials could not be opened (wrong key, or not this channel's)")]
    CannotOpen,
    #[error("key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
}

/// A channel's credentials in the clear: field name → secret value. Debug shows field names only.
#[derive(Clone, Default)]
pub struct Credentials(BTreeMap<String, SecretString>);

impl Credentials {
    /// Most fields one channel's credentials hold (every network needs a handful).
    pub const MAX_FIELDS: usize = 50;
    /// The longest value (tokens and secrets are far shorter).
    pub const MAX_VALUE_CHARS: usize = 8192;

    /// From a JSON object of strings, as the API receives it.
    pub fn from_json(field: &str, value: &serde_json::Value) -> Result<Self, ValidationError> {
        let obj = value
            .as_object()
            .ok_or_else(|| ValidationError::new(field, "must be an object of string values"))?;
        if obj.len() > Self::MAX_FIELDS {
            return Err(ValidationError::new(field, format!("has {} fields; at most {}", obj.len(), Self::MAX_FIELDS)));
        }
        let mut fields = BTreeMap::new();
        for (k, v) in obj {
            let s = v
                .as_str()
                .ok_or_else(|| ValidationError::new(format!("{field}.{k}"), "must be a string"))?;
            if s.chars().count() > Self::MAX_VALUE_CHARS {
                return Err(ValidationError::new(format!("{field}.{k}"), format!("must be at most {} characters", Self::MAX_VALUE_CHARS)));
            }
            fields.insert(k.clone(), SecretString::from(s.to_owned()));
        }
        Ok(Self(fields))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.expose_secret())
    }

    /// Field names, safe to show ("which credentials are set").
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The same credentials with `name` set to `value` (a renewed token, its new expiry).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_owned(), SecretString::from(value.to_owned()));
        self
    }

    fn to_plain_json(&self) -> Vec<u8> {
        let plain: BTreeMap<&str, &str> = self.0.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect();
        serde_json::to_vec(&plain).unwrap_or_default()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()?;
        f.write_str(" [values redacted]")
    }
}

#[derive(Clone)]
pub struct CredentialCipher {
    cipher: Aes256Gcm,
    /// Signs the links Herald hands out and checks later ([`CredentialCipher::sign`]): keyed
    /// with HMAC-SHA256(master key, a label), so the master key never signs anything itself.
    signer: Hmac<Sha256>,
}

impl fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialCipher(..)")
    }
}

impl CredentialCipher {
    pub fn from_key_bytes(key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| CryptoError::BadKey)?;
        derive.update(b"herald link signing v1");
        let signer = <Hmac<Sha256> as Mac>::new_from_slice(&derive.finalize().into_bytes()).map_err(|_| CryptoError::BadKey)?;
        Ok(Self { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)), signer })
    }

    /// From base64 of 32 bytes (the env var / SSM parameter form).
    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| CryptoError::BadKey)?;
        Self::from_key_bytes(&bytes)
    }

    /// A new random key, base64 (what `openssl rand -base64 32` would print).
    pub fn generate_key() -> String {
        STANDARD.encode(Aes256Gcm::generate_key(OsRng))
    }

    /// Reads the key file, or creates it (mode 0600) with a fresh key on first run.
    pub fn load_or_create_key_file(path: &Path) -> Result<Self, CryptoError> {
        let err = |source| CryptoError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(s) => Self::from_base64(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate_key();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(path).map_err(err)?;
                f.write_all(key.as_bytes()).map_err(err)?;
                f.sync_all().map_err(err)?;
                Self::from_base64(&key)
            }
            Err(e) => Err(err(e)),
        }
    }

    pub fn seal(&self, channel: ChannelId, credentials: &Credentials) -> SealedCredentials {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = channel.to_string();
        let plain = credentials.to_plain_json();
        // Encryption with a valid key and nonce only fails on absurd (> 64 GiB) inputs.
        let ct = self
            .cipher
            .encrypt(&nonce, Payload { msg: &plain, aad: aad.as_bytes() })
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        SealedCredentials::from_stored(format!("{VERSION}{}", STANDARD.encode(blob)))
    }

    pub fn open(&self, channel: ChannelId, sealed: &SealedCredentials) -> Result<Credentials, CryptoError> {
        let b64 = sealed.as_str().strip_prefix(VERSION).ok_or(CryptoError::CannotOpen)?;
        let blob = STANDARD.decode(b64).map_err(|_| CryptoError::CannotOpen)?;
        if blob.len() < NONCE_LEN {
            return Err(CryptoError::CannotOpen);
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let aad = channel.to_string();
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() })
            .map_err(|_| CryptoError::CannotOpen)?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&plain).map_err(|_| CryptoError::CannotOpen)?;
        Ok(Credentials(map.into_iter().map(|(k, v)| (k, SecretString::from(v))).collect()))
    }

    /// An HMAC-SHA256 of `message` (hex): what a link Herald hands out carries, so Herald can
    /// tell later that it made it (the local media upload address).
    pub fn sign(&self, message: &str) -> String {
        let mut mac = self.signer.clone();
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is [`Self::sign`] of `message` (compared in constant time).
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        let Ok(tag) = hex::decode(signature) else { return false };
        let mut mac = self.signer.clone();
        mac.update(message.as_bytes());
        mac.verify_slice(&tag).is_ok()
    }

    /// A channel's credentials in the clear; a channel without any has empty ones (the caller's
    /// check then names the missing field).
    pub fn open_or_empty(&self, channel: ChannelId, sealed: Option<&SealedCredentials>) -> Result<Credentials, CryptoError> {
        sealed.map_or_else(|| Ok(Credentials::default()), |s| self.open(channel, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::from_json("credentials", &serde_json::json!({"access_token": "tok-123", "app_secret": "s3cr3t"}))
            .unwrap()
    }

    #[test]
    fn seal_then_open_round_trips() {
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let ch = ChannelId::new();
        let sealed = cipher.seal(ch, &creds());
        assert!(!sealed.as_str().contains("tok-123"));
        let opened = cipher.open(ch, &sealed).unwrap();
        assert_eq!(opened.get("access_token"), Some("tok-123"));
        assert_eq!(opened.field_names().collect::<Vec<_>>(), ["access_token", "app_secret"]);
    }

    #[test]
    fn signatures_check_out_for_their_message_and_key_only() {
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let other = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let sig = cipher.sign("PUT a/b 123");
        assert!(cipher.verify("PUT a/b 123", &sig));
        assert!(!cipher.verify("PUT a/b 124", &sig));
        assert!(!other.verify("PUT a/b 123", &sig));
        assert!(!cipher.verify("PUT a/b 123", "zz"));
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let ch = ChannelId::new();
        assert_ne!(cipher.seal(ch, &creds()), cipher.seal(ch, &creds()));
    }

    #[test]
    fn wrong_key_wrong_channel_or_tampering_do_not_open() {
        let a = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let b = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let ch = ChannelId::new();
        let sealed = a.seal(ch, &creds());
        assert!(b.open(ch, &sealed).is_err());
        assert!(a.open(ChannelId::new(), &sealed).is_err());
        let mut s = sealed.as_str().to_owned();
        let last = s.pop().unwrap();
        s.push(if last == 'A' { 'B' } else { 'A' });
        assert!(a.open(ch, &SealedCredentials::from_stored(s)).is_err());
        assert!(a.open(ch, &SealedCredentials::from_stored("v1:".into())).is_err());
    }

    #[test]
    fn debug_never_shows_values() {
        let shown = format!("{:?}", creds());
        assert!(shown.contains("access_token"));
        assert!(!shown.contains("tok-123") && !shown.contains("s3cr3t"));
    }

    #[test]
    fn bad_keys_and_values_are_refused() {
        assert!(CredentialCipher::from_base64("c2hvcnQ=").is_err());
        assert!(CredentialCipher::from_base64("not base64!").is_err());
        let err = Credentials::from_json("credentials", &serde_json::json!({"token": 5})).unwrap_err();
        assert_eq!(err.field, "credentials.token");
        assert!(Credentials::from_json("credentials", &serde_json::json!("x")).is_err());
    }

    #[test]
    fn key_file_is_created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.key");
        let a = CredentialCipher::load_or_create_key_file(&path).unwrap();
        let b = CredentialCipher::load_or_create_key_file(&path).unwrap();
        let ch = ChannelId::new();
        assert!(b.open(ch, &a.seal(ch, &creds())).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
