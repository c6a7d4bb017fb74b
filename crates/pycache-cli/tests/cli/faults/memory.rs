//! Memory under a large tree: "about 2.3 KB per source; under `ulimit -v 300000` a 50,000-file
//! run aborted (`memory allocation of 192 bytes failed`, exit 134, no summary)". Per-file state
//! is now small and streamed, so that a million-file tree stays under 1 GB.

use super::python;
use std::path::Path;
use std::process::Command;

/// `files` one-line sources, 500 to a directory, each different (so that each is a miss of the
/// cache of compiled code).
fn synthetic_tree(root: &Path, files: usize) {
    for i in 0..files {
        let dir = root.join(format!("p{}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(dir.join(format!("m{i}.py")), format!("x = {i}\n")).unwrap();
    }
}

/// Runs `pycache compile --json -j 2` on `tree` under the issue's `ulimit -v 300000` (the
/// workers fixed, so that a machine with many cores does not count more thread stacks), with
/// the cache of compiled code on, as it is by default, in `cache`; the run must complete with a
/// summary. Gives the peak RSS (KiB) and the (compiled, fresh) counts.
fn compile_limited(python: &Path, tree: &Path, cache: &Path) -> (u64, u64, u64) {
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 300000; exec \"$0\" compile --json -j 2 --python \"$1\" \"$2\"")
        .arg(assert_cmd::cargo::cargo_bin("pycache"))
        .arg(python)
        .arg(tree)
        .env_remove("PYCACHE_NO_CACHE")
        .env("PYCACHE_CACHE_DIR", cache)
        .output()
        .unwrap();
    crate::assert_success(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let counts = &json["interpreters"][0];
    (
        json["peak_rss_kib"].as_u64().unwrap(),
        counts["compiled"].as_u64().unwrap(),
        counts["fresh"].as_u64().unwrap(),
    )
}

#[test]
fn fifty_thousand_files_compile_under_the_issues_limit_at_under_a_kilobyte_each() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (10_000, 50_000);
    let mut peaks = Vec::new();
    for files in [small, large] {
        let tree = dir.path().join(format!("t{files}"));
        synthetic_tree(&tree, files);
        let cache = dir.path().join(format!("cache{files}"));
        let (compile_peak, compiled, fresh) = compile_limited(&python.path, &tree, &cache);
        assert_eq!((compiled, fresh), (files as u64, 0));
        let (noop_peak, compiled, fresh) = compile_limited(&python.path, &tree, &cache);
        assert_eq!((compiled, fresh), (0, files as u64));
        peaks.push((compile_peak, noop_peak));
    }
    // The slope between the two sizes is what each file costs; a million files at under
    // 1,000 bytes each (plus the fixed part) stay under 1 GB.
    let per_file = |at_small: u64, at_large: u64| {
        at_large.saturating_sub(at_small) * 1024 / (large - small) as u64
    };
    let compile = per_file(peaks[0].0, peaks[1].0);
    let noop = per_file(peaks[0].1, peaks[1].1);
    eprintln!("bytes per file: compile {compile}, no-op {noop} (peaks {peaks:?})");
    assert!(
        compile < 1000 && noop < 1000,
        "bytes per file: compile {compile}, no-op {noop} (peaks {peaks:?})"
    );
}
