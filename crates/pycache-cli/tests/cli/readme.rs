//! The README's console examples, run: every `$ pycache ...` line of a ```` ```console ```` block
//! is run in a small tree made to fit them, and what the README shows under it must match what
//! it prints (stdout, then stderr). In the shown output, numbers and 8-digit hex words stand for
//! any, runs of spaces for any, and a line `...` for any lines; a comment `# ... exit N ...` on
//! the command or its output gives the expected exit status (else 0). A documented example that
//! fails breaks the build.

use crate::compile::pythons;
use crate::{assert_success, pycache, set_mtime};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const README: &str = include_str!("../../../../README.md");

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[derive(Debug)]
struct Example {
    line: usize,
    args: Vec<String>,
    shown: Vec<String>,
    status: i32,
}

/// `text` up to a `#` comment (outside quotes), and the comment.
fn split_comment(text: &str) -> (&str, &str) {
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '#' if !quoted && (at == 0 || text[..at].ends_with(' ')) => {
                return (text[..at].trim_end(), &text[at..]);
            }
            _ => {}
        }
    }
    (text.trim_end(), "")
}

/// Words as a POSIX shell splits them (single quotes only).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_default();
            }
            ' ' if !quoted => words.extend(word.take()),
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

fn exit_status(comment: &str) -> Option<i32> {
    let at = comment.find("exit ")?;
    comment[at + 5..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The examples of each console block, in order.
fn examples() -> Vec<Vec<Example>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<Example>> = None;
    for (index, line) in README.lines().enumerate() {
        if line.starts_with("```console") {
            current = Some(Vec::new());
            continue;
        }
        if line.starts_with("```") {
            blocks.extend(current.take());
            continue;
        }
        let Some(block) = current.as_mut() else {
            continue;
        };
        let (text, comment) = split_comment(line);
        if let Some(command) = text.strip_prefix("$ ") {
            let args = shell_words(command);
            assert_eq!(args[0], "pycache", "README line {}", index + 1);
            block.push(Example {
                line: index + 1,
                args: args[1..].to_vec(),
                shown: Vec::new(),
                status: exit_status(comment).unwrap_or(0),
            });
        } else if let Some(example) = block.last_mut() {
            example.shown.push(text.to_owned());
            if let Some(status) = exit_status(comment) {
                example.status = status;
            }
        }
    }
    blocks
}

/// A line with its numbers, hex words and runs of spaces made general.
fn normalize(line: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = line.trim_end().chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if boundary
            && hex == 8
            && chars.get(i + 8).is_none_or(|c| !c.is_ascii_alphanumeric())
            && !chars[i..i + 8].iter().all(char::is_ascii_alphabetic)
        {
            out.push_str("<HEX>");
            i += 8;
        } else if c.is_ascii_digit() {
            out.push_str("<N>");
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        } else if c == ' ' {
            out.push(' ');
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `shown` (with `...` for any lines) matches `actual`.
fn matches(shown: &[String], actual: &[String]) -> bool {
    match shown.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(line, more)| normalize(first) == normalize(line) && matches(rest, more)),
    }
}

fn find(tag: &str) -> std::path::PathBuf {
    pythons()
        .into_iter()
        .filter(|p| p.tag == tag)
        .map(|p| p.path)
        .next()
        .unwrap_or_else(|| panic!("the README's examples need an interpreter with tag {tag}"))
}

/// The tree the examples are run in: `src/`, `vendor/`, `app/`, `site-packages/` (a stale
/// 3.11 pyc, two orphans, a temp file), `.venv/`, and `pkg/mod.py` whose 3.12 pyc is stale by
/// size, and `lib/mod.py` compiled for 3.12 under that relative name.
fn fixture(root: &Path) {
    write(&root.join("src/app/__init__.py"), "");
    write(&root.join("src/app/core.py"), "def f():\n    return 1\n");
    write(&root.join("src/tests/test_core.py"), "import app.core\n");
    write(&root.join("vendor/lib.py"), "X = 1\n");
    write(&root.join("app/x.py"), "x = 1\n");
    let site = root.join("site-packages");
    write(&site.join("six.py"), "PY3 = True\n");
    write(&site.join("yaml/__init__.py"), "");
    write(&site.join("yaml/_yaml.cpython-311-x86_64-linux-gnu.so"), "");
    write(
        &root.join(".venv/lib/python3.11/site-packages/_speed.cpython-311-x86_64-linux-gnu.so"),
        "",
    );
    let (py311, py312) = (find("cpython-311"), find("cpython-312"));
    let compile = |python: &Path, target: &Path| {
        let output = pycache()
            .args(["compile", "-q", "--python"])
            .arg(python)
            .arg(target)
            .output()
            .unwrap();
        assert_success(&output);
    };
    compile(&py311, &site);
    compile(&py312, &site);
    // The 3.11 pyc of six.py records an older mtime than the source has.
    let pyc = site.join("__pycache__/six.cpython-311.pyc");
    let mut data = std::fs::read(&pyc).unwrap();
    let mtime = u32::from_le_bytes(data[8..12].try_into().unwrap()) - 3600;
    data[8..12].copy_from_slice(&mtime.to_le_bytes());
    std::fs::write(&pyc, data).unwrap();
    write(&site.join("__pycache__/gone.cpython-311.pyc"), "x");
    write(&site.join("__pycache__/old.cpython-312.pyc"), "x");
    write(&site.join("__pycache__/six.cpython-311.pyc.12345"), "x");
    // pkg/mod.py: 6 bytes when its 3.12 pyc was written, 7 now, the same mtime.
    let source = root.join("pkg/mod.py");
    write(&source, "x = 1\n");
    let then = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    set_mtime(&source, then);
    compile(&py312, &source);
    write(&source, "x = 12\n");
    set_mtime(&source, then);
    // lib/mod.py: what `inspect --code` shows, compiled under its relative name.
    write(
        &root.join("lib/mod.py"),
        "'''doc'''\n\ndef f(a, /, *args, b, **kw):\n    return None if a else ('\u{e9}', b'\\x00')\n",
    );
    let output = pycache()
        .current_dir(root)
        .args(["compile", "-q", "--python"])
        .arg(&py312)
        .arg("lib/mod.py")
        .output()
        .unwrap();
    assert_success(&output);
}

#[test]
fn the_readme_examples_do_what_the_readme_shows() {
    let blocks = examples();
    assert!(
        blocks.iter().map(Vec::len).sum::<usize>() >= 15,
        "{blocks:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let mut failures = Vec::new();
    for example in blocks.iter().flatten() {
        let output = pycache()
            .current_dir(dir.path())
            .args(&example.args)
            .output()
            .unwrap();
        let mut actual: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        actual.extend(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .map(str::to_owned),
        );
        let status = output.status.code().unwrap_or(-1);
        let shown_ok = example.shown.is_empty() || matches(&example.shown, &actual);
        if status != example.status || !shown_ok {
            failures.push(format!(
                "README line {}: pycache {}\n  exit {status} (README: {})\n  printed:\n    {}\n  README shows:\n    {}",
                example.line,
                example.args.join(" "),
                example.status,
                actual.join("\n    "),
                example.shown.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn output_matching_is_strict_where_it_should_be() {
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    assert!(matches(&lines("a 12 b\n..."), &lines("a 3 b\nx\ny")));
    assert!(matches(
        &lines("magic a70d0d0a x"),
        &lines("magic 330d0d0a  x")
    ));
    assert!(!matches(&lines("2 orphans"), &lines("2 orphan")));
    assert!(!matches(&lines("a"), &lines("a\nb")));
    assert_eq!(
        shell_words("compile -x 'tests?/' src/"),
        ["compile", "-x", "tests?/", "src/"]
    );
    assert_eq!(exit_status("# a CI gate: exit 1 if stale"), Some(1));
}
