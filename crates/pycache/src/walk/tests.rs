//! The walk against `std::fs`, on one thread and several.

use super::tree::MAX_HELD_DIRECTORIES;
use super::*;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A tree wide at the top and deeper than one thread holds open, with pycs beside some
/// sources.
fn tree() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..150 {
        let dir = tmp.path().join(format!("pkg{i:03}"));
        fs::create_dir_all(dir.join("__pycache__")).unwrap();
        fs::write(dir.join("a.py"), format!("x = {i}\n")).unwrap();
        fs::write(dir.join("data.txt"), "").unwrap();
        fs::write(dir.join("__pycache__/a.tag-1.pyc"), b"0123456789abcdefXYZ").unwrap();
    }
    let mut deep = tmp.path().join("deep");
    for level in 0..(MAX_HELD_DIRECTORIES + 8) {
        deep = deep.join(format!("d{level}"));
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("m.py"), "").unwrap();
    }
    tmp
}

/// `root`, 1000 levels deep.
fn one_root(root: &OsStr) -> [WalkRoot; 1] {
    [WalkRoot {
        path: root.to_owned(),
        max_depth: 1000,
    }]
}

/// The walk compileall makes, with std::fs, for names that sort bytewise.
fn reference(dir: &Path, depth: usize, out: &mut Vec<(OsString, usize)>) {
    let mut names: Vec<OsString> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        if name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            reference(&path, depth + 1, out);
        } else {
            out.push((path.into_os_string(), depth));
        }
    }
}

#[test]
fn every_thread_count_walks_in_compileall_order() {
    let tmp = tree();
    let root = tmp.path().as_os_str().to_owned();
    let mut expected = Vec::new();
    reference(tmp.path(), 0, &mut expected);
    for threads in [1, 2, 4] {
        let walk = walk(&one_root(&root), &WalkOptions::with_threads(threads));
        let got: Vec<(OsString, usize)> = walk
            .candidates
            .iter()
            .map(|c| (c.path.clone(), c.depth()))
            .collect();
        assert_eq!(got, expected, "{threads} threads");
        assert_eq!(walk.pycache_dirs.len(), 150);
    }
}

#[test]
fn prefetched_stats_and_headers_match_the_file_system() {
    let tmp = tree();
    let root = tmp.path().as_os_str().to_owned();
    let suffixes = vec![b".tag-1.pyc".to_vec()];
    let is_source = |name: &[u8]| name.ends_with(b".py");
    let options = WalkOptions {
        threads: 2,
        prefetch: Prefetch {
            stat_sources: true,
            pycache: PycacheRead::Probe(&suffixes),
            keep_files: Some(&is_source),
        },
    };
    let walk = walk(&one_root(&root), &options);
    assert_eq!(walk.candidates.len(), 150 + MAX_HELD_DIRECTORIES + 8);
    for candidate in &walk.candidates {
        let metadata = fs::metadata(&candidate.path).unwrap();
        assert_eq!(candidate.facts, Some(FileFacts::from_metadata(&metadata)));
    }
    let pyc = tmp.path().join("pkg007/__pycache__/a.tag-1.pyc");
    match walk.listings.find(pyc.as_os_str().as_bytes()) {
        Lookup::Listed(_, _, file) => {
            assert_eq!(
                file.head.as_ref().unwrap().bytes().unwrap(),
                b"0123456789abcdef"
            );
        }
        other => panic!("{other:?}"),
    }
    fs::remove_file(&pyc).unwrap();
    let other = tmp.path().join("pkg007/__pycache__/a.tag-2.pyc");
    assert!(matches!(
        walk.listings.find(other.as_os_str().as_bytes()),
        Lookup::Unknown
    ));
    let no_pycache = tmp.path().join("deep/d0/__pycache__/m.tag-1.pyc");
    assert!(matches!(
        walk.listings.find(no_pycache.as_os_str().as_bytes()),
        Lookup::Missing
    ));
    let rewalk = super::walk(&one_root(&root), &options);
    match rewalk.listings.find(pyc.as_os_str().as_bytes()) {
        Lookup::Listed(_, _, file) => assert_eq!(
            file.head.as_ref().unwrap().bytes().unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        ),
        other => panic!("{other:?}"),
    }
}
