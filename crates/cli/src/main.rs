//! `launchguard`: command-line tools. `launchguard --help`.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
#[cfg(feature = "aws")]
use launchguard_aws::LambdaInvoker;
#[cfg(feature = "aws")]
use launchguard_aws::mac::Kms;
#[cfg(feature = "aws")]
use launchguard_cli::CliError;
#[cfg(feature = "aws")]
use launchguard_cli::aws::AwsArgs;
use launchguard_cli::exit;
#[cfg(feature = "aws")]
use launchguard_cli::exit::Status;
use launchguard_cli::help;
#[cfg(feature = "aws")]
use launchguard_cli::release::{self, DEFAULT_DISPATCHER, DEFAULT_RELEASE_KEY, ReleaseArgs};
#[cfg(feature = "aws")]
use launchguard_cli::report::{self, ReportArgs};
use launchguard_cli::rules::RulesArgs;
use launchguard_cli::scan::ScanArgs;

#[derive(Debug, Parser)]
#[command(
    name = "launchguard",
    version,
    about = "launchguard's command line: replay archived CloudTrail, list the rules, release a containment, report an incident (the commands below are those of this build)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay archived CloudTrail (files, directories, s3://bucket/prefix, stdin) and report the
    /// bursts the detector would flag.
    Scan(Box<ScanArgs>),
    #[cfg(feature = "aws")]
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
    #[cfg(feature = "aws")]
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
    /// `release` and `report` in a build without AWS: say which build has them (exit 2), rather
    /// than clap's "unrecognized subcommand".
    #[cfg(not(feature = "aws"))]
    #[command(name = "release", hide = true, disable_help_flag = true)]
    NoRelease {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    #[cfg(not(feature = "aws"))]
    #[command(name = "report", hide = true, disable_help_flag = true)]
    NoReport {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
}

#[cfg(feature = "aws")]
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

#[cfg(feature = "aws")]
fn run_report(args: &ReportArgs) -> Result<ExitCode, CliError> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::Input { source_name: "tokio runtime".into(), reason: e.to_string() })?;
    let text = rt.block_on(async {
        if let Some(records) = &args.records {
            let logs = report::local::LocalLog::read(records)?;
            let ledger = report::local::DirStore::new(args.ledger_dir.as_deref())?;
            return report::run(args, &logs, &ledger, chrono::Utc::now()).await;
        }
        let sdk = args.aws.sdk_config().await?;
        let logs = launchguard_responder_dispatcher::aws::Logs(aws_sdk_cloudwatchlogs::Client::new(&sdk));
        let bucket = args.ledger_bucket.clone().unwrap_or_default();
        let ledger = launchguard_aws::store::S3Store::new(launchguard_aws::s3_client(&sdk), bucket, "ledger/");
        report::run(args, &logs, &ledger, chrono::Utc::now()).await
    })?;
    launchguard_cli::commands::write_out(args.out.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => launchguard_cli::commands::scan(&args).map(ExitCode::from),
        #[cfg(feature = "aws")]
        Command::Report(args) => run_report(&args),
        Command::Rules(args) => launchguard_cli::rules::rule_set_in_force()
            .and_then(|set| launchguard_cli::rules::run(&args, &set))
            .and_then(|text| launchguard_cli::commands::write_out(None, &text))
            .map(|()| ExitCode::SUCCESS),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "launchguard", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(not(feature = "aws"))]
        Command::NoRelease { .. } => Err(launchguard_cli::CliError::Usage(launchguard_cli::commands::not_in_this_build("release"))),
        #[cfg(not(feature = "aws"))]
        Command::NoReport { .. } => Err(launchguard_cli::CliError::Usage(launchguard_cli::commands::not_in_this_build("report"))),
        #[cfg(feature = "aws")]
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
