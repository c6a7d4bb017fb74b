//! `pycache cache info|prune|clear` on a cache filled through the library.

use super::{assert_success, pycache};
use pycache::cache::{CacheKey, Entry, KeyParts, LocalCache, RunStats, record_run};

fn fill(dir: &std::path::Path, count: u8) {
    let cache = LocalCache::new(dir);
    for i in 0..count {
        let source = [i];
        let key = CacheKey::new(&KeyParts::new(
            "cpython", "3.12.1", [0; 4], 0, &source, b"w",
        ));
        cache
            .put(&key, &Entry::new(vec![b'c'; 1000], String::new(), false))
            .unwrap();
    }
}

fn run(args: &[&str]) -> String {
    let output = pycache().arg("cache").args(args).output().unwrap();
    assert_success(&output);
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn info_prune_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    let flag = ["--cache-dir", code.to_str().unwrap()];
    let empty = run(&["info", flag[0], flag[1]]);
    assert!(empty.contains("0 B in 0 entries"), "{empty}");
    assert!(empty.contains("no lookups yet"), "{empty}");

    fill(&code, 10);
    record_run(&code, &RunStats::new(3, 0, 1, 0)).unwrap();
    let full = run(&["info", flag[0], flag[1]]);
    assert!(full.contains("in 10 entries"), "{full}");
    assert!(
        full.contains("75% (3 of 4 lookups) over the last 1 run"),
        "{full}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&["info", "--json", flag[0], flag[1]])).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["entries"], 10);

    let entry_size = json["bytes"].as_u64().unwrap() / 10;
    let max = (entry_size * 4).to_string();
    let pruned = run(&["prune", "--max-size", &max, flag[0], flag[1]]);
    assert!(pruned.contains("removed 6 entries"), "{pruned}");
    assert_eq!(LocalCache::new(&code).usage().unwrap().entries, 4);

    let cleared = run(&["clear", flag[0], flag[1]]);
    assert!(cleared.contains("removed 4 entries"), "{cleared}");
    assert!(!code.exists());
}

#[test]
fn the_default_directory_follows_pycache_cache_dir() {
    let dir = tempfile::tempdir().unwrap();
    fill(&dir.path().join("code"), 2);
    let output = pycache()
        .args(["cache", "info"])
        .env("PYCACHE_CACHE_DIR", dir.path())
        .output()
        .unwrap();
    assert_success(&output);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("in 2 entries"), "{text}");
}
