//! JSON Schemas of the payload contract, derived from its Rust types with `schemars`.
//!
//! One schema a payload kind ([`KINDS`]): the four kinds of [`crate::contract`] and the
//! [`crate::auth::Sealed`] envelope that carries them. They are committed as
//! `schemas/<kind>.schema.json` (`make schemas` writes them); a test regenerates them and fails
//! when a committed file differs, and validates every example of `fixtures/contract/` with them.
//!
//! A schema is never looser than the reader: unknown fields are refused
//! (`additionalProperties: false`, as `deny_unknown_fields`), tags are the serde tags, a field
//! with a default (or an `Option`) may be left out, ids have the form the reader checks,
//! `schema_version` is one this build reads. The readers also check what no schema says (a
//! release names a finding or a principal; a `nobody_over_threshold` finding has no principals;
//! EC2 instance sets: see [`crate::contract`]), and they are the last word. Where a reader is
//! more lenient than what launchguard writes (a set with a value twice is read as the set), the
//! schema asks for what launchguard writes (`uniqueItems`).
//!
//! Pure: the text is built in memory, the caller writes it.

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::auth::Sealed;
use crate::contract::{Finding, ReleaseRequest, ResponseOutcome, ResponseRequest, SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSIONS};

/// Every payload kind with a schema, as its `kind` field says it.
pub const KINDS: &[&str] = &["finding", "release", "response_request", "response_outcome", "sealed"];

/// The schema of a payload kind (`finding`, `release`, `response_request`, `response_outcome`,
/// `sealed`), or `None` for another kind.
pub fn schema(kind: &str) -> Option<Value> {
    let root = match kind {
        "finding" => root::<Finding>(),
        "release" => root::<ReleaseRequest>(),
        "response_request" => root::<ResponseRequest>(),
        "response_outcome" => root::<ResponseOutcome>(),
        "sealed" => root::<Sealed>(),
        _ => return None,
    };
    Some(finish(kind, root))
}

/// The file a kind's schema is committed as, under `schemas/`: `<kind>.schema.json`.
pub fn file_name(kind: &str) -> String {
    format!("{kind}.schema.json")
}

/// The committed text of a kind's schema: pretty-printed, keys sorted, a trailing newline.
pub fn text(kind: &str) -> Option<String> {
    let mut out = serde_json::to_string_pretty(&schema(kind)?).ok()?;
    out.push('\n');
    Some(out)
}

fn root<T: JsonSchema>() -> Value {
    SchemaGenerator::default().into_root_schema_for::<T>().to_value()
}

/// What the derive cannot say: a comment on where the file comes from, and the versions this
/// build reads (an envelope: the one it writes, as [`Sealed::parse`] checks). Keys are sorted at every depth, so the text is the same whatever order the JSON
/// map keeps.
fn finish(kind: &str, mut root: Value) -> Value {
    if let Some(obj) = root.as_object_mut() {
        obj.insert(
            "$comment".into(),
            Value::String(format!(
                "The `{kind}` payload of launchguard's contract, generated from the Rust types in crates/core (`make schemas`): do not edit."
            )),
        );
        if let Some(Value::Object(version)) = obj.get_mut("properties").and_then(|p| p.get_mut("schema_version")) {
            version.retain(|k, _| k == "description");
            version.insert("type".into(), "integer".into());
            let versions = if kind == "sealed" { &[SCHEMA_VERSION][..] } else { SUPPORTED_SCHEMA_VERSIONS };
            version.insert("enum".into(), versions.iter().map(|&v| Value::from(v)).collect());
        }
    }
    sorted(root)
}

/// `v` with the keys of every object sorted, at every depth: a committed schema's text is the
/// same whatever order the JSON map keeps.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect::<Map<String, Value>>())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
