//! `POST /v1/posts/import`: posts from a CSV file (see [`crate::services::import`]).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;

use super::views::{self, RowProblem};
use super::{ApiError, AppState, Caller, MAX_BODY_BYTES};
use crate::domain::ValidationError;
use crate::services::import::{CSV_FIELD, ImportOutcome, import_csv};

/// `POST /v1/posts/import[?partial=true]` with the CSV file as the body (`Content-Type:
/// text/csv`, not insisted on). 201 `{"imported","posts":[{"id","line",…}],"duplicates":
/// {"count","rows":[{"line","post_id"}]},"rejected"}`, or 200 with the same body when no post
/// was new (every row imported before); when a bad row stops the import, 422 with the usual
/// error and `"rows":[{"line","field","message"}]`.
#[utoipa::path(
    post,
    path = "/v1/posts/import",
    tag = "posts",
    operation_id = "import_posts",
    summary = "Bulk-import posts from a CSV file",
    params(("partial" = Option<bool>, Query, description = "import the good rows and list the bad ones in `rejected`")),
    request_body(
        content = String,
        content_type = "text/csv",
        description = "header `text,channels,local_time[,time_zone]` in any order, columns separated by commas, \
                       semicolons or tabs (whichever the header uses); `channels`: ids or names separated by `;` or `|`; \
                       no `time_zone`: each channel's own; at most 1000 rows"
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "no post was new: every good row was imported before (listed in `duplicates`)", body = views::Imported),
        (status = 201, description = "the posts made, each with its line in the file; rows imported before are in `duplicates`", body = views::Imported),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 413, response = super::error::TooLarge),
        (status = 422, description = "bad rows; nothing imported; `rows` lists them", body = super::error::ApiErrorBody),
    ),
)]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<views::Imported>), ApiError> {
    let Query(params) = query.map_err(|_| ValidationError::new("query", "could not be read; use partial=true"))?;
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "partial") {
        return Err(ValidationError::new(unknown.as_str(), "is not a parameter of the import (partial)").into());
    }
    let partial = match params.get("partial").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => return Err(ValidationError::new("partial", format!("is `{other}`; use true or false")).into()),
    };
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("the CSV file is over {MAX_BODY_BYTES} bytes; split it"))
        } else {
            ApiError::Invalid(ValidationError::new(CSV_FIELD, "could not be read"))
        }
    })?;
    let outcome = import_csv(&*state.store, &*state.clock, &*state.events, &caller.actor(), &body, partial).await?;
    match outcome {
        ImportOutcome::Imported { posts, duplicates, rejected } => {
            let zones = super::posts::zones(&state, &caller).await?;
            Ok((
            if posts.is_empty() { StatusCode::OK } else { StatusCode::CREATED },
            Json(views::Imported {
                imported: posts.len(),
                posts: posts
                    .iter()
                    .map(|p| views::ImportedPost { post: views::Post::new(&p.view, &zones), line: p.line })
                    .collect(),
                duplicates: views::Duplicates::from(duplicates.as_slice()),
                rejected: rejected.iter().map(RowProblem::from).collect(),
            }),
        ))
        }
        ImportOutcome::Refused { message, rows } => Err(ApiError::InvalidRows {
            message,
            field: CSV_FIELD.to_owned(),
            rows: rows.iter().map(RowProblem::from).collect(),
        }),
    }
}
