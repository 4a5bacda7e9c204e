//! Reading one input as a stream into a [`Scanner`]: gunzip when it starts with the gzip magic
//! (concatenated members too), then either JSON lines, one line at a time, or one document
//! (a delivery file, a pretty-printed lookup-events output...), whose records go through
//! [`split_document`] and the scanner's pre-filter. Memory: one line, or one document.
//!
//! Nothing here stops a scan: a line that is not JSON is counted as an unreadable record, and a
//! stream that breaks (a truncated gzip, a download cut short) keeps every record read before
//! the break and is reported as [`Incomplete`].

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use launchguard_core::scan::{LaunchSink, Scanner};
use launchguard_core::split::{Item, split_document};
use serde::de::IgnoredAny;

/// Why an input was not read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete(pub String);

/// What reading one input gave, besides the scanner's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes read from the input (compressed, if it was).
    pub bytes_in: u64,
    /// Set when the input was not read whole.
    pub incomplete: Option<Incomplete>,
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

/// Hand one text (a line or a whole document) to the scanner.
fn feed<K: LaunchSink>(text: &str, scanner: &mut Scanner<K>) -> Result<(), String> {
    split_document(text, &mut |item| match item {
        Item::Record(Cow::Borrowed(r)) => scanner.push_message(r),
        Item::Record(Cow::Owned(r)) => scanner.push_message(&r),
        Item::Unreadable(why) => scanner.note_error(why),
    })
    .map_err(|e| e.to_string())
}

fn text_of(bytes: &[u8]) -> (Cow<'_, str>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), None),
        Err(e) => (String::from_utf8_lossy(bytes), Some(format!("not UTF-8 at byte {} (replaced)", e.valid_up_to()))),
    }
}

/// Lines, tracking the first read error (the stream ends there).
struct Lines<R> {
    inner: R,
    error: Option<String>,
    bytes: u64,
}

impl<R: BufRead> Lines<R> {
    /// The next line that is not blank, without its end; `None` at the end or after an error.
    fn next_line(&mut self, line: &mut Vec<u8>) -> bool {
        loop {
            line.clear();
            if self.error.is_some() {
                return false;
            }
            match self.inner.read_until(b'\n', line) {
                Ok(0) => return false,
                Ok(n) => self.bytes += n as u64,
                Err(e) => {
                    self.bytes += line.len() as u64;
                    self.error = Some(format!("{e} after {} bytes of text", self.bytes));
                    // keep the partial line: what it holds may still be read
                    if line.iter().all(u8::is_ascii_whitespace) {
                        return false;
                    }
                    return true;
                }
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                while line.last().is_some_and(u8::is_ascii_whitespace) {
                    line.pop();
                }
                return true;
            }
        }
    }
}

/// Read one input into `scanner`.
pub fn read_input<K: LaunchSink>(reader: impl Read, scanner: &mut Scanner<K>) -> ReadOutcome {
    let mut counting = BufReader::with_capacity(BUFFER, Counting { inner: reader, n: 0 });
    let gzip = match counting.fill_buf() {
        Ok(b) => b.starts_with(&[0x1f, 0x8b]),
        Err(e) => return ReadOutcome { bytes_in: 0, incomplete: Some(Incomplete(format!("cannot read: {e}"))) },
    };
    let mut problems = Vec::new();
    let count_before = scanner.stats.rows;
    if gzip {
        let mut lines = Lines { inner: BufReader::with_capacity(BUFFER, MultiGzDecoder::new(counting)), error: None, bytes: 0 };
        read_lines(&mut lines, scanner, &mut problems);
        if let Some(e) = lines.error.take() {
            problems.push(format!("gzip stream broken: {e}"));
        }
        let bytes_in = lines.inner.into_inner().into_inner().get_ref().n;
        return outcome(bytes_in, problems, scanner.stats.rows - count_before);
    }
    let mut lines = Lines { inner: counting, error: None, bytes: 0 };
    read_lines(&mut lines, scanner, &mut problems);
    if let Some(e) = lines.error.take() {
        problems.push(format!("read failed: {e}"));
    }
    let bytes_in = lines.inner.get_ref().n;
    outcome(bytes_in, problems, scanner.stats.rows - count_before)
}

fn outcome(bytes_in: u64, problems: Vec<String>, records: u64) -> ReadOutcome {
    let incomplete = (!problems.is_empty()).then(|| Incomplete(format!("{}; {records} record(s) read before", problems.join("; "))));
    ReadOutcome { bytes_in, incomplete }
}

/// JSON lines, or one document: the first line decides. A first line that is whole JSON with
/// more lines after it starts JSON lines; otherwise everything is one document.
fn read_lines<R: BufRead, K: LaunchSink>(lines: &mut Lines<R>, scanner: &mut Scanner<K>, problems: &mut Vec<String>) {
    let mut first = Vec::new();
    if !lines.next_line(&mut first) {
        return;
    }
    let mut second = Vec::new();
    let more = lines.next_line(&mut second);
    if !more {
        let (text, bad) = text_of(&first);
        problems.extend(bad);
        if let Err(e) = feed(&text, scanner) {
            problems.push(e);
        }
        return;
    }
    let first_is_json = serde_json::from_slice::<IgnoredAny>(&first).is_ok();
    if !first_is_json {
        // one document over many lines: read it whole
        let mut doc = first;
        doc.push(b'\n');
        doc.extend_from_slice(&second);
        let mut line = Vec::new();
        while lines.next_line(&mut line) {
            doc.push(b'\n');
            doc.extend_from_slice(&line);
        }
        let (text, bad) = text_of(&doc);
        problems.extend(bad);
        if let Err(e) = feed(&text, scanner) {
            problems.push(e);
        }
        return;
    }
    let mut n = 0u64;
    let scan_line = |n: u64, line: &[u8], scanner: &mut Scanner<K>| {
        let (text, bad) = text_of(line);
        if let Some(b) = bad {
            scanner.note_error(format!("line {n}: {b}"));
        }
        if let Err(e) = feed(&text, scanner) {
            scanner.note_error(format!("line {n}: {e}"));
        }
    };
    for line in [&first, &second] {
        n += 1;
        scan_line(n, line, scanner);
    }
    let mut line = second;
    while lines.next_line(&mut line) {
        n += 1;
        scan_line(n, &line, scanner);
    }
}
