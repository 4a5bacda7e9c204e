//! `launchguard`: command-line tools. `launchguard scan --help`.

use std::io::Read;
use std::process::ExitCode;

use launchguard_cli::{CliError, USAGE, decode, parse_args, render_table, scan};

fn run() -> Result<(), CliError> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("scan") => {}
        Some(other) => return Err(CliError::Usage(format!("unknown command {other}"))),
        None => return Err(CliError::Usage("no command".into())),
    }
    let a = parse_args(args)?;
    let names = if a.files.is_empty() { vec!["-".to_owned()] } else { a.files.clone() };
    let mut docs = Vec::new();
    for name in names {
        let bytes = if name == "-" {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).map_err(|e| CliError::Input { source_name: "stdin".into(), reason: e.to_string() })?;
            b
        } else {
            std::fs::read(&name).map_err(|e| CliError::Input { source_name: name.clone(), reason: e.to_string() })?
        };
        let shown = if name == "-" { "stdin".to_owned() } else { name };
        let text = decode(&shown, bytes)?;
        docs.push((shown, text));
    }
    let report = scan(&docs, &a)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Input { source_name: "output".into(), reason: e.to_string() })?
        );
    } else {
        print!("{}", render_table(&report));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(m)) if m == "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("launchguard: {e}");
            ExitCode::from(2)
        }
    }
}
