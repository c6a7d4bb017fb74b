use super::*;

#[test]
fn repr_matches_python_for_common_cases() {
    // Expected values are Python's own `repr()` outputs for these strings.
    assert_eq!(repr(b"a/b.py"), "'a/b.py'");
    assert_eq!(repr(b"it's"), "\"it's\"");
    assert_eq!(repr(b"both'\""), "'both\\'\"'");
    assert_eq!(repr(b"tab\there"), "'tab\\there'");
    assert_eq!(repr("é".as_bytes()), "'é'");
    assert_eq!(repr(b"\xff"), "'\\udcff'");
    assert_eq!(repr(b"\x7f\x01"), "'\\x7f\\x01'");
    assert_eq!(repr("\u{200b}".as_bytes()), "'\\u200b'");
}

#[test]
fn isalnum_follows_python_not_rust() {
    assert!(is_alnum(b"abc1"));
    assert!(is_alnum("é١".as_bytes()));
    assert!(!is_alnum(b""));
    assert!(!is_alnum(b"a_b"));
    assert!(!is_alnum(b"-1"));
    // U+0345 COMBINING GREEK YPOGEGRAMMENI is Alphabetic for Rust but category Mn for Python.
    assert!('\u{345}'.is_alphanumeric());
    assert!(!is_alnum("\u{345}".as_bytes()));
}

#[test]
fn undecodable_bytes_become_surrogates() {
    assert_eq!(code_points(b"a\xffb"), vec![0x61, 0xdcff, 0x62]);
    assert_eq!(code_points(b"\xc3"), vec![0xdcc3]);
}
