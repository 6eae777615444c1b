//! Uploading pictures and videos for posts: the address a file goes to, taking it in when that
//! address is Herald's own, and checking the uploads a post names when it is saved. What a
//! reference is and where files are kept: [`crate::media`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Actor, ServiceError};
use crate::crypto::CredentialCipher;
use crate::domain::{MediaRef, Role, Upload, ValidationError};
use crate::media::{MediaError, MediaFiles, MediaKey, MediaType, UploadBody, check_head};

/// How long an upload address works.
pub const UPLOAD_VALID: Duration = Duration::from_secs(3600);

/// Where to send a file, and what a post then names it by.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UploadTicket {
    /// What a post's `media[].url` carries once the file is uploaded.
    pub reference: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// Where to send the file's bytes, as the body, with the headers below; no API key.
    pub url: String,
    /// The headers the upload must carry (`Content-Type`).
    pub headers: std::collections::BTreeMap<&'static str, &'static str>,
    pub expires_at: DateTime<Utc>,
    /// The size announced: the upload must have exactly this many bytes.
    pub bytes: u64,
}

/// The message a local upload address is signed over.
fn upload_message(key: &MediaKey, bytes: u64, expires: i64) -> String {
    format!("media-upload\n{}\n{bytes}\n{expires}", key.path())
}

/// An address to upload a file of `content_type` and `bytes` to. Contributors and up.
/// `local_base` is this server's origin as the caller reached it (`http://127.0.0.1:8080`): a
/// host that takes uploads itself hands out a signed address under it.
pub async fn start_upload(
    media: &dyn MediaFiles,
    cipher: &CredentialCipher,
    actor: &Actor,
    now: DateTime<Utc>,
    content_type: &str,
    bytes: u64,
    local_base: &str,
) -> Result<UploadTicket, ServiceError> {
    actor.require(Role::Contributor, "a viewer cannot upload media")?;
    let media_type = MediaType::by_mime(content_type).ok_or_else(|| {
        ValidationError::new("content_type", format!("must be one of {}", MediaType::allowed()))
    })?;
    if bytes == 0 || bytes > media_type.max_bytes() {
        return Err(ValidationError::new(
            "bytes",
            format!("an {} must have between 1 and {} bytes", media_type.kind(), media_type.max_bytes()),
        )
        .into());
    }
    let key = MediaKey::new(actor.team_id.clone(), media_type);
    let expires_at = now + chrono::Duration::seconds(UPLOAD_VALID.as_secs() as i64);
    let url = match media.presigned_put(&key, bytes, UPLOAD_VALID).await.map_err(unavailable)? {
        Some(url) => url,
        None => {
            let expires = expires_at.timestamp();
            let signature = cipher.sign(&upload_message(&key, bytes, expires));
            format!(
                "{}/v1/media/upload/{}?bytes={bytes}&expires={expires}&signature={signature}",
                local_base.trim_end_matches('/'),
                key.path()
            )
        }
    };
    tracing::info!(team_id = %actor.team_id, media = %key.path(), bytes, "upload address made");
    Ok(UploadTicket {
        reference: key.reference(),
        method: "PUT",
        url,
        headers: [("Content-Type", media_type.mime)].into(),
        expires_at,
        bytes,
    })
}

/// What a local upload address carries besides its path.
#[derive(Debug)]
pub struct UploadSignature {
    pub bytes: u64,
    pub expires: i64,
    pub signature: String,
}

/// Takes in a file sent to a local upload address (`PUT /v1/media/upload/<team>/<file>`): the
/// address must be one Herald made and not be past its hour; the body must have the bytes
/// announced and start like its type. Nothing is kept otherwise.
pub async fn receive_upload(
    media: &dyn MediaFiles,
    cipher: &CredentialCipher,
    now: DateTime<Utc>,
    path: &str,
    signed: &UploadSignature,
    body: UploadBody,
) -> Result<String, ServiceError> {
    const WRONG: &str = "this upload address is not one Herald made, or it has expired: ask for a new one with POST /v1/media";
    let key = MediaKey::from_path(path).ok_or(ServiceError::Forbidden(WRONG))?;
    if !cipher.verify(&upload_message(&key, signed.bytes, signed.expires), &signed.signature) || now.timestamp() > signed.expires {
        return Err(ServiceError::Forbidden(WRONG));
    }
    media.write(&key, signed.bytes, body).await.map_err(|e| match e {
        MediaError::Refused(why) => ValidationError::new("body", why).into(),
        other => unavailable(other),
    })?;
    tracing::info!(team_id = %key.team, media = %key.path(), bytes = signed.bytes, "media uploaded");
    Ok(key.reference())
}

/// A file behind a public link (`GET /v1/media/files/<team>/<file>?expires=&signature=`, what
/// `DirMediaFiles::public_url` hands out): the link must be one Herald made and not be past
/// its time.
pub async fn open_linked(
    media: &dyn MediaFiles,
    cipher: &CredentialCipher,
    now: DateTime<Utc>,
    path: &str,
    expires: i64,
    signature: &str,
) -> Result<(MediaKey, crate::media::Opened), ServiceError> {
    let gone = || ServiceError::not_found("no such file, or its link has expired");
    let key = MediaKey::from_path(path).ok_or_else(gone)?;
    if !cipher.verify(&crate::media::link_message(&key, expires), signature) || now.timestamp() > expires {
        return Err(gone());
    }
    let opened = media.open(&key).await.map_err(unavailable)?.ok_or_else(gone)?;
    Ok((key, opened))
}

/// Looks at each upload `media` names, in order: it must be the actor's team's, be uploaded,
/// and start like its type; its type and size are then kept on the reference, where each
/// network's rules read them ([`super::posts::check_texts`]). URLs pass as they are.
pub async fn check_uploads(media: &dyn MediaFiles, actor: &Actor, refs: &mut [MediaRef]) -> Result<(), ServiceError> {
    for (i, item) in refs.iter_mut().enumerate() {
        let Some(key) = item.uploaded() else { continue };
        let field = format!("media[{i}].url");
        if key.team != actor.team_id {
            return Err(ValidationError::new(field, "is not one of this team's uploads").into());
        }
        let stored = media.stat(&key).await.map_err(unavailable)?.ok_or_else(|| {
            ValidationError::new(&field, "names an upload whose file has not arrived: PUT the file to the address POST /v1/media gave, then save the post")
        })?;
        check_head(&key, &stored.head).map_err(|e| ValidationError::new(&field, e.to_string()))?;
        item.upload = Some(Upload { content_type: key.media_type.mime.to_owned(), bytes: stored.bytes });
    }
    Ok(())
}

fn unavailable(e: MediaError) -> ServiceError {
    match e {
        MediaError::Refused(why) => ValidationError::new("media", why).into(),
        other => {
            tracing::error!(error = %other, "media files");
            ServiceError::Unavailable { reason: other.to_string(), retry_after: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKeyId, TeamId};
    use crate::media::MemoryMediaFiles;
    use futures_util::StreamExt;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10";

    fn actor(role: Role) -> Actor {
        let team = format!("team-{}", uuid::Uuid::new_v4().simple());
        Actor { team_id: TeamId::parse("team", &team).unwrap(), role, key_id: ApiKeyId::new() }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-06T10:00:00Z".parse().unwrap()
    }

    fn body(bytes: &'static [u8]) -> UploadBody {
        futures_util::stream::once(async move { Ok(bytes::Bytes::from_static(bytes)) }).boxed()
    }

    fn signature(url: &str) -> (String, UploadSignature) {
        let (path, query) = url.split_once("/v1/media/upload/").unwrap().1.split_once('?').unwrap();
        let field = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).unwrap().to_owned();
        let signed = UploadSignature {
            bytes: field("bytes").parse().unwrap(),
            expires: field("expires").parse().unwrap(),
            signature: field("signature"),
        };
        (path.to_owned(), signed)
    }

    #[tokio::test]
    async fn an_upload_goes_to_a_signed_address_and_a_post_may_then_name_it() {
        let (files, cipher) = (MemoryMediaFiles::default(), CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap());
        let editor = actor(Role::Contributor);
        let ticket = start_upload(&files, &cipher, &editor, now(), "image/png", PNG.len() as u64, "http://127.0.0.1:8080/")
            .await
            .unwrap();
        assert!(ticket.url.starts_with("http://127.0.0.1:8080/v1/media/upload/"), "{}", ticket.url);
        assert_eq!(ticket.headers.get("Content-Type"), Some(&"image/png"));
        let mut refs = vec![MediaRef::parse("media[0].url", &ticket.reference, None).unwrap()];

        let early = check_uploads(&files, &editor, &mut refs).await.unwrap_err();
        assert!(early.to_string().contains("has not arrived"), "{early}");

        let (path, signed) = signature(&ticket.url);
        let tampered = UploadSignature { bytes: signed.bytes + 1, ..signature(&ticket.url).1 };
        assert!(matches!(receive_upload(&files, &cipher, now(), &path, &tampered, body(PNG)).await, Err(ServiceError::Forbidden(_))));
        let late = now() + chrono::Duration::hours(2);
        assert!(matches!(receive_upload(&files, &cipher, late, &path, &signed, body(PNG)).await, Err(ServiceError::Forbidden(_))));
        let gif = receive_upload(&files, &cipher, now(), &path, &signed, body(b"GIF89a\x10\0\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")).await;
        assert!(matches!(&gif, Err(ServiceError::Invalid(v)) if v.field == "body"), "{gif:?}");

        assert_eq!(receive_upload(&files, &cipher, now(), &path, &signed, body(PNG)).await.unwrap(), ticket.reference);
        check_uploads(&files, &editor, &mut refs).await.unwrap();
        assert_eq!(refs[0].upload, Some(Upload { content_type: "image/png".into(), bytes: PNG.len() as u64 }));

        let stranger = actor(Role::Admin);
        let err = check_uploads(&files, &stranger, &mut refs).await.unwrap_err();
        assert!(matches!(&err, ServiceError::Invalid(v) if v.field == "media[0].url" && v.rule.contains("this team's")), "{err:?}");
    }

    #[tokio::test]
    async fn a_public_link_opens_its_file_until_it_expires_and_only_as_signed() {
        use futures_util::TryStreamExt;
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = crate::media::DirMediaFiles::new(dir.path());
        let key = MediaKey::new(actor(Role::Admin).team_id, MediaType::by_mime("image/png").unwrap());
        files.write(&key, PNG.len() as u64, body(PNG)).await.unwrap();
        assert_eq!(files.public_url(&key, UPLOAD_VALID).await.unwrap(), None, "no public address without HERALD_PUBLIC_URL");

        let files = files.public_at("https://herald.example.org/", cipher.clone());
        let url = files.public_url(&key, UPLOAD_VALID).await.unwrap().expect("a link");
        let rest = url.strip_prefix("https://herald.example.org/v1/media/files/").expect("under the public address");
        let (path, query) = rest.split_once('?').unwrap();
        let field = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).unwrap().to_owned();
        let (expires, signature): (i64, String) = (field("expires").parse().unwrap(), field("signature"));
        let now = Utc::now();

        let (found, opened) = open_linked(&files, &cipher, now, path, expires, &signature).await.unwrap();
        assert_eq!(found, key);
        let read: Vec<bytes::Bytes> = opened.body.try_collect().await.unwrap();
        assert_eq!(read.concat(), PNG);
        let later = now + chrono::Duration::hours(2);
        for (at, expires, signature) in [(later, expires, signature.as_str()), (now, expires + 1, signature.as_str()), (now, expires, "00")] {
            let refused = open_linked(&files, &cipher, at, path, expires, signature).await;
            assert!(matches!(refused, Err(ServiceError::NotFound { .. })), "{at} {expires} {signature}");
        }
    }

    #[tokio::test]
    async fn what_cannot_be_uploaded_is_refused_naming_the_field() {
        let (files, cipher) = (MemoryMediaFiles::default(), CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap());
        let start = |role, ty: &'static str, n| {
            let (files, cipher) = (&files, &cipher);
            async move { start_upload(files, cipher, &actor(role), now(), ty, n, "http://h").await }
        };
        assert!(matches!(start(Role::Viewer, "image/png", 10).await, Err(ServiceError::Forbidden(_))));
        let pdf = start(Role::Editor, "application/pdf", 10).await.unwrap_err();
        assert!(matches!(&pdf, ServiceError::Invalid(v) if v.field == "content_type" && v.rule.contains("image/jpeg")), "{pdf:?}");
        for n in [0, crate::media::MAX_IMAGE_BYTES + 1] {
            let e = start(Role::Editor, "image/png", n).await.unwrap_err();
            assert!(matches!(&e, ServiceError::Invalid(v) if v.field == "bytes"), "{e:?}");
        }
        assert!(start(Role::Editor, "video/mp4", crate::media::MAX_IMAGE_BYTES + 1).await.is_ok());
    }
}
