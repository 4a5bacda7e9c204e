//! What an input is, from its first bytes ([`sniff`]: gzip, UTF-16, text, or a format that is
//! named and not read), whether a block of text could be CloudTrail at all ([`looks_like_json`]),
//! and UTF-16 decoded to UTF-8 as a stream ([`Utf16`]).

use std::io::Read;

/// How many bytes [`Utf16`] decodes at a time.
const CHUNK: usize = 256 * 1024;

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// gzip (one member or several).
    Gzip,
    /// UTF-16, little- or big-endian.
    Utf16 {
        /// Big-endian.
        big_endian: bool,
    },
    /// Anything else: read as UTF-8 text.
    Text,
    /// Not read: what it is and what to do.
    Unread(&'static str),
}

/// What `b`, an input's first bytes, says the input is.
pub fn sniff(b: &[u8]) -> Kind {
    match b {
        [0x1f, 0x8b, ..] => Kind::Gzip,
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] | [b'P', b'K', 7, 8, ..] => Kind::Unread("zip archive: unzip it first"),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Kind::Unread("xz-compressed: decompress it first (xz -d)"),
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => Kind::Unread("bzip2-compressed: decompress it first (bzip2 -d)"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Kind::Unread("zstd-compressed: decompress it first (zstd -d)"),
        [0xff, 0xfe, ..] => Kind::Utf16 { big_endian: false },
        [0xfe, 0xff, ..] => Kind::Utf16 { big_endian: true },
        // no byte-order mark: JSON starts with an ASCII character, whose other byte is 0
        [b'{' | b'[', 0, x, 0, ..] if *x != 0 => Kind::Utf16 { big_endian: false },
        [0, b'{' | b'[', 0, x, ..] if *x != 0 => Kind::Utf16 { big_endian: true },
        _ => Kind::Text,
    }
}

/// Whether a block of text could be CloudTrail: empty, or one of its lines starts (after blanks,
/// NULs and a byte-order mark) a JSON object or array.
pub fn looks_like_json(block: &[u8]) -> bool {
    let block = block.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(block);
    if block.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
        return true;
    }
    block.split(|b| *b == b'\n').any(|line| matches!(line.iter().find(|b| !b.is_ascii_whitespace() && **b != 0), Some(b'{' | b'[')))
}

/// UTF-16 decoded to UTF-8, as a stream (unpaired surrogates become U+FFFD).
#[derive(Debug)]
pub struct Utf16<R> {
    inner: R,
    big_endian: bool,
    /// Bytes not yet decoded (an odd byte, a high surrogate waiting for its pair).
    carry: Vec<u8>,
    /// Decoded text not yet handed out.
    out: Vec<u8>,
    at: usize,
}

impl<R: Read> Read for Utf16<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            self.out.clear();
            self.at = 0;
            let mut chunk = vec![0u8; CHUNK];
            let n = self.inner.read(&mut chunk)?;
            let end = n == 0;
            let mut bytes = std::mem::take(&mut self.carry);
            bytes.extend_from_slice(&chunk[..n]);
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| if self.big_endian { u16::from_be_bytes([p[0], p[1]]) } else { u16::from_le_bytes([p[0], p[1]]) })
                .collect();
            let mut whole = units.len();
            // keep a trailing high surrogate (and an odd byte) for the next read
            if !end && units.last().is_some_and(|u| (0xd800..0xdc00).contains(u)) {
                whole -= 1;
            }
            self.carry = bytes[whole * 2..].to_vec();
            for c in char::decode_utf16(units[..whole].iter().copied()) {
                let mut b = [0u8; 4];
                self.out.extend_from_slice(c.unwrap_or(char::REPLACEMENT_CHARACTER).encode_utf8(&mut b).as_bytes());
            }
            if end {
                if !self.carry.is_empty() {
                    self.out.extend_from_slice("\u{fffd}".as_bytes());
                    self.carry.clear();
                }
                if self.out.is_empty() {
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl<R> Utf16<R> {
    /// `inner` decoded from UTF-16 (its byte-order mark, if any, becomes U+FEFF, which readers skip).
    pub fn new(inner: R, big_endian: bool) -> Self {
        Self { inner, big_endian, carry: Vec::new(), out: Vec::new(), at: 0 }
    }
}
