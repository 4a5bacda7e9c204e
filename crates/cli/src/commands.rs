//! What each subcommand does once its arguments are parsed: `main.rs` only parses and calls
//! here, then exits with the [`Status`] returned (an error's own, [`CliError::status`]).

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::CliError;
use crate::exit::{self, Status};
#[cfg(feature = "aws")]
use crate::scan::S3Source;
use crate::scan::{self, Bar, LocalSource, ScanArgs, ScanFormat, Silent, Source};

/// What `scan` says on stderr before it waits on a terminal: it reads standard input when no
/// input is named (or `-` is), and a person at a terminal would otherwise see nothing happen.
pub fn stdin_notice(inputs: &[String], stdin_is_terminal: bool) -> Option<&'static str> {
    let reads_stdin = inputs.is_empty() || inputs.iter().any(|i| i == "-");
    (reads_stdin && stdin_is_terminal).then_some(
        "launchguard scan: reading CloudTrail from standard input: paste it, then press Ctrl-D \
         (or name files, directories or s3:// prefixes: launchguard scan --help)",
    )
}

/// What a build without the `aws` feature says of an `s3://` input.
pub const NO_AWS: &str = "this launchguard was built without AWS (--no-default-features): copy the prefix first \
(aws s3 sync s3://bucket/prefix trail/) and scan the directory, or install the default build \
(cargo install --locked --path crates/cli)";

/// What a build without the `aws` feature says of `release` and `report`.
pub fn not_in_this_build(command: &str) -> String {
    format!(
        "`launchguard {command}` is not in this build: it was built without AWS (--no-default-features); \
install the default build (cargo install --locked --path crates/cli) to {}",
        if command == "report" {
            "read an incident's report, from local files (--records, --ledger-dir) or from AWS"
        } else {
            "release a containment"
        }
    )
}

/// `launchguard scan`: scan, print the report on stdout, and return the exit status.
pub fn scan(args: &ScanArgs) -> Result<Status, CliError> {
    let settings = args.settings()?;
    let stdin_terminal = std::io::stdin().is_terminal();
    let notice = stdin_notice(&args.inputs, stdin_terminal);
    if let Some(n) = notice {
        eprintln!("{n}");
    }
    let (urls, paths): (Vec<String>, Vec<String>) = args.inputs.iter().cloned().partition(|i| i.starts_with("s3://"));
    let paths = if urls.is_empty() && paths.is_empty() { vec!["-".to_owned()] } else { paths };
    let local = LocalSource::new(paths).with_filter(args.source_filter()?);
    #[cfg(feature = "aws")]
    let buckets = urls.iter().map(|u| S3Source::new(u, &args.aws)).collect::<Result<Vec<_>, _>>()?;
    #[cfg(not(feature = "aws"))]
    if let Some(url) = urls.first() {
        return Err(CliError::Usage(format!("{url}: {NO_AWS}")));
    }
    #[cfg_attr(not(feature = "aws"), allow(unused_mut))]
    let mut sources: Vec<&dyn Source> = vec![&local];
    #[cfg(feature = "aws")]
    sources.extend(buckets.iter().map(|b| b as &dyn Source));
    let jobs = args.jobs.map(usize::from);
    // no bar over a paste: the notice said what the scan waits for
    let report = if !args.quiet && notice.is_none() && std::io::stderr().is_terminal() {
        scan::run(&sources, &settings, jobs, &Bar::new())?
    } else {
        scan::run(&sources, &settings, jobs, &Silent)?
    };
    if report.nothing_read {
        eprintln!("launchguard scan: warning: nothing was read (no record in any input); exit status 1");
    }
    let status = exit::of_scan(&report, args.ignore_flagged);
    let text = match args.output_format() {
        ScanFormat::Json => serde_json::to_string_pretty(&report).map_err(|e| CliError::Output(e.to_string()))? + "\n",
        ScanFormat::Text => report.to_string(),
    };
    write_out(args.out.as_deref(), &text)?;
    Ok(status)
}

/// Write a report to `--out FILE`, or to standard output; a closed pipe (`launchguard scan ... |
/// head -1`) ends it quietly, as Unix tools do.
pub fn write_out(out: Option<&Path>, text: &str) -> Result<(), CliError> {
    if let Some(path) = out {
        return std::fs::write(path, text).map_err(|e| CliError::Output(format!("{}: {e}", path.display())));
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Output(e.to_string())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_on_stdin_is_told_what_the_scan_waits_for() {
        assert!(stdin_notice(&[], true).is_some());
        assert!(stdin_notice(&["a.json".into(), "-".into()], true).is_some());
        assert!(stdin_notice(&[], false).is_none());
        assert!(stdin_notice(&["a.json".into()], true).is_none());
    }
}
