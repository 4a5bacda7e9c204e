//! The README's command-line examples run as written (the `cargo install` line aside: e2e's
//! test_install.py runs that), with the built `launchguard` first on the PATH, from the
//! repository's root: an example that stops working fails here.

use std::process::Command;

use launchguard_testkit::fixtures_dir;

#[test]
fn the_readme_cli_examples_run_as_written() {
    let root = fixtures_dir().parent().unwrap().to_path_buf();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme.split("<!-- readme-cli-examples").nth(1).unwrap().split("<!-- /readme-cli-examples -->").next().unwrap();
    let lines: Vec<&str> = block.lines().filter(|l| l.starts_with("launchguard ")).collect();
    assert!(lines.len() >= 4, "{block}");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_launchguard")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for line in lines {
        let out = Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(&root)
            .env("PATH", &path)
            .env_remove("LG_RULES")
            .env_remove("LG_RULES_FILE")
            .output()
            .unwrap();
        let code = out.status.code();
        let said = format!("{line}\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        // an example that says its exit status must exit with it; any other ends in 0 or 3
        match line.split("exit status ").nth(1).and_then(|s| s.trim().parse::<i32>().ok()) {
            Some(n) => assert_eq!(code, Some(n), "{said}"),
            None => assert!(matches!(code, Some(0 | 3)), "{said}"),
        }
        assert!(!out.stdout.is_empty(), "{said}");
        if line.contains("--json") {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {said}"));
            assert_eq!(v["version"], 1, "{said}");
        }
    }
}
