//! CPU cost of the marshal passes that `compile --reproducible` and a cache hit pay per pyc:
//! [`marshal::canonical`] and [`marshal::rewrite_filename`], against their first
//! implementations over an `Object` tree ([`marshal::tree_reference`]), in the same process.
//!
//! ```text
//! cargo build --release -p pycache --no-default-features --example marshal_cpu
//! target/release/examples/marshal_cpu [--passes N] [--only JOB] [DIR...]
//! ```
//!
//! Every `*.pyc` under the directories (by default the 3.11 site-packages and the 3.12, 3.13
//! and PyPy stdlib caches found here) whose format the marshal layer knows is loaded into
//! memory; then, single-threaded, each pass runs every implementation over all of them,
//! alternating which goes first, and reports the user CPU seconds it took (`getrusage`): CPU
//! time, not wall time, so that other work on a busy machine matters less. The first pass
//! also checks that both implementations give the same bytes. `--only JOB` (0 to 3, in the
//! order printed) runs one implementation without the check, for a profiler.

use pycache::marshal::{self, Format, Pyc};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The path every `co_filename` is re-pointed to.
const NEW_PATH: &[u8] = b"/opt/venvs/elsewhere/lib/python3.11/site-packages/package/module.py";

fn main() -> std::io::Result<()> {
    let (passes, only, dirs) = arguments();
    let mut files = Vec::new();
    for dir in &dirs {
        collect(dir, &mut files);
    }
    let pycs: Vec<(Vec<u8>, usize, Format)> = files
        .into_iter()
        .filter_map(|path| {
            let data = std::fs::read(&path).ok()?;
            let pyc = Pyc::split(&data).ok()?;
            let (header, format) = (pyc.header().len(), pyc.format());
            marshal::read(pyc.payload(), format).ok()?;
            Some((data, header, format))
        })
        .collect();
    let bytes: usize = pycs.iter().map(|(data, _, _)| data.len()).sum();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} pycs, {:.1} MB, from {} directories",
        pycs.len(),
        bytes as f64 / 1e6,
        dirs.len()
    )?;
    if only.is_none() {
        check(&pycs);
    }
    let jobs: [(&str, Job); 4] = [
        ("canonical, tree", |p, f| {
            marshal::tree_reference::canonical(p, f)
        }),
        ("canonical, streaming", |p, f| marshal::canonical(p, f)),
        ("rewrite_filename, tree", |p, f| {
            marshal::tree_reference::rewrite_filename(p, f, NEW_PATH)
        }),
        ("rewrite_filename, streaming", |p, f| {
            marshal::rewrite_filename(p, f, NEW_PATH)
        }),
    ];
    let mut best = [f64::INFINITY; 4];
    for pass in 0..passes {
        // Alternate which of each pair runs first.
        let order: [usize; 4] = if pass % 2 == 0 {
            [0, 1, 2, 3]
        } else {
            [1, 0, 3, 2]
        };
        for index in order.into_iter().filter(|&i| only.is_none_or(|o| o == i)) {
            let (name, job) = jobs[index];
            let seconds = user_seconds(|| run(&pycs, job));
            best[index] = best[index].min(seconds);
            writeln!(out, "pass {pass}: {name:<28} {seconds:.3} s user")?;
        }
    }
    for pair in [0, 2] {
        writeln!(
            out,
            "best: {} {:.3} s, {} {:.3} s: tree / streaming = {:.2}x",
            jobs[pair].0,
            best[pair],
            jobs[pair + 1].0,
            best[pair + 1],
            best[pair] / best[pair + 1]
        )?;
    }
    Ok(())
}

type Job = fn(&[u8], Format) -> Result<Vec<u8>, marshal::MarshalError>;

fn arguments() -> (usize, Option<usize>, Vec<PathBuf>) {
    let (mut passes, mut only) = (5, None);
    let mut dirs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--passes" {
            passes = args.next().and_then(|n| n.parse().ok()).unwrap_or(passes);
        } else if arg == "--only" {
            only = args.next().and_then(|n| n.parse().ok());
        } else {
            dirs.push(PathBuf::from(arg));
        }
    }
    if dirs.is_empty() {
        let home = std::env::var("HOME").unwrap_or_default();
        let versions = Path::new(&home).join(".pyenv/versions");
        dirs.push(versions.join("3.11.7/lib/python3.11/site-packages"));
        dirs.push(versions.join("3.12.1/lib/python3.12"));
        dirs.push(versions.join("3.13.0/lib/python3.13"));
        dirs.push(PathBuf::from("/usr/lib/pypy3.9"));
    }
    (passes, only, dirs)
}

/// Every `*.pyc` under `dir`.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect(&path, out),
            Ok(kind) if kind.is_file() && path.extension().is_some_and(|e| e == "pyc") => {
                out.push(path)
            }
            _ => {}
        }
    }
}

/// Panics unless both implementations give the same bytes on every pyc.
fn check(pycs: &[(Vec<u8>, usize, Format)]) {
    for (data, header, format) in pycs {
        let payload = &data[*header..];
        assert_eq!(
            marshal::canonical(payload, *format),
            marshal::tree_reference::canonical(payload, *format)
        );
        assert_eq!(
            marshal::rewrite_filename(payload, *format, NEW_PATH),
            marshal::tree_reference::rewrite_filename(payload, *format, NEW_PATH)
        );
    }
}

fn run(pycs: &[(Vec<u8>, usize, Format)], job: Job) {
    let mut total = 0;
    for (data, header, format) in pycs {
        total += job(&data[*header..], *format).map_or(0, |out| out.len());
    }
    std::hint::black_box(total);
}

/// The user CPU seconds `f` took.
fn user_seconds(f: impl FnOnce()) -> f64 {
    let before = user_time();
    f();
    user_time() - before
}

fn user_time() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` through a valid pointer to one.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_utime.tv_sec as f64 + usage.ru_utime.tv_usec as f64 / 1e6
}
