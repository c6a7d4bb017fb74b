//! Python's view of a file name: a `str` decoded with `surrogateescape`.
//!
//! CPython hands POSIX paths around as `str`, decoding undecodable bytes to lone surrogates
//! (U+DC80 to U+DCFF). Its messages quote paths with `repr()`, its optimization tags are checked
//! with `str.isalnum()` and `str` indexing counts code points, not bytes. This module reproduces
//! exactly those three things over raw path bytes, so that the rest of the crate can keep paths as
//! bytes (any name works) and still say what CPython says. It must never lose or alter a byte:
//! decoding here is only for deciding and quoting, never for building paths.

use unicode_general_category::{GeneralCategory, get_general_category};

/// Decodes `bytes` the way CPython's `os.fsdecode` does on POSIX (UTF-8 with `surrogateescape`),
/// yielding code points; an undecodable byte `b` becomes the lone surrogate `0xDC00 + b`.
pub(crate) fn code_points(bytes: &[u8]) -> Vec<u32> {
    char_spans(bytes).into_iter().map(|(cp, _)| cp).collect()
}

/// Like [`code_points`], with each code point's length in bytes, so that Python's `str`
/// indexing can be mapped back onto the bytes.
pub(crate) fn char_spans(bytes: &[u8]) -> Vec<(u32, usize)> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.extend(valid.chars().map(|c| (u32::from(c), c.len_utf8())));
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                // `valid` is exactly the prefix that `from_utf8` accepted.
                out.extend(
                    std::str::from_utf8(valid)
                        .unwrap_or_default()
                        .chars()
                        .map(|c| (u32::from(c), c.len_utf8())),
                );
                let bad = error.error_len().unwrap_or(after.len());
                out.extend(after[..bad].iter().map(|&b| (0xDC00 + u32::from(b), 1)));
                rest = &after[bad..];
            }
        }
    }
    out
}

/// Python's `str.isalnum()` for one code point: a letter (`Lu`, `Ll`, `Lt`, `Lm`, `Lo`) or a
/// number (`Nd`, `Nl`, `No`). This differs from [`char::is_alphanumeric`], which uses the
/// Alphabetic property (it accepts some combining marks that Python rejects).
fn is_alnum_code_point(cp: u32) -> bool {
    let Some(c) = char::from_u32(cp) else {
        return false;
    };
    matches!(
        get_general_category(c),
        GeneralCategory::UppercaseLetter
            | GeneralCategory::LowercaseLetter
            | GeneralCategory::TitlecaseLetter
            | GeneralCategory::ModifierLetter
            | GeneralCategory::OtherLetter
            | GeneralCategory::DecimalNumber
            | GeneralCategory::LetterNumber
            | GeneralCategory::OtherNumber
    )
}

/// Python's `str.isalnum()` over the surrogateescape decoding of `bytes`: true when non-empty and
/// every code point is a letter or a number.
pub fn is_alnum(bytes: &[u8]) -> bool {
    let points = code_points(bytes);
    !points.is_empty() && points.into_iter().all(is_alnum_code_point)
}

/// Python's `str.isprintable()` for one code point.
fn is_printable(cp: u32) -> bool {
    if cp == u32::from(' ') {
        return true;
    }
    let Some(c) = char::from_u32(cp) else {
        return false; // lone surrogates are category Cs
    };
    !matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::SpaceSeparator
    )
}

/// Python's `repr()` of the `str` that CPython would make of `bytes` (a path, a file name).
///
/// Single quotes unless the text holds `'` and no `"`; `\\`, `\t`, `\n`, `\r` escaped; other
/// unprintable code points as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`; printable non-ASCII kept.
pub fn repr(bytes: &[u8]) -> String {
    let points = code_points(bytes);
    let has_single = points.contains(&u32::from('\''));
    let has_double = points.contains(&u32::from('"'));
    let quote = if has_single && !has_double { '"' } else { '\'' };
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push(quote);
    for cp in points {
        match char::from_u32(cp) {
            Some(c) if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            Some('\t') => out.push_str("\\t"),
            Some('\n') => out.push_str("\\n"),
            Some('\r') => out.push_str("\\r"),
            Some(c) if (0x20..0x7f).contains(&cp) => out.push(c),
            Some(c) if cp > 0x7f && is_printable(cp) => out.push(c),
            _ if cp <= 0xff => out.push_str(&format!("\\x{cp:02x}")),
            _ if cp <= 0xffff => out.push_str(&format!("\\u{cp:04x}")),
            _ => out.push_str(&format!("\\U{cp:08x}")),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests;
