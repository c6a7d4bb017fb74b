//! Shared by the differential tests: the interpreters to test against, and running an oracle
//! script inside one of them.

use pycache::Interpreter;
use pycache::interpreter::{DiscoveryOptions, discover};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
pub(crate) use test_support::{hex, set_mtime_secs, unhex};

/// Every interpreter found that has a `__pycache__` (a cache tag). With
/// `PYCACHE_TEST_REQUIRE_INTERPRETERS=N` set, fewer than N is a failure, not a skip.
pub(crate) fn interpreters() -> &'static [Interpreter] {
    static FOUND: OnceLock<Vec<Interpreter>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let (found, _) = discover(&DiscoveryOptions::from_env());
        let with_tag: Vec<Interpreter> =
            found.into_iter().filter(|i| i.cache_tag().is_some()).collect();
        let required: usize = std::env::var("PYCACHE_TEST_REQUIRE_INTERPRETERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        assert!(
            with_tag.len() >= required,
            "found {} interpreters with a cache tag, PYCACHE_TEST_REQUIRE_INTERPRETERS wants {required}",
            with_tag.len()
        );
        eprintln!(
            "testing against: {}",
            with_tag.iter().map(Interpreter::display_name).collect::<Vec<_>>().join(", ")
        );
        with_tag
    })
}

/// Runs `script` in `interpreter` with `input` on stdin and returns its JSON answer. The locale
/// is forced to UTF-8 so that every interpreter decodes file names alike.
pub(crate) fn run_oracle(
    interpreter: &Interpreter,
    script: &str,
    input: &serde_json::Value,
    extra_args: &[&str],
    cwd: &Path,
) -> serde_json::Value {
    run_oracle_with_env(interpreter, script, input, extra_args, cwd, &[])
}

/// As [`run_oracle`], with `env` added to the interpreter's environment.
pub(crate) fn run_oracle_with_env(
    interpreter: &Interpreter,
    script: &str,
    input: &serde_json::Value,
    extra_args: &[&str],
    cwd: &Path,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let mut child = Command::new(interpreter.path())
        .args(extra_args)
        .envs(env.iter().copied())
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .env("LC_ALL", "C.UTF-8")
        .env("PYTHONUTF8", "1")
        .env_remove("PYTHONPYCACHEPREFIX")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start interpreter");
    let body = serde_json::to_vec(input).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "{} failed: {}",
        interpreter.display_name(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: bad oracle output ({e}): {}",
            interpreter.display_name(),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
