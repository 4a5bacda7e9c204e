//! Reading one input as a stream into a [`Feed`]: one rule's [`Scanner`], or every rule's at once
//! ([`super::every_rule::EveryRule`]), each record handed over once.
//!
//! What the first bytes say decides how: gzip (concatenated members too) is inflated; UTF-16
//! (with its byte-order mark, as a PowerShell redirect writes it, or without) is decoded;
//! zip, xz, bzip2 and zstd are named and not read. The text is then a stream of JSON documents,
//! whatever separates them (nothing, newlines, spaces; a UTF-8 byte-order mark and NUL padding
//! are skipped): delivery files, JSON lines, a lookup-events output, concatenated with `cat` or
//! `zcat`. Each document's end is found from its brackets ([`super::brackets`], strings skipped
//! eight bytes at a time), and the document is split into records ([`split_document`], which validates
//! what it hands out) for the scanner's pre-filter: one parse of each byte. A document that this
//! refuses (a syntax error, text that is not UTF-8, a line break inside: pretty-printed, or a line
//! cut short) is found again with serde_json's [`StreamDeserializer`], which says where it stops
//! being JSON, and handled as below; so is one that reaches the end of the input or the size cap
//! unclosed.
//!
//! Nothing here stops a scan, and nothing is dropped silently: a line that is not JSON, a
//! document cut short, a document over the size cap ([`ReadOptions::max_document`]) are counted
//! as unreadable records (their readable records before the fault are kept), reading goes on at
//! the next line, and the input is reported [`Incomplete`]. A stream that breaks (a truncated
//! gzip, a download cut short) keeps every record read before the break.
//!
//! Memory: one document (or line) at a time, at most the size cap, plus 16 bytes per record (the
//! key of its `eventID`, [`ReadOutcome::event_keys`]).
//!
//! [`StreamDeserializer`]: serde_json::StreamDeserializer

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use launchguard_core::scan::{LaunchSink, Scanner, event_key};
use launchguard_core::split::{Item, split_document};
use serde::Deserialize;

use super::brackets::{Brackets, End};
use super::sniff::{Kind, Utf16, looks_like_json, sniff};
use serde::de::IgnoredAny;

/// What the reader hands each record to: one rule's [`Scanner`], or every rule's at once
/// ([`super::every_rule::EveryRule`]).
pub trait Feed {
    /// One record's text.
    fn push_message(&mut self, message: &str);
    /// Something that could not be read (a line, a document, a record), in words.
    fn note_error(&mut self, why: String);
    /// Records handed so far.
    fn rows(&self) -> u64;
    /// Unreadable records so far, each counted once.
    fn unreadable(&self) -> u64;
    /// The first unreadable records' errors.
    fn error_samples(&self) -> &[String];
}

impl<K: LaunchSink> Feed for Scanner<K> {
    fn push_message(&mut self, message: &str) {
        Scanner::push_message(self, message);
    }

    fn note_error(&mut self, why: String) {
        Scanner::note_error(self, why);
    }

    fn rows(&self) -> u64 {
        self.stats.rows
    }

    fn unreadable(&self) -> u64 {
        self.stats.unparseable
    }

    fn error_samples(&self) -> &[String] {
        &self.stats.error_samples
    }
}

/// Why an input was not read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete(pub String);

/// The default cap on one line or document: 64 MiB.
pub const DEFAULT_MAX_DOCUMENT: usize = 64 << 20;

/// How inputs are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// A line or document longer than this many bytes is not read: it counts as one unreadable
    /// record and the input as incomplete.
    pub max_document: usize,
    /// Skip the input, unread, when its first bytes are plainly not JSON (no line of its first
    /// block starts a JSON object or array): for files found by walking a directory.
    pub skip_non_json: bool,
    /// An input whose text is at most this many bytes (and at most `max_document`) is first
    /// parsed whole, as one document, without looking for where its documents end: a delivery
    /// file is one. When that parse refuses it (JSON lines, a fault), it is read document by
    /// document as any other input. 0: never.
    pub whole_input: usize,
}

/// The default [`ReadOptions::whole_input`]: 8 MiB (a delivery file is a few MiB of text).
pub const DEFAULT_WHOLE_INPUT: usize = 8 << 20;

impl Default for ReadOptions {
    fn default() -> Self {
        Self { max_document: DEFAULT_MAX_DOCUMENT, skip_non_json: false, whole_input: DEFAULT_WHOLE_INPUT }
    }
}

/// What reading one input gave, besides the scanner's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes read from the input (compressed, if it was).
    pub bytes_in: u64,
    /// Set when the input was not read whole.
    pub incomplete: Option<Incomplete>,
    /// The key ([`event_key`]) of each record's `eventID`, in input order (records without one
    /// are left out): what the scan de-duplicates every record by.
    pub event_keys: Vec<u128>,
    /// The input held no text at all (empty, or only blanks and NULs).
    pub empty: bool,
    /// Not read, and why: plainly not CloudTrail ([`ReadOptions::skip_non_json`]).
    pub skipped: Option<String>,
}

const BUFFER: usize = 256 * 1024;

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// `bytes` as text fit for a message: at most `max` characters, each through the one escaping
/// path (controls such as NUL, format characters such as U+202E, line separators), invalid UTF-8
/// replaced.
pub fn printable(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push_str(&launchguard_core::text::untrusted(c.encode_utf8(&mut [0; 4])));
    }
    out
}

/// Read one input into `scanner` (one rule's [`Scanner`], or every rule's), with the default options.
pub fn read_input<F: Feed>(reader: impl Read, scanner: &mut F) -> ReadOutcome {
    read_input_with(reader, scanner, &ReadOptions::default())
}

/// Read one input into `scanner` (one rule's [`Scanner`], or every rule's): each record is handed
/// to it once.
pub fn read_input_with<F: Feed>(reader: impl Read, scanner: &mut F, options: &ReadOptions) -> ReadOutcome {
    let mut counting = BufReader::with_capacity(BUFFER, Counting { inner: reader, n: 0 });
    let kind = match counting.fill_buf() {
        Ok(b) if options.skip_non_json && sniff(b) == Kind::Text && !looks_like_json(b) => {
            let start = b.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(b).trim_ascii_start();
            let skipped =
                Some(format!("not CloudTrail: no line of its start is JSON (it starts {})", printable(&start[..start.len().min(40)], 40)));
            return ReadOutcome { bytes_in: counting.get_ref().n, skipped, ..ReadOutcome::default() };
        }
        Ok(b) => sniff(b),
        Err(e) => return ReadOutcome { incomplete: Some(Incomplete(format!("cannot read: {e}"))), ..ReadOutcome::default() },
    };
    let unreadable_before = scanner.unreadable();
    let rows_before = scanner.rows();
    let (broken, event_keys, text_seen) = {
        let mut docs = match kind {
            Kind::Unread(what) => {
                let bytes_in = counting.get_ref().n;
                return ReadOutcome { bytes_in, incomplete: Some(Incomplete(what.into())), ..ReadOutcome::default() };
            }
            Kind::Gzip => {
                Docs::new(Box::new(BufReader::with_capacity(BUFFER, MultiGzDecoder::new(&mut counting))) as Box<dyn Read + '_>, options)
            }
            Kind::Utf16 { big_endian } => Docs::new(Box::new(Utf16::new(&mut counting, big_endian)) as Box<dyn Read + '_>, options),
            Kind::Text => Docs::new(Box::new(&mut counting) as Box<dyn Read + '_>, options),
        };
        docs.run(scanner);
        (docs.broken, docs.event_keys, docs.text_seen)
    };
    let mut problems = Vec::new();
    if let Some(e) = broken {
        problems.push(match kind {
            Kind::Gzip => format!("gzip stream broken: {e}"),
            _ => format!("read failed: {e}"),
        });
    }
    let unreadable = scanner.unreadable() - unreadable_before;
    if unreadable > 0 {
        let first: Vec<&String> = scanner.error_samples().iter().take(2).collect();
        problems.push(format!(
            "{unreadable} unreadable record(s) or line(s), not counted (first: {})",
            first.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" | ")
        ));
    }
    let records = scanner.rows() - rows_before;
    let incomplete = (!problems.is_empty()).then(|| Incomplete(format!("{}; {records} record(s) read", problems.join("; "))));
    ReadOutcome { bytes_in: counting.get_ref().n, incomplete, event_keys, empty: !text_seen, skipped: None }
}

/// A record's `eventID`, at its top level only.
#[derive(Deserialize)]
struct Id<'a> {
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
}

/// A stream of JSON documents.
struct Docs<R> {
    inner: R,
    /// The text read and not yet consumed is `buf[at..end]`; what follows `end` is scratch.
    buf: Vec<u8>,
    end: usize,
    /// Where the next document starts in `buf`.
    at: usize,
    /// The line `buf[at]` is on (1-based), for messages.
    line: u64,
    eof: bool,
    /// The first read error (the stream ends there).
    broken: Option<String>,
    max: usize,
    event_keys: Vec<u128>,
    text_seen: bool,
    /// The fast path's scan of the document at `at`, resumed as the buffer grows.
    brackets: Brackets,
    /// Read the input whole as one document when its text is at most this long (tried once).
    whole: Option<usize>,
}

impl<R: Read> Docs<R> {
    fn new(inner: R, options: &ReadOptions) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(BUFFER),
            end: 0,
            at: 0,
            line: 1,
            eof: false,
            broken: None,
            max: options.max_document.max(1),
            event_keys: Vec::new(),
            text_seen: false,
            brackets: Brackets::default(),
            whole: (options.whole_input > 0).then(|| options.whole_input.min(options.max_document.max(1))),
        }
    }

    /// Read at least `want` more bytes into `buf` (fewer at the end of the stream), dropping what
    /// was consumed. The buffer is zeroed only when it grows: reads go into its scratch part.
    fn fill(&mut self, want: usize) {
        if self.at > 0 {
            self.buf.copy_within(self.at..self.end, 0);
            self.end -= self.at;
            self.at = 0;
        }
        let goal = self.end + want.max(BUFFER);
        if self.buf.len() < goal {
            self.buf.resize(goal, 0);
        }
        while self.end < goal && !self.eof {
            match self.inner.read(&mut self.buf[self.end..goal]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken = Some(e.to_string());
                    self.eof = true;
                }
            }
        }
    }

    /// Read on until the end of the input while what is left of it is at most `limit` bytes;
    /// true when all of it is buffered.
    fn read_rest_within(&mut self, limit: usize) -> bool {
        while !self.eof && self.end - self.at <= limit {
            self.fill(BUFFER);
        }
        self.eof && self.end - self.at <= limit
    }

    fn advance(&mut self, n: usize) {
        self.line += memchr::memchr_iter(b'\n', &self.buf[self.at..self.at + n]).count() as u64;
        self.at += n;
    }

    /// Skip blanks, NULs and byte-order marks; false at the end of the stream.
    fn skip_separators(&mut self) -> bool {
        loop {
            while self.at < self.end {
                match self.buf[self.at] {
                    b'\n' => {
                        self.line += 1;
                        self.at += 1;
                    }
                    b' ' | b'\t' | b'\r' | 0 | 0x0c => self.at += 1,
                    0xef if self.end - self.at < 3 && !self.eof => break,
                    0xef if self.buf[self.at..self.end].starts_with(&[0xef, 0xbb, 0xbf]) => self.at += 3,
                    _ => {
                        self.text_seen = true;
                        return true;
                    }
                }
            }
            if self.eof {
                self.at = self.end;
                return false;
            }
            self.fill(BUFFER);
        }
    }

    /// Drop the rest of the current line (reading on as needed, never keeping more than a buffer).
    fn skip_line(&mut self) {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.at..self.end]) {
                self.advance(i + 1);
                return;
            }
            self.at = self.end;
            if self.eof {
                return;
            }
            self.fill(BUFFER);
        }
    }

    fn run<F: Feed>(&mut self, scanner: &mut F) {
        while self.skip_separators() {
            let line = self.line;
            if !matches!(self.buf[self.at], b'{' | b'[') {
                let end = memchr::memchr(b'\n', &self.buf[self.at..self.end]).unwrap_or(self.end - self.at);
                let text = printable(self.buf[self.at..self.at + end].trim_ascii_end(), 64);
                scanner.note_error(format!("line {line}: not JSON: {text}"));
                self.skip_line();
                continue;
            }
            // The fastest path, once an input: its whole text, when it ends within the limit, is
            // one document (a delivery file): one parse, no search for where it ends.
            if let Some(limit) = self.whole.take()
                && self.read_rest_within(limit)
                && self.feed_valid(self.at, self.end, scanner)
            {
                let n = self.end - self.at;
                self.advance(n);
                continue;
            }
            // The fast path: the document's end from its brackets, then one parse that hands
            // out its records. Anything else (a parse refused, a line break inside, the end of
            // the input or the cap reached first) is serde_json's to judge, below.
            match self.brackets.scan(&self.buf[self.at..self.end]) {
                End::Closed(n) => {
                    self.brackets = Brackets::default();
                    if self.feed_valid(self.at, self.at + n, scanner) {
                        self.advance(n);
                        continue;
                    }
                }
                End::Open if !self.eof && self.end - self.at < self.max => {
                    let rest = self.end - self.at;
                    self.fill(rest.min(self.max + 1 - rest));
                    continue;
                }
                End::Open | End::LineBreak => self.brackets = Brackets::default(),
            }
            let rest = &self.buf[self.at..self.end];
            let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<IgnoredAny>();
            match values.next() {
                Some(Ok(_)) => {
                    let n = values.byte_offset();
                    let at = self.at;
                    self.feed(at, at + n, line, scanner);
                    self.advance(n);
                }
                Some(Err(e)) if e.is_eof() => {
                    if rest.len() >= self.max {
                        // over the cap: what it holds up to the cap is salvaged, the rest of its
                        // line skipped
                        let (at, end) = (self.at, self.at + self.max);
                        self.salvage(
                            at,
                            end,
                            line,
                            scanner,
                            &format!("a document over {} is not read (--max-document-size)", size(self.max)),
                        );
                        self.advance(end - at);
                        self.skip_line();
                    } else if self.eof {
                        let (at, end) = (self.at, self.end);
                        self.salvage(at, end, line, scanner, "the input ends inside this document (truncated?)");
                        self.at = end;
                    } else {
                        let want = (rest.len()).min(self.max + 1 - rest.len());
                        self.fill(want);
                    }
                }
                Some(Err(e)) => {
                    // a syntax error: keep what came before it; go on at the next line (the line
                    // of the error when the document started on an earlier one)
                    let (err_line, err_at) = position(rest, e.line(), e.column());
                    let why = e.to_string();
                    let at = self.at;
                    if err_line == 1 {
                        self.salvage(at, at + err_at, line, scanner, &why);
                        self.skip_line();
                    } else {
                        let line_start = rest[..err_at].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                        self.salvage(at, at + line_start, line, scanner, &why);
                        self.advance(line_start);
                    }
                }
                None => self.at = self.end,
            }
        }
    }

    /// The fast path: when `buf[from..to]` is UTF-8 and a document [`split_document`] reads
    /// whole (so valid JSON), hand its records to the scanner and say so; otherwise hand nothing.
    fn feed_valid<F: Feed>(&mut self, from: usize, to: usize, scanner: &mut F) -> bool {
        let Ok(text) = std::str::from_utf8(&self.buf[from..to]) else { return false };
        let mut items = Vec::new();
        if split_document(text, &mut |item| items.push(item)).is_err() {
            return false;
        }
        for item in items {
            push(item, &mut self.event_keys, scanner);
        }
        true
    }

    /// Hand the records of one whole document to the scanner.
    fn feed<F: Feed>(&mut self, from: usize, to: usize, line: u64, scanner: &mut F) {
        let (text, bad) = text_of(&self.buf[from..to]);
        if let Some(b) = bad {
            scanner.note_error(format!("line {line}: {b}"));
        }
        let keys = &mut self.event_keys;
        let r = split_document(&text, &mut |item| push(item, keys, scanner));
        if let Err(e) = r {
            scanner.note_error(format!("line {line}: {}", printable(e.to_string().as_bytes(), 256)));
        }
    }

    /// The records of a document before the point where it could not be read, then one
    /// unreadable record saying why.
    fn salvage<F: Feed>(&mut self, from: usize, to: usize, line: u64, scanner: &mut F, why: &str) {
        let (text, _) = text_of(&self.buf[from..to]);
        let keys = &mut self.event_keys;
        let _ = split_document(&text, &mut |item| push(item, keys, scanner));
        let start = printable(self.buf[from..to.min(from + 48)].trim_ascii_end(), 48);
        scanner.note_error(format!("line {line}: {} (it starts {start})", printable(why.as_bytes(), 200)));
    }
}

/// A record's `eventID`. Fast path: the record names `"eventID"` once, its value a plain string
/// (every CloudTrail record); otherwise the record is parsed for its top-level `eventID`. The key
/// only counts duplicates: the launches counted are de-duplicated by the parsed record's own id.
fn event_id(record: &str) -> Option<Cow<'_, str>> {
    const KEY: &[u8] = b"\"eventID\"";
    let b = record.as_bytes();
    let mut found = memchr::memmem::find_iter(b, KEY);
    if let (Some(at), None) = (found.next(), found.next()) {
        let rest = record[at + KEY.len()..].trim_start().strip_prefix(':').map(str::trim_start);
        if let Some(value) = rest.and_then(|r| r.strip_prefix('"'))
            && let Some(end) = value.find(['"', '\\'])
            && value.as_bytes()[end] == b'"'
        {
            return Some(Cow::Borrowed(&value[..end]));
        }
    }
    serde_json::from_str::<Id<'_>>(record).ok().and_then(|i| i.event_id)
}

fn push<F: Feed>(item: Item<'_>, keys: &mut Vec<u128>, scanner: &mut F) {
    match item {
        Item::Record(r) => {
            if let Some(id) = event_id(&r) {
                keys.push(event_key(&id));
            }
            scanner.push_message(&r);
        }
        Item::Unreadable(why) => scanner.note_error(printable(why.as_bytes(), 200)),
    }
}

/// Where serde_json's 1-based line and column fall: the line, and the byte offset in `text`.
fn position(text: &[u8], line: usize, column: usize) -> (usize, usize) {
    let mut start = 0;
    for _ in 1..line {
        match memchr::memchr(b'\n', &text[start..]) {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (line, (start + column.saturating_sub(1)).min(text.len()))
}

/// `n` bytes in words: `64 MiB`, `512 KiB`, `100 bytes`.
pub fn size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

fn text_of(bytes: &[u8]) -> (Cow<'_, str>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), None),
        Err(e) => (String::from_utf8_lossy(bytes), Some(format!("not UTF-8 at byte {} (replaced)", e.valid_up_to()))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_event_id_is_the_records_own() {
        // plain, spaced, and escaped ids; a nested one beside the record's own; none
        assert_eq!(event_id(r#"{"eventVersion":"1.08","eventID":"a-1","x":1}"#).as_deref(), Some("a-1"));
        assert_eq!(event_id("{\"eventID\" :\n \"a-2\"}").as_deref(), Some("a-2"));
        assert_eq!(event_id(r#"{"eventID":"a\u002d3"}"#).as_deref(), Some("a-3"));
        assert_eq!(event_id(r#"{"requestParameters":{"eventID":"forged"},"eventID":"real"}"#).as_deref(), Some("real"));
        assert_eq!(event_id(r#"{"eventName":"X","note":"eventID"}"#), None);
        assert_eq!(event_id(r#"{"eventID":"x","eventID":"y"}"#), None);
    }
}
