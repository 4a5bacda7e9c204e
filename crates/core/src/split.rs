//! The records of a document, as text, without parsing them: what [`crate::scan::Scanner`]
//! pre-filters and parses. [`crate::record::parse_document`] parses every record; this module
//! only finds where each one is, so that a record that cannot be the watched event is never
//! parsed.
//!
//! Shapes: a delivery file or the console's event-history export (`{"Records":[...]}`), a JSON
//! array of any of these items, an EventBridge envelope (`detail-type` and `detail`), the output
//! of `aws cloudtrail lookup-events` (`{"Events":[{"CloudTrailEvent":"<record as a JSON
//! string>"}, ...]}`) and one of its items alone (its JSON-lines form), and a single record.
//!
//! A document cut short (a truncated download, a gzip stream that ends early) gives every record
//! before the cut, then an error saying where it stopped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{CoreError, excerpt};

/// One item met in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// A record's JSON text: borrowed from the document, or unescaped from a lookup-events
    /// `CloudTrailEvent` string.
    Record(Cow<'a, str>),
    /// Something where a record was expected that is not one: why.
    Unreadable(String),
}

/// Keys that only a CloudTrail record has at its top level: an object holding one is a record,
/// and is not looked into further.
const RECORD_KEYS: [&str; 6] = ["eventVersion", "eventTime", "eventSource", "eventName", "eventID", "userIdentity"];

/// How deep containers may nest: a JSON-lines line or an array item may be a delivery file, an
/// envelope or a lookup-events output, whose items are records.
const MAX_DEPTH: u8 = 2;

/// Hand every record of `text` to `f`, in document order.
///
/// Errors when the document is not JSON at all, or stops being JSON part way (truncated): the
/// records before that point have been handed out; the error says at which byte it stopped.
/// Whitespace alone is an empty document.
pub fn split_document<'a>(text: &'a str, f: &mut dyn FnMut(Item<'a>)) -> Result<(), CoreError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut c = Cursor { text, pos: 0 };
    c.ws();
    if c.peek().is_none() {
        return Ok(());
    }
    c.item(0, f).map_err(|e| e.into_error(text))?;
    c.ws();
    if c.pos < text.len() {
        return Err(CoreError::NotCloudTrail(format!("unexpected text after the document at byte {}: {}", c.pos, excerpt(&text[c.pos..]))));
    }
    Ok(())
}

/// Where a walk stopped and why.
#[derive(Debug)]
struct Stop {
    at: usize,
    why: String,
}

impl Stop {
    fn into_error(self, text: &str) -> CoreError {
        let cut = if self.at >= text.trim_end().len() { " (the document ends there: truncated?)" } else { "" };
        CoreError::NotCloudTrail(format!("stopped at byte {} of {}{cut}: {}", self.at, text.len(), self.why))
    }
}

#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        let b = self.text.as_bytes();
        while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn stop(&self, why: impl Into<String>) -> Stop {
        Stop { at: self.pos, why: why.into() }
    }

    /// Expect `b` after optional whitespace.
    fn expect(&mut self, b: u8, what: &str) -> Result<(), Stop> {
        self.ws();
        match self.peek() {
            Some(x) if x == b => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.stop(format!("expected {what}, found {}", excerpt(&self.text[self.pos..])))),
            None => Err(self.stop(format!("expected {what}, found the end"))),
        }
    }

    /// One JSON value of any kind, as raw text.
    fn raw(&mut self) -> Result<&'a RawValue, Stop> {
        let rest = &self.text[self.pos..];
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<&'a RawValue>();
        match values.next() {
            Some(Ok(v)) => {
                self.pos += values.byte_offset();
                Ok(v)
            }
            Some(Err(e)) => Err(self.stop(e.to_string())),
            None => Err(self.stop("expected a value, found the end")),
        }
    }

    /// One JSON string (a key, a `CloudTrailEvent`), unescaped.
    fn string(&mut self) -> Result<Cow<'a, str>, Stop> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.stop(format!("expected a string, found {}", excerpt(&self.text[self.pos..]))));
        }
        let rest = &self.text[self.pos..];
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Text<'a>>();
        match values.next() {
            Some(Ok(Text(s))) => {
                self.pos += values.byte_offset();
                Ok(s)
            }
            Some(Err(e)) => Err(self.stop(e.to_string())),
            None => Err(self.stop("expected a string, found the end")),
        }
    }

    /// An array whose items are handed to `each`, one at a time (so a cut keeps what came
    /// before it).
    fn array(&mut self, mut each: impl FnMut(&mut Self) -> Result<(), Stop>) -> Result<(), Stop> {
        self.expect(b'[', "'['")?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            each(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(_) => return Err(self.stop(format!("expected ',' or ']' in a list, found {}", excerpt(&self.text[self.pos..])))),
                None => return Err(self.stop("the list is not closed")),
            }
        }
    }

    /// Any item: an object (record or container) or, not too deep, an array of items.
    fn item(&mut self, depth: u8, f: &mut dyn FnMut(Item<'a>)) -> Result<(), Stop> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth, f),
            Some(b'[') if depth < MAX_DEPTH => self.array(|c| c.item(depth + 1, f)),
            _ => {
                let v = self.raw()?;
                f(Item::Unreadable(format!("expected a JSON object, found {}", excerpt(v.get()))));
                Ok(())
            }
        }
    }

    /// An object: a record, or a container of records.
    fn object(&mut self, depth: u8, f: &mut dyn FnMut(Item<'a>)) -> Result<(), Stop> {
        let start = self.pos;
        self.expect(b'{', "'{'")?;
        let mut detail: Option<&'a RawValue> = None;
        let mut detail_type = false;
        let mut container = false;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            f(Item::Unreadable("an empty object is not a CloudTrail record".into()));
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':', "':'")?;
            self.ws();
            let deeper = depth < MAX_DEPTH;
            match key.as_ref() {
                k if !container && RECORD_KEYS.contains(&k) => {
                    // A record: its end is the end of the object; the scanner reads the rest.
                    self.pos = start;
                    let v = self.raw()?;
                    f(Item::Record(Cow::Borrowed(v.get())));
                    return Ok(());
                }
                "Records" if deeper && self.peek() == Some(b'[') => {
                    container = true;
                    self.array(|c| {
                        c.ws();
                        if c.peek() == Some(b'{') {
                            let v = c.raw()?;
                            f(Item::Record(Cow::Borrowed(v.get())));
                        } else {
                            let v = c.raw()?;
                            f(Item::Unreadable(format!("a Records item is not an object: {}", excerpt(v.get()))));
                        }
                        Ok(())
                    })?;
                }
                "Events" if deeper && self.peek() == Some(b'[') => {
                    container = true;
                    self.array(|c| {
                        c.ws();
                        if c.peek() == Some(b'{') { c.lookup_item(f) } else { c.item(MAX_DEPTH, f) }
                    })?;
                }
                "CloudTrailEvent" if self.peek() == Some(b'"') => {
                    container = true;
                    let s = self.string()?;
                    f(Item::Record(s));
                }
                "detail" if deeper && self.peek() == Some(b'{') => detail = Some(self.raw()?),
                "detail-type" => {
                    detail_type = true;
                    self.raw()?;
                }
                _ => {
                    self.raw()?;
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => return Err(self.stop(format!("expected ',' or '}}' in an object, found {}", excerpt(&self.text[self.pos..])))),
                None => return Err(self.stop("the object is not closed")),
            }
        }
        match detail {
            Some(d) if detail_type && !container => f(Item::Record(Cow::Borrowed(d.get()))),
            _ if container => {}
            // No container key and no record key: let the scanner judge the whole object.
            _ => f(Item::Record(Cow::Borrowed(&self.text[start..self.pos]))),
        }
        Ok(())
    }

    /// One item of lookup-events' `Events`: the record is the `CloudTrailEvent` string.
    fn lookup_item(&mut self, f: &mut dyn FnMut(Item<'a>)) -> Result<(), Stop> {
        let mut found = false;
        self.expect(b'{', "'{'")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                let key = self.string()?;
                self.expect(b':', "':'")?;
                self.ws();
                if key == "CloudTrailEvent" && self.peek() == Some(b'"') {
                    found = true;
                    let s = self.string()?;
                    f(Item::Record(s));
                } else {
                    self.raw()?;
                }
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(_) => {
                        return Err(self.stop(format!("expected ',' or '}}' in an event, found {}", excerpt(&self.text[self.pos..]))));
                    }
                    None => return Err(self.stop("the event is not closed")),
                }
            }
        }
        if !found {
            f(Item::Unreadable("a lookup-events item has no CloudTrailEvent string".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn items(text: &str) -> (Vec<Item<'_>>, Result<(), CoreError>) {
        let mut out = Vec::new();
        let r = split_document(text, &mut |i| out.push(i));
        (out, r)
    }

    const REC: &str = r#"{"eventVersion":"1.08","eventName":"RunInstances","eventSource":"ec2.amazonaws.com"}"#;

    #[test]
    fn every_shape_gives_its_records() {
        // GIVEN each container shape around the same record
        let escaped = serde_json::to_string(REC).unwrap();
        let shapes = [
            format!(r#"{{"Records":[{REC},{REC}]}}"#),
            format!("[{REC}, {REC}]"),
            format!(r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","detail":{REC}}}"#),
            format!(r#"{{"Events":[{{"EventId":"x","CloudTrailEvent":{escaped}}}],"NextToken":"t"}}"#),
            format!(r#"{{"EventId":"x","CloudTrailEvent":{escaped}}}"#),
            REC.to_owned(),
        ];
        for (shape, want) in shapes.iter().zip([2, 2, 1, 1, 1, 1]) {
            // WHEN it is split
            let (got, r) = items(shape);
            // THEN every record is handed out whole, nothing else
            assert!(r.is_ok(), "{shape}: {r:?}");
            assert_eq!(got.len(), want, "{shape}");
            for i in &got {
                let Item::Record(t) = i else { panic!("{shape}: {i:?}") };
                assert_eq!(serde_json::from_str::<serde_json::Value>(t).unwrap(), serde_json::from_str::<serde_json::Value>(REC).unwrap());
            }
        }
    }

    #[test]
    fn a_cut_document_keeps_what_came_before() {
        // GIVEN a delivery file cut in its third record
        let doc = format!(r#"{{"Records":[{REC},{REC},{REC}]}}"#);
        let cut = &doc[..doc.len() - 20];
        // WHEN split
        let (got, r) = items(cut);
        // THEN the two whole records come out, and the error says where and that it is cut
        assert_eq!(got.len(), 2);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("truncated?") || e.contains("stopped at byte"), "{e}");
    }

    #[test]
    fn items_that_are_not_records_are_named() {
        let (got, r) = items(r#"{"Records":[1, {"eventName":"X"}]}"#);
        assert!(r.is_ok());
        assert!(matches!(&got[0], Item::Unreadable(w) if w.contains("not an object")));
        assert!(matches!(&got[1], Item::Record(_)));
        let (got, _) = items(r#"{"Events":[{"EventId":"x"}]}"#);
        assert!(matches!(&got[0], Item::Unreadable(w) if w.contains("CloudTrailEvent")));
        assert!(items("not json").1.is_err());
        assert!(items("  \n").0.is_empty());
    }
}
