//! The text `--help` ends with: what a subcommand does in detail, EXAMPLES, EXIT STATUS (as the
//! aws CLI's help pages end with examples). Every example here runs as written from the
//! repository's root (tests/it/help.rs runs those marked so).

/// `-h`: examples, then exit statuses.
pub fn short(examples: &str, exit: &str) -> String {
    format!("EXAMPLES:\n{examples}\n\n{exit}")
}

/// `--help`: the long description, examples, then exit statuses.
pub fn long(about: &str, examples: &str, exit: &str) -> String {
    format!("{about}\n\n{}", short(examples, exit))
}

/// `launchguard scan`'s examples.
pub const SCAN_EXAMPLES: &str = "  launchguard scan fixtures/windows/terraform-18-in-100s.json        # a bundled sample: one burst, exit 3
  launchguard scan --rule ec2-mass-launch --start 2023-07-10 --end 2023-07-11 trail/
  launchguard scan --format json --out report.json --ignore-flagged trail/AWSLogs/
  zcat trail/*.json.gz | launchguard scan -
  launchguard scan --region eu-west-1 --profile audit s3://my-trail/AWSLogs/111122223333/CloudTrail/";

/// `launchguard report`'s examples.
pub const REPORT_EXAMPLES: &str =
    "  launchguard report --records fixtures/report/incident-records.jsonl --ledger-dir fixtures/report/ledger \\
      --finding lg-6a7abdb92f718a00cd4bf96ad6fbb4d4        # the bundled sample: no AWS
  launchguard report --since 2026-11-01 --until 2026-12-01 --ledger-bucket my-ledger
  launchguard report --finding lg-6a7abdb92f718a00cd4bf96ad6fbb4d4 --format html --out incident.html \\
      --ledger-bucket my-ledger --region us-east-1 --profile security";

/// `launchguard release`'s examples.
pub const RELEASE_EXAMPLES: &str =
    "  launchguard release --finding lg-6a7abdb92f718a00cd4bf96ad6fbb4d4 --reason 'ticket 4711: false positive' --dry-run
  launchguard release --principal arn:aws:iam::111122223333:user/ci --reason 'key rotated' --profile responder";

/// `launchguard rules`' examples.
pub const RULES_EXAMPLES: &str = "  launchguard rules
  launchguard rules --json
  LG_RULES_FILE=my-rules.json launchguard rules";

/// `launchguard completions`' examples.
pub const COMPLETIONS_EXAMPLES: &str = "  launchguard completions bash > ~/.local/share/bash-completion/completions/launchguard
  launchguard completions zsh > ~/.zfunc/_launchguard";
