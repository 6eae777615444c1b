//! A page's form post: who sent it and what it says, with its CSRF proof checked.
//!
//! A person's browser sends the session cookie with any form post, even one made by another
//! site's page. So every form of the web app carries the session's CSRF token in a hidden
//! `csrf` field ([`csrf_field`]), and [`PageForm`] compares it with the session's before the
//! handler runs (an API key in `Authorization` needs no such proof). The body is read once, as
//! `application/x-www-form-urlencoded`, into the handler's type `T`; a body that does not read
//! is a 400 page naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use maud::{Markup, html};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::WebError;
use crate::http::{AppState, Caller, Csrf, authenticate};

/// The largest form a page posts (a post's text with its variants is far smaller).
const FORM_LIMIT: usize = 256 * 1024;

/// A form post to a page: its caller (CSRF checked) and its fields.
#[derive(Debug)]
pub struct PageForm<T> {
    pub caller: Caller,
    pub form: T,
}

/// A form with no field but its CSRF token (a button: close, revoke, sign out everywhere…).
#[derive(Debug, Default, Deserialize)]
pub struct EmptyForm {}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for PageForm<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| WebError::BadParameter { name: "form", message: "the form is too large or was cut off".into() })?;
        let csrf: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField { csrf: String::new() });
        let caller = authenticate(&parts.headers, state, Csrf::Sent(&csrf.csrf)).await?;
        let form = read_form(&bytes)?;
        Ok(PageForm { caller, form })
    }
}

/// The form's fields as `T`, or a 400 naming the field that does not read.
fn read_form<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, WebError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        WebError::BadParameter { name: "form", message: if path == "." { message } else { format!("{path}: {message}") } }
    })
}

/// The hidden field every form of a signed-in page carries (nothing for an API-key caller).
pub fn csrf_field(caller: &Caller) -> Markup {
    html! {
        @if let Some(session) = &caller.session {
            input type="hidden" name="csrf" value=(session.csrf_token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Reply {
        text: String,
        #[serde(default)]
        close: bool,
    }

    #[test]
    fn a_form_reads_into_its_type_and_a_bad_field_is_named() {
        let ok: Reply = read_form(&Bytes::from_static(b"csrf=x&text=Merci+%21&close=true")).unwrap();
        assert_eq!(ok.text, "Merci !");
        assert!(ok.close);
        let Err(WebError::BadParameter { message, .. }) = read_form::<Reply>(&Bytes::from_static(b"text=a&close=maybe")) else {
            panic!("a boolean that is not one must be refused");
        };
        assert!(message.contains("close"), "{message}");
        let Err(WebError::BadParameter { message, .. }) = read_form::<Reply>(&Bytes::from_static(b"close=true")) else {
            panic!("a missing field must be refused");
        };
        assert!(message.contains("text"), "{message}");
    }
}
