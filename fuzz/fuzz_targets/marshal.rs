//! Fuzz the marshal reader: any bytes must give objects that write back to the same bytes, or
//! an error naming an offset inside the input, never a panic; canonical forms are stable; the
//! streaming `canonical` and `rewrite_filename` give what their tree references give.
//! Run with `cargo fuzz run marshal` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycache::marshal::{self, CodeLayout, Format, Pyc};

fuzz_target!(|data: &[u8]| {
    for code in [CodeLayout::V30, CodeLayout::V38, CodeLayout::V311] {
        for version in [4, 5] {
            let format = Format { code, version };
            assert_eq!(
                marshal::canonical(data, format),
                marshal::tree_reference::canonical(data, format)
            );
            assert_eq!(
                marshal::rewrite_filename(data, format, b"/x/\xff.py"),
                marshal::tree_reference::rewrite_filename(data, format, b"/x/\xff.py")
            );
            match marshal::read(data, format) {
                Ok(object) => {
                    assert_eq!(marshal::write(&object), data);
                    let canonical = marshal::canonical(data, format).unwrap();
                    assert_eq!(marshal::canonical(&canonical, format).unwrap(), canonical);
                    let moved = marshal::rewrite_filename(data, format, b"/x/\xff.py").unwrap();
                    assert!(marshal::read(&moved, format).is_ok());
                }
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        }
    }
    if let Ok(pyc) = Pyc::split(data) {
        if let Ok(canonical) = pyc.canonical() {
            assert_eq!(Pyc::split(&canonical).unwrap().canonical().unwrap(), canonical);
        }
    }
});
