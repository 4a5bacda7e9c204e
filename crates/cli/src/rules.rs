//! `launchguard rules`: the rule set in force (the bundled one, `LG_RULES` or `LG_RULES_FILE`),
//! each rule with every horizon and threshold, as people read it or as JSON; and the `--rule`
//! argument's parser, which offers the bundled rules' ids to `--help` and to shell completion
//! while accepting the ids of a rule set of your own (checked against it when the scan starts).

use std::fmt::Write as _;

use clap::Args;
use clap::builder::{PossibleValue, TypedValueParser};
use launchguard_core::rules::RuleSet;
use launchguard_core::windows::duration_words;
use schemars::JsonSchema;
use serde::Serialize;

use crate::CliError;

/// The version of `launchguard rules --json`'s shape (schemas/rules-report.schema.json).
pub const RULES_JSON_VERSION: u32 = 1;

/// `launchguard rules`.
#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    /// Only this rule; may be repeated.
    #[arg(long, value_name = "ID", value_parser = RuleIdParser)]
    pub rule: Vec<String>,
    /// Print the rule set as JSON: {"version": 1, "origin": ..., "rules": [{"id", "description",
    /// "event", "horizons": [{"measure", "window_seconds", "threshold"}], "min_failed_calls",
    /// "actions", "exclude_aws_services", "alarms"}]}; its JSON Schema:
    /// schemas/rules-report.schema.json.
    #[arg(long)]
    pub json: bool,
}

/// The rule set of the environment (`LG_RULES`, `LG_RULES_FILE`) or the bundled one.
pub fn rule_set_in_force() -> Result<RuleSet, CliError> {
    let env = |name: &str| std::env::var(name).ok();
    RuleSet::from_env(&env, |path| std::fs::read_to_string(path).map_err(|e| e.to_string()))
        .map_err(|e| CliError::Usage(format!("{e} (unset LG_RULES and LG_RULES_FILE to use the bundled rules)")))
}

/// `launchguard rules --json`: the rule set in force with the version of this shape
/// (schemas/rules-report.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct RulesJson<'a> {
    /// The version of this shape ([`RULES_JSON_VERSION`]).
    pub version: u32,
    /// Where the rule set came from, and its rules.
    #[serde(flatten)]
    pub set: &'a RuleSet,
}

/// `launchguard rules`, as text.
pub fn run(args: &RulesArgs, set: &RuleSet) -> Result<String, CliError> {
    let mut set = set.clone();
    for id in &args.rule {
        if set.get(id).is_none() {
            return Err(CliError::Usage(format!("--rule {id}: no such rule in {} (rules: {})", set.origin, set.ids().join(", "))));
        }
    }
    if !args.rule.is_empty() {
        set.rules.retain(|r| args.rule.contains(&r.id));
    }
    if args.json {
        let mut s = serde_json::to_string_pretty(&RulesJson { version: RULES_JSON_VERSION, set: &set })
            .map_err(|e| CliError::Output(e.to_string()))?;
        s.push('\n');
        return Ok(s);
    }
    Ok(render(&set))
}

/// The rule set for people: one block per rule, every horizon on its own line.
pub fn render(set: &RuleSet) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Rule set: {} ({} rule(s))", set.origin, set.rules.len());
    for r in &set.rules {
        let _ = writeln!(out, "\n{}: {}", r.id, r.description);
        let _ = writeln!(out, "  events:   {}", r.event.label());
        for h in &r.horizons {
            let _ = writeln!(out, "  flag at:  {} {} within {}", h.threshold, h.measure.word(), duration_words(h.window_seconds));
        }
        if let Some(n) = r.min_failed_calls {
            let _ = writeln!(out, "  flag at:  {n} failed calls within {}", duration_words(r.window_seconds()));
        }
        let actions: Vec<&str> = r.actions.iter().map(|a| a.as_str()).collect();
        let _ = writeln!(out, "  actions:  {}", if actions.is_empty() { "none (notify only)".into() } else { actions.join(", ") });
        let _ = writeln!(
            out,
            "  AWS services and service-linked roles: {}",
            if r.exclude_aws_services { "never flagged" } else { "may be flagged" }
        );
        let _ = writeln!(out, "  alarms:   {}", r.alarms.join(", "));
    }
    out
}

/// `--rule ID`: any id (a rule set of your own may name others, checked when the command
/// starts), offering the bundled rules' ids to `--help` and to shell completion.
#[derive(Debug, Clone, Copy)]
pub struct RuleIdParser;

impl TypedValueParser for RuleIdParser {
    type Value = String;

    fn parse_ref(&self, _cmd: &clap::Command, _arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<String, clap::Error> {
        value.to_str().map(str::to_owned).ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidUtf8))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let set = RuleSet::bundled().ok()?;
        Some(Box::new(set.rules.into_iter().map(|r| PossibleValue::new(r.id).help(r.description))))
    }
}
