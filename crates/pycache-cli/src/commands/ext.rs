//! `pycache ext`: extension modules, their tags, and which file each interpreter loads.

use super::Status;
use super::compile::interpreters;
use crate::cli::ExtArgs;
use crate::printer::Printer;
use pycache::Interpreter;
use pycache::extension::{ExtensionName, ExtensionTag, Found, find_module};
use pycache::walk::{WalkOptions, WalkRoot, walk};
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One module's extension files in one directory.
struct Module {
    dir: PathBuf,
    name: String,
    files: Vec<ExtensionName>,
}

/// For one interpreter: what it loads, and the extension files it would also accept but never
/// reaches (shadowed).
struct Verdict {
    loads: Option<Found>,
    loads_extension: bool,
    shadowed: Vec<String>,
}

fn judge(module: &Module, interpreter: &Interpreter) -> Verdict {
    let loads = find_module(&module.dir, &module.name, interpreter.extension_suffixes());
    let loaded_name = loads
        .as_ref()
        .and_then(|f| f.path().file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let loads_extension = matches!(&loads, Some(Found::Module(_)))
        && module
            .files
            .iter()
            .any(|f| Some(&f.file_name) == loaded_name.as_ref());
    let shadowed = module
        .files
        .iter()
        .filter(|f| Some(&f.file_name) != loaded_name.as_ref())
        .filter(|f| {
            interpreter
                .extension_suffixes()
                .iter()
                .any(|suffix| f.file_name == format!("{}{suffix}", module.name))
        })
        .map(|f| f.file_name.clone())
        .collect();
    Verdict {
        loads,
        loads_extension,
        shadowed,
    }
}

fn modules_under(roots: &[OsString]) -> (Vec<Module>, Vec<pycache::walk::WalkProblem>) {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let roots: Vec<WalkRoot> = (roots.iter())
        .map(|path| WalkRoot {
            path: path.clone(),
            max_depth: 1000,
        })
        .collect();
    let walk = walk(&roots, &WalkOptions::with_threads(threads));
    let mut grouped: BTreeMap<(PathBuf, String), Vec<ExtensionName>> = BTreeMap::new();
    for candidate in &walk.candidates {
        let path = Path::new(&candidate.path);
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Ok(parsed) = ExtensionName::parse(name) {
            let dir = path.parent().map(Path::to_owned).unwrap_or_default();
            grouped
                .entry((dir, parsed.module.clone()))
                .or_default()
                .push(parsed);
        }
    }
    let modules = grouped
        .into_iter()
        .map(|((dir, name), files)| Module { dir, name, files })
        .collect();
    (modules, walk.problems)
}

/// One extension file, in `ext --json`.
#[derive(Serialize)]
struct FileReport<'a> {
    file: &'a str,
    tag: &'a ExtensionTag,
    describe: String,
}

/// What one interpreter does with a module, in `ext --json`.
#[derive(Serialize)]
struct VerdictReport {
    interpreter: String,
    loads: Option<String>,
    loads_extension: bool,
    shadowed: Vec<String>,
}

/// One module, in `ext --json`'s `modules`.
#[derive(Serialize)]
struct ModuleReport<'a> {
    directory: String,
    module: &'a str,
    files: Vec<FileReport<'a>>,
    interpreters: Vec<VerdictReport>,
}

/// One interpreter's count, in `ext --json`'s `interpreters`.
#[derive(Serialize)]
struct Summary {
    interpreter: String,
    loadable: usize,
    unloadable: usize,
}

/// `ext --json`'s document (the printer adds `version`).
#[derive(Serialize)]
struct Document<'a> {
    modules: Vec<ModuleReport<'a>>,
    interpreters: Vec<Summary>,
    ok: bool,
    problems: Vec<serde_json::Value>,
}

fn fsdecode(path: &Path) -> String {
    crate::json_path::fsdecode(path.as_os_str().as_bytes())
}

fn module_report<'a>(
    module: &'a Module,
    interpreters: &[Interpreter],
    verdicts: Vec<Verdict>,
) -> ModuleReport<'a> {
    let files = module
        .files
        .iter()
        .map(|f| FileReport {
            file: &f.file_name,
            tag: &f.tag,
            describe: f.tag.describe(),
        })
        .collect();
    let interpreters = interpreters
        .iter()
        .zip(verdicts)
        .map(|(i, v)| VerdictReport {
            interpreter: i.display_name(),
            loads: v.loads.as_ref().map(|f| fsdecode(f.path())),
            loads_extension: v.loads_extension,
            shadowed: v.shadowed,
        })
        .collect();
    ModuleReport {
        directory: fsdecode(&module.dir),
        module: &module.name,
        files,
        interpreters,
    }
}

/// A module's files and each interpreter's verdict, as text lines.
fn module_text(module: &Module, interpreters: &[Interpreter], verdicts: &[Verdict]) -> Vec<String> {
    let mut lines = vec![format!("{}:", module.dir.join(&module.name).display())];
    let width = module
        .files
        .iter()
        .map(|f| f.file_name.len())
        .max()
        .unwrap_or(0);
    for file in &module.files {
        lines.push(format!(
            "  {:<width$}  {}",
            file.file_name,
            file.tag.describe()
        ));
    }
    let name_width = interpreters
        .iter()
        .map(|i| i.display_name().len())
        .max()
        .unwrap_or(0);
    let file_name = |f: &Found| {
        f.path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for (interpreter, verdict) in interpreters.iter().zip(verdicts) {
        let mut line = match (&verdict.loads, verdict.loads_extension) {
            (Some(found), true) => format!("loads {}", file_name(found)),
            (Some(found), false) => {
                format!("cannot load it (falls back to {})", file_name(found))
            }
            (None, _) => "cannot load it".to_owned(),
        };
        if !verdict.shadowed.is_empty() {
            line.push_str(&format!("; shadows {}", verdict.shadowed.join(", ")));
        }
        lines.push(format!(
            "  {:<name_width$}  {line}",
            interpreter.display_name()
        ));
    }
    lines
}

/// The directories searched when no path is given: every interpreter's `sys.path`.
fn default_roots(interpreters: &[Interpreter]) -> Vec<OsString> {
    let mut roots: Vec<OsString> = Vec::new();
    for interpreter in interpreters {
        for entry in interpreter.sys_path() {
            let entry = entry.into_os_string();
            if !entry.is_empty() && !roots.contains(&entry) && Path::new(&entry).is_dir() {
                roots.push(entry);
            }
        }
    }
    roots
}

pub(crate) fn run(args: &ExtArgs) -> anyhow::Result<Status> {
    let interpreters = interpreters(&args.python)?;
    let roots = if args.paths.is_empty() {
        default_roots(&interpreters)
    } else {
        args.paths.clone()
    };
    let (modules, problems) = modules_under(&roots);
    let mut printer = Printer::new();
    let walk_failed = super::report_problems(&mut printer, &problems)?;
    let mut unloadable = vec![0usize; interpreters.len()];
    let mut described = Vec::new();
    for module in &modules {
        let verdicts: Vec<Verdict> = interpreters.iter().map(|i| judge(module, i)).collect();
        for (count, verdict) in unloadable.iter_mut().zip(&verdicts) {
            if !verdict.loads_extension {
                *count += 1;
            }
        }
        if args.json {
            described.push(module_report(module, &interpreters, verdicts));
        } else {
            for line in module_text(module, &interpreters, &verdicts) {
                printer.line(&line)?;
            }
        }
    }
    let failed = walk_failed || (args.strict && unloadable.iter().any(|&n| n > 0));
    if args.json {
        let summary = interpreters
            .iter()
            .zip(&unloadable)
            .map(|(i, &n)| Summary {
                interpreter: i.display_name(),
                loadable: modules.len() - n,
                unloadable: n,
            })
            .collect();
        let document = Document {
            modules: described,
            interpreters: summary,
            ok: !failed,
            problems: super::problems_json(&problems),
        };
        printer.json(&serde_json::to_value(document)?)?;
    } else {
        for (interpreter, n) in interpreters.iter().zip(&unloadable) {
            printer.line(&format!(
                "{}: {} of {} extension modules loadable",
                interpreter.display_name(),
                modules.len() - n,
                modules.len()
            ))?;
        }
    }
    printer.flush()?;
    Ok(Status::of(!failed))
}
