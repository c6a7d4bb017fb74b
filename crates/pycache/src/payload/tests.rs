use super::*;

#[test]
fn nothing_and_non_code_are_refused() {
    let v = PythonVersion::new(3, 12);
    assert!(!payload_parses(b"", v));
    assert!(!payload_parses(b"N", v));
    assert!(!payload_parses(b"\xe3", v));
}
