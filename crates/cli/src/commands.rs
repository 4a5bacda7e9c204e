//! What each subcommand does once its arguments are parsed: `main.rs` only parses and calls
//! here, then exits with the [`Status`] returned (an error's own, [`CliError::status`]).

use std::io::{IsTerminal, Write};

use crate::CliError;
use crate::exit::{self, Status};
use crate::scan::{self, Bar, LocalSource, S3Source, ScanArgs, Silent, Source};

/// What `scan` says on stderr before it waits on a terminal: it reads standard input when no
/// input is named (or `-` is), and a person at a terminal would otherwise see nothing happen.
pub fn stdin_notice(inputs: &[String], stdin_is_terminal: bool) -> Option<&'static str> {
    let reads_stdin = inputs.is_empty() || inputs.iter().any(|i| i == "-");
    (reads_stdin && stdin_is_terminal).then_some(
        "launchguard scan: reading CloudTrail from standard input: paste it, then press Ctrl-D \
         (or name files, directories or s3:// prefixes: launchguard scan --help)",
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
    let buckets = urls.iter().map(|u| S3Source::new(u, &args.aws)).collect::<Result<Vec<_>, _>>()?;
    let mut sources: Vec<&dyn Source> = vec![&local];
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
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        write!(out, "{report}")
    }
    .and_then(|()| out.flush());
    match written {
        // the reader has gone (`launchguard scan ... | head -1`): stop quietly, as Unix tools do
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => Err(CliError::Output(e.to_string())),
        Ok(()) => Ok(status),
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
