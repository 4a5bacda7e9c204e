//! The functions' logs: one JSON object per line on stdout (CloudWatch Logs picks them up), and
//! every string in it through the one escaping path ([`launchguard_core::text::untrusted`]).
//!
//! Log lines carry outside text: user, role and session names, tags, policy documents, AWS error
//! messages, record fields, in handlers' details and errors. The JSON format escapes `\n`, but a
//! U+202E (bidi override), U+2028/U+2029 (line and paragraph separators) or a C1 control reaches
//! the line as it is, and the JSON a person reads (the console, `aws logs tail`, Logs Insights)
//! decodes `\n` back into a line break. So the writer under the formatter re-reads each event and
//! passes every string of it, keys and values, through `untrusted`: a value shows `\n` as two
//! characters and holds no character of Cc, Cf, Zl or Zp, whichever log line, field or crate it
//! came from. Nothing at the call sites has to remember it.

use std::io::{self, Write};

use launchguard_core::text::untrusted;
use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

/// `value` with every string in it (keys too) passed through [`untrusted`].
fn escape_strings(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(untrusted(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(escape_strings).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (untrusted(&k), escape_strings(v))).collect()),
        other => other,
    }
}

/// One formatted event as it is written: a JSON object with each string escaped, or (an event
/// that is not one) the whole text escaped; one line.
pub fn escaped_line(event: &[u8]) -> String {
    let text = String::from_utf8_lossy(event);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let line = match serde_json::from_str::<Value>(body) {
        Ok(v) => serde_json::to_string(&escape_strings(v)).unwrap_or_else(|_| untrusted(body)),
        Err(_) => untrusted(body),
    };
    format!("{line}\n")
}

/// A writer that escapes each event it is given ([`escaped_line`]). The formatter writes one
/// whole event per `write` call (`write_all` of its buffer).
#[derive(Debug)]
pub struct EscapingWriter<W>(W);

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(escaped_line(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Makes an [`EscapingWriter`] over each writer `M` makes.
#[derive(Debug, Clone)]
pub struct Escaping<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Escaping<M> {
    type Writer = EscapingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter(self.0.make_writer())
    }
}

/// The functions' log subscriber, writing to `out`: JSON, one event a line, level from
/// `RUST_LOG` (default `info`), every string escaped ([`Escaping`]). Tests give it a buffer.
pub fn subscriber<M>(out: M) -> impl tracing::Subscriber + Send + Sync
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_writer(Escaping(out))
        .finish()
}

/// Log output captured in memory, through the functions' own [`subscriber`] (tests).
///
/// The subscriber is installed once as the process's global default, writing to the buffer of the
/// thread that is capturing (others' events are dropped). A global subscriber, not a per-thread
/// one: tracing caches whether a call site is enabled across threads, and a test running beside
/// another would otherwise miss events.
#[cfg(feature = "test-util")]
#[derive(Debug, Clone, Default)]
pub struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(feature = "test-util")]
thread_local! {
    static CAPTURING: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// Stops capturing this thread's events when dropped.
#[cfg(feature = "test-util")]
#[derive(Debug)]
pub struct Capturing(());

#[cfg(feature = "test-util")]
impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURING.with(|c| c.borrow_mut().take());
    }
}

/// Writes to the capturing thread's buffer, if any.
#[cfg(feature = "test-util")]
#[derive(Debug, Clone, Copy)]
struct ThisThread;

#[cfg(feature = "test-util")]
impl Write for ThisThread {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        CAPTURING.with(|c| {
            if let Some(cap) = c.borrow().as_ref() {
                cap.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "test-util")]
impl<'a> MakeWriter<'a> for ThisThread {
    type Writer = ThisThread;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

#[cfg(feature = "test-util")]
impl Capture {
    /// Capture this thread's log events until the guard is dropped (a `#[tokio::test]` runs its
    /// futures, the in-process handlers' too, on its one thread).
    pub fn start(&self) -> Capturing {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let _ = tracing::subscriber::set_global_default(subscriber(ThisThread));
        });
        CAPTURING.with(|c| *c.borrow_mut() = Some(self.clone()));
        Capturing(())
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

/// The attacks on a log a person reads, checked on captured output: every event is one line
/// (no line break of any kind inside it: `\n`, `\r`, U+0085, U+2028, U+2029), the line is a JSON
/// object, and no string in it, decoded, holds a character of Cc, Cf, Zl or Zp. Returns what is
/// wrong, one entry per finding (empty: safe).
#[cfg(feature = "test-util")]
pub fn unsafe_lines(output: &str) -> Vec<String> {
    use launchguard_core::text::is_neutralised;
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| {
                out.push(k.clone());
                strings(x, out);
            }),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    for line in output.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v @ Value::Object(_)) => {
                if line.chars().any(is_neutralised) {
                    bad.push(format!("raw control, format or separator character in {line:?}"));
                }
                let mut all = Vec::new();
                strings(&v, &mut all);
                bad.extend(all.into_iter().filter(|s| s.chars().any(is_neutralised)).map(|s| format!("decoded value {s:?} of {line:?}")));
            }
            _ => bad.push(format!("a line that is not one event: {line:?}")),
        }
    }
    bad
}
