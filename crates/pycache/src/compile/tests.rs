use super::*;
use crate::interpreter::{DiscoveryOptions, default_interpreter};
use std::sync::Mutex;

/// Sources whose compile job panics (a stand-in for a bug in a compile task).
static PANIC_ON: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

pub(super) fn panic_if_asked(source: &Path) {
    let asked = PANIC_ON
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|p| p == source);
    assert!(!asked, "a bug in the compile job of {}", source.display());
}

#[test]
fn a_panicking_job_keeps_its_file_and_interpreter() {
    let interpreter = default_interpreter(&DiscoveryOptions::from_env()).expect("python3");
    let tmp = tempfile::tempdir().unwrap();
    let (good, bad) = (tmp.path().join("good.py"), tmp.path().join("bad.py"));
    std::fs::write(&good, "x = 1\n").unwrap();
    std::fs::write(&bad, "y = 2\n").unwrap();
    PANIC_ON.lock().unwrap().push(bad.clone());
    let options = CompileOptions {
        targets: vec![tmp.path().as_os_str().to_owned()],
        workers: 1,
        ..CompileOptions::default()
    };
    let mut reports = Vec::new();
    // The same interpreter twice: the panicking job of the second must say it is the second.
    let summary = compile(&[interpreter.clone(), interpreter], &options, |event| {
        if let Event::File(report) = event {
            reports.push(report.clone());
        }
    });
    let mut failed: Vec<_> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .map(|r| (r.interpreter, r.source.clone(), r.outcome.clone()))
        .collect();
    failed.sort_by_key(|f| f.0);
    let message = format!("a bug in the compile job of {}", bad.display());
    let panicked = |i| {
        (
            i,
            bad.clone().into_os_string(),
            Outcome::Failed(Failure::Panicked {
                message: message.clone(),
            }),
        )
    };
    assert_eq!(failed, vec![panicked(0), panicked(1)], "{reports:#?}");
    assert_eq!(summary.interpreters[0].compiled, 1);
    assert_eq!(summary.interpreters[1].compiled, 1);
}

#[test]
fn a_prefix_setting_keeps_replaces_or_drops_the_interpreters_prefix() {
    let scheme = CacheScheme::new(Some("cpython-312"), crate::PythonVersion::new(3, 12))
        .with_pycache_prefix(Some("/env".into()));
    let prefix = |setting: PrefixSetting| {
        setting
            .apply(scheme.clone())
            .pycache_prefix()
            .map(std::ffi::OsStr::to_owned)
    };
    assert_eq!(prefix(PrefixSetting::Interpreter), Some("/env".into()));
    assert_eq!(prefix(PrefixSetting::Off), None);
    assert_eq!(
        prefix(PrefixSetting::Dir("/flag".into())),
        Some("/flag".into())
    );
}

#[test]
fn sources_beside_no_pycs_are_not_stated_by_the_walk_and_still_scheduled_largest_first() {
    let interpreter = default_interpreter(&DiscoveryOptions::from_env()).expect("python3");
    let tmp = tempfile::tempdir().unwrap();
    let sizes = [
        ("small.py", 10),
        ("large.py", 100_000),
        ("middle.py", 1_000),
    ];
    for (name, size) in sizes {
        std::fs::write(tmp.path().join(name), "#".repeat(size)).unwrap();
    }
    // One source whose pyc is there (stale): its stat is made by the walk.
    std::fs::create_dir(tmp.path().join("old")).unwrap();
    std::fs::write(tmp.path().join("old/stale.py"), "x = 1\n").unwrap();
    let tag = interpreter.cache_tag().expect("a cache tag");
    std::fs::create_dir(tmp.path().join("old/__pycache__")).unwrap();
    std::fs::write(
        tmp.path().join(format!("old/__pycache__/stale.{tag}.pyc")),
        b"",
    )
    .unwrap();
    let options = CompileOptions {
        targets: vec![tmp.path().as_os_str().to_owned()],
        workers: 1,
        ..CompileOptions::default()
    };
    let plan = plan::Plan::new(std::slice::from_ref(&interpreter), &options);
    let walked = plan::walk(&plan, &options);
    let found = plan::found(&walked, &plan);
    let stale = fresh::decide_all(&plan, &found, &options, |_| panic!("nothing is fresh"));
    let unstated = |job: &plan::Job| {
        let facts = job.cell.candidate.facts;
        (job.cell.candidate.unstated, facts.map(|facts| facts.size))
    };
    let decided: Vec<_> = stale.iter().map(unstated).collect();
    // In compileall's order: large.py, middle.py, old/stale.py, small.py.
    assert_eq!(
        decided,
        [(true, None), (true, None), (false, Some(6)), (true, None)]
    );
    let scheduled = schedule::schedule(plan, stale, &options, None);
    let order: Vec<_> = scheduled
        .queued()
        .iter()
        .map(|job| {
            (
                job.cell.path().file_name().unwrap().to_owned(),
                job.cell.size(),
            )
        })
        .collect();
    let expected = [
        ("large.py", 100_000),
        ("middle.py", 1_000),
        ("small.py", 10),
        ("stale.py", 6),
    ];
    let expected: Vec<_> = (expected.iter())
        .map(|&(name, size)| (std::ffi::OsString::from(name), size))
        .collect();
    assert_eq!(order, expected);
}
