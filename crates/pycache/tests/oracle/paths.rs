//! `cache_from_source` / `source_from_cache` against each interpreter's `importlib.util`.

use crate::support::{hex, interpreters, run_oracle, unhex};
use pycache::CacheScheme;
use serde_json::{Value, json};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

const SCRIPT: &str = include_str!("paths_oracle.py");

/// A small deterministic generator, so a failure can be reproduced.
struct Lcg(u64);
impl Lcg {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items[(self.0 >> 33) as usize % items.len()]
    }
}

const LEADS: &[&[u8]] = &[b"", b"/", b"//", b"./", b"../", b"././", b"/a//"];
const DIRS: &[&[u8]] = &[
    b"",
    b"a",
    b"dir.d",
    b".hidden",
    "é".as_bytes(),
    b"\xff\xfe",
    b"x y",
    b"__pycache__",
    b"a'b",
    b"b\"c",
    b"t\tab",
    b"C:",
    b"..",
    b".",
];
const NAMES: &[&[u8]] = &[
    b"foo.py",
    b"foo",
    b"foo.",
    b".py",
    b".hidden",
    b"foo.bar.py",
    b"foo.pyw",
    "é.py".as_bytes(),
    b"\xff.py",
    b"a.b.c.d",
    b"",
    b"x:y.py",
    b"it's.py",
    b"new\nline.py",
    "\u{200b}.py".as_bytes(),
];
const OPTS: &[Option<&str>] = &[
    None,
    None,
    None,
    Some(""),
    Some("0"),
    Some("1"),
    Some("2"),
    Some("abc"),
    Some("é"),
    Some("-1"),
    Some("a_b"),
    Some("x y"),
    Some("١"),
    Some("\u{345}"),
    Some("Ⅻ"),
    Some("½"),
];
const PREFIXES: &[Option<&[u8]>] = &[
    None,
    None,
    Some(b"/pfx"),
    Some(b"/pfx/"),
    Some(b"pfx"),
    Some(b"/"),
    Some(b"./a/../b"),
    Some("/p\u{e9}".as_bytes()),
];

/// A generated case: source path bytes, optimization, pycache prefix.
type Case = (Vec<u8>, Option<&'static str>, Option<&'static [u8]>);

fn generated_sources(count: usize) -> Vec<Case> {
    let mut rng = Lcg(0x5eed);
    (0..count)
        .map(|_| {
            let mut path = rng.pick(LEADS).to_vec();
            for _ in 0..rng.pick(&[0usize, 1, 1, 2, 3]) {
                path.extend_from_slice(rng.pick(DIRS));
                path.push(b'/');
            }
            path.extend_from_slice(rng.pick(NAMES));
            (path, rng.pick(OPTS), rng.pick(PREFIXES))
        })
        .collect()
}

fn ours(result: Result<OsString, pycache::CachePathError>) -> Value {
    match result {
        Ok(path) => json!({"ok": hex(path.as_bytes())}),
        Err(error) => json!({"error": error.python_exception(), "message": error.to_string()}),
    }
}

fn compare(
    cwd: &std::path::Path,
    cases: &[Value],
    expected_for: impl Fn(&pycache::Interpreter, &Value) -> Value,
) {
    for interpreter in interpreters() {
        let request = json!({"cwd": hex(cwd.as_os_str().as_bytes()), "cases": cases});
        let theirs = run_oracle(interpreter, SCRIPT, &request, &[], cwd);
        let theirs = theirs.as_array().unwrap();
        assert_eq!(theirs.len(), cases.len());
        let mut mismatches = Vec::new();
        for (case, their) in cases.iter().zip(theirs) {
            let our = expected_for(interpreter, case);
            if &our != their {
                mismatches.push(format!("{case}\n    python: {their}\n    ours:   {our}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{}: {} of {} differ:\n{}",
            interpreter.display_name(),
            mismatches.len(),
            cases.len(),
            mismatches
                .iter()
                .take(15)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

fn scheme_for(interpreter: &pycache::Interpreter, case: &Value) -> CacheScheme {
    let prefix = case["prefix"]
        .as_str()
        .map(|p| OsString::from_vec(unhex(p)));
    // The oracle sets sys.pycache_prefix explicitly (None included) and sys.flags.optimize is 0.
    CacheScheme::new(interpreter.cache_tag(), interpreter.version()).with_pycache_prefix(prefix)
}

fn cache_cases(sources: &[Case]) -> Vec<Value> {
    sources
        .iter()
        .map(|(path, opt, prefix)| {
            json!({"kind": "cache", "path": hex(path), "opt": opt, "prefix": prefix.map(hex)})
        })
        .collect()
}

fn expected_cache(cwd: &std::path::Path) -> impl Fn(&pycache::Interpreter, &Value) -> Value {
    move |interpreter, case| {
        let path = OsString::from_vec(unhex(case["path"].as_str().unwrap()));
        ours(scheme_for(interpreter, case).cache_from_source_in(
            &path,
            case["opt"].as_str(),
            cwd.as_os_str(),
        ))
    }
}

#[test]
fn cache_from_source_matches_importlib() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    let cases = cache_cases(&generated_sources(600));
    compare(&cwd, &cases, expected_cache(&cwd));
}

#[test]
fn cache_from_source_matches_importlib_with_cwd_at_root() {
    let root = std::path::Path::new("/");
    let cases = cache_cases(&generated_sources(120));
    compare(root, &cases, expected_cache(root));
}

#[test]
fn source_from_cache_matches_importlib() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    let mut rng = Lcg(0xcafe);
    let mut cases = Vec::new();
    let tags = ["cpython-313", "cpython-36", "pypy39"];
    for (path, opt, prefix) in generated_sources(300) {
        let scheme = CacheScheme::new(Some(rng.pick(&tags)), pycache::PythonVersion::new(3, 13))
            .with_pycache_prefix(prefix.map(|p| OsStr::from_bytes(p).to_owned()));
        let Ok(pyc) = scheme.cache_from_source_in(OsStr::from_bytes(&path), opt, cwd.as_os_str())
        else {
            continue;
        };
        let mut pyc = pyc.into_vec();
        // Mutations that exercise each error branch.
        match rng.pick(&[0u8, 0, 1, 2, 3, 4]) {
            1 => pyc.extend_from_slice(b".x"),
            2 => {
                pyc = pyc
                    .iter()
                    .map(|&b| if b == b'_' { b'-' } else { b })
                    .collect()
            }
            3 => pyc = b"__pycache__/a.opt-.b".to_vec(),
            4 => pyc.insert(0, b'/'),
            _ => {}
        }
        let prefix = rng.pick(PREFIXES).or(prefix);
        cases.push(json!({"kind": "source", "path": hex(&pyc), "prefix": prefix.map(hex)}));
    }
    for fixed in [
        "__pycache__/foo.pyc",
        "foo.cpython-313.pyc",
        "__pycache__/foo.bar.cpython-313.pyc",
        "__pycache__/foo.cpython-313.opt-a_b.pyc",
        "__pycache__/.cpython-313.pyc",
        "__PYCACHE__/a.b.c",
        "/x/__pycache__//foo.cpython-313.pyc",
        "/__pycache__/foo.cpython-313.pyc",
        "a/__pycache__/x.y.z",
        "/pfx/foo.cpython-313.pyc",
        "/pfx//a/foo.cpython-313.pyc",
        "pfx/a/foo.cpython-313.pyc",
        "__pycache__/f.cpython-313.opt-é.pyc",
        "__pycache__/f.cpython-313.opt-\u{345}.pyc",
    ] {
        for prefix in [None, Some("/pfx"), Some("pfx"), Some("/")] {
            cases.push(json!({"kind": "source", "path": hex(fixed.as_bytes()), "prefix": prefix.map(|p| hex(p.as_bytes()))}));
        }
    }
    compare(&cwd, &cases, |interpreter, case| {
        let path = OsString::from_vec(unhex(case["path"].as_str().unwrap()));
        ours(scheme_for(interpreter, case).source_from_cache(&path))
    });
}
