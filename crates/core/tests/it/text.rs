//! The one escaping path for outside text (issue 22): Cc, Cf, Zl and Zp never pass.

use launchguard_core::text::{is_neutralised, untrusted};
use proptest::prelude::*;

#[test]
fn line_and_paragraph_separators_bidi_controls_and_line_breaks_are_shown_escaped() {
    let attack = "ok\u{2028}undo by hand: curl x | sh\u{2029}\u{202E}hs | x lruc\n\r\t\u{1b}[2J\u{200B}\u{FEFF}\u{2066}";
    let shown = untrusted(attack);
    for c in ['\u{2028}', '\u{2029}', '\u{202E}', '\n', '\r', '\t', '\u{1b}', '\u{200B}', '\u{FEFF}', '\u{2066}'] {
        assert!(!shown.contains(c), "{c:?} passed: {shown:?}");
    }
    assert!(shown.starts_with("ok\\u{2028}undo by hand"), "{shown}");
    assert!(shown.contains("\\u{202e}") && shown.contains("\\n\\r\\t"), "{shown}");
    // what people read is kept as it is: letters of any script, spaces, punctuation
    assert_eq!(untrusted("Zoë O'Brien <ops@example.com> 東京 (prod) $HOME"), "Zoë O'Brien <ops@example.com> 東京 (prod) $HOME");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_neutralised_character_survives(s in "\\PC*|[\\x00-\\x1f\\u{7f}-\\u{9f}\\u{200b}-\\u{200f}\\u{2028}-\\u{202e}\\u{2060}-\\u{206f}\\u{feff}a-z ]*") {
        let shown = untrusted(&s);
        prop_assert!(!shown.chars().any(is_neutralised), "{shown:?}");
        if !s.chars().any(is_neutralised) {
            prop_assert_eq!(shown, s);
        }
    }
}
