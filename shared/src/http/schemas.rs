//! How request fields that derive cannot describe are shown in the OpenAPI document
//! (`#[schema(schema_with = …)]`): each function states exactly what the parser behind the
//! field accepts, so a client (or a fuzzer) reading the document sends only what is accepted.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};

/// No control characters (Rust's `char::is_control`: U+0000–U+001F and U+007F–U+009F), and at
/// least one character that is not a space: what `trim()`-then-non-empty checks accept. The
/// request bodies repeat it literally (`#[schema(pattern = …)]` takes a literal).
pub const LABEL_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// A year from 1970 to 9999 at the start of a date or a date-time.
pub const YEAR_PATTERN: &str = "^(19[7-9][0-9]|[2-9][0-9]{3})-";

/// The watch list: at most 200 terms, each a label of 1 to 100 characters.
pub fn watch_terms() -> Schema {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(100)).pattern(Some(LABEL_PATTERN)))
        .max_items(Some(200))
        .into()
}

/// An IANA time zone name: the list Herald knows (chrono-tz's).
pub fn time_zone() -> Schema {
    crate::domain::time_zone_schema(false)
}

/// An optional IANA time zone name.
pub fn optional_time_zone() -> Schema {
    crate::domain::time_zone_schema(true)
}

/// `mon` … `sun`.
pub fn weekday() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))
        .into()
}

/// `HH:MM`, 00:00 to 23:59 (seconds may follow: `HH:MM:SS`; spaces around are ignored).
pub fn slot_time() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^\s*([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?\s*$"))
        .examples(["09:00"])
        .into()
}

/// Weekly posting slots: at most 200, each once.
pub fn queue_slots() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("SlotBody"))
        .max_items(Some(200))
        .unique_items(true)
        .into()
}

/// Weekly posting slots, or `null`/absent to leave them.
pub fn optional_queue_slots() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Array, Type::Null]))
        .items(utoipa::openapi::Ref::from_schema_name("SlotBody"))
        .max_items(Some(200))
        .unique_items(true)
        .into()
}

/// A day, `2027-01-04`, years 1970 to 9999.
pub fn date() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(YEAR_PATTERN))
        .into()
}


/// A report's recipients: up to 20 e-mail addresses, or `null` for none.
pub fn recipients() -> Schema {
    let address = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .min_length(Some(3))
        .max_length(Some(254));
    ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Array, Type::Null]))
        .items(address)
        .max_items(Some(crate::domain::MAX_REPORT_RECIPIENTS))
        .into()
}

/// Optional credentials; `null` removes them.
pub fn optional_credentials() -> Schema {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Object, Type::Null]))
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(8192))))
        .max_properties(Some(50))
        .description(Some("Field name → secret; `null` removes them, absent leaves them"))
        .into()
}

/// Channel ids (UUIDs), one to 99, each once.
pub fn channel_ids() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))))
        .min_items(Some(1))
        .max_items(Some(99))
        .unique_items(true)
        .into()
}

/// `POST /v1/media`'s body: a picture type and a size up to [`crate::media::MAX_IMAGE_BYTES`],
/// or a video type and a size up to [`crate::media::MAX_VIDEO_BYTES`].
pub fn upload_request() -> Schema {
    let shape = |video: bool| {
        let types: Vec<&str> = crate::media::TYPES.iter().filter(|t| t.video == video).map(|t| t.mime).collect();
        let max = if video { crate::media::MAX_VIDEO_BYTES } else { crate::media::MAX_IMAGE_BYTES };
        ObjectBuilder::new()
            .property("content_type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(types)))
            .required("content_type")
            .property(
                "bytes",
                ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1.0)).maximum(Some(max as f64)),
            )
            .required("bytes")
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
            .description(Some(if video { "a video, up to 1 GiB" } else { "a picture, up to 20 MiB" }))
    };
    utoipa::openapi::schema::OneOfBuilder::new().item(shape(false)).item(shape(true)).into()
}
