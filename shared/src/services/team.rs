//! The team's own settings: its name, time zone, language, logo and brand (accent colour, white label) (`GET/PATCH /v1/team`).
//!
//! The zone is the one reports and schedules are read in: changing it moves the next scheduled
//! reports with it (a report's id comes from its period, so a run already made in the old zone
//! is not made twice). The logo is kept in the file store beside the reports (a PNG, JPEG or
//! WebP of at most [`MAX_LOGO_BYTES`]; SVG is refused: it can carry script).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::reports::ReportFiles;
use super::{Actor, ServiceError};
use crate::domain::{AccentColor, Language, Logo, Role, Team, ValidationError};
use crate::store::{Store, StoreError};

/// The largest logo Herald keeps.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
/// The longest team name.
pub const MAX_NAME_CHARS: usize = 100;

const ADMIN_ONLY: &str = "only an admin key can change the team's settings";

/// What a `PATCH /v1/team` changes; `None` leaves a setting as it is.
#[derive(Debug, Default)]
pub struct TeamChanges {
    pub name: Option<String>,
    pub time_zone: Option<Tz>,
    pub language: Option<Language>,
    /// `Some(None)` removes the logo; `Some(Some(_))` replaces it.
    pub logo: Option<Option<LogoUpload>>,
    /// `Some(None)` goes back to Herald's colour.
    pub accent_color: Option<Option<AccentColor>>,
    pub white_label: Option<bool>,
}

/// A logo as it arrives: its bytes and media type, checked.
#[derive(Debug)]
pub struct LogoUpload {
    bytes: Vec<u8>,
    content_type: &'static str,
}

impl LogoUpload {
    /// Reads a `data:` URL (`data:image/png;base64,…`): a PNG, JPEG or WebP of at most
    /// [`MAX_LOGO_BYTES`], whose bytes are what it says it is.
    pub fn from_data_url(field: &str, url: &str) -> Result<Self, ValidationError> {
        let invalid = |rule: &str| ValidationError::new(field, rule);
        let rest = url
            .strip_prefix("data:")
            .ok_or_else(|| invalid("must be a data URL: data:image/png;base64,… (PNG, JPEG or WebP)"))?;
        let (media, data) = rest.split_once(";base64,").ok_or_else(|| invalid("must be base64: data:image/png;base64,…"))?;
        // Base64 of MAX_LOGO_BYTES is about 4/3 of it: refuse longer text before decoding it.
        if data.len() > MAX_LOGO_BYTES / 3 * 4 + 8 {
            return Err(ValidationError::new(field, format!("is over {} KiB", MAX_LOGO_BYTES / 1024)));
        }
        let bytes = BASE64.decode(data.trim()).map_err(|_| invalid("is not valid base64"))?;
        Self::from_file(field, media, bytes)
    }

    /// A file as a form uploads it: its media type (a PNG, JPEG or WebP) and its bytes, which
    /// must be what the type says, at most [`MAX_LOGO_BYTES`].
    pub fn from_file(field: &str, media_type: &str, bytes: Vec<u8>) -> Result<Self, ValidationError> {
        let content_type = match media_type.trim().to_ascii_lowercase().as_str() {
            "image/png" => "image/png",
            "image/jpeg" | "image/jpg" => "image/jpeg",
            "image/webp" => "image/webp",
            "" | "application/octet-stream" => return Err(ValidationError::new(field, "choose a PNG, JPEG or WebP image")),
            other => {
                return Err(ValidationError::new(
                    field,
                    format!("is {other}; a logo is a PNG, JPEG or WebP image (SVG is not accepted: it can carry script)"),
                ));
            }
        };
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(ValidationError::new(field, format!("is over {} KiB", MAX_LOGO_BYTES / 1024)));
        }
        let looks_right = match content_type {
            "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            _ => bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        };
        if !looks_right {
            return Err(ValidationError::new(field, format!("does not hold a {content_type} image")));
        }
        Ok(Self { bytes, content_type })
    }
}

/// The caller's team.
pub async fn get(store: &dyn Store, actor: &Actor) -> Result<Team, ServiceError> {
    actor.team(store).await
}

/// Changes the team's settings (admins), written only if nobody changed the team meanwhile.
pub async fn update(
    store: &dyn Store,
    files: &dyn ReportFiles,
    actor: &Actor,
    changes: TeamChanges,
) -> Result<Team, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    let mut team = actor.team(store).await?;
    if let Some(name) = changes.name {
        team.name = name_of(&name)?;
    }
    if let Some(zone) = changes.time_zone {
        team.time_zone = zone;
    }
    if let Some(language) = changes.language {
        team.language = language;
    }
    if let Some(accent) = changes.accent_color {
        team.brand.accent_color = accent;
    }
    if let Some(white_label) = changes.white_label {
        team.brand.white_label = white_label;
    }
    match changes.logo {
        None => {}
        Some(None) => team.logo = None,
        Some(Some(upload)) => {
            // Named by its content: a new logo is a new file, so a report made with the old one
            // (and a cache holding it) is not changed under it.
            let digest = hex::encode(&Sha256::digest(&upload.bytes)[..8]);
            let ext = upload.content_type.rsplit('/').next().unwrap_or("img");
            let key = format!("teams/{}/logo-{digest}.{ext}", team.id);
            files.put(&key, upload.bytes).await.map_err(StoreError::backend)?;
            team.logo = Some(Logo { key, content_type: upload.content_type.to_owned() });
        }
    }
    Ok(store.update_team(&team).await?)
}

/// The team's logo: its bytes and media type, or 404 when it has none.
pub async fn logo(store: &dyn Store, files: &dyn ReportFiles, actor: &Actor) -> Result<(Vec<u8>, String), ServiceError> {
    let team = actor.team(store).await?;
    let logo = team.logo.ok_or_else(|| ServiceError::not_found("your team has no logo"))?;
    let bytes = files
        .get(&logo.key)
        .await
        .map_err(StoreError::backend)?
        .ok_or_else(|| ServiceError::not_found("your team's logo file is missing; upload it again"))?;
    Ok((bytes, logo.content_type))
}

/// A team name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn name_of(name: &str) -> Result<String, ValidationError> {
    let t = name.trim();
    if t.is_empty() || t.chars().count() > MAX_NAME_CHARS || t.chars().any(char::is_control) {
        return Err(ValidationError::new("name", format!("must be 1 to {MAX_NAME_CHARS} characters, no control characters")));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_url(media: &str, bytes: &[u8]) -> String {
        format!("data:{media};base64,{}", BASE64.encode(bytes))
    }

    #[test]
    fn logos_are_png_jpeg_or_webp_of_bounded_size_and_are_what_they_say() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert!(LogoUpload::from_data_url("logo", &data_url("image/png", png)).is_ok());
        assert!(LogoUpload::from_data_url("logo", &data_url("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0])).is_ok());
        let e = LogoUpload::from_data_url("logo", &data_url("image/svg+xml", b"<svg onload=alert(1)/>")).unwrap_err();
        assert!(e.rule.contains("SVG"), "{}", e.rule);
        let e = LogoUpload::from_data_url("logo", &data_url("image/png", b"GIF89a")).unwrap_err();
        assert!(e.rule.contains("does not hold"), "{}", e.rule);
        let big = [png.as_slice(), &vec![0u8; MAX_LOGO_BYTES]].concat();
        assert!(LogoUpload::from_data_url("logo", &data_url("image/png", &big)).unwrap_err().rule.contains("KiB"));
        assert!(LogoUpload::from_data_url("logo", "https://example.org/logo.png").is_err());
        assert!(LogoUpload::from_data_url("logo", "data:image/png;base64,%%%").is_err());
    }
}
