use super::{ProbeData, ProbeKey, load_from, store_in};
use std::path::Path;
use std::process::Command;

/// Where the child of [`no_temporary_file_left_when_the_write_fails`] stores its entry.
const CHILD_DIR: &str = "PYCACHE_TEST_PROBE_CACHE_CHILD_DIR";

fn key() -> ProbeKey {
    ProbeKey::for_executable(Path::new("/bin/sh")).expect("/bin/sh exists")
}

/// An answer whose entry is larger than 512 bytes (one `ulimit -f` block).
fn data() -> ProbeData {
    let long = Some("2f".repeat(200));
    serde_json::from_value(serde_json::json!({
        "probe_version": 1, "implementation": "cpython", "version": "3.12.1",
        "sys_version": "3.12.1 (main)", "releaselevel": "final", "serial": 0,
        "cache_tag": "cpython-312", "marshal_version": 4, "optimize": 0,
        "pycache_prefix": null, "executable": long, "prefix": long, "base_prefix": long,
        "sys_path": [long], "magic": "cb0d0d0a", "source_hash_of_empty": null,
        "extension_suffixes": [".so"], "soabi": null, "ext_suffix": null,
    }))
    .expect("a ProbeData")
}

#[test]
fn stored_entry_is_loaded_and_alone() {
    let dir = tempfile::tempdir().unwrap();
    store_in(dir.path(), &key(), &data()).unwrap();
    assert_eq!(test_support::file_names(dir.path()), [key().file_name()]);
    assert_eq!(load_from(dir.path(), &key()), Some(data()));
}

#[test]
fn no_temporary_file_left_when_the_rename_fails() {
    let dir = tempfile::tempdir().unwrap();
    // A non-empty directory where the entry goes: the rename fails.
    let target = dir.path().join(key().file_name());
    std::fs::create_dir_all(target.join("occupied")).unwrap();
    assert!(store_in(dir.path(), &key(), &data()).is_err());
    assert_eq!(test_support::file_names(dir.path()), [key().file_name()]);
}

/// The write itself fails (`EFBIG`: the child runs under `ulimit -f 1` with `SIGXFSZ`
/// ignored): the partly written temporary file must go too.
#[test]
fn no_temporary_file_left_when_the_write_fails() {
    let dir = tempfile::tempdir().unwrap();
    // Its output goes through pipes: the limit would also stop it writing to a file (when
    // the tests' output is redirected to one).
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"trap "" XFSZ; ulimit -f 1; exec "$0" "$@""#)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "interpreter::probe_cache::tests::store_under_a_file_size_limit",
        ])
        .args(["--include-ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the child failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(test_support::file_names(dir.path()), Vec::<String>::new());
}

/// The child of [`no_temporary_file_left_when_the_write_fails`]; alone, it has nothing to do.
#[test]
#[ignore = "run by no_temporary_file_left_when_the_write_fails"]
fn store_under_a_file_size_limit() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let error = store_in(Path::new(&dir), &key(), &data()).expect_err("the write must fail");
    assert_eq!(error.kind(), std::io::ErrorKind::FileTooLarge, "{error}");
}
