//! The query string of a listing (`?limit=&cursor=` and the listing's own filters). Each
//! operation reads its parameters into one struct that both takes the values and documents them
//! (`Deserialize + IntoParams`, every field an `Option<String>` checked by the helpers below):
//! the names it documents are the names it takes, and an unknown parameter, a bad page size or
//! a bad instant is a 422 naming the parameter.

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa::openapi::path::ParameterIn;

use crate::domain::{ValidationError, parse_instant};
use crate::store::PageRequest;

/// The query string as `T`: the parameters `T` documents, no other.
pub(super) fn read<T: DeserializeOwned + IntoParams>(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<T, ValidationError> {
    let names: Vec<String> = T::into_params(|| Some(ParameterIn::Query)).into_iter().map(|p| p.name).collect();
    let allowed: Vec<&str> = names.iter().map(String::as_str).collect();
    let map = params(query, &allowed)?;
    let object = map.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|e| ValidationError::new("query", format!("could not be read: {e}")))
}

/// `?limit=&cursor=`: one page of a listing.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size: 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next` of the previous page, as the API returned it.
    pub cursor: Option<String>,
}

impl PageParams {
    pub(super) fn page(&self) -> Result<PageRequest, ValidationError> {
        page_of(self.limit.as_deref(), self.cursor.clone())
    }
}

/// The parameters, refusing any not in `allowed`.
fn params(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, ValidationError> {
    let Query(params) = query
        .map_err(|_| ValidationError::new("query", format!("could not be read; use {}", allowed.join(", "))))?;
    if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ValidationError::new(
            unknown.as_str(),
            format!("is not a parameter of this listing ({})", allowed.join(", ")),
        ));
    }
    Ok(params)
}

/// `limit` (default [`PageRequest::DEFAULT_PAGE`], 1 to [`PageRequest::MAX_PAGE`]) and `cursor`.
pub(super) fn page_of(limit: Option<&str>, cursor: Option<String>) -> Result<PageRequest, ValidationError> {
    let limit = match limit {
        Some(s) => s.parse::<u32>().ok().filter(|n| (1..=PageRequest::MAX_PAGE).contains(n)).ok_or_else(|| {
            ValidationError::new("limit", format!("must be a whole number from 1 to {}", PageRequest::MAX_PAGE))
        })?,
        None => PageRequest::DEFAULT_PAGE,
    };
    // An empty cursor is no cursor: the first page.
    Ok(PageRequest { limit, cursor: cursor.filter(|c| !c.is_empty()) })
}

/// An RFC 3339 query parameter (years 1970–9999). A `+` in an offset arrives as a space when
/// the client did not percent-encode it; that is read as the `+` it was.
pub(crate) fn instant(field: &str, s: &str) -> Result<DateTime<Utc>, ValidationError> {
    parse_instant(field, s).or_else(|e| match s.contains(' ') {
        true => parse_instant(field, &s.replace(' ', "+")).map_err(|_| e),
        false => Err(e),
    })
}
