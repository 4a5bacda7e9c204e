//! The contract's JSON Schemas (`schemas/`): committed exactly as the types generate them, valid
//! JSON Schemas, and true to the readers: every example payload of `fixtures/contract/`
//! validates and parses, and a payload changed in a way the readers refuse (an unknown field, a
//! wrong tag, a missing field, a malformed id) is refused by the schema too, while what the
//! readers let a sender leave out the schema lets it leave out.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::PathBuf;

use launchguard_core::auth::{Purpose, Sealed};
use launchguard_core::contract::{Finding, ReleaseRequest, ResponseOutcome, ResponseRequest};
use launchguard_core::schema;
use launchguard_testkit::{fixture, fixture_dir};
use serde_json::{Value, json};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// The committed schema of `kind`, as a validator that also checks formats (`date-time`).
fn validator(kind: &str) -> jsonschema::Validator {
    let path = schemas_dir().join(schema::file_name(kind));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}: run `make schemas`", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema's errors for `v`, one a line with where they are; empty when it validates.
fn schema_errors(kind: &str, v: &Value) -> String {
    validator(kind).iter_errors(v).map(|e| format!("  at {}: {e}\n", e.instance_path())).collect()
}

/// What launchguard's own reader of `kind` says of `v`.
fn reader(kind: &str, v: &Value) -> Result<(), String> {
    let e = |e: launchguard_core::CoreError| e.to_string();
    match kind {
        "finding" => Finding::parse(v.clone()).map(drop).map_err(e),
        "release" => ReleaseRequest::parse(v.clone()).map(drop).map_err(e),
        "response_request" => ResponseRequest::parse(v.clone()).map(drop).map_err(e),
        "response_outcome" => ResponseOutcome::parse(v.clone()).map(drop).map_err(e),
        "sealed" => Sealed::parse(v.to_string().as_bytes()).map(drop).map_err(|r| r.to_string()),
        other => panic!("no reader for kind {other}"),
    }
}

fn purpose_kind(p: Purpose) -> &'static str {
    match p {
        Purpose::Finding => "finding",
        Purpose::Release => "release",
        Purpose::Command => "response_request",
    }
}

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let mut problems = Vec::new();
    for kind in schema::KINDS {
        let name = schema::file_name(kind);
        let generated = schema::text(kind).unwrap();
        match std::fs::read_to_string(schemas_dir().join(&name)) {
            Ok(committed) if committed == generated => {}
            Ok(_) => problems.push(format!("schemas/{name} is stale: run `make schemas`")),
            Err(e) => problems.push(format!("schemas/{name} cannot be read ({e}): run `make schemas`")),
        }
    }
    for entry in std::fs::read_dir(schemas_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        // the command line's outputs: generated and checked by crates/cli (launchguard_cli::schema)
        let cli = ["scan-report.schema.json", "rules-report.schema.json"].contains(&name.as_str());
        if !cli && !schema::KINDS.iter().any(|k| schema::file_name(k) == name) {
            problems
                .push(format!("schemas/{name} is not a generated schema: remove it or add its kind to launchguard_core::schema::KINDS"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_schema_is_a_valid_draft_2020_12_schema() {
    for kind in schema::KINDS {
        let s = schema::schema(kind).unwrap();
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema", "{kind}");
        jsonschema::meta::validate(&s).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(s["additionalProperties"], false, "{kind}: unknown fields must be refused");
    }
    assert!(schema::schema("incident").is_none());
}

#[test]
fn every_example_payload_validates_against_its_schema_and_parses() {
    let mut seen = std::collections::BTreeSet::new();
    for (name, text) in fixture_dir("contract") {
        let v: Value = serde_json::from_str(&text).unwrap();
        let kind = v["kind"].as_str().unwrap_or_else(|| panic!("{name}: no kind"));
        assert!(name.starts_with(&format!("{kind}.")), "{name}: a {kind} fixture is named {kind}.<what>.json");
        assert!(schema::KINDS.contains(&kind), "{name}: kind {kind} has no schema");
        let errors = schema_errors(kind, &v);
        assert!(errors.is_empty(), "fixtures/contract/{name} does not validate against schemas/{kind}.schema.json:\n{errors}");
        reader(kind, &v).unwrap_or_else(|e| panic!("{name}: {e}"));
        if kind == "sealed" {
            // the payload inside is one of its purpose's kind
            let sealed = Sealed::parse(text.as_bytes()).unwrap();
            let inner_kind = purpose_kind(sealed.purpose);
            let inner: Value = serde_json::from_str(&sealed.payload).unwrap();
            let errors = schema_errors(inner_kind, &inner);
            assert!(errors.is_empty(), "{name}: its payload does not validate against schemas/{inner_kind}.schema.json:\n{errors}");
            reader(inner_kind, &inner).unwrap_or_else(|e| panic!("{name}: its payload: {e}"));
        }
        seen.insert(kind.to_owned());
    }
    for kind in schema::KINDS {
        assert!(seen.contains(*kind), "no example of {kind} in fixtures/contract/");
    }
}

type Mutation = fn(&mut Value);

/// Each row: a fixture, what is changed, whether the readers accept the result. The schema must
/// say the same.
const MUTATIONS: &[(&str, &str, Mutation, bool)] = &[
    ("finding.json", "an unknown top-level field", |v| v["surprise"] = json!(1), false),
    ("finding.json", "an unknown field deep inside", |v| v["principals"][0]["activity"]["bogus_counter"] = json!(1), false),
    ("finding.json", "an unknown principal type", |v| v["principals"][0]["principal"]["type"] = json!("robot"), false),
    ("finding.json", "an unknown verdict", |v| v["verdict"] = json!("obliterate"), false),
    ("finding.json", "an unknown key kind", |v| v["principals"][0]["activity"]["access_keys"][0]["kind"] = json!("forever"), false),
    ("finding.json", "another kind", |v| v["kind"] = json!("release"), false),
    ("finding.json", "an unsupported schema_version", |v| v["schema_version"] = json!(2), false),
    ("finding.json", "no read summary", |v| drop(v.as_object_mut().unwrap().remove("read")), false),
    ("finding.json", "a count as text", |v| v["principals"][0]["activity"]["calls"] = json!("5"), false),
    ("finding.json", "a negative count", |v| v["principals"][0]["activity"]["calls"] = json!(-1), false),
    ("finding.json", "a time that is not a time", |v| v["created_at"] = json!("yesterday"), false),
    ("finding.json", "an account id of 5 digits", |v| v["account_id"] = json!("12345"), false),
    ("finding.json", "a finding id with a slash", |v| v["finding_id"] = json!("lg-../other"), false),
    ("finding.json", "a region in upper case", |v| v["region"] = json!("US-EAST-1"), false),
    (
        "finding.json",
        "no rule, verdict or top launchers (defaults)",
        |v| {
            let o = v.as_object_mut().unwrap();
            for k in ["rule", "verdict", "top_launchers"] {
                o.remove(k);
            }
        },
        true,
    ),
    ("finding.json", "no trigger (optional)", |v| drop(v.as_object_mut().unwrap().remove("trigger")), true),
    ("finding.json", "a trigger with no ARN", |v| drop(v["trigger"].as_object_mut().unwrap().remove("arn")), true),
    ("response_request.deactivate_access_key.json", "an unknown action", |v| v["action"]["type"] = json!("delete_access_key"), false),
    ("response_request.deactivate_access_key.json", "an unknown action field", |v| v["action"]["delete_key_too"] = json!(true), false),
    ("response_request.deactivate_access_key.json", "a request id with a space", |v| v["request_id"] = json!("lgr 1"), false),
    (
        "response_request.deactivate_access_key.json",
        "no user name (optional)",
        |v| drop(v["action"].as_object_mut().unwrap().remove("user_name")),
        true,
    ),
    (
        "response_request.stop_instances.json",
        "a launch record with an unknown field",
        |v| v["action"]["instances"][0]["az"] = json!("a"),
        false,
    ),
    ("response_outcome.applied.json", "an unknown status", |v| v["outcome"]["status"] = json!("maybe"), false),
    (
        "response_outcome.refused.json",
        "a refusal without its reason",
        |v| drop(v["outcome"].as_object_mut().unwrap().remove("reason")),
        false,
    ),
    ("response_outcome.applied.json", "warnings", |v| v["warnings"] = json!(["a look-alike policy was overwritten"]), true),
    ("release.by_finding.json", "a reason of 513 characters", |v| v["reason"] = json!("x".repeat(513)), false),
    ("release.by_finding.json", "an unknown field", |v| v["everything"] = json!(true), false),
    ("release.by_finding.json", "no requested_by (optional)", |v| drop(v.as_object_mut().unwrap().remove("requested_by")), true),
    ("sealed.finding.json", "another MAC algorithm", |v| v["mac_algorithm"] = json!("HMAC_SHA_512"), false),
    ("sealed.finding.json", "an upper-case MAC", |v| v["mac"] = json!(v["mac"].as_str().unwrap().to_uppercase()), false),
    ("sealed.finding.json", "a short MAC", |v| v["mac"] = json!("abcd"), false),
    ("sealed.finding.json", "an unknown purpose", |v| v["purpose"] = json!("launch"), false),
    ("sealed.finding.json", "an unknown field", |v| v["signed_by"] = json!("me"), false),
    ("sealed.finding.json", "no key id", |v| v["key_id"] = json!(""), false),
    ("sealed.finding.json", "a release seal", |v| v["purpose"] = json!("release"), true),
];

#[test]
fn the_schemas_refuse_what_the_readers_refuse_and_accept_what_they_accept() {
    for (file, what, mutate, accepted) in MUTATIONS {
        let mut v: Value = serde_json::from_str(&fixture(&format!("contract/{file}"))).unwrap();
        let kind = v["kind"].as_str().unwrap().to_owned();
        mutate(&mut v);
        let by_reader = reader(&kind, &v);
        let by_schema = schema_errors(&kind, &v);
        assert_eq!(by_reader.is_ok(), *accepted, "{file} with {what}: the reader says {by_reader:?}");
        assert_eq!(by_schema.is_empty(), *accepted, "{file} with {what}: the schema says {by_schema:?}");
    }
}
