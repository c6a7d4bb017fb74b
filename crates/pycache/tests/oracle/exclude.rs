//! `-x` patterns against the interpreters' own `re.search`, on the same paths: a table of
//! patterns in Python's syntax, including those fancy-regex reads otherwise.

use crate::support::{interpreters, run_oracle};
use pycache::exclude::Exclude;
use serde_json::{Value, json};
use std::ffi::OsStr;

const ORACLE: &str = r#"
import json, re, sys
data = json.load(sys.stdin)
out = []
for pattern in data["patterns"]:
    try:
        rx = re.compile(pattern)
    except (re.error, ValueError):
        out.append(None)
        continue
    out.append([rx.search(path) is not None for path in data["paths"]])
print(json.dumps(out))
"#;

const PATTERNS: &[&str] = &[
    r"skip\.py\Z",
    r"\Askip",
    r"[[:alpha:]]",
    r"[[:digit:]]+\.py",
    r"(?P<d>[a-z])(?P=d)",
    r"(\w)\1",
    r"(?i)SKIP",
    r"(?x) skip \. py  # a comment",
    r"(?s)a.b",
    r"(?a)\w+é",
    r"\d{2,}",
    r"x{,2}y",
    r"a{b",
    r"}",
    r"\.py$",
    r"(?m)^tests/",
    r"(?#comment)tests",
    r"\u00e9",
    r"\x2e",
    r"\101",
    r"[\b]",
    r"[a&&b]",
    r"[a--z]",
    r"[~]",
    r"\-",
    r"caf\xe9",
    r"(?<=/)m\w",
    r"(?!x)m",
    r"m(?=\.py)",
    r"\bm",
    r"[^/]*\.py\Z",
    r"/(tests?|docs)/",
    r"\q",
    r"[unterminated",
    r"(?L)x",
    r"*",
];

const PATHS: &[&str] = &[
    "skip.py",
    "src/skip.py",
    "skip.pyc",
    "a/b/m1.py",
    "a/b/m12.py",
    "tests/test_x.py",
    "src/tests/aa.py",
    "SKIP/x.py",
    "docs/conf.py",
    "caf\u{e9}.py",
    "A\n.py",
    "a\nb",
    "x.py\n",
    "yy",
    "a{b}",
    "[:]",
    "m.py",
    "~/m.py",
    "a-b",
    "AB",
];

#[test]
fn exclude_patterns_match_what_re_search_finds() {
    let dir = tempfile::tempdir().unwrap();
    let input = json!({"patterns": PATTERNS, "paths": PATHS});
    for interpreter in interpreters() {
        let theirs = run_oracle(interpreter, ORACLE, &input, &[], dir.path());
        for (pattern, expected) in PATTERNS.iter().zip(theirs.as_array().unwrap()) {
            let ours = Exclude::new(pattern);
            match (expected, ours) {
                (Value::Null, Ok(_)) => panic!(
                    "{}: re refuses {pattern:?}, we accept it",
                    interpreter.display_name()
                ),
                (Value::Null, Err(_)) => {}
                (_, Err(error)) => panic!(
                    "{}: re accepts {pattern:?}, we refuse it: {error}",
                    interpreter.display_name()
                ),
                (Value::Array(found), Ok(exclude)) => {
                    for (path, found) in PATHS.iter().zip(found) {
                        assert_eq!(
                            exclude.is_match(OsStr::new(path)),
                            found.as_bool().unwrap(),
                            "{}: re.search({pattern:?}, {path:?})",
                            interpreter.display_name()
                        );
                    }
                }
                (other, _) => panic!("bad oracle answer {other}"),
            }
        }
    }
}
