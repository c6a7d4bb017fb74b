//! Fuzz the pyc header and file readers: any bytes must give a header, a clear error, or a
//! freshness verdict, never a panic. Run with `cargo fuzz run pyc_reader` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycache::pyc::PycFile;
use pycache::{
    CheckHashBasedPycs, HeaderLayout, ImportRules, Magic, PycHeader, PythonVersion, SourceStat,
    classify_pyc,
};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for layout in [HeaderLayout::MagicMtime, HeaderLayout::MagicMtimeSize, HeaderLayout::Pep552] {
        if let Ok(header) = PycHeader::parse(data, layout) {
            assert_eq!(&header.to_bytes()[..], &data[..layout.len()]);
        }
    }
    let _ = PycHeader::parse_any(data);
    if let Ok(pyc) = PycFile::from_bytes(Path::new("__pycache__/x.cpython-312.pyc"), data) {
        let _ = pyc.source_path();
    }
    for minor in [6, 9, 12] {
        let version = PythonVersion::new(3, minor);
        let magic = pycache::cpython_final_magic(version).unwrap_or(Magic::from_number(0));
        let rules = ImportRules::for_cpython(version, magic).with_check_hash_based_pycs(CheckHashBasedPycs::Always);
        let stat = SourceStat { mtime: 1_700_000_000, size: 6 };
        let _ = classify_pyc(&rules, data, stat, || Ok(b"x = 1\n".to_vec()));
    }
});
