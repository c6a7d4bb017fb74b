//! Snapshots of the human output of every command (insta), run in a small tree with the default
//! interpreter. The interpreter's name, tag, magic and version, times, and mtimes are filtered,
//! so that a snapshot says what a user reads, not which Python this machine has.
//!
//! `interpreters` is shown with the rows of a virtualenv made for the test only (the machine's
//! other rows differ from machine to machine; the listing's rules are tested in `choice.rs`).

use crate::compile::{Python, default_python};
use crate::pycache;
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// stdout, then stderr (marked), then the exit status, of `pycache args` run in `dir`.
fn run(dir: &Path, python: &Python, args: &[&str]) -> String {
    let mut command = pycache();
    command.current_dir(dir).args(args);
    if !matches!(args[0], "inspect" | "source" | "path") || args.contains(&"--python") {
        command.arg("--python").arg(&python.path);
    }
    let output = command.output().unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.stderr.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    text.push_str(&format!(
        "--- exit {}\n",
        output.status.code().unwrap_or(-1)
    ));
    text
}

fn filters(python: &Python) -> Vec<(String, String)> {
    let display = python.name.clone();
    let escape = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c.to_string()
                } else {
                    format!("\\{c}")
                }
            })
            .collect::<String>()
    };
    vec![
        (escape(&display), "[PYTHON]".to_owned()),
        (
            escape(&python.path.to_string_lossy()),
            "[PYTHON_PATH]".to_owned(),
        ),
        (escape(&python.tag), "[TAG]".to_owned()),
        (r"in \d+\.\d+s".to_owned(), "in [TIME]s".to_owned()),
        (
            r"mtime \d+ in pyc, source has \d+".to_owned(),
            "mtime [MTIME] in pyc, source has [MTIME]".to_owned(),
        ),
        (
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+\)".to_owned(),
            "[MTIME]".to_owned(),
        ),
        (
            r"magic       [0-9a-f]{8} \(\d+, [A-Za-z]+ \d+\.\d+\)".to_owned(),
            "magic       [MAGIC]".to_owned(),
        ),
        (
            r"payload     \d+ bytes".to_owned(),
            "payload     [N] bytes".to_owned(),
        ),
        (r"\(\d+ B\)".to_owned(), "([N] B)".to_owned()),
    ]
}

macro_rules! snapshot {
    ($python:expr, $name:expr, $text:expr) => {{
        let filters = filters($python);
        let filters: Vec<(&str, &str)> = filters
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        insta::with_settings!({filters => filters, prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $text);
        });
    }};
}

/// A small project: a package, a broken module, a stale and an orphaned pyc.
fn project(dir: &Path) {
    write(&dir.join("app/__init__.py"), "");
    write(&dir.join("app/main.py"), "import sys\nprint(sys.argv)\n");
    write(&dir.join("app/util.py"), "def f():\n    return 1\n");
    write(&dir.join("app/broken.py"), "def f(:\n    pass\n");
}

#[test]
fn compile_output() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let mut text = String::new();
    // One file: with several, -v lines come in the order the workers finish.
    text.push_str("$ pycache compile -v app/main.py\n");
    text.push_str(&run(dir.path(), &python, &["compile", "-v", "app/main.py"]));
    text.push_str("$ pycache compile app\n");
    text.push_str(&run(dir.path(), &python, &["compile", "app"]));
    text.push_str("$ pycache compile -q app\n");
    text.push_str(&run(dir.path(), &python, &["compile", "-q", "app"]));
    text.push_str("$ pycache compile -o 3 app\n");
    text.push_str(&run(dir.path(), &python, &["compile", "-o", "3", "app"]));
    snapshot!(&python, "compile", text);
}

#[test]
fn check_and_clean_output() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    std::fs::remove_file(dir.path().join("app/broken.py")).unwrap();
    let mut text = String::new();
    text.push_str("$ pycache check app\n");
    text.push_str(&run(dir.path(), &python, &["check", "app"]));
    run(dir.path(), &python, &["compile", "app"]);
    write(
        &dir.path()
            .join(format!("app/__pycache__/gone.{}.pyc", python.tag)),
        "x",
    );
    // A temporary file left by a killed writer (clean keeps those under a minute old).
    let temp = dir
        .path()
        .join(format!("app/__pycache__/util.{}.pyc.1234", python.tag));
    write(&temp, "x");
    crate::set_mtime(
        &temp,
        std::time::SystemTime::now() - std::time::Duration::from_secs(600),
    );
    write(
        &dir.path().join("app/util.py"),
        "def f():\n    return 2  # changed\n",
    );
    crate::set_mtime(
        &dir.path().join("app/util.py"),
        std::time::SystemTime::now() + std::time::Duration::from_secs(100),
    );
    text.push_str("$ pycache check app\n");
    text.push_str(&run(dir.path(), &python, &["check", "app"]));
    text.push_str("$ pycache check --missing-ok -v app\n");
    text.push_str(&run(
        dir.path(),
        &python,
        &["check", "--missing-ok", "-v", "app"],
    ));
    text.push_str("$ pycache clean --dry-run app\n");
    text.push_str(&run(dir.path(), &python, &["clean", "--dry-run", "app"]));
    text.push_str("$ pycache clean app\n");
    text.push_str(&run(dir.path(), &python, &["clean", "app"]));
    text.push_str("$ pycache clean --all app\n");
    text.push_str(&run(dir.path(), &python, &["clean", "--all", "app"]));
    text.push_str("$ pycache clean\n");
    text.push_str(&run(dir.path(), &python, &["clean"]));
    snapshot!(&python, "check_and_clean", text);
}

#[test]
fn scheme_and_inspect_output() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    run(dir.path(), &python, &["compile", "app/util.py"]);
    let pyc = format!("app/__pycache__/util.{}.pyc", python.tag);
    let mut text = String::new();
    for args in [
        &["tag"][..],
        &["path", "--python", "PY", "app/util.py", "-o", "2"],
        &[
            "path",
            "--tag",
            "cpython-39",
            "--pycache-prefix",
            "/cache",
            "/srv/m.py",
        ],
        &["path", "--tag", "cpython-313", "-o", "-1", "a.py"],
        &["source", "--python", "PY", &pyc],
        &["source", "--tag", "cpython-312", "m.py"],
        &["inspect", &pyc],
        &["inspect", "app/util.py"],
    ] {
        let args: Vec<&str> = args.iter().filter(|a| **a != "PY").copied().collect();
        let args: Vec<&str> = if args.contains(&"--python") {
            args.into_iter().filter(|a| *a != "--python").collect()
        } else {
            args
        };
        text.push_str(&format!("$ pycache {}\n", args.join(" ")));
        text.push_str(&run(dir.path(), &python, &args));
    }
    snapshot!(&python, "scheme_and_inspect", text);
}

#[test]
fn ext_output() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("pkg/_speed.cpython-39-x86_64-linux-gnu.so"),
        "",
    );
    write(&dir.path().join("pkg/_speed.py"), "");
    write(&dir.path().join("pkg/_fast.abi3.so"), "");
    let mut text = String::from("$ pycache ext pkg\n");
    text.push_str(&run(dir.path(), &python, &["ext", "pkg"]));
    text.push_str("$ pycache ext --strict pkg\n");
    text.push_str(&run(dir.path(), &python, &["ext", "--strict", "pkg"]));
    snapshot!(&python, "ext", text);
}

/// `interpreters`: the rows of a virtualenv made for the test (the default, with its aliases)
/// and the legend. The machine's other rows are dropped, and versions, tags and magic numbers
/// are filtered, so the snapshot shows the table's form on any machine.
#[test]
fn interpreters_output() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    let venv = std::fs::canonicalize(dir.path()).unwrap().join("venv");
    let made = std::process::Command::new(&python.path)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let output = pycache()
        .arg("interpreters")
        .env("VIRTUAL_ENV", &venv)
        .output()
        .unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let venv_text = venv.to_str().unwrap();
    let kept: String = table
        .lines()
        .filter(|l| l.contains(venv_text) || l.starts_with("* the default"))
        .map(|l| format!("{}\n", l.replace(venv_text, "[VENV]")))
        .collect();
    let filters = [
        (r"\b\d+\.\d+\.\d+\b", "[VERSION]"),
        (r"\b(cpython|pypy)-?\d+\b", "[TAG]"),
        (r"\b[0-9a-f]{8}\b", "[MAGIC]"),
        (r"python3\.\d+", "python3.[MINOR]"),
    ];
    insta::with_settings!({filters => filters.to_vec(), prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("interpreters", kept);
    });
}
