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
