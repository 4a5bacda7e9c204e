//! `launchguard rules`: the rule set in force with every horizon (the bundled one, or
//! LG_RULES_FILE's), as text and as versioned JSON; completion offers the bundled rule ids.

use std::process::{Command, Output};

use launchguard_core::rules::RuleSet;

fn lg(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .args(args)
        .env_remove("LG_RULES")
        .env_remove("LG_RULES_FILE")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn rules_lists_every_rule_of_the_bundled_set_with_every_horizon() {
    let set = RuleSet::bundled().unwrap();
    let o = lg(&["rules"], &[]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    for r in &set.rules {
        assert!(text.contains(&format!("{}: ", r.id)), "{}\n{text}", r.id);
        for h in &r.horizons {
            assert!(text.contains(&format!("flag at:  {}", h.describe())), "{}: {}\n{text}", r.id, h.describe());
        }
    }
    // JSON: versioned, the same rules and horizons
    let o = lg(&["rules", "--json", "--rule", "ec2-mass-launch"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["version"].as_u64(), v["rules"].as_array().unwrap().len()), (Some(1), 1));
    let launch = set.get("ec2-mass-launch").unwrap();
    assert_eq!(v["rules"][0]["horizons"], serde_json::to_value(&launch.horizons).unwrap());
}

#[test]
fn rules_shows_the_rule_set_of_lg_rules_file_and_scan_accepts_its_ids() {
    let dir = std::env::temp_dir().join(format!("lg-rules-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my-rules.json");
    let bundled = std::fs::read_to_string(launchguard_testkit::fixtures_dir().join("../crates/core/rules/default.json")).unwrap();
    let mine = bundled.replacen("\"ec2-mass-launch\"", "\"my-launches\"", 1).replacen(
        "{\"window_seconds\": 300, \"threshold\": 10}",
        "{\"window_seconds\": 600, \"threshold\": 7}",
        1,
    );
    std::fs::write(&path, &mine).unwrap();
    let env = [("LG_RULES_FILE", path.to_str().unwrap())];
    let o = lg(&["rules", "--rule", "my-launches"], &env);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("my-rules.json") && text.contains("flag at:  7 instances within 10 min"), "{text}");
    // the id, unknown to the bundled set, is taken by scan too
    let sample = launchguard_testkit::fixtures_dir().join("windows/terraform-18-in-100s.json");
    let o = lg(&["scan", "--rule", "my-launches", sample.to_str().unwrap()], &env);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn rule_help_and_completion_offer_the_bundled_rule_ids() {
    let set = RuleSet::bundled().unwrap();
    let help = String::from_utf8_lossy(&lg(&["scan", "--help"], &[]).stdout).into_owned();
    let bash = String::from_utf8_lossy(&lg(&["completions", "bash"], &[]).stdout).into_owned();
    for id in set.ids() {
        assert!(help.contains(id), "{id} not in scan --help");
        assert!(bash.contains(id), "{id} not completed");
    }
}
