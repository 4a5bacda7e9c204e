//! Where a JSON document ends, from its brackets alone: the reader's fast path
//! ([`super::input`]). Strings (and their escapes) are skipped eight bytes at a time, so finding
//! the end of a delivery file costs a fraction of a parse; the document is then parsed once, by
//! [`launchguard_core::split::split_document`], which validates every byte it hands out. This is
//! not a validation: a document whose brackets close is only a candidate, and the reader falls
//! back to serde_json's own pass when the parse refuses it.
//!
//! The scan can be resumed: a document longer than what is buffered is scanned on from where the
//! last call stopped, so each byte is looked at once however often the buffer grows.

/// What [`Brackets::scan`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The document's brackets close after this many bytes.
    Closed(usize),
    /// They do not close within the text given (more may follow).
    Open,
    /// A raw line break inside the open document: a pretty-printed document, or a JSON line cut
    /// short and followed by the next one. The reader lets serde_json decide which.
    LineBreak,
}

/// The state of a scan over one document that starts with `{` or `[`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brackets {
    /// Bytes of the document scanned so far.
    pos: usize,
    /// Containers open.
    depth: u32,
    in_string: bool,
}

impl Brackets {
    /// Scan `doc` (the document from its first byte; the same bytes as the last call, perhaps
    /// with more after them) on from where the last call stopped.
    pub fn scan(&mut self, doc: &[u8]) -> End {
        let mut i = self.pos;
        while i < doc.len() {
            if self.in_string {
                i = string_stop(doc, i);
                match doc.get(i) {
                    None => break,
                    Some(b'\n') => return End::LineBreak,
                    Some(b'\\') if i + 1 >= doc.len() => break, // the escaped byte is not here yet: resume at the backslash
                    Some(b'\\') => i += 2,
                    Some(_) => {
                        self.in_string = false;
                        i += 1;
                    }
                }
            } else {
                match doc[i] {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            self.pos = i + 1;
                            return End::Closed(i + 1);
                        }
                    }
                    b'\n' => return End::LineBreak,
                    _ => {}
                }
                i += 1;
            }
        }
        self.pos = i.min(doc.len());
        End::Open
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of the first byte of `word` equal to `b` is set (bits above it may be set too).
fn has(word: u64, b: u8) -> u64 {
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Where the next `"`, `\` or line break is in `doc` from `i` (inside a string), or `doc.len()`:
/// eight bytes at a time (CloudTrail's strings are mostly short: cheaper than a `memchr3` call).
fn string_stop(doc: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = doc.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        let m = has(word, b'"') | has(word, b'\\') | has(word, b'\n');
        if m != 0 {
            // the lowest flagged byte is exact (a false flag only ever follows a true one)
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    doc[i..].iter().position(|&b| matches!(b, b'"' | b'\\' | b'\n')).map_or(doc.len(), |j| i + j)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn end(text: &str) -> End {
        Brackets::default().scan(text.as_bytes())
    }

    #[test]
    fn brackets_in_strings_and_escapes_do_not_count() {
        assert_eq!(end(r#"{"a":"}]","b":[1,{"c":"\"}"}]} tail"#), End::Closed(30));
        assert_eq!(end(r#"{"a":"\\"}{"#), End::Closed(10));
        assert_eq!(end(r#"[{"a":1},{"b":"x"}]"#), End::Closed(19));
        assert_eq!(end(r#"{"a":"open"#), End::Open);
        assert_eq!(end("{\"a\":1,\n\"b\":2}"), End::LineBreak);
        assert_eq!(end("{\"a\":\"cut\n{\"b\":2}"), End::LineBreak);
    }

    #[test]
    fn a_scan_resumes_across_a_growing_buffer_even_inside_an_escape() {
        let text = br#"{"a":"x\"}","b":[2]}"#;
        for cut in 1..text.len() {
            let mut b = Brackets::default();
            let first = b.scan(&text[..cut]);
            let whole = b.scan(text);
            assert!(first == End::Open || first == End::Closed(text.len()), "cut {cut}: {first:?}");
            assert_eq!(whole, End::Closed(text.len()), "cut {cut}");
        }
    }

    proptest! {
        /// The word-at-a-time search stops where a byte-at-a-time one does.
        #[test]
        fn string_stop_is_the_first_quote_backslash_or_line_break(doc in prop::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), Just(b'\n'), any::<u8>(), Just(b'a')], 0..40), from in 0usize..40) {
            let from = from.min(doc.len());
            let want = doc[from..].iter().position(|&b| matches!(b, b'"' | b'\\' | b'\n')).map_or(doc.len(), |j| from + j);
            prop_assert_eq!(string_stop(&doc, from), want);
        }

        /// Any JSON value serde_json writes (compact) closes where it ends, whatever follows it.
        #[test]
        fn a_serialised_value_closes_at_its_end(v in json_value(), tail in "[ {}\\[\\]\"a-z]{0,8}") {
            let text = serde_json::to_string(&serde_json::json!({"v": v})).unwrap();
            let len = text.len();
            prop_assert_eq!(end(&(text + &tail)), End::Closed(len));
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[\\PC{}\\[\\]\"\\\\]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z{}\"]{0,4}", inner, 0..4).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
