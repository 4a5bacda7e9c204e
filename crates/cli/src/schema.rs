//! The JSON Schemas of the command line's JSON output, derived from its Rust types with
//! `schemars` as the contract's are ([`launchguard_core::schema`]): `launchguard scan --format
//! json` ([`ScanReport`]) and `launchguard rules --json` ([`RulesJson`]). They are committed as
//! `schemas/scan-report.schema.json` and `schemas/rules-report.schema.json` (`make schemas`
//! writes them); a test regenerates them and fails when a committed file differs, and validates
//! the output of the bundled samples with them. Each pins its `version` to the one this build
//! writes ([`SCAN_JSON_VERSION`], [`RULES_JSON_VERSION`]): a change of shape raises it.

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::Value;

use crate::rules::{RULES_JSON_VERSION, RulesJson};
use crate::scan::{SCAN_JSON_VERSION, ScanReport};

/// Every output with a schema: its name (the file is `schemas/<name>.schema.json`).
pub const OUTPUTS: &[&str] = &["scan-report", "rules-report"];

/// The schema of an output (`scan-report`, `rules-report`), or `None` for another name.
pub fn schema(name: &str) -> Option<Value> {
    let (root, version, command) = match name {
        "scan-report" => (root::<ScanReport>(), SCAN_JSON_VERSION, "launchguard scan --format json"),
        "rules-report" => (root::<RulesJson<'static>>(), RULES_JSON_VERSION, "launchguard rules --json"),
        _ => return None,
    };
    let mut root = root;
    if let Some(obj) = root.as_object_mut() {
        obj.insert(
            "$comment".into(),
            Value::String(format!("The output of `{command}`, generated from the Rust types in crates/cli (`make schemas`): do not edit.")),
        );
        if let Some(Value::Object(v)) = obj.get_mut("properties").and_then(|p| p.get_mut("version")) {
            v.retain(|k, _| k == "description");
            v.insert("const".into(), Value::from(version));
        }
    }
    Some(launchguard_core::schema::sorted(root))
}

/// The committed text of an output's schema: pretty-printed, keys sorted, a trailing newline.
pub fn text(name: &str) -> Option<String> {
    let mut out = serde_json::to_string_pretty(&schema(name)?).ok()?;
    out.push('\n');
    Some(out)
}

/// The file an output's schema is committed as, under `schemas/`.
pub fn file_name(name: &str) -> String {
    format!("{name}.schema.json")
}

fn root<T: JsonSchema>() -> Value {
    SchemaGenerator::default().into_root_schema_for::<T>().to_value()
}
