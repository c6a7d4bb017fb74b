//! Paths in JSON as Python's `os.fsdecode` gives them: UTF-8, with each undecodable byte as a
//! lone surrogate (`\udcXX`), so that `os.fsencode(json.loads(text))` gives the exact bytes.
//!
//! A Rust `String` cannot hold a lone surrogate, so [`path`] marks each undecodable byte with a
//! NUL (which no path can contain) and two hex digits, and [`escape_surrogates`] turns the
//! serialized `\u0000XX` into `\udcXX` when the document is printed.

use serde_json::Value;
use std::os::unix::ffi::OsStrExt;

/// `bytes` decoded as `os.fsdecode` does, each undecodable byte marked for
/// [`escape_surrogates`].
pub(crate) fn fsdecode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push('\0');
            out.push_str(&format!("{byte:02x}"));
        }
    }
    out
}

/// A string made by [`fsdecode`] for reading: each marked byte as U+FFFD.
pub(crate) fn lossy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\0' {
            chars.nth(1);
            out.push('\u{fffd}');
        } else {
            out.push(c);
        }
    }
    out
}

/// A path as a JSON string (see the module docs).
pub(crate) fn path(path: impl AsRef<std::ffi::OsStr>) -> Value {
    Value::String(fsdecode(path.as_ref().as_bytes()))
}

/// Rewrites the marks [`fsdecode`] left in serialized JSON (`\u0000` then two hex digits of a
/// byte >= 0x80) as lone-surrogate escapes `\udcXX`.
pub(crate) fn escape_surrogates(json: &str) -> String {
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let mark = bytes.get(i + 1..i + 8);
        if let Some(mark) = mark
            && mark.starts_with(b"u0000")
            && mark[5..].iter().all(u8::is_ascii_hexdigit)
            && matches!(mark[5], b'8'..=b'9' | b'a'..=b'f')
        {
            out.push_str(&json[start..i]);
            out.push_str("\\udc");
            out.push_str(&json[i + 6..i + 8]);
            i += 8;
            start = i;
        } else {
            i += 2; // an escape: skip the escaped character too
        }
    }
    out.push_str(&json[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_bytes_become_lone_surrogates() {
        let value = path(std::ffi::OsStr::from_bytes(b"caf\xe9/\xc3\xa9\\u0000ff"));
        let text = escape_surrogates(&serde_json::to_string(&value).unwrap());
        assert_eq!(text, r#""caf\udce9/é\\u0000ff""#);
    }
}
