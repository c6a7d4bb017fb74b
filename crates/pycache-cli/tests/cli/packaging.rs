//! What a user installing pycache gets besides the commands: `--help` that ends with examples
//! and exit statuses, compileall's letters under long names too, shell completions and a man
//! page generated from the same definitions.

use super::{assert_success, pycache};
use std::process::Command;

const COMMANDS: &[&str] = &[
    "interpreters",
    "tag",
    "path",
    "source",
    "inspect",
    "compile",
    "check",
    "clean",
    "ext",
    "completions",
    "man",
    "cache",
];

fn stdout_of(args: &[&str]) -> String {
    let output = pycache().args(args).output().unwrap();
    assert_success(&output);
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_help_ends_with_examples_and_exit_statuses() {
    for command in COMMANDS {
        let help = stdout_of(&[command, "--help"]);
        let examples = help
            .find("\nExamples:\n")
            .unwrap_or_else(|| panic!("{command} --help has no examples:\n{help}"));
        let status = help
            .find("\nExit status: 0")
            .unwrap_or_else(|| panic!("{command} --help has no exit statuses:\n{help}"));
        assert!(
            examples < status,
            "{command}: examples come before the statuses"
        );
        let shown = help[examples..]
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("pycache {command}")))
            .count();
        assert!((2..=3).contains(&shown), "{command}: {shown} examples");
    }
    let top = stdout_of(&["--help"]);
    for variable in [
        "VIRTUAL_ENV",
        "PYTHONPYCACHEPREFIX",
        "SOURCE_DATE_EPOCH",
        "PYCACHE_CACHE_DIR",
    ] {
        assert!(top.contains(variable), "pycache --help lacks {variable}");
    }
}

/// The examples of `path --help` and `source --help` print what they say they print.
#[test]
fn the_path_examples_in_help_are_true() {
    assert_eq!(
        stdout_of(&["path", "--tag", "cpython-311", "-o", "2", "mod.py"]),
        "__pycache__/mod.cpython-311.opt-2.pyc\n"
    );
    assert!(stdout_of(&["path", "--help"]).contains(
        "pycache path --tag cpython-311 -o 2 mod.py    __pycache__/mod.cpython-311.opt-2.pyc"
    ));
}

/// `-l -b -o 1 -f -x` and `--no-recursion --legacy --optimize 1 --force --exclude` are the
/// same options: both runs write the same files.
#[test]
fn compileall_letters_have_long_names() {
    let tree = |flags: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["a.py", "skip.py", "sub/b.py"] {
            std::fs::write(dir.path().join(name), "x = 1\n").unwrap();
        }
        let output = pycache()
            .arg("compile")
            .args(flags)
            .arg(dir.path())
            .output()
            .unwrap();
        assert_success(&output);
        let mut written: Vec<String> = walk(dir.path())
            .into_iter()
            .filter(|p| p.ends_with(".pyc"))
            .collect();
        written.sort();
        written
    };
    let short = tree(&["-l", "-b", "-o", "1", "-f", "-q", "-x", "skip"]);
    let long = tree(&[
        "--no-recursion",
        "--legacy",
        "--optimize",
        "1",
        "--force",
        "--quiet",
        "--exclude",
        "skip",
    ]);
    assert_eq!(short, vec!["a.pyc".to_owned()]);
    assert_eq!(short, long);
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[test]
fn the_bash_completion_parses_and_completes_subcommands() {
    let script = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pycache.bash");
    std::fs::write(&path, &script).unwrap();
    // Load it, then ask it what follows `pycache co` as bash would at a prompt.
    let probe = format!(
        ". '{}'; COMP_WORDS=(pycache co); COMP_CWORD=1; COMP_LINE='pycache co'; \
         COMP_POINT=10; _pycache pycache co pycache; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let output = Command::new("bash").arg("-c").arg(probe).output().unwrap();
    assert_success(&output);
    let words = String::from_utf8(output.stdout).unwrap();
    assert!(
        words.lines().any(|w| w == "compile") && words.lines().any(|w| w == "completions"),
        "{words}"
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        assert!(stdout_of(&["completions", shell]).contains("invalidation-mode"));
    }
}

/// `man -l` renders the page without a warning, with every subcommand's options in it.
#[test]
fn the_man_page_renders() {
    let page = stdout_of(&["man"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pycache.1");
    std::fs::write(&path, &page).unwrap();
    let output = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&path)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .output()
        .expect("man (man-db) is on the machine");
    assert_success(&output);
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    for word in [
        "PYCACHE COMPILE",
        "PYCACHE CHECK",
        "PYCACHE CLEAN",
        "--invalidation-mode",
        "--remove-legacy",
        "SOURCE_DATE_EPOCH",
    ] {
        assert!(text.contains(word), "the man page lacks {word}:\n{text}");
    }
}
