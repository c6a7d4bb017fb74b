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
        // One pack per entry, so that pruning can remove some.
        cache.flush().unwrap();
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

// ---- The cache of compiled code in `pycache compile` -------------------------------------

use super::compile::{COMPARE, Python, files_ending, pythons};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Modules with shared strings, sets, nested code and a package: what marshal shares and flags.
fn write_modules(root: &Path) {
    for i in 0..5 {
        let path = if i < 3 {
            root.join(format!("m{i}.py"))
        } else {
            root.join(format!("pkg/m{i}.py"))
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            format!(
                "'''module {i}'''\nimport os\nNAMES = ('alpha', 'beta', 'module{i}')\n\
                 def check(x, y='alpha'):\n    assert x, 'no x'\n    if x in {{'alpha', 'beta', 'x{i}'}}:\n        \
                 return (x, y, 1.5, {i}, b'bytes', 2**70)\n    return [n for n in NAMES if n != x]\n\
                 class Thing{i}:\n    '''doc'''\n    def method(self, alpha=None):\n        \
                 return check('alpha', alpha) or os.sep\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(root.join("pkg/__init__.py"), "from . import m3\n").unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    for source in files_ending(root, ".py") {
        crate::set_mtime(&source, when);
    }
}

/// `pycache compile --json` with the cache on, in `cache_dir`; the JSON and the stderr.
fn compile_cached(
    python: &Path,
    cache_dir: &Path,
    args: &[&OsStr],
    root: &Path,
) -> (Value, String) {
    compile_cached_env(python, cache_dir, args, root, &[])
}

/// [`compile_cached`] with more variables set (a remote's credentials).
fn compile_cached_env(
    python: &Path,
    cache_dir: &Path,
    args: &[&OsStr],
    root: &Path,
    env: &[(&'static str, String)],
) -> (Value, String) {
    let output = pycache()
        .env_remove("PYCACHE_NO_CACHE")
        .env_remove("PYCACHE_REMOTE")
        .env_remove("SOURCE_DATE_EPOCH")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["compile", "--json", "--cache-dir"])
        .arg(cache_dir)
        .arg("--python")
        .arg(python)
        .args(args)
        .arg(root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_success(&output);
    (serde_json::from_slice(&output.stdout).unwrap(), stderr)
}

/// Copies the sources under `from` to `to` (mtimes kept) and compiles them there with the
/// cache in `cache_dir`; the JSON.
fn compile_copy(python: &Python, cache_dir: &Path, from: &Path, to: &Path) -> Value {
    super::compile::copy_sources(from, to, &|_| false);
    compile_cached(&python.path, cache_dir, &[], to).0
}

/// The per-interpreter counts of a compile's JSON.
fn counts(json: &Value) -> (u64, u64, u64, u64) {
    let per = &json["interpreters"][0];
    let n = |k: &str| {
        per[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in {json}"))
    };
    (n("compiled"), n("cached"), n("remote"), n("failed"))
}

/// Runs compileall in one fresh process over `root`, forcing, at `levels`, with `ddir`.
fn compileall(python: &Python, root: &Path, ddir: Option<&Path>, levels: &[i8]) {
    let script = "import compileall, sys\n\
                  ddir = sys.argv[2] or None\n\
                  for level in map(int, sys.argv[3:]):\n    \
                  assert compileall.compile_dir(sys.argv[1], ddir=ddir, force=True, quiet=2, optimize=level)";
    let mut args: Vec<&OsStr> = vec![
        "-c".as_ref(),
        script.as_ref(),
        root.as_os_str(),
        ddir.map_or("".as_ref(), Path::as_os_str),
    ];
    let levels: Vec<String> = levels.iter().map(i8::to_string).collect();
    args.extend(levels.iter().map(|l| OsStr::new(l.as_str())));
    let (status, _, stderr) = python.run(root, &args);
    assert_eq!(status, 0, "{}: {stderr}", python.name);
}

/// What compileall writes for the sources under `root` at `levels`, compiled in place (or as if
/// at `ddir`), into `reference`; `root`'s own pycs are left as they were.
fn compileall_reference(
    python: &Python,
    root: &Path,
    reference: &Path,
    ddir: Option<&Path>,
    levels: &[i8],
) {
    let saved = reference.with_extension("saved");
    copy_tree(root, &saved);
    compileall(python, root, ddir, levels);
    copy_tree(root, reference);
    std::fs::remove_dir_all(root).unwrap();
    copy_tree(&saved, root);
    std::fs::remove_dir_all(&saved).unwrap();
}

/// Compares the pycs under `root` with what compileall writes in place (the interpreter's own
/// level; `root`'s pycs are kept): (pairs, byte-identical, equal under marshal.loads).
fn against_compileall(python: &Python, root: &Path, reference: &Path) -> (u64, u64, u64) {
    compileall_reference(python, root, reference, None, &[-1]);
    compare(python, root, reference)
}

/// Copies a tree, keeping modes and mtimes (`cp -a`).
fn copy_tree(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Compares every pyc under `reference` with the one at the same place under `ours`, inside
/// the interpreter: (pairs, byte-identical, equal under marshal.loads).
fn compare(python: &Python, ours: &Path, reference: &Path) -> (u64, u64, u64) {
    let pairs: Vec<(String, String)> = files_ending(reference, ".pyc")
        .into_iter()
        .map(|theirs| {
            let mine = ours.join(theirs.strip_prefix(reference).unwrap());
            (
                mine.to_str().unwrap().to_owned(),
                theirs.to_str().unwrap().to_owned(),
            )
        })
        .collect();
    let report = python.json(ours, COMPARE, &[], &serde_json::to_string(&pairs).unwrap());
    let n = |k: &str| report[k].as_u64().unwrap();
    assert!(
        report["header_diff"].as_array().unwrap().is_empty(),
        "{}: headers differ: {report}",
        python.name
    );
    (n("pairs"), n("identical"), n("equal"))
}

/// The same sources at two paths of different lengths (the second non-ASCII): compiled at the
/// first, then at the second with the cache warm, every interpreter, every optimization level,
/// with and without `-d`: no interpreter starts, and every pyc is what compileall writes at the
/// second path (bytes on 3.11+, equal objects everywhere), and import uses it.
#[test]
fn a_warm_cache_compiles_the_same_code_at_another_path_without_python() {
    let levels: [i8; 3] = [0, 1, 2];
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let (wrapper, counter) = super::compile::counting_python(&base, &python);
        let cache = base.join("cache");
        let first = base.join("a");
        write_modules(&first);
        let level_args: Vec<&OsStr> = ["-o", "0", "-o", "1", "-o", "2"].map(OsStr::new).to_vec();
        let (json, _) = compile_cached(&wrapper, &cache, &level_args, &first);
        assert_eq!(counts(&json), (6, 0, 0, 0), "{}: {json}", python.name);

        for dfile in [None, Some("/app/deployed tree")] {
            let second = base
                .join("b-ÿé-a-much-longer-directory-name")
                .join(match dfile {
                    None => "plain",
                    Some(_) => "with-d",
                });
            super::compile::copy_sources(&first, &second, &|_| false);
            let mut args = level_args.clone();
            if let Some(d) = dfile {
                args.extend([OsStr::new("-d"), OsStr::new(d)]);
            }
            let before = super::compile::starts_of(&counter);
            let (json, _) = compile_cached(&wrapper, &cache, &args, &second);
            assert_eq!(counts(&json), (0, 6, 0, 0), "{}: {json}", python.name);
            assert_eq!(
                super::compile::starts_of(&counter),
                before,
                "{}: an interpreter started",
                python.name
            );

            let reference = base.join(format!("reference-{}", dfile.is_some()));
            compileall_reference(&python, &second, &reference, dfile.map(Path::new), &levels);
            let (pairs, identical, equal) = compare(&python, &second, &reference);
            assert_eq!(pairs, 18, "{}", python.name);
            assert_eq!(equal, pairs, "{}: objects differ", python.name);
            if python.at_least(3, 11) && !python.is_pypy() {
                assert_eq!(identical, pairs, "{}: bytes differ", python.name);
            }
            if dfile.is_none() && !python.is_pypy() {
                super::compile::assert_imports_with_matches(
                    &python,
                    &second,
                    "import m0, m1, m2, pkg, pkg.m3, pkg.m4",
                    &["m0", "m2", "__init__", "m4"],
                );
            }
        }
    }
}

/// The pack files of the cache in `cache_dir`.
fn packs(cache_dir: &Path) -> Vec<PathBuf> {
    let mut packs: Vec<PathBuf> = std::fs::read_dir(cache_dir.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    packs.sort();
    packs
}

/// Where each entry of a pack is, from its index (the last 48 bytes, its footer, say where that
/// is): (offset, length) in the order written.
fn pack_entries(pack: &[u8]) -> Vec<(usize, usize)> {
    let footer = &pack[pack.len() - 48..];
    let number = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().unwrap()) as usize;
    let (count, index) = (number(&footer[16..24]), number(&footer[24..32]));
    (0..count)
        .map(|i| {
            let record = &pack[index + 48 * i..index + 48 * (i + 1)];
            (number(&record[32..40]), number(&record[40..48]))
        })
        .collect()
}

/// An entry bit-flipped or of another format is a miss: that file is compiled (right), the
/// damaged pack replaced by one without the damage, and the next run at a third path is all
/// hits. A truncated pack is removed: every file in it is compiled, and stored again.
#[test]
fn a_damaged_entry_is_a_miss_and_is_repaired() {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let cache = base.join("cache");
    let first = base.join("a");
    write_modules(&first);
    compile_cached(&python.path, &cache, &[], &first);
    let [pack] = &packs(&cache)[..] else {
        panic!("one pack: {:?}", packs(&cache))
    };
    let mut data = std::fs::read(pack).unwrap();
    let entries = pack_entries(&data);
    assert_eq!(entries.len(), 6);
    let (flip, len) = entries[0];
    data[flip + len - 3] ^= 0x40;
    let (other_format, _) = entries[1];
    data[other_format..other_format + 8].copy_from_slice(b"NOTANENT");
    std::fs::write(pack, &data).unwrap();

    let second = base.join("second");
    let json = compile_copy(&python, &cache, &first, &second);
    assert_eq!(counts(&json), (2, 4, 0, 0), "{json}");
    let reference = base.join("reference");
    let (pairs, _, equal) = against_compileall(&python, &second, &reference);
    assert_eq!((pairs, equal), (6, 6));
    assert!(!pack.exists(), "the damaged pack is replaced");

    let third = base.join("third");
    let json = compile_copy(&python, &cache, &first, &third);
    assert_eq!(counts(&json), (0, 6, 0, 0), "{json}");

    let [repaired] = &packs(&cache)[..] else {
        panic!("one pack: {:?}", packs(&cache))
    };
    let data = std::fs::read(repaired).unwrap();
    std::fs::write(repaired, &data[..data.len() / 2]).unwrap();
    let fourth = base.join("fourth");
    let json = compile_copy(&python, &cache, &first, &fourth);
    assert_eq!(counts(&json), (6, 0, 0, 0), "{json}");
    let (pairs, _, equal) = against_compileall(&python, &fourth, &base.join("reference4"));
    assert_eq!((pairs, equal), (6, 6));
    let fifth = base.join("fifth");
    let json = compile_copy(&python, &cache, &first, &fifth);
    assert_eq!(counts(&json), (0, 6, 0, 0), "{json}");
}

/// Two `pycache compile` processes on different trees share one cache directory at the same
/// time: both succeed, every pyc is right, and the cache holds whole entries only.
#[test]
fn two_processes_share_one_cache_directory() {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let cache = base.join("cache");
    let trees: Vec<PathBuf> = (0..2).map(|i| base.join(format!("tree{i}"))).collect();
    for tree in &trees {
        for i in 0..60 {
            let path = tree.join(format!("mod{i:02}.py"));
            std::fs::create_dir_all(tree).unwrap();
            std::fs::write(
                &path,
                format!("X = {i}\ndef f():\n    return 'shared {i}'\n"),
            )
            .unwrap();
        }
    }
    let children: Vec<_> = trees
        .iter()
        .map(|tree| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("pycache"))
                .env_remove("PYCACHE_NO_CACHE")
                .args(["compile", "-q", "--cache-dir"])
                .arg(&cache)
                .arg("--python")
                .arg(&python.path)
                .arg(tree)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    for tree in &trees {
        let reference = base.join(format!(
            "reference-{}",
            tree.file_name().unwrap().to_string_lossy()
        ));
        let (pairs, _, equal) = against_compileall(&python, tree, &reference);
        assert_eq!((pairs, equal), (60, 60));
    }
    let usage = pycache::cache::LocalCache::new(&cache).usage().unwrap();
    assert_eq!(usage.entries, 60);
    let third = base.join("third");
    let json = compile_copy(&python, &cache, &trees[0], &third);
    assert_eq!(counts(&json), (0, 60, 0, 0), "{json}");
}

/// `--no-cache` and `PYCACHE_NO_CACHE=1` neither read nor write it; the summary line says how
/// many files came from the cache.
#[test]
fn the_cache_can_be_turned_off_and_the_summary_counts_hits() {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let cache = base.join("cache");
    let tree = base.join("t");
    write_modules(&tree);
    let run = |extra: &[&str], env_off: bool| {
        let mut command = pycache();
        if !env_off {
            command.env_remove("PYCACHE_NO_CACHE");
        }
        let output = command
            .args(["compile", "-f", "--cache-dir"])
            .arg(&cache)
            .arg("--python")
            .arg(&python.path)
            .args(extra)
            .arg(&tree)
            .output()
            .unwrap();
        assert_success(&output);
        String::from_utf8(output.stdout).unwrap()
    };
    let off = run(&["--no-cache"], false);
    assert!(off.contains(": 6 compiled, 0 fresh"), "{off}");
    run(&[], true);
    assert!(!cache.exists(), "nothing stored with the cache off");
    let on = run(&[], false);
    assert!(
        on.contains(": 6 compiled, 0 from cache, 0 fresh, 0 failed"),
        "{on}"
    );
    let warm = run(&[], false);
    assert!(
        warm.contains(": 0 compiled, 6 from cache, 0 fresh, 0 failed"),
        "{warm}"
    );
}

/// A file the interpreter warned about is compiled every time (its warning is printed every
/// time, naming its own path); the rest is served.
#[test]
fn files_with_warnings_are_not_cached() {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let cache = base.join("cache");
    let tree = base.join("t");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("ok.py"), "x = 1\n").unwrap();
    // `is` with a literal: a SyntaxWarning on 3.8 and later.
    std::fs::write(tree.join("warns.py"), "def f(x):\n    return x is 1\n").unwrap();
    compile_cached(&python.path, &cache, &[], &tree);
    let other = base.join("u");
    super::compile::copy_sources(&tree, &other, &|_| false);
    let (json, stderr) = compile_cached(&python.path, &cache, &[], &other);
    assert_eq!(counts(&json), (1, 1, 0, 0), "{json}");
    assert!(
        stderr.contains("SyntaxWarning") && stderr.contains("/u/warns.py"),
        "{stderr}"
    );
}

// ---- Remote caches: real servers on 127.0.0.1 -------------------------------------------

/// `compile_cached` with `--remote URL` (and more flags).
fn compile_remote(
    python: &Path,
    cache_dir: &Path,
    url: &str,
    extra: &[&str],
    root: &Path,
) -> (Value, String) {
    compile_remote_env(python, cache_dir, url, extra, root, &[])
}

fn compile_remote_env(
    python: &Path,
    cache_dir: &Path,
    url: &str,
    extra: &[&str],
    root: &Path,
    env: &[(&'static str, String)],
) -> (Value, String) {
    let mut args: Vec<&OsStr> = vec!["--remote".as_ref(), url.as_ref()];
    args.extend(extra.iter().map(OsStr::new));
    compile_cached_env(python, cache_dir, &args, root, env)
}

/// Machine one compiles and fills the remote; machine two (another local cache) compiles the
/// same code at another path from the remote alone, starting no interpreter, and keeps it
/// locally; a read-only machine adds nothing to the remote.
fn machines_share_through(url: &str, env: &[(&'static str, String)]) {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let (wrapper, counter) = super::compile::counting_python(&base, &python);
    let first = base.join("a");
    write_modules(&first);
    let (json, stderr) = compile_remote_env(&wrapper, &base.join("one"), url, &[], &first, env);
    assert_eq!(counts(&json), (6, 0, 0, 0), "{json}");
    assert!(stderr.is_empty(), "{stderr}");

    let second = base.join("second-é-machine");
    super::compile::copy_sources(&first, &second, &|_| false);
    let before = super::compile::starts_of(&counter);
    let (json, _) = compile_remote_env(&wrapper, &base.join("two"), url, &[], &second, env);
    assert_eq!(counts(&json), (0, 0, 6, 0), "{json}");
    assert_eq!(
        super::compile::starts_of(&counter),
        before,
        "an interpreter started"
    );
    let reference = base.join("reference");
    let (pairs, identical, equal) = against_compileall(&python, &second, &reference);
    assert_eq!((pairs, equal), (6, 6));
    assert_eq!(identical, 6, "{}: bytes differ", python.name);
    // What came from the remote is now in machine two's local cache.
    let third = base.join("third");
    super::compile::copy_sources(&first, &third, &|_| false);
    let (json, _) = compile_remote_env(&wrapper, &base.join("two"), url, &[], &third, env);
    assert_eq!(counts(&json), (0, 6, 0, 0), "{json}");

    // A read-only machine compiles new code and does not share it.
    let fresh = base.join("new-code");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(fresh.join("only_here.py"), "ONLY = 'here'\n").unwrap();
    let (json, _) = compile_remote_env(
        &python.path,
        &base.join("three"),
        url,
        &["--remote-read-only"],
        &fresh,
        env,
    );
    assert_eq!(counts(&json), (1, 0, 0, 0), "{json}");
    let again = base.join("new-code-again");
    super::compile::copy_sources(&fresh, &again, &|_| false);
    let (json, _) = compile_remote_env(&python.path, &base.join("four"), url, &[], &again, env);
    assert_eq!(
        counts(&json),
        (1, 0, 0, 0),
        "read-only stored to the remote: {json}"
    );
}

#[test]
fn machines_share_compiled_code_through_redis() {
    let redis = test_support::Redis::start();
    machines_share_through(&redis.url(2), &[]);
}

/// A machine with an empty local cache fetches a directory with one request (a bundle stored by
/// the machine that compiled it), and a directory that differs in one file one request per
/// file (its bundle is another).
#[test]
fn a_second_machine_fetches_a_directory_per_request() {
    let redis = test_support::Redis::start();
    let url = redis.url(0);
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let first = base.join("a");
    write_modules(&first);
    let (json, _) = compile_remote(&python.path, &base.join("one"), &url, &[], &first);
    assert_eq!(counts(&json), (6, 0, 0, 0), "{json}");

    // A machine with an empty local cache compiles a copy of `from` (changed by `change`):
    // its counts, the GETs Redis served, and the tree.
    let machine = |name: &str, from: &Path, change: &dyn Fn(&Path)| {
        redis.reset_stats();
        let tree = base.join(name);
        super::compile::copy_sources(from, &tree, &|_| false);
        change(&tree);
        let cache = base.join(format!("cache-{name}"));
        let (json, _) = compile_remote(&python.path, &cache, &url, &[], &tree);
        (counts(&json), redis.calls("get"), tree)
    };

    // Two directories (the root and pkg/), three files each: two requests.
    let (counted, gets, second) = machine("second", &first, &|_| {});
    assert_eq!((counted, gets), ((0, 0, 6, 0), 2));
    let (pairs, _, equal) = against_compileall(&python, &second, &base.join("reference"));
    assert_eq!((pairs, equal), (6, 6));

    // One file of pkg/ changed: the root's bundle, then pkg/'s (missing), then its three files.
    let change = |tree: &Path| std::fs::write(tree.join("pkg/m4.py"), "CHANGED = True\n").unwrap();
    let (counted, gets, third) = machine("third", &first, &change);
    assert_eq!((counted, gets), ((1, 0, 5, 0), 5));
    // ... and it stored pkg/'s new bundle: a fourth machine asks twice again.
    let (counted, gets, _) = machine("fourth", &third, &|_| {});
    assert_eq!((counted, gets), ((0, 0, 6, 0), 2));
}

#[test]
fn machines_share_compiled_code_through_webdav() {
    let dav = test_support::WebDav::start();
    machines_share_through(&dav.url("pycache"), &[]);
}

#[test]
fn machines_share_compiled_code_through_s3() {
    let s3 = test_support::S3::start("builds");
    machines_share_through("s3://builds/pycache", &s3.env());
}

/// A run sends what it compiles to the remote in batches as it goes (4 MiB each), not all at
/// the end, so that it holds no compiled code per file: 120 files of some 60 KB of code each
/// make two batches during the run and one at its end, and another machine gets every one.
#[test]
fn a_run_sends_to_the_remote_in_batches_as_it_goes() {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let first = base.join("a");
    std::fs::create_dir_all(&first).unwrap();
    for i in 0..120 {
        let body: String = (0..1500)
            .map(|line| format!("name_{i}_{line} = 'text {line} of module {i}'\n"))
            .collect();
        std::fs::write(first.join(format!("m{i}.py")), body).unwrap();
    }
    let redis = test_support::Redis::start();
    let url = redis.url(3);
    let (json, stderr) = compile_remote(&python.path, &base.join("one"), &url, &[], &first);
    assert_eq!(counts(&json), (120, 0, 0, 0), "{json}");
    assert!(stderr.is_empty(), "{stderr}");
    let second = base.join("b");
    super::compile::copy_sources(&first, &second, &|_| false);
    let (json, stderr) = compile_remote(&python.path, &base.join("two"), &url, &[], &second);
    assert_eq!(counts(&json), (0, 0, 120, 0), "{json}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// A remote that is not there: one warning, every file compiled, exit 0.
#[test]
fn an_unreachable_remote_warns_once_and_compiles_locally() {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let tree = base.join("t");
    write_modules(&tree);
    let port = test_support::free_port();
    for url in [
        format!("redis://127.0.0.1:{port}/0"),
        format!("webdav+http://127.0.0.1:{port}/c"),
    ] {
        let (json, stderr) = compile_remote(&python.path, &base.join("c"), &url, &["-f"], &tree);
        assert_eq!(counts(&json), (6, 0, 0, 0), "{json}");
        assert_eq!(stderr.matches("pycache: warning:").count(), 1, "{stderr}");
        assert!(stderr.contains("127.0.0.1"), "{stderr}");
        std::fs::remove_dir_all(base.join("c")).unwrap();
    }
    // A URL of no known kind is a warning too, not a failed build.
    let (json, stderr) = compile_remote(&python.path, &base.join("c"), "ftp://x/y", &["-f"], &tree);
    assert_eq!(counts(&json).0 + counts(&json).1, 6, "{json}");
    assert!(stderr.contains("unknown scheme"), "{stderr}");
}

/// The server dies while pycache compiles (after its lookups, before its stores): the run
/// finishes with every pyc right and one warning.
#[test]
fn a_remote_killed_in_the_middle_of_a_run() {
    let python = super::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let tree = base.join("t");
    write_modules(&tree);
    // A file that takes the interpreter a while to compile keeps the run going.
    let slow: String = (0..30_000)
        .map(|i| format!("v{i} = {i} * 2 + {i}\n"))
        .collect();
    std::fs::write(tree.join("slow.py"), slow).unwrap();
    let mut redis = test_support::Redis::start();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pycache"))
        .env_remove("PYCACHE_NO_CACHE")
        .args(["compile", "--json", "-j", "1", "--cache-dir"])
        .arg(base.join("c"))
        .args(["--remote", &redis.url(0), "--python"])
        .arg(&python.path)
        .arg(&tree)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once pycache has a child (the probe, or a worker compiling), the server goes: its
    // lookups or its stores at the end of the run meet a dead server.
    super::compile::bad_input::wait_for_children(child.id());
    redis.kill();
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("pycache: warning:").count(), 1, "{stderr}");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(counts(&json), (7, 0, 0, 0), "{json}");
    let reference = base.join("reference");
    let (pairs, _, equal) = against_compileall(&python, &tree, &reference);
    assert_eq!((pairs, equal), (7, 7));
}

/// `-s` and `-p` (3.9+): the re-pointed name is the dfile compileall would compile under.
#[test]
fn strip_and_prepend_name_the_served_code_as_compileall_does() {
    let python = super::compile::default_python();
    assert!(python.at_least(3, 9), "-s and -p need compileall 3.9+");
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let cache = base.join("cache");
    let first = base.join("a");
    write_modules(&first);
    compile_cached(&python.path, &cache, &[], &first);
    let second = base.join("build").join("root");
    super::compile::copy_sources(&first, &second, &|_| false);
    let strip = base.join("build");
    let args: Vec<&OsStr> = vec![
        "-s".as_ref(),
        strip.as_os_str(),
        "-p".as_ref(),
        "/srv/app".as_ref(),
    ];
    let (json, _) = compile_cached(&python.path, &cache, &args, &second);
    assert_eq!(counts(&json), (0, 6, 0, 0), "{json}");
    let ours = base.join("ours");
    copy_tree(&second, &ours);
    let script = "import compileall, sys\n\
                  assert compileall.compile_dir(sys.argv[1], stripdir=sys.argv[2], prependdir='/srv/app', force=True, quiet=2)";
    let (status, _, stderr) = python.run(
        &second,
        &[
            "-c".as_ref(),
            script.as_ref(),
            second.as_os_str(),
            strip.as_os_str(),
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    let (pairs, identical, equal) = compare(&python, &ours, &second);
    assert_eq!((pairs, equal, identical), (6, 6, 6));
}

/// `--reproducible` with the cache: what is served at another path is byte for byte what a
/// reproducible compile without the cache writes there, on every interpreter.
#[test]
fn reproducible_pycs_served_from_the_cache_are_the_ones_compiling_gives() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let cache = base.join("cache");
        let first = base.join("a");
        write_modules(&first);
        let reproducible: Vec<&OsStr> = vec!["--reproducible".as_ref()];
        compile_cached(&python.path, &cache, &reproducible, &first);
        let second = base.join("a-longer-é-path");
        super::compile::copy_sources(&first, &second, &|_| false);
        let (json, _) = compile_cached(&python.path, &cache, &reproducible, &second);
        assert_eq!(counts(&json), (0, 6, 0, 0), "{}: {json}", python.name);
        let served: Vec<(PathBuf, Vec<u8>)> = files_ending(&second, ".pyc")
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(p).unwrap()))
            .collect();
        let output = pycache()
            .args(["compile", "-q", "-f", "--reproducible", "--python"])
            .arg(&python.path)
            .arg(&second)
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        assert_success(&output);
        for (path, data) in served {
            assert!(
                std::fs::read(&path).unwrap() == data,
                "{}: {} differs from a compile without the cache",
                python.name,
                path.display()
            );
        }
    }
}

/// `--hardlink-dupes` with every level served from the cache (re-pointed in pieces): the levels
/// whose pycs are the same bytes are one file, as compileall links them.
#[test]
fn levels_served_alike_are_hard_linked_as_compileall_links_them() {
    use std::os::unix::fs::MetadataExt;
    let links = |root: &Path| -> Vec<(PathBuf, u64)> {
        let mut links: Vec<_> = files_ending(root, ".pyc")
            .into_iter()
            .map(|pyc| {
                let nlink = std::fs::metadata(&pyc).unwrap().nlink();
                (pyc.strip_prefix(root).unwrap().to_owned(), nlink)
            })
            .collect();
        links.sort();
        links
    };
    let args = ["-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes"].map(OsStr::new);
    for python in pythons().into_iter().filter(|p| p.at_least(3, 9)) {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let cache = base.join("cache");
        let roots = ["a", "b-a-longer-name", "reference"].map(|name| base.join(name));
        for root in &roots {
            std::fs::create_dir_all(root).unwrap();
            // The same code at every level, and code that differs at each.
            std::fs::write(root.join("alike.py"), "x = [1, 2]\n").unwrap();
            std::fs::write(root.join("unlike.py"), "'''doc'''\nassert x\n").unwrap();
        }
        let [first, second, reference] = &roots;
        compile_cached(&python.path, &cache, &args, first);
        let (json, _) = compile_cached(&python.path, &cache, &args, second);
        assert_eq!(counts(&json), (0, 2, 0, 0), "{}: {json}", python.name);
        let mut compileall: Vec<&OsStr> = ["-m", "compileall", "-q"].map(OsStr::new).to_vec();
        compileall.extend(args);
        compileall.push(OsStr::new("."));
        let (status, _, stderr) = python.run(reference, &compileall);
        assert_eq!(status, 0, "{}: {stderr}", python.name);
        let theirs = links(reference);
        assert!(
            theirs.iter().any(|&(_, n)| n == 3),
            "{}: {theirs:?}",
            python.name
        );
        assert_eq!(links(second), theirs, "{}", python.name);
    }
}
