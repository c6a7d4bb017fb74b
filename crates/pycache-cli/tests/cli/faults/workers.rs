//! Workers: a noisy interpreter, a bad greeting, Ctrl-C and SIGTERM, a killed pycache.

use super::{python, write};
use crate::compile::Python;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits for `child` at most `limit`; kills it (and fails) when it is still running.
fn wait_at_most(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn pycache_command(args: &[&str], python: &Python, root: &Path) -> Command {
    let mut command = crate::pycache_process();
    command
        .args(args)
        .arg("--python")
        .arg(&python.path)
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Sources that each take the interpreter seconds to compile.
fn slow_tree(root: &Path, files: usize) {
    let body: String = (0..200_000)
        .map(|i| format!("v{i} = {i} * 2 + 1\n"))
        .collect();
    for i in 0..files {
        write(&root.join(format!("slow{i}.py")), &body);
    }
}

/// The pids of `child`'s first `count` workers, once that many run at once. Waits up to a
/// minute: a loaded machine (the rest of the suite creating tens of thousands of files on the
/// same file system) once took more than ten seconds to start them. Fails at once, with
/// pycache's status and stderr, when pycache ends first (a run that compiled its files one
/// after the other on fewer workers than `-j` did so), and otherwise says where its threads
/// wait.
fn wait_for_workers(child: &mut Child, count: usize) -> Vec<u32> {
    let pid = child.id();
    let mut children = Vec::new();
    for _ in 0..6000 {
        children = crate::compile::bad_input::children_of(pid);
        children.sort_unstable();
        children.dedup();
        if children.len() >= count {
            return children;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
            }
            panic!("pycache ended ({status}) before {count} workers ran: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .map(|task| {
                    let read =
                        |name| std::fs::read_to_string(task.path().join(name)).unwrap_or_default();
                    format!(
                        "{} {} {}",
                        read("comm").trim(),
                        read("wchan"),
                        read("syscall").trim()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    panic!(
        "{count} workers never ran at once (children {children:?}); pycache's threads: {threads:#?}"
    );
}

/// True while `pid` runs (not gone, not a zombie).
pub(crate) fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next();
    !stat.is_empty() && state != Some("Z")
}

fn signal(pid: u32, signal: i32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid");
    let signal = rustix::process::Signal::from_named_raw(signal).expect("a named signal");
    rustix::process::kill_process(pid, signal).unwrap();
}

/// Waits until `signal` is no longer pending for process `pid` (`ShdPnd` in its status).
fn wait_until_delivered(pid: u32, signal: i32) {
    let bit = 1u64 << (signal - 1);
    for _ in 0..10_000 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let pending = status
            .lines()
            .find_map(|l| l.strip_prefix("ShdPnd:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        if pending & bit == 0 {
            return;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    panic!("signal {signal} never delivered to {pid}");
}

#[test]
fn an_interpreter_printing_at_start_up_does_not_break_the_protocol() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    write(
        &site.join("sitecustomize.py"),
        "import sys\nprint('hello from sitecustomize ' * 20)\nsys.stdout.flush()\n",
    );
    let tree = dir.path().join("t");
    for i in 0..6 {
        write(&tree.join(format!("m{i}.py")), &format!("x = {i}\n"));
    }
    let child = pycache_command(&["compile", "-j", "2", "--timeout", "0"], &python, &tree)
        .env("PYTHONPATH", &site)
        .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
        .spawn()
        .unwrap();
    let output = wait_at_most(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("6 compiled"), "{stdout}");
    assert!(
        !stdout.contains("hello"),
        "the interpreter's noise is not pycache's output"
    );
    assert_eq!(crate::compile::files_ending(&tree, ".pyc").len(), 6);
}

#[test]
fn a_malformed_greeting_kills_and_reaps_the_worker() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    // An interpreter whose probe is real but whose worker greets with garbage, then lingers.
    let token = format!("30.{}", std::process::id());
    let wrapper = dir.path().join("python3");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$2\" in\n  *\"compile worker\"*) printf 'garbage!' >&3; exec sleep {token} ;;\nesac\nexec {} \"$@\"\n",
            python.path.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tree = dir.path().join("t");
    for i in 0..20 {
        write(&tree.join(format!("m{i}.py")), "x = 1\n");
    }
    let child = Command::new(assert_cmd::cargo::cargo_bin("pycache"))
        .args(["compile", "-j", "2", "--python"])
        .arg(&wrapper)
        .arg(&tree)
        .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_at_most(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not start properly"), "{stderr}");
    assert!(
        !stderr.contains("Sorry"),
        "not compileall's words: {stderr}"
    );
    let lingering: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| {
            std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| c == format!("sleep\0{token}\0").as_bytes())
        })
        .collect();
    assert!(lingering.is_empty(), "workers left running: {lingering:?}");
}

#[test]
fn a_timeout_that_overflows_the_clock_is_a_usage_error() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.py"), "x = 1\n");
    for timeout in ["1e19", "1e20", "inf", "nan", "-1"] {
        let child = pycache_command(
            &["compile", "-f", "--timeout", timeout],
            &python,
            dir.path(),
        )
        .spawn()
        .unwrap();
        let output = wait_at_most(child, Duration::from_secs(30));
        assert_eq!(
            output.status.code(),
            Some(2),
            "--timeout {timeout}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn an_interrupt_stops_the_run_within_a_second() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    slow_tree(&tree, 6);
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let mut child = pycache_command(
            &["compile", "-f", "-j", "2", "--timeout", "0"],
            &python,
            &tree,
        )
        .spawn()
        .unwrap();
        let workers = wait_for_workers(&mut child, 2);
        std::thread::sleep(Duration::from_millis(500));
        signal(child.id(), sig);
        let signalled = Instant::now();
        let output = wait_at_most(child, Duration::from_secs(20));
        let took = signalled.elapsed();
        assert_eq!(output.status.code(), Some(130), "{name}");
        assert!(
            took < Duration::from_millis(1500),
            "{name}: stopped {took:?} later"
        );
        std::thread::sleep(Duration::from_millis(100));
        for pid in workers {
            assert!(!alive(pid), "{name}: worker {pid} outlived the run");
        }
        assert!(crate::compile::leftover_temp_files(&tree).is_empty());
    }
}

/// Ctrl-C with the cache of compiled code on: what was compiled before the signal is stored
/// (the run's pack is finished as it stops), and no temporary pack is left.
#[test]
fn an_interrupt_keeps_what_was_cached_and_leaves_no_temporary_pack() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let (tree, cache) = (dir.path().join("t"), dir.path().join("cache"));
    slow_tree(&tree, 2);
    for i in 0..6 {
        write(
            &tree.join(format!("small{i}.py")),
            &format!("SMALL = {i}\n"),
        );
    }
    let cached = |root: &Path| {
        let mut command = pycache_command(&["compile", "-j", "3", "--timeout", "0"], &python, root);
        command
            .env_remove("PYCACHE_NO_CACHE")
            .arg("--cache-dir")
            .arg(&cache);
        command
    };
    let mut child = cached(&tree).spawn().unwrap();
    wait_for_workers(&mut child, 3);
    // The small files are done long before the slow ones.
    for _ in 0..1200 {
        let done = (0..6).all(|i| {
            tree.join(format!("__pycache__/small{i}.{}.pyc", python.tag))
                .exists()
        });
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(child.id(), libc::SIGINT);
    let output = wait_at_most(child, Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(130));
    let packs: Vec<String> = std::fs::read_dir(cache.join("packs"))
        .unwrap()
        .map(|f| f.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!packs.is_empty(), "nothing was stored");
    assert!(
        packs
            .iter()
            .all(|name| name.ends_with(".pack") && !name.starts_with('.')),
        "{packs:?}"
    );
    // The small files at another path: every one from the cache, no interpreter needed.
    let elsewhere = dir.path().join("elsewhere");
    for i in 0..6 {
        write(
            &elsewhere.join(format!("small{i}.py")),
            &format!("SMALL = {i}\n"),
        );
    }
    let output = cached(&elsewhere).arg("--json").output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["interpreters"][0]["cached"], 6, "{json}");
}

#[test]
fn a_second_signal_ends_the_process_at_once() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    slow_tree(&tree, 2);
    let mut child = pycache_command(
        &["compile", "-f", "-j", "2", "--timeout", "0"],
        &python,
        &tree,
    )
    .spawn()
    .unwrap();
    wait_for_workers(&mut child, 2);
    std::thread::sleep(Duration::from_millis(300));
    signal(child.id(), libc::SIGTERM);
    // Only once the first is delivered (a pending one would absorb the second); the clean stop
    // it starts takes longer than this takes.
    wait_until_delivered(child.id(), libc::SIGTERM);
    signal(child.id(), libc::SIGTERM);
    let output = wait_at_most(child, Duration::from_secs(20));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGTERM),
        "{:?}",
        output.status
    );
}

#[test]
fn workers_die_with_a_killed_pycache() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    slow_tree(&tree, 4);
    let mut child = pycache_command(
        &["compile", "-f", "-j", "2", "--timeout", "0"],
        &python,
        &tree,
    )
    .spawn()
    .unwrap();
    let workers = wait_for_workers(&mut child, 2);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let start = Instant::now();
    while workers.iter().any(|&pid| alive(pid)) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "workers {workers:?} outlived pycache"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_timeout_is_not_worded_as_a_compileall_error() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    slow_tree(&tree, 1);
    let child = pycache_command(&["compile", "--timeout", "0.2"], &python, &tree)
        .spawn()
        .unwrap();
    let output = wait_at_most(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(!stderr.contains("Sorry"), "{stderr}");
}

#[test]
fn what_a_worker_prints_while_compiling_comes_with_its_file() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    // An interpreter whose compile() chatters on its stderr, as a C extension might.
    write(
        &site.join("sitecustomize.py"),
        "import builtins, os\n_compile = builtins.compile\n\
         def compile(source, filename, *args, **kwargs):\n    \
         os.write(2, ('noise from %s\\n' % filename).encode())\n    \
         return _compile(source, filename, *args, **kwargs)\n\
         builtins.compile = compile\n",
    );
    let tree = dir.path().join("t");
    for i in 0..3 {
        write(&tree.join(format!("m{i}.py")), &format!("x = {i}\n"));
    }
    let output = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" compile -v -j 1 --python \"$1\" \"$2\" 2>&1")
        .arg(assert_cmd::cargo::cargo_bin("pycache"))
        .arg(&python.path)
        .arg(&tree)
        .env("PYTHONPATH", &site)
        .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for i in 0..3 {
        let at = lines
            .iter()
            .position(|l| l.starts_with("Compiling") && l.contains(&format!("m{i}.py")))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            lines[at + 1].starts_with("noise from") && lines[at + 1].ends_with(&format!("m{i}.py")),
            "the noise follows its file: {text}"
        );
    }
}
