//! `launchguard`: command-line tools. `launchguard --help`.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use launchguard_aws::LambdaInvoker;
use launchguard_aws::mac::Kms;
use launchguard_cli::release::{self, DEFAULT_DISPATCHER, DEFAULT_RELEASE_KEY, ReleaseArgs};
use launchguard_cli::{CliError, USAGE, decode, parse_args, render_table, scan};

#[derive(Debug, Parser)]
#[command(name = "launchguard", version, about = "launchguard's command line: replay archived CloudTrail, release a containment")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay archived CloudTrail files through the detector's classification (`launchguard scan --help`).
    #[command(disable_help_flag = true)]
    Scan {
        /// FILE... and options, see `launchguard scan --help`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
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
}

fn run_scan(args: Vec<String>) -> Result<ExitCode, CliError> {
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
        let out =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Input { source_name: "output".into(), reason: e.to_string() })?;
        println!("{out}");
    } else {
        print!("{}", render_table(&report));
    }
    Ok(ExitCode::SUCCESS)
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan { args } => run_scan(args),
        Command::Release { finding, principal, reason, dry_run, dispatcher, key } => {
            run_release(&ReleaseArgs { finding_id: finding, principal_arn: principal, reason, dry_run, dispatcher, key_id: key })
        }
    };
    match result {
        Ok(code) => code,
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
