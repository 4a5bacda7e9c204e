//! Render a report from a `ReportInput` in JSON on standard input: `cargo run -p
//! launchguard-report --example render -- html < input.json > report.html` (`md`, `html`, `json`).

use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let format = match std::env::args().nth(1).as_deref() {
        Some("md") => launchguard_report::Format::Markdown,
        Some("json") => launchguard_report::Format::Json,
        _ => launchguard_report::Format::Html,
    };
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let input: launchguard_report::ReportInput = serde_json::from_str(&text)?;
    std::io::stdout().write_all(launchguard_report::render(&input, format)?.as_bytes())?;
    Ok(())
}
