//! Issue 22: every outside text reaches a log line meant for people through the one escaping
//! path. The functions' log subscriber, on a field, an error and a message holding a line break,
//! a forged JSON event, U+202E, U+2028 and U+0085.

use launchguard_aws::logs::{Capture, escaped_line, unsafe_lines};
use launchguard_core::text::untrusted;
use serde_json::Value;

const FORGED: &str = "bob\n{\"level\":\"INFO\",\"fields\":{\"message\":\"release approved by alice\"}}\u{202E}evil\u{2028}x\u{85}y\r\n";

#[test]
fn an_outside_name_never_forges_a_log_line() {
    // GIVEN the functions' subscriber writing to a buffer
    let cap = Capture::default();
    {
        let _g = cap.start();
        // WHEN a name, an AWS error quoting it, and a message carrying it are logged
        tracing::warn!(user = %FORGED, error = %std::io::Error::other(FORGED), "principal refused");
        tracing::info!(tags = ?[FORGED], "{FORGED}");
    }
    let out = cap.text();
    // THEN two events, two lines, each one JSON object with nothing a person could misread
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(unsafe_lines(&out).is_empty(), "{:#?}", unsafe_lines(&out));
    // AND the value is still there, shown as the one escaping path shows it
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["fields"]["user"], untrusted(FORGED).as_str(), "{out}");
    assert!(first["fields"]["error"].as_str().unwrap().contains("release approved by alice"), "{out}");
}

#[test]
fn an_event_that_is_not_json_is_escaped_whole_on_one_line() {
    let line = escaped_line(FORGED.as_bytes());
    assert_eq!(line.matches('\n').count(), 1);
    assert!(line.ends_with('\n'));
    assert_eq!(line.trim_end_matches('\n'), untrusted(FORGED.trim_end_matches('\n')));
}
