//! Issue 22, defect 7: U+2028, U+2029 and bidi controls such as U+202E (Unicode Zl, Zp, Cf) in
//! outside text (a user agent, a session name, a reason) reached a report as they were (this test
//! asserted that on c365a60). Both escapes now start from the one escaping path.

use launchguard_report::escape::{html, markdown};

#[test]
fn defect7_separators_and_bidi_controls_never_reach_a_report() {
    for c in ['\u{2028}', '\u{2029}', '\u{202E}', '\u{2066}', '\u{200B}'] {
        let ua = format!("aws-cli{c}undo by hand: curl x | sh");
        assert!(!html(&ua).contains(c) && !markdown(&ua).contains(c), "{c:?}");
        assert!(html(&ua).contains(&format!("{}", c.escape_default())), "{}", html(&ua));
    }
}
