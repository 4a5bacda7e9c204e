//! Write the JSON Schemas of the command line's JSON output to `schemas/` (`make schemas`).
//!
//! `cargo run -p launchguard-cli --example write_output_schemas [DIR]` (default: the repository's
//! `schemas/`). The crate's tests fail when a committed file differs.

use std::path::PathBuf;
use std::process::ExitCode;

use launchguard_cli::schema;

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas"), PathBuf::from);
    for name in schema::OUTPUTS {
        let path = dir.join(schema::file_name(name));
        let Some(text) = schema::text(name) else {
            eprintln!("write_output_schemas: no schema for {name}");
            return ExitCode::FAILURE;
        };
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
        if !unchanged && let Err(e) = std::fs::write(&path, text) {
            eprintln!("write_output_schemas: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{} {}", if unchanged { "unchanged" } else { "wrote    " }, path.display());
    }
    ExitCode::SUCCESS
}
