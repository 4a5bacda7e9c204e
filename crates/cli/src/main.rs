//! `launchguard`: command-line tools. `launchguard --help`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use launchguard_aws::LambdaInvoker;
use launchguard_aws::mac::Kms;
use launchguard_cli::CliError;
use launchguard_cli::release::{self, DEFAULT_DISPATCHER, DEFAULT_RELEASE_KEY, ReleaseArgs};
use launchguard_cli::report::{self, ReportArgs};
use launchguard_cli::scan::{self, Bar, Completeness, LocalSource, S3Source, ScanArgs, Silent, Source};

#[derive(Debug, Parser)]
#[command(name = "launchguard", version, about = "launchguard's command line: replay archived CloudTrail, release a containment")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay archived CloudTrail (files, directories, s3://bucket/prefix, stdin) and report the
    /// bursts the detector would flag.
    Scan(ScanArgs),
    /// Undo what launchguard did for a finding (or one principal). Only RELEASE_PRINCIPALS can:
    /// the request is sealed with the release key using your own AWS credentials.
    Release {
        /// The finding whose containment to undo (from the notification).
        #[arg(long, required_unless_present = "principal")]
        finding: Option<String>,
        /// Only this IAM user or role ARN (with --finding: within that finding).
        #[arg(long)]
        principal: Option<String>,
        /// Why you release it (recorded and notified).
        #[arg(long)]
        reason: String,
        /// Show what would be undone; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The dispatcher's function name or ARN.
        #[arg(long, default_value = DEFAULT_DISPATCHER)]
        dispatcher: String,
        /// The release key (id, ARN or alias).
        #[arg(long, default_value = DEFAULT_RELEASE_KEY)]
        key: String,
    },
    /// An incident's report (--finding ID) or a period summary (--since DAY), in Markdown, HTML
    /// or JSON, from the incident records (CloudWatch Logs).
    Report(ReportArgs),
    /// Print a shell completion script (`launchguard completions bash > /etc/bash_completion.d/launchguard`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn run_scan(args: &ScanArgs) -> Result<ExitCode, CliError> {
    let settings = args.settings()?;
    let (urls, paths): (Vec<String>, Vec<String>) = args.inputs.iter().cloned().partition(|i| i.starts_with("s3://"));
    let paths = if urls.is_empty() && paths.is_empty() { vec!["-".to_owned()] } else { paths };
    let local = LocalSource::new(paths).with_filter(args.source_filter()?);
    let buckets = urls.iter().map(|u| S3Source::new(u)).collect::<Result<Vec<_>, _>>()?;
    let mut sources: Vec<&dyn Source> = vec![&local];
    sources.extend(buckets.iter().map(|b| b as &dyn Source));
    let jobs = args.jobs.map(usize::from);
    let report = if !args.quiet && std::io::stderr().is_terminal() {
        scan::run(&sources, &settings, jobs, &Bar::new())?
    } else {
        scan::run(&sources, &settings, jobs, &Silent)?
    };
    let code = match report.status {
        Completeness::Complete => ExitCode::SUCCESS,
        Completeness::Incomplete => ExitCode::from(1),
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        write!(out, "{report}")
    }
    .and_then(|()| out.flush());
    match written {
        // the reader has gone (`launchguard scan ... | head -1`): stop quietly, as Unix tools do
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(CliError::Output(e.to_string())),
        Ok(()) => Ok(code),
    }
}
fn run_release(args: &ReleaseArgs) -> Result<ExitCode, CliError> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::Input { source_name: "tokio runtime".into(), reason: e.to_string() })?;
    rt.block_on(async {
        let sdk = launchguard_aws::load_sdk_config().await;
        let me = launchguard_aws::whoami(&aws_sdk_sts::Client::new(&sdk))
            .await
            .map_err(|e| CliError::Aws { what: "reading who you are (sts:GetCallerIdentity)".into(), reason: e.to_string() })?;
        let answer = release::release(
            args,
            &me.arn,
            &Kms(aws_sdk_kms::Client::new(&sdk)),
            &LambdaInvoker(aws_sdk_lambda::Client::new(&sdk)),
            chrono::Utc::now(),
        )
        .await?;
        print!("{}", release::render(&answer));
        Ok(if release::succeeded(&answer) { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

fn run_report(args: &ReportArgs) -> Result<ExitCode, CliError> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::Input { source_name: "tokio runtime".into(), reason: e.to_string() })?;
    let text = rt.block_on(async {
        let sdk = launchguard_aws::load_sdk_config().await;
        let logs = launchguard_responder_dispatcher::aws::Logs(aws_sdk_cloudwatchlogs::Client::new(&sdk));
        let ledger = launchguard_aws::store::S3Store::new(launchguard_aws::s3_client(&sdk), args.ledger_bucket.clone(), "ledger/");
        report::run(args, &logs, &ledger, chrono::Utc::now()).await
    })?;
    match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|e| CliError::Output(format!("{}: {e}", path.display())))?,
        None => std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| CliError::Output(e.to_string()))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => run_scan(&args),
        Command::Report(args) => run_report(&args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "launchguard", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Release { finding, principal, reason, dry_run, dispatcher, key } => {
            run_release(&ReleaseArgs { finding_id: finding, principal_arn: principal, reason, dry_run, dispatcher, key_id: key })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // errors quote outside text (file names, AWS messages, the dispatcher's answer)
            eprintln!("launchguard: {}", launchguard_core::text::Untrusted(&e));
            ExitCode::from(2)
        }
    }
}
