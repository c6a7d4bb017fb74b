//! Freshness against what import really does: a pyc compiled from other text than its source
//! shows whether import used it (`VALUE == 'from-pyc'`) or recompiled the source.

use crate::support::{interpreters, run_oracle, set_mtime_secs};
use pycache::{CheckHashBasedPycs, SourceStat, classify_pyc_file};
use serde_json::json;
use std::path::Path;

const CRAFT: &str = include_str!("craft_oracle.py");
const IMPORT: &str = include_str!("import_oracle.py");
const PYC_TEXT: &str = "VALUE = 'from-pyc'\n";
const SRC_TEXT: &str = "VALUE = 'from-src'\n";
const T0: f64 = 1_600_000_000.5;

#[derive(Debug, Clone, Copy)]
enum Mutation {
    None,
    MtimePlusOne,
    SizeChanged,
    ContentSameSizeAndMtime,
    MtimePlus2Pow32,
    Flags(u8),
    MagicFlipped,
    TruncatedTo(usize),
    PycRemoved,
}

const MUTATIONS: &[Mutation] = &[
    Mutation::None,
    Mutation::MtimePlusOne,
    Mutation::SizeChanged,
    Mutation::ContentSameSizeAndMtime,
    Mutation::MtimePlus2Pow32,
    Mutation::Flags(2),
    Mutation::Flags(4),
    Mutation::MagicFlipped,
    Mutation::TruncatedTo(12),
    Mutation::TruncatedTo(0),
    Mutation::PycRemoved,
];

fn mutate(source: &Path, pyc: &Path, mutation: Mutation) {
    let patch_pyc = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut data = std::fs::read(pyc).unwrap();
        f(&mut data);
        std::fs::write(pyc, data).unwrap();
    };
    match mutation {
        Mutation::None => {}
        Mutation::MtimePlusOne => set_mtime_secs(source, T0 + 1.0),
        Mutation::SizeChanged => {
            std::fs::write(source, format!("{SRC_TEXT}#\n")).unwrap();
            set_mtime_secs(source, T0);
        }
        Mutation::ContentSameSizeAndMtime => {
            std::fs::write(source, SRC_TEXT.replace("src", "SRC")).unwrap();
            set_mtime_secs(source, T0);
        }
        Mutation::MtimePlus2Pow32 => set_mtime_secs(source, T0 + 4_294_967_296.0),
        Mutation::Flags(flags) => patch_pyc(&|d| d[4] = flags),
        Mutation::MagicFlipped => patch_pyc(&|d| d[0] ^= 0x40),
        Mutation::TruncatedTo(len) => patch_pyc(&|d| d.truncate(len)),
        Mutation::PycRemoved => std::fs::remove_file(pyc).unwrap(),
    }
}

// Over 80 lines on purpose: one loop over every interpreter and mutation whose steps (write,
// mutate, ask import, ask us) only make sense in order; the steps themselves are helpers above.
#[test]
fn freshness_matches_import() {
    for interpreter in interpreters() {
        let dir = tempfile::tempdir().unwrap();
        let modes: &[&str] = if interpreter.version().at_least(3, 7) {
            &["timestamp", "checked", "unchecked"]
        } else {
            &["timestamp"]
        };
        let scheme = interpreter.cache_scheme().with_pycache_prefix(None);
        let mut modules = Vec::new();
        let mut jobs = Vec::new();
        for mode in modes {
            for (index, mutation) in MUTATIONS.iter().enumerate() {
                if matches!(mutation, Mutation::Flags(_)) && !interpreter.version().at_least(3, 7) {
                    continue;
                }
                let name = format!("m_{mode}_{index}");
                let source = dir.path().join(format!("{name}.py"));
                std::fs::write(&source, SRC_TEXT).unwrap();
                set_mtime_secs(&source, T0);
                jobs.push(json!({"source": source, "code_text": PYC_TEXT, "mode": mode}));
                modules.push((name, source, *mutation));
            }
        }
        run_oracle(interpreter, CRAFT, &json!({"jobs": jobs}), &[], dir.path());
        for (_, source, mutation) in &modules {
            let pyc = scheme.cache_from_source(source.as_os_str(), None).unwrap();
            mutate(source, Path::new(&pyc), *mutation);
        }
        let checks: &[(CheckHashBasedPycs, &[&str])] = if interpreter.version().at_least(3, 7) {
            &[
                (CheckHashBasedPycs::Default, &[]),
                (
                    CheckHashBasedPycs::Always,
                    &["--check-hash-based-pycs", "always"],
                ),
                (
                    CheckHashBasedPycs::Never,
                    &["--check-hash-based-pycs", "never"],
                ),
            ]
        } else {
            &[(CheckHashBasedPycs::Default, &[])]
        };
        for (check, args) in checks {
            let names: Vec<&str> = modules.iter().map(|(n, _, _)| n.as_str()).collect();
            let seen = run_oracle(
                interpreter,
                IMPORT,
                &json!({"dir": dir.path(), "modules": names}),
                args,
                dir.path(),
            );
            let rules = interpreter.import_rules(*check);
            let mut mismatches = Vec::new();
            for (name, source, mutation) in &modules {
                let value = seen[name].as_str().unwrap_or("?");
                // A pyc whose header passes but whose body is empty (3.6, truncated to its
                // 12-byte header) is used by import, which then fails to unmarshal it.
                let unmarshal_failed = value.contains("EOF read where object expected")
                    || value.contains("bad marshal data");
                assert!(
                    !value.starts_with("error") || unmarshal_failed,
                    "{}: {name}: {value}",
                    interpreter.display_name()
                );
                let imported_pyc = value == "from-pyc" || unmarshal_failed;
                let pyc = scheme.cache_from_source(source.as_os_str(), None).unwrap();
                let stat = SourceStat::from_metadata(&std::fs::metadata(source).unwrap());
                let ours =
                    classify_pyc_file(&rules, Path::new(&pyc), stat, || std::fs::read(source));
                if ours.is_fresh() != imported_pyc {
                    mismatches.push(format!(
                        "{name} ({mutation:?}): import used pyc: {imported_pyc}, ours: {ours:?}"
                    ));
                }
            }
            let used = modules
                .iter()
                .filter(|(n, _, _)| seen[n] == "from-pyc")
                .count();
            assert!(
                used > 0 && used < modules.len(),
                "{}: the scenarios must include both verdicts (pyc used for {used} of {})",
                interpreter.display_name(),
                modules.len()
            );
            assert!(
                mismatches.is_empty(),
                "{} with {check:?}:\n{}",
                interpreter.display_name(),
                mismatches.join("\n")
            );
        }
    }
}
