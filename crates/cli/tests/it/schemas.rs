//! The JSON Schemas of `scan --format json` and `rules --json` (`schemas/`, issue 31): committed
//! exactly as the types generate them, each pinning its output's version, named by `--help`,
//! and true to the output: what the binary prints for every bundled sample validates.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use launchguard_cli::schema;
use launchguard_testkit::fixtures_dir;
use serde_json::Value;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn lg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .args(args)
        .current_dir(fixtures_dir().parent().unwrap())
        .env_remove("LG_RULES")
        .env_remove("LG_RULES_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = schemas_dir().join(schema::file_name(name));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}: run `make schemas`", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> String {
    v.iter_errors(instance).map(|e| format!("  at {}: {e}\n", e.instance_path())).collect()
}

#[test]
fn the_committed_output_schemas_are_the_generated_ones_and_pin_the_version() {
    for name in schema::OUTPUTS {
        let file = schema::file_name(name);
        if std::env::var_os("LG_WRITE_SCHEMAS").is_some() {
            // what `make schemas` does, from the test binary already built
            std::fs::write(schemas_dir().join(&file), schema::text(name).unwrap()).unwrap();
        }
        let committed =
            std::fs::read_to_string(schemas_dir().join(&file)).unwrap_or_else(|e| panic!("schemas/{file}: {e}: run `make schemas`"));
        assert!(committed == schema::text(name).unwrap(), "schemas/{file} is stale: run `make schemas`");
        let v: Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(v["properties"]["version"]["const"], 1, "{file}");
        assert!(v["required"].as_array().unwrap().contains(&"version".into()), "{file}");
    }
}

#[test]
fn scan_and_rules_json_of_every_bundled_sample_validate_and_a_wrong_version_does_not() {
    let scan = validator("scan-report");
    let mut inputs = Vec::new();
    for dir in ["windows", "cloudtrail", "scan"] {
        for e in std::fs::read_dir(fixtures_dir().join(dir)).unwrap() {
            inputs.push(e.unwrap().path());
        }
    }
    inputs.sort();
    for input in &inputs {
        let o = lg(&["scan", "--format", "json", "--totals", input.to_str().unwrap()]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let problems = errors(&scan, &v);
        assert!(problems.is_empty(), "{}:\n{problems}", input.display());
    }
    let o = lg(&["scan", "--format", "json", "fixtures/windows/terraform-18-in-100s.json"]);
    let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["bursts"].as_array().is_some_and(|b| !b.is_empty()), "a sample with a burst is validated too");
    v["version"] = 2.into();
    assert!(!scan.is_valid(&v), "a report of another version is not this shape");
    let rules = validator("rules-report");
    let v: Value = serde_json::from_slice(&lg(&["rules", "--json"]).stdout).unwrap();
    let problems = errors(&rules, &v);
    assert!(problems.is_empty(), "rules --json:\n{problems}");
}

#[test]
fn help_names_each_schema() {
    for (sub, file) in [("scan", "schemas/scan-report.schema.json"), ("rules", "schemas/rules-report.schema.json")] {
        let o = lg(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        let help = String::from_utf8_lossy(&o.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(help.contains(file), "{sub} --help:\n{help}");
    }
}
