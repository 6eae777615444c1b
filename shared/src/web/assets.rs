//! The web app's static files, embedded in the binary and served under content-hashed names
//! (`/assets/app.3f9c0a1b2c.css`), so a browser may keep them for a year: a change to a file
//! changes its name, and the pages link the new name.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its served name, with the hash: `app.3f9c0a1b2c.css`.
    pub name: String,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
        let hash = hex::encode(Sha256::digest(body));
        Asset { name: format!("{stem}.{}.{ext}", &hash[..10]), content_type, body }
    }

    /// Where a page links it: `/assets/<name>`.
    pub fn path(&self) -> String {
        format!("/assets/{}", self.name)
    }
}

/// The stylesheet.
pub static CSS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("app", "css", "text/css; charset=utf-8", include_bytes!("assets/app.css")));
/// The script (progressive enhancement only).
pub static JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("app", "js", "text/javascript; charset=utf-8", include_bytes!("assets/app.js")));

/// The calendar's script (drag to reschedule).
pub static CALENDAR_JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("calendar", "js", "text/javascript; charset=utf-8", include_bytes!("assets/calendar.js")));
/// The composer's script (live counters and checks, asked of the server).
pub static COMPOSE_JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("compose", "js", "text/javascript; charset=utf-8", include_bytes!("assets/compose.js")));
/// The inbox's script (keyboard shortcuts).
pub static INBOX_JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("inbox", "js", "text/javascript; charset=utf-8", include_bytes!("assets/inbox.js")));

/// Every asset.
pub fn all() -> [&'static Asset; 5] {
    [&CSS, &JS, &CALENDAR_JS, &COMPOSE_JS, &INBOX_JS]
}

/// `GET /assets/{file}`: the file with `Cache-Control: public, max-age=31536000, immutable`,
/// or 404 for any other name (an old hash included).
pub async fn serve(Path(file): Path<String>) -> Response {
    match all().into_iter().find(|a| a.name == file) {
        Some(a) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, a.content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")],
            a.body,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            "no such asset",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_hash_of_their_content() {
        let hash = hex::encode(Sha256::digest(include_bytes!("assets/app.css")));
        assert_eq!(CSS.name, format!("app.{}.css", &hash[..10]));
        assert!(JS.name.starts_with("app.") && JS.name.ends_with(".js"));
        assert_ne!(CSS.name, JS.name);
    }
}
