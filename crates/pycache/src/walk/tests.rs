//! The walk against `std::fs`, on one thread and several.

use super::tree::MAX_HELD_DIRECTORIES;
use super::*;
use std::fs;
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
    let (mut stated, mut unstated) = (0, 0);
    for candidate in &walk.candidates {
        let metadata = fs::metadata(&candidate.path).unwrap();
        let heads = candidate.pyc_heads.as_deref().expect("probed");
        if heads.iter().all(PycHead::is_absent) {
            // None of its pycs is there: nothing needs its stat before it is read.
            assert!(candidate.unstated, "{:?}", candidate.path);
            assert_eq!(candidate.facts, None);
            unstated += 1;
        } else {
            assert!(!candidate.unstated);
            assert_eq!(candidate.facts, Some(FileFacts::from_metadata(&metadata)));
            stated += 1;
        }
    }
    assert!(
        stated > 0 && unstated > 0,
        "{stated} stated, {unstated} not"
    );
    let heads_of = |walk: &Walk, source: &std::path::Path| {
        let candidate = (walk.candidates.iter())
            .find(|c| c.path == source.as_os_str())
            .unwrap();
        candidate.pyc_heads.clone().expect("probed")
    };
    let source = tmp.path().join("pkg007/a.py");
    let heads = heads_of(&walk, &source);
    assert_eq!(heads.len(), 1, "one head per suffix");
    assert_eq!(heads[0].bytes().unwrap(), b"0123456789abcdef");
    // No `__pycache__`: known to be missing.
    let heads = heads_of(&walk, &tmp.path().join("deep/d0/m.py"));
    assert_eq!(
        heads[0].bytes().unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    fs::remove_file(tmp.path().join("pkg007/__pycache__/a.tag-1.pyc")).unwrap();
    let rewalk = super::walk(&one_root(&root), &options);
    assert_eq!(
        heads_of(&rewalk, &source)[0].bytes().unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}

#[test]
fn a_symlinked_source_is_stated_even_when_none_of_its_pycs_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("a.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink("a.py", tmp.path().join("l.py")).unwrap();
    std::os::unix::fs::symlink("gone.py", tmp.path().join("dangling.py")).unwrap();
    let suffixes = vec![b".tag-1.pyc".to_vec()];
    let options = WalkOptions {
        threads: 1,
        prefetch: Prefetch {
            stat_sources: true,
            pycache: PycacheRead::Probe(&suffixes),
            keep_files: None,
        },
    };
    let walk = walk(&one_root(tmp.path().as_os_str()), &options);
    let found = |name: &str| {
        let path = tmp.path().join(name);
        let candidate = walk.candidates.iter().find(|c| c.path == path.as_os_str());
        let candidate = candidate.unwrap();
        (candidate.unstated, candidate.facts)
    };
    assert_eq!(found("a.py"), (true, None));
    let target = FileFacts::from_metadata(&fs::metadata(tmp.path().join("a.py")).unwrap());
    assert_eq!(found("l.py"), (false, Some(target)));
    // A link to nothing is no file to compile (compileall's `isfile()`): it must be stat'ed.
    assert_eq!(found("dangling.py"), (false, None));
}

#[test]
fn roots_walk_once_as_deep_as_needed_and_each_keeps_its_part() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fs::create_dir_all(a.join("x/y")).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("top.py"), "").unwrap();
    fs::write(a.join("x/mid.py"), "").unwrap();
    fs::write(a.join("x/y/deep.py"), "").unwrap();
    fs::write(b.join("other.py"), "").unwrap();
    let (a, b) = (a.into_os_string(), b.into_os_string());
    let gone = tmp.path().join("gone").into_os_string();
    let first = [a.clone(), gone.clone()];
    let second = [b.clone(), a.clone()];
    let roots = WalkRoot::union(&[(&first[..], 1), (&second[..], 2)]);
    let depths: Vec<(&OsStr, usize)> = roots
        .iter()
        .map(|r| (r.path.as_os_str(), r.max_depth))
        .collect();
    assert_eq!(depths, [(a.as_os_str(), 2), (&gone, 1), (&b, 2)]);

    let walked = walk(&roots, &WalkOptions::with_threads(2));
    let names = |root: &OsStr| -> Vec<usize> {
        walked
            .candidates_under(root)
            .iter()
            .map(|c| c.depth())
            .collect()
    };
    assert_eq!(names(&a), [0, 1, 2], "a/top.py, a/x/mid.py, a/x/y/deep.py");
    assert_eq!(names(&b), [0]);
    assert!(names(&gone).is_empty());
    assert!(walked.problems_under(&a).is_empty());
    assert_eq!(
        walked.problems_under(&gone),
        [WalkProblem::Missing(gone.clone())]
    );
    assert_eq!(walked.problems, [WalkProblem::Missing(gone.clone())]);
    assert_eq!(walked.candidates.len(), 4);
    assert!(
        walked
            .candidates_under(OsStr::new("/not/a/root"))
            .is_empty()
    );
}

/// Descriptors this process has open.
fn open_descriptors() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_deep_walk_holds_a_bounded_number_of_directories_open() {
    // A comb 300 deep: at each level a leaf `a` (listed last, as its task is the older) and the
    // chain `b`. Were every parent held until its last subdirectory opened, the whole chain
    // would be open when the deepest leaf is listed.
    let tmp = tempfile::tempdir().unwrap();
    let mut dir = tmp.path().to_owned();
    for _ in 0..300 {
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::write(dir.join("a/f.py"), "").unwrap();
        dir = dir.join("b");
        fs::create_dir(&dir).unwrap();
    }
    let baseline = open_descriptors();
    let most = std::sync::atomic::AtomicUsize::new(0);
    let count = |_: &[u8]| {
        most.fetch_max(open_descriptors(), std::sync::atomic::Ordering::Relaxed);
        true
    };
    let options = WalkOptions {
        threads: 1,
        prefetch: Prefetch {
            keep_files: Some(&count),
            ..Prefetch::default()
        },
    };
    let walked = walk(&one_root(tmp.path().as_os_str()), &options);
    assert_eq!(walked.candidates.len(), 300);
    let most = most.into_inner();
    assert!(
        most < baseline + MAX_HELD_DIRECTORIES + 40,
        "{most} descriptors open at most, {baseline} before the walk"
    );
}
