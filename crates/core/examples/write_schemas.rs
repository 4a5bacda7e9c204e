//! Write the contract's JSON Schemas to `schemas/` (`make schemas`), one file a payload kind.
//!
//! `cargo run -p launchguard-core --example write_schemas [DIR]` (default: the repository's
//! `schemas/`). `crates/core/tests/schemas.rs` fails when a committed file differs.

use std::path::PathBuf;
use std::process::ExitCode;

use launchguard_core::schema;

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas"), PathBuf::from);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("write_schemas: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for kind in schema::KINDS {
        let path = dir.join(schema::file_name(kind));
        let Some(text) = schema::text(kind) else {
            eprintln!("write_schemas: no schema for {kind}");
            return ExitCode::FAILURE;
        };
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
        if !unchanged && let Err(e) = std::fs::write(&path, text) {
            eprintln!("write_schemas: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{} {}", if unchanged { "unchanged" } else { "wrote    " }, path.display());
    }
    ExitCode::SUCCESS
}
