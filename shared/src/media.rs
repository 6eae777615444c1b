//! Pictures and videos uploaded to Herald, rather than given by a URL.
//!
//! A client asks for an upload (`POST /v1/media`: its type and size) and gets a one-time
//! address to `PUT` the file to, valid an hour, and the reference a post carries instead of a
//! URL: `herald-media:<team>/<id>.<ext>`. On AWS the address is a presigned S3 `PUT` (the file
//! goes straight to the media bucket, past the API's 6 MB payload limit); with `herald serve`
//! it is Herald's own `PUT /v1/media/upload/<team>/<file>`, signed the same way
//! ([`crate::crypto::CredentialCipher::sign`]), and the file lands in `<data-dir>/media`.
//!
//! When a post is saved, each upload it names is looked at ([`MediaFiles::stat`]): it must be
//! the team's, be there, and start like the type it was announced as; its type and size are
//! kept on the post ([`crate::domain::Upload`]), so each network's rules (Bluesky: images of at
//! most 1 MB) are checked then, not at publishing time. The publisher reads the file from where
//! it is kept ([`MediaFiles::open`]); it is never fetched over the network by Herald.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use uuid::Uuid;

use crate::domain::TeamId;

/// How a post names an uploaded file instead of a URL.
pub const SCHEME: &str = "herald-media:";

/// A type Herald takes for upload: what networks take, and what it can recognise by its first
/// bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct MediaType {
    pub mime: &'static str,
    pub ext: &'static str,
    pub video: bool,
}

/// The types an upload may have.
pub const TYPES: &[MediaType] = &[
    MediaType { mime: "image/jpeg", ext: "jpg", video: false },
    MediaType { mime: "image/png", ext: "png", video: false },
    MediaType { mime: "image/gif", ext: "gif", video: false },
    MediaType { mime: "image/webp", ext: "webp", video: false },
    MediaType { mime: "video/mp4", ext: "mp4", video: true },
    MediaType { mime: "video/quicktime", ext: "mov", video: true },
    MediaType { mime: "video/webm", ext: "webm", video: true },
];

/// The largest image Herald takes (the networks' own limits are lower or equal: Instagram 8 MB,
/// Mastodon's default 16 MB, Facebook 10 MB).
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;
/// The largest video (Instagram Reels take 1 GB; an S3 `PUT` up to 5 GB).
pub const MAX_VIDEO_BYTES: u64 = 1024 * 1024 * 1024;
/// How many first bytes [`MediaFiles::stat`] reads to recognise a file.
pub const HEAD_BYTES: usize = 512;

impl MediaType {
    pub fn by_mime(mime: &str) -> Option<&'static MediaType> {
        let essence = mime.split(';').next().unwrap_or("").trim();
        TYPES.iter().find(|t| t.mime.eq_ignore_ascii_case(essence))
    }

    fn by_ext(ext: &str) -> Option<&'static MediaType> {
        TYPES.iter().find(|t| t.ext == ext)
    }

    pub fn max_bytes(&self) -> u64 {
        if self.video { MAX_VIDEO_BYTES } else { MAX_IMAGE_BYTES }
    }

    /// "image" or "video", for messages.
    pub fn kind(&self) -> &'static str {
        if self.video { "video" } else { "image" }
    }

    /// The MIME types allowed, for messages.
    pub fn allowed() -> String {
        TYPES.iter().map(|t| t.mime).collect::<Vec<_>>().join(", ")
    }
}

/// One uploaded file: its team, its own id and its type. The reference a post carries is
/// `herald-media:<team slug>/<id>.<ext>`; where it is kept is `media/<team>/<id>.<ext>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaKey {
    pub team: TeamId,
    id: Uuid,
    pub media_type: &'static MediaType,
}

impl MediaKey {
    /// A new key for a file of `media_type` of `team`.
    pub fn new(team: TeamId, media_type: &'static MediaType) -> Self {
        Self { team, id: Uuid::new_v4(), media_type }
    }

    /// The key a `herald-media:` reference names, if it is one Herald could have made.
    pub fn parse(reference: &str) -> Option<Self> {
        Self::from_path(reference.strip_prefix(SCHEME)?)
    }

    /// The key of `<team>/<id>.<ext>` (the reference without its scheme, and the upload path).
    pub fn from_path(path: &str) -> Option<Self> {
        let (team, file) = path.split_once('/')?;
        let (id, ext) = file.split_once('.')?;
        let team = TeamId::parse("team", team).ok()?;
        let id = Uuid::parse_str(id).ok().filter(|_| id.len() == 36)?;
        Some(Self { team, id, media_type: MediaType::by_ext(ext)? })
    }

    /// `<team>/<id>.<ext>`.
    pub fn path(&self) -> String {
        format!("{}/{}.{}", self.team, self.id.hyphenated(), self.media_type.ext)
    }

    /// What a post carries: `herald-media:<team>/<id>.<ext>`.
    pub fn reference(&self) -> String {
        format!("{SCHEME}{}", self.path())
    }

    /// Where the file is kept: `media/<team>/<id>.<ext>` (an S3 key, a path under the data dir).
    pub fn object_key(&self) -> String {
        format!("media/{}", self.path())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file is not what was announced (too big, too small, another type): the uploader's
    /// fault, said to them.
    #[error("{0}")]
    Refused(String),
    /// Uploads through Herald are not how this host takes files (S3 presigns instead).
    #[error("this host takes uploads at a presigned address, not here")]
    NotHere,
    /// The disk or the bucket failed.
    #[error("media files: {0}")]
    Io(String),
    /// This host keeps no uploads (a function without `HERALD_MEDIA_BUCKET`).
    #[error("uploads are not set up where Herald runs (HERALD_MEDIA_BUCKET is not set)")]
    Unavailable,
}

/// A stored file, as [`MediaFiles::stat`] finds it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub bytes: u64,
    /// Its first [`HEAD_BYTES`] (fewer if it is shorter).
    pub head: Vec<u8>,
}

/// A stored file opened for reading.
pub struct Opened {
    pub bytes: u64,
    pub body: BoxStream<'static, Result<Bytes, MediaError>>,
}

/// A body being uploaded through Herald.
pub type UploadBody = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Where uploaded files are kept: `<data-dir>/media` locally, the media bucket on AWS, memory in
/// tests.
#[async_trait]
pub trait MediaFiles: Send + Sync {
    /// A presigned `PUT` address for `key`, of exactly `bytes` bytes, valid `expires`; `None`
    /// when files are uploaded through Herald itself ([`MediaFiles::write`]).
    async fn presigned_put(
        &self,
        key: &MediaKey,
        bytes: u64,
        expires: std::time::Duration,
    ) -> Result<Option<String>, MediaError>;

    /// The origin browsers upload to when it is not Herald's own (for the composer's
    /// `connect-src`).
    async fn upload_origin(&self) -> Option<String> {
        None
    }

    /// An address anyone may `GET` the file at for `valid`, for the networks that fetch media
    /// themselves (Instagram, Threads, Facebook): a presigned `GET` on AWS. `None` when this
    /// host has no public address for its files.
    async fn public_url(&self, _key: &MediaKey, _valid: std::time::Duration) -> Result<Option<String>, MediaError> {
        Ok(None)
    }

    /// Keeps an upload through Herald: exactly `bytes` bytes, or nothing is kept.
    async fn write(&self, key: &MediaKey, bytes: u64, body: UploadBody) -> Result<(), MediaError>;

    /// The file's size and first bytes, or `None` when nothing was uploaded under `key`.
    async fn stat(&self, key: &MediaKey) -> Result<Option<Stored>, MediaError>;

    /// The file for reading, or `None` when it is not there.
    async fn open(&self, key: &MediaKey) -> Result<Option<Opened>, MediaError>;
}

/// Checks a body as it arrives against the size announced, and its first bytes against the
/// type: what both `write`s share.
struct Checked {
    key: MediaKey,
    expected: u64,
    received: u64,
    head: Vec<u8>,
}

impl Checked {
    fn new(key: &MediaKey, expected: u64) -> Self {
        Self { key: key.clone(), expected, received: 0, head: Vec::new() }
    }

    fn chunk(&mut self, chunk: &[u8]) -> Result<(), MediaError> {
        self.received = self.received.saturating_add(chunk.len() as u64);
        if self.received > self.expected {
            return Err(MediaError::Refused(format!(
                "the file is larger than the {} bytes announced when the upload was made",
                self.expected
            )));
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), MediaError> {
        if self.received != self.expected {
            return Err(MediaError::Refused(format!(
                "the file has {} bytes, not the {} announced when the upload was made",
                self.received, self.expected
            )));
        }
        check_head(&self.key, &self.head)
    }
}

/// Refuses a file whose first bytes are not the type its key says.
pub fn check_head(key: &MediaKey, head: &[u8]) -> Result<(), MediaError> {
    let wanted = key.media_type.mime;
    match sniff(head) {
        Some(s) if s.mime == wanted => Ok(()),
        Some(s) => Err(MediaError::Refused(format!("the file is {}, not the {wanted} announced", s.mime))),
        None => Err(MediaError::Refused(format!("the file is not a {wanted} file (its first bytes say otherwise)"))),
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub mime: &'static str,
    /// Width and height in pixels, for images whose header Herald can read.
    pub size: Option<(u32, u32)>,
}

/// Recognises PNG, JPEG, GIF and WebP (with their pixel size) and MP4/QuickTime and WebM.
pub fn sniff(b: &[u8]) -> Option<Sniffed> {
    let u16_le = |i: usize| b.get(i..i + 2).map(|s| u32::from(u16::from_le_bytes([s[0], s[1]])));
    let u32_be = |i: usize| b.get(i..i + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
    let u24_le = |i: usize| b.get(i..i + 3).map(|s| u32::from(s[0]) | (u32::from(s[1]) << 8) | (u32::from(s[2]) << 16));
    let both = |w: Option<u32>, h: Option<u32>| w.zip(h).filter(|&(w, h)| w > 0 && h > 0);

    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Sniffed { mime: "image/png", size: both(u32_be(16), u32_be(20)) });
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(Sniffed { mime: "image/gif", size: both(u16_le(6), u16_le(8)) });
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Sniffed { mime: "image/jpeg", size: jpeg_size(b) });
    }
    if b.get(0..4) == Some(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        let size = match b.get(12..16) {
            Some(b"VP8 ") => both(u16_le(26).map(|w| w & 0x3FFF), u16_le(28).map(|h| h & 0x3FFF)),
            Some(b"VP8L") => b.get(21..25).and_then(|s| {
                let (b0, b1, b2, b3) = (u32::from(s[0]), u32::from(s[1]), u32::from(s[2]), u32::from(s[3]));
                both(
                    Some(1 + (((b1 & 0x3F) << 8) | b0)),
                    Some(1 + (((b3 & 0x0F) << 10) | (b2 << 2) | ((b1 & 0xC0) >> 6))),
                )
            }),
            Some(b"VP8X") => both(u24_le(24).map(|w| w + 1), u24_le(27).map(|h| h + 1)),
            _ => None,
        };
        return Some(Sniffed { mime: "image/webp", size });
    }
    if b.get(4..8) == Some(b"ftyp") {
        let mime = if b.get(8..12) == Some(b"qt  ") { "video/quicktime" } else { "video/mp4" };
        return Some(Sniffed { mime, size: None });
    }
    if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(Sniffed { mime: "video/webm", size: None });
    }
    None
}

/// A JPEG's size from its first start-of-frame marker.
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    loop {
        // Markers start with 0xFF, possibly padded with more 0xFF.
        if *b.get(i)? != 0xFF {
            return None;
        }
        while *b.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *b.get(i)?;
        i += 1;
        if marker == 0x01 || (0xD0..=0xD9).contains(&marker) {
            continue; // no length
        }
        let len = usize::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let h = u32::from(u16::from_be_bytes([*b.get(i + 3)?, *b.get(i + 4)?]));
            let w = u32::from(u16::from_be_bytes([*b.get(i + 5)?, *b.get(i + 6)?]));
            return (w > 0 && h > 0).then_some((w, h));
        }
        if marker == 0xDA || len < 2 {
            return None; // image data before any frame header, or a broken length
        }
        i += len;
    }
}

/// Uploads in a directory (`<data-dir>/media`), through Herald's own upload address.
pub struct DirMediaFiles {
    root: PathBuf,
    /// Where the world reaches this Herald (`HERALD_PUBLIC_URL`), and the key that signs the
    /// links to its files there ([`public_link`]); without it files have no public address.
    public: Option<(String, crate::crypto::CredentialCipher)>,
}

impl DirMediaFiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), public: None }
    }

    /// These files, reachable by signed links under `base` (`https://herald.example.org`).
    pub fn public_at(self, base: &str, cipher: crate::crypto::CredentialCipher) -> Self {
        Self { public: Some((base.trim_end_matches('/').to_owned(), cipher)), ..self }
    }

    fn path(&self, key: &MediaKey) -> PathBuf {
        // Built from a parsed key (UUIDs and a known extension), never from client text.
        self.root.join(key.team.to_string()).join(format!("{}.{}", key.id.hyphenated(), key.media_type.ext))
    }
}

fn io(e: std::io::Error) -> MediaError {
    MediaError::Io(e.to_string())
}

/// What a public link to a file (`GET /v1/media/files/<team>/<file>?expires=&signature=`) is signed
/// over.
pub fn link_message(key: &MediaKey, expires: i64) -> String {
    format!("media-get\n{}\n{expires}", key.path())
}

#[async_trait]
impl MediaFiles for DirMediaFiles {
    async fn presigned_put(&self, _: &MediaKey, _: u64, _: std::time::Duration) -> Result<Option<String>, MediaError> {
        Ok(None)
    }

    async fn public_url(&self, key: &MediaKey, valid: std::time::Duration) -> Result<Option<String>, MediaError> {
        let Some((base, cipher)) = &self.public else { return Ok(None) };
        let valid = i64::try_from(valid.as_secs()).unwrap_or(i64::MAX);
        let expires = chrono::Utc::now().timestamp().saturating_add(valid);
        let signature = cipher.sign(&link_message(key, expires));
        Ok(Some(format!("{base}/v1/media/files/{}?expires={expires}&signature={signature}", key.path())))
    }

    async fn write(&self, key: &MediaKey, bytes: u64, mut body: UploadBody) -> Result<(), MediaError> {
        use tokio::io::AsyncWriteExt;
        let path = self.path(key);
        let dir = path.parent().ok_or_else(|| MediaError::Io("no media directory".into()))?;
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let tmp = path.with_extension(format!("{}.part", Uuid::new_v4().simple()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
            let mut checked = Checked::new(key, bytes);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| MediaError::Refused(format!("the upload broke off: {e}")))?;
                checked.chunk(&chunk)?;
                file.write_all(&chunk).await.map_err(io)?;
            }
            checked.finish()?;
            file.sync_all().await.map_err(io)?;
            tokio::fs::rename(&tmp, &path).await.map_err(io)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn stat(&self, key: &MediaKey) -> Result<Option<Stored>, MediaError> {
        use tokio::io::AsyncReadExt;
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let bytes = file.metadata().await.map_err(io)?.len();
        let mut head = Vec::with_capacity(HEAD_BYTES);
        file.take(HEAD_BYTES as u64).read_to_end(&mut head).await.map_err(io)?;
        Ok(Some(Stored { bytes, head }))
    }

    async fn open(&self, key: &MediaKey) -> Result<Option<Opened>, MediaError> {
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let bytes = file.metadata().await.map_err(io)?.len();
        let body = futures_util::stream::try_unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt;
            let mut chunk = vec![0; 64 * 1024];
            let n = file.read(&mut chunk).await.map_err(io)?;
            chunk.truncate(n);
            Ok((n > 0).then(|| (Bytes::from(chunk), file)))
        })
        .boxed();
        Ok(Some(Opened { bytes, body }))
    }
}

/// No uploads at all: a Lambda function without `HERALD_MEDIA_BUCKET`. Every use says so.
pub struct NoMediaFiles;

#[async_trait]
impl MediaFiles for NoMediaFiles {
    async fn presigned_put(&self, _: &MediaKey, _: u64, _: std::time::Duration) -> Result<Option<String>, MediaError> {
        Err(MediaError::Unavailable)
    }

    async fn write(&self, _: &MediaKey, _: u64, _: UploadBody) -> Result<(), MediaError> {
        Err(MediaError::Unavailable)
    }

    async fn stat(&self, _: &MediaKey) -> Result<Option<Stored>, MediaError> {
        Err(MediaError::Unavailable)
    }

    async fn open(&self, _: &MediaKey) -> Result<Option<Opened>, MediaError> {
        Err(MediaError::Unavailable)
    }
}

/// Uploads in memory (tests), through Herald's own upload address.
#[derive(Default)]
pub struct MemoryMediaFiles(Mutex<HashMap<String, Bytes>>);

impl MemoryMediaFiles {
    fn get(&self, key: &MediaKey) -> Option<Bytes> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key.object_key()).cloned()
    }

    /// Keeps `bytes` under `key` as an upload would (tests).
    pub fn insert(&self, key: &MediaKey, bytes: impl Into<Bytes>) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.object_key(), bytes.into());
    }
}

#[async_trait]
impl MediaFiles for MemoryMediaFiles {
    async fn presigned_put(&self, _: &MediaKey, _: u64, _: std::time::Duration) -> Result<Option<String>, MediaError> {
        Ok(None)
    }

    async fn write(&self, key: &MediaKey, bytes: u64, mut body: UploadBody) -> Result<(), MediaError> {
        let mut checked = Checked::new(key, bytes);
        let mut all = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| MediaError::Refused(format!("the upload broke off: {e}")))?;
            checked.chunk(&chunk)?;
            all.extend_from_slice(&chunk);
        }
        checked.finish()?;
        self.insert(key, all);
        Ok(())
    }

    async fn stat(&self, key: &MediaKey) -> Result<Option<Stored>, MediaError> {
        Ok(self.get(key).map(|b| Stored { bytes: b.len() as u64, head: b[..b.len().min(HEAD_BYTES)].to_vec() }))
    }

    async fn open(&self, key: &MediaKey) -> Result<Option<Opened>, MediaError> {
        Ok(self.get(key).map(|b| Opened {
            bytes: b.len() as u64,
            body: futures_util::stream::once(async move { Ok(b) }).boxed(),
        }))
    }
}

/// Uploads in the media bucket (`HERALD_MEDIA_BUCKET`): clients `PUT` to presigned addresses;
/// Herald reads the first bytes with a ranged `GET` and the whole file when publishing.
#[cfg(feature = "aws")]
pub struct S3MediaFiles {
    client: aws_sdk_s3::Client,
    bucket: String,
}

#[cfg(feature = "aws")]
impl S3MediaFiles {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    async fn get(&self, key: &MediaKey, range: Option<String>) -> Result<Option<(u64, aws_sdk_s3::primitives::ByteStream)>, MediaError> {
        use aws_sdk_s3::operation::get_object::GetObjectError;
        match self.client.get_object().bucket(&self.bucket).key(key.object_key()).set_range(range).send().await {
            Ok(out) => {
                // With a range, the whole size is after the slash of `Content-Range: bytes 0-511/12345`.
                let total = out
                    .content_range()
                    .and_then(|r| r.rsplit('/').next())
                    .and_then(|n| n.parse().ok())
                    .or_else(|| out.content_length().and_then(|n| u64::try_from(n).ok()))
                    .unwrap_or(0);
                Ok(Some((total, out.body)))
            }
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(MediaError::Io(format!("S3 GetObject {}: {}", key.object_key(), aws_sdk_s3::error::DisplayErrorContext(e)))),
        }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl MediaFiles for S3MediaFiles {
    async fn presigned_put(&self, key: &MediaKey, bytes: u64, expires: std::time::Duration) -> Result<Option<String>, MediaError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires)
            .map_err(|e| MediaError::Io(format!("presigning: {e}")))?;
        let length = i64::try_from(bytes).map_err(|_| MediaError::Refused("the file is too large".into()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.object_key())
            .content_type(key.media_type.mime)
            .content_length(length)
            .presigned(config)
            .await
            .map_err(|e| MediaError::Io(format!("presigning a PUT: {}", aws_sdk_s3::error::DisplayErrorContext(e))))?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn public_url(&self, key: &MediaKey, valid: std::time::Duration) -> Result<Option<String>, MediaError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(valid)
            .map_err(|e| MediaError::Io(format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.object_key())
            .presigned(config)
            .await
            .map_err(|e| MediaError::Io(format!("presigning a GET: {}", aws_sdk_s3::error::DisplayErrorContext(e))))?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn upload_origin(&self) -> Option<String> {
        // The bucket's origin as the SDK addresses it (virtual host or, with an endpoint
        // override, path style): read off a presigned address, so it is never guessed.
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(60)).ok()?;
        let request = self.client.get_object().bucket(&self.bucket).key("media/").presigned(config).await.ok()?;
        let url = reqwest::Url::parse(request.uri()).ok()?;
        Some(url.origin().ascii_serialization())
    }

    async fn write(&self, _: &MediaKey, _: u64, _: UploadBody) -> Result<(), MediaError> {
        Err(MediaError::NotHere)
    }

    async fn stat(&self, key: &MediaKey) -> Result<Option<Stored>, MediaError> {
        let Some((bytes, body)) = self.get(key, Some(format!("bytes=0-{}", HEAD_BYTES - 1))).await? else {
            return Ok(None);
        };
        let head = body
            .collect()
            .await
            .map_err(|e| MediaError::Io(format!("reading {}: {e}", key.object_key())))?
            .into_bytes()
            .to_vec();
        Ok(Some(Stored { bytes, head }))
    }

    async fn open(&self, key: &MediaKey) -> Result<Option<Opened>, MediaError> {
        let Some((bytes, body)) = self.get(key, None).await? else {
            return Ok(None);
        };
        let name = key.object_key();
        let body = futures_util::stream::try_unfold(body, move |mut body| {
            let name = name.clone();
            async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, body))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(MediaError::Io(format!("reading {name}: {e}"))),
                }
            }
        })
        .boxed();
        Ok(Some(Opened { bytes, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10";

    fn team(slug: &str) -> TeamId {
        TeamId::parse("team", slug).unwrap()
    }

    fn body(parts: &[&'static [u8]]) -> UploadBody {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>()).boxed()
    }

    #[test]
    fn sniffing_reads_types_and_pixel_sizes() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(sniff(&png), Some(Sniffed { mime: "image/png", size: Some((640, 480)) }));
        assert_eq!(sniff(b"GIF89a\x20\x03\x58\x02"), Some(Sniffed { mime: "image/gif", size: Some((800, 600)) }));
        // SOI, APP0 (length 4), SOF0 with height 300, width 400.
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0x01, 0x2C, 0x01, 0x90, 3];
        assert_eq!(sniff(&jpeg), Some(Sniffed { mime: "image/jpeg", size: Some((400, 300)) }));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        webp.extend_from_slice(&[0x7F, 0x02, 0x00, 0xDF, 0x01, 0x00]); // 640 x 480
        assert_eq!(sniff(&webp), Some(Sniffed { mime: "image/webp", size: Some((640, 480)) }));
        assert_eq!(sniff(b"\0\0\0\x18ftypisom").map(|s| s.mime), Some("video/mp4"));
        assert_eq!(sniff(b"<svg xmlns"), None);
        for short in [&b""[..], b"\xFF\xD8\xFF", b"\xFF\xD8\xFF\xC0", b"RIFF\0\0\0\0WEBPVP8 ", b"\x89PNG\r\n\x1a\n"] {
            let _ = sniff(short);
        }
    }

    #[test]
    fn references_round_trip_and_nothing_else_parses() {
        let png = MediaType::by_mime("image/PNG; charset=x").unwrap();
        let key = MediaKey::new(team("cafe-du-coin"), png);
        let reference = key.reference();
        assert!(reference.starts_with("herald-media:") && reference.ends_with(".png"), "{reference}");
        assert_eq!(MediaKey::parse(&reference), Some(key.clone()));
        assert_eq!(key.object_key(), format!("media/{}", key.path()));
        let team = key.team.to_string();
        for bad in [
            "https://example.org/a.png".to_owned(),
            format!("herald-media:{team}/../../etc/passwd"),
            format!("herald-media:{team}/{}.exe", Uuid::new_v4()),
            format!("herald-media:{team}/{}", Uuid::new_v4()),
            format!("herald-media:Cafe/{}.png", Uuid::new_v4()),
            format!("herald-media:{team}/{}.png", Uuid::new_v4().simple()),
            format!("herald-media:{team}/{}.png/x", Uuid::new_v4()),
        ] {
            assert_eq!(MediaKey::parse(&bad), None, "{bad}");
        }
        assert!(MediaType::by_mime("application/pdf").is_none());
        assert!(MediaType::by_mime("video/mp4").is_some_and(|t| t.video && t.max_bytes() == MAX_VIDEO_BYTES));
    }

    #[tokio::test]
    async fn a_directory_keeps_what_matches_its_announcement_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let files = DirMediaFiles::new(dir.path());
        let key = MediaKey::new(team("cafe"), MediaType::by_mime("image/png").unwrap());
        let len = PNG.len() as u64 + 4;

        let short = files.write(&key, len + 1, body(&[PNG, b"abcd"])).await.unwrap_err();
        assert!(short.to_string().contains(&format!("has {len} bytes, not the {} announced", len + 1)), "{short}");
        let long = files.write(&key, len - 1, body(&[PNG, b"abcd"])).await.unwrap_err();
        assert!(long.to_string().contains("larger than"), "{long}");
        let gif = files.write(&key, 10, body(&[b"GIF89a\x10\0\x10\0"])).await.unwrap_err();
        assert!(gif.to_string().contains("is image/gif, not the image/png"), "{gif}");
        assert!(files.stat(&key).await.unwrap().is_none(), "a refused upload leaves nothing");
        assert_eq!(std::fs::read_dir(dir.path().join(key.team.to_string())).unwrap().count(), 0, "no part file left");

        files.write(&key, len, body(&[&PNG[..5], &PNG[5..], b"abcd"])).await.unwrap();
        let stored = files.stat(&key).await.unwrap().unwrap();
        assert_eq!((stored.bytes, &stored.head[..8]), (len, &PNG[..8]));
        let opened = files.open(&key).await.unwrap().unwrap();
        let read: Vec<Bytes> = opened.body.try_collect().await.unwrap();
        assert_eq!(read.concat(), [PNG, b"abcd"].concat());
        let other = MediaKey::new(key.team.clone(), key.media_type);
        assert!(files.open(&other).await.unwrap().is_none());
    }
}
