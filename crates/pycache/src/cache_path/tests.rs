//! Worked examples from the spec (each verified there against the interpreters); the
//! differential tests in `tests/` compare thousands more with the live interpreters.
use super::*;

fn s13() -> CacheScheme {
    CacheScheme::new(Some("cpython-313"), PythonVersion::new(3, 13))
}

fn cfs(scheme: &CacheScheme, source: &str, opt: Option<&str>) -> String {
    scheme
        .cache_from_source_in(OsStr::new(source), opt, OsStr::new("/srv/proj"))
        .map(|p| p.into_string().unwrap())
        .unwrap_or_else(|e| format!("{}: {e}", e.python_exception()))
}

#[test]
fn names_without_prefix() {
    let s = s13();
    for (source, expected) in [
        ("/a/b/foo.py", "/a/b/__pycache__/foo.cpython-313.pyc"),
        ("foo", "__pycache__/foocpython-313.pyc"),
        ("foo.pyw", "__pycache__/foo.cpython-313.pyc"),
        (".py", "__pycache__/py.cpython-313.pyc"),
        ("dir.d/foo", "dir.d/__pycache__/foocpython-313.pyc"),
        ("/a/b/", "/a/b/__pycache__/cpython-313.pyc"),
        ("a//b.py", "a/__pycache__/b.cpython-313.pyc"),
        ("/foo.py", "__pycache__/foo.cpython-313.pyc"),
    ] {
        assert_eq!(cfs(&s, source, None), expected, "{source}");
    }
    assert_eq!(
        cfs(&s, "foo.py", Some("0")),
        "__pycache__/foo.cpython-313.opt-0.pyc"
    );
    assert_eq!(
        cfs(&s, "foo.py", Some("é")),
        "__pycache__/foo.cpython-313.opt-é.pyc"
    );
    assert_eq!(
        cfs(&s, "foo.py", Some("-1")),
        "ValueError: '-1' is not alphanumeric"
    );
    let optimized = s13().with_optimize_flag(2);
    assert_eq!(
        cfs(&optimized, "foo.py", None),
        "__pycache__/foo.cpython-313.opt-2.pyc"
    );
}

#[test]
fn names_with_prefix() {
    let prefix = |v: PythonVersion, p: &str| {
        CacheScheme::new(Some("cpython-3XY"), v).with_pycache_prefix(Some(p.into()))
    };
    let s13 = prefix(PythonVersion::new(3, 13), "/pfx");
    let s11 = prefix(PythonVersion::new(3, 11), "/pfx");
    assert_eq!(
        cfs(&s13, "foo.py", None),
        "/pfx/srv/proj/foo.cpython-3XY.pyc"
    );
    assert_eq!(
        cfs(&s13, "./foo.py", None),
        "/pfx/srv/proj/./foo.cpython-3XY.pyc"
    );
    assert_eq!(
        cfs(&s11, "././foo.py", None),
        "/pfx/srv/proj/././foo.cpython-3XY.pyc"
    );
    assert_eq!(
        cfs(&s13, "././foo.py", None),
        "/pfx/srv/proj/./foo.cpython-3XY.pyc"
    );
    assert_eq!(
        cfs(&s13, "/foo.py", None),
        "/pfx/srv/proj/foo.cpython-3XY.pyc"
    );
    assert_eq!(
        cfs(&s13, "//net/foo.py", None),
        "/pfx/net/foo.cpython-3XY.pyc"
    );
    assert_eq!(
        cfs(&s13, "//foo.py", None),
        "IndexError: string index out of range"
    );
    let rel = prefix(PythonVersion::new(3, 13), "pfx");
    assert_eq!(
        cfs(&rel, "/a/b/foo.py", None),
        "pfx/a/b/foo.cpython-3XY.pyc"
    );
    // 3.7 has no pycache_prefix: the setting is ignored.
    let s37 = prefix(PythonVersion::new(3, 7), "/pfx");
    assert_eq!(
        cfs(&s37, "a/foo.py", None),
        "a/__pycache__/foo.cpython-3XY.pyc"
    );
}

fn sfc(scheme: &CacheScheme, path: &str) -> String {
    scheme
        .source_from_cache(OsStr::new(path))
        .map(|p| p.into_string().unwrap())
        .unwrap_or_else(|e| format!("{}: {e}", e.python_exception()))
}

#[test]
fn sources_from_cache() {
    let s = s13();
    for (path, expected) in [
        ("__pycache__/foo.cpython-36.pyc", "foo.py"),
        ("/a/b/__pycache__/foo.cpython-313.opt-1.pyc", "/a/b/foo.py"),
        (
            "__pycache__/foo.pyc",
            "ValueError: expected only 2 or 3 dots in 'foo.pyc'",
        ),
        (
            "foo.cpython-313.pyc",
            "ValueError: __pycache__ not bottom-level directory in 'foo.cpython-313.pyc'",
        ),
        (
            "__pycache__/foo.bar.cpython-313.pyc",
            "ValueError: optimization portion of filename does not start with 'opt-'",
        ),
        (
            "__pycache__/foo.cpython-313.opt-a_b.pyc",
            "ValueError: optimization level 'opt-a_b' is not an alphanumeric value",
        ),
        ("__pycache__/.cpython-313.pyc", ".py"),
        ("/__pycache__/foo.cpython-313.pyc", "foo.py"),
        ("a/__pycache__/x.y.z", "a/x.py"),
    ] {
        assert_eq!(sfc(&s, path), expected, "{path}");
    }
    let p = s13().with_pycache_prefix(Some("/pfx".into()));
    assert_eq!(sfc(&p, "/pfx/a/b/foo.cpython-313.pyc"), "/a/b/foo.py");
    assert_eq!(sfc(&p, "/pfx//a/foo.cpython-313.pyc"), "//a/foo.py");
    assert_eq!(
        sfc(&p, "/other/a/__pycache__/foo.cpython-313.pyc"),
        "/other/a/foo.py"
    );
    assert!(sfc(&p, "/pfxx/a/foo.cpython-313.pyc").starts_with("ValueError"));
}

#[test]
fn no_tag_is_not_implemented() {
    let none = CacheScheme::new(None, PythonVersion::new(3, 13));
    assert_eq!(
        cfs(&none, "foo.py", None),
        "NotImplementedError: sys.implementation.cache_tag is None"
    );
    assert_eq!(
        sfc(&none, "__pycache__/a.b.pyc"),
        "NotImplementedError: sys.implementation.cache_tag is None"
    );
}

#[test]
fn non_utf8_names_survive() {
    let s = s13();
    let source = OsStr::from_bytes(b"d\xff/m\xfe.py");
    let pyc = s.cache_from_source(source, None).unwrap();
    assert_eq!(pyc.as_bytes(), b"d\xff/__pycache__/m\xfe.cpython-313.pyc");
    assert_eq!(s.source_from_cache(&pyc).unwrap(), source);
}
