use super::*;

#[test]
fn nothing_and_non_code_are_refused() {
    let magic = Magic(*b"\xcb\x0d\x0d\x0a"); // CPython 3.12
    assert_eq!(payload_parses(b"", magic), Some(false));
    assert_eq!(payload_parses(b"N", magic), Some(false));
    assert_eq!(payload_parses(b"\xe3", magic), Some(false));
    assert_eq!(
        payload_parses(b"N", Magic(*b"\x03\xf3\x0d\x0a")),
        None,
        "Python 2.7"
    );
}
