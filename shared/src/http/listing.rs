//! The query string of a listing (`?limit=&cursor=` and the listing's own filters): unknown
//! parameters, bad page sizes and bad instants are 422 errors naming the parameter.

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use chrono::{DateTime, Utc};

use crate::domain::{ValidationError, parse_instant};
use crate::store::PageRequest;

/// The parameters, refusing any not in `allowed`.
pub(super) fn params(
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
pub(super) fn page(params: &HashMap<String, String>) -> Result<PageRequest, ValidationError> {
    let limit = match params.get("limit") {
        Some(s) => s.parse::<u32>().ok().filter(|n| (1..=PageRequest::MAX_PAGE).contains(n)).ok_or_else(|| {
            ValidationError::new("limit", format!("must be a whole number from 1 to {}", PageRequest::MAX_PAGE))
        })?,
        None => PageRequest::DEFAULT_PAGE,
    };
    Ok(PageRequest { limit, cursor: params.get("cursor").cloned() })
}

/// An RFC 3339 query parameter (years 1970–9999). A `+` in an offset arrives as a space when
/// the client did not percent-encode it; that is read as the `+` it was.
pub(crate) fn instant(field: &str, s: &str) -> Result<DateTime<Utc>, ValidationError> {
    parse_instant(field, s).or_else(|e| match s.contains(' ') {
        true => parse_instant(field, &s.replace(' ', "+")).map_err(|_| e),
        false => Err(e),
    })
}
