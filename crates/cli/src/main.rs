//! `launchguard`: command-line tools. `launchguard --help`.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use launchguard_aws::LambdaInvoker;
use launchguard_aws::mac::Kms;
use launchguard_cli::CliError;
use launchguard_cli::aws::AwsArgs;
use launchguard_cli::exit::{self, Status};
use launchguard_cli::help;
use launchguard_cli::release::{self, DEFAULT_DISPATCHER, DEFAULT_RELEASE_KEY, ReleaseArgs};
use launchguard_cli::report::{self, ReportArgs};
use launchguard_cli::rules::RulesArgs;
use launchguard_cli::scan::ScanArgs;

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
    #[command(after_help = help::short(help::RELEASE_EXAMPLES, exit::RELEASE_EXIT))]
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
        /// Where and as whom to release.
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// An incident's report (--finding ID) or a period summary (--since DAY), in Markdown, HTML
    /// or JSON, from the incident records (CloudWatch Logs).
    #[command(after_help = help::short(help::REPORT_EXAMPLES, exit::REPORT_EXIT))]
    Report(ReportArgs),
    /// List the rule set in force (bundled, LG_RULES or LG_RULES_FILE), every rule with its
    /// events, every horizon's threshold and window, and its actions.
    #[command(after_help = help::short(help::RULES_EXAMPLES, exit::PLAIN_EXIT))]
    Rules(RulesArgs),
    /// Print a shell completion script (it completes --rule with the bundled rules' ids).
    #[command(after_help = help::short(help::COMPLETIONS_EXAMPLES, exit::PLAIN_EXIT))]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn run_release(args: &ReleaseArgs, aws: &AwsArgs) -> Result<ExitCode, CliError> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::Input { source_name: "tokio runtime".into(), reason: e.to_string() })?;
    rt.block_on(async {
        let sdk = aws.sdk_config().await?;
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
        Ok(if release::succeeded(&answer) { Status::Clean } else { Status::Incomplete }.into())
    })
}

fn run_report(args: &ReportArgs) -> Result<ExitCode, CliError> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::Input { source_name: "tokio runtime".into(), reason: e.to_string() })?;
    let text = rt.block_on(async {
        let sdk = args.aws.sdk_config().await?;
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

/// Print on stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> Result<(), CliError> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Output(e.to_string())),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => launchguard_cli::commands::scan(&args).map(ExitCode::from),
        Command::Report(args) => run_report(&args),
        Command::Rules(args) => launchguard_cli::rules::rule_set_in_force()
            .and_then(|set| launchguard_cli::rules::run(&args, &set))
            .and_then(|text| write_stdout(&text))
            .map(|()| ExitCode::SUCCESS),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "launchguard", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Release { finding, principal, reason, dry_run, dispatcher, key, aws } => {
            run_release(&ReleaseArgs { finding_id: finding, principal_arn: principal, reason, dry_run, dispatcher, key_id: key }, &aws)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // errors quote outside text (file names, AWS messages, the dispatcher's answer)
            eprintln!("launchguard: {}", launchguard_core::text::Untrusted(&e));
            e.status().into()
        }
    }
}
