use super::*;

#[test]
fn ranges_do_not_overlap_and_hold_their_finals() {
    for pair in CPYTHON_LINES.windows(2) {
        assert!(pair[0].last < pair[1].first, "3.{} overlaps", pair[0].minor);
    }
    for line in CPYTHON_LINES {
        for &final_number in line.finals {
            let known = Magic::from_number(final_number).known_release().unwrap();
            assert_eq!(known.version, PythonVersion::new(3, line.minor));
            assert!(known.is_final);
        }
    }
}

#[test]
fn foreign_bytes_are_unknown() {
    assert_eq!(Magic(*b"\x7fELF").known_release(), None);
    assert_eq!(Magic::from_number(9999).known_release(), None);
}
