//! The marshal layer against the interpreters: every pyc each one writes for (a sample of) its
//! stdlib and site-packages reads and writes back to the same bytes, its code-object fields are
//! the ones the interpreter loads, the canonical form is what Fedora's `add-det --handler=pyc`
//! writes, and re-pointing `co_filename` gives what the interpreter compiles at the other path.
//!
//! `PYCACHE_TEST_MARSHAL_FILES` sets the sample size per interpreter (`all` for every file).

use crate::support::{hex, interpreters, run_oracle, run_oracle_with_env};
use pycache::Interpreter;
use pycache::marshal::{Field, FieldName, Object, Pyc, Value};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SCRIPT: &str = include_str!("marshal_oracle.py");

/// Where the corpus says its sources are (`co_filename` is this plus the relative path).
const PREFIX: &[u8] = b"/src/a/";

/// One interpreter's pycs, compiled in one long-lived process (so with its history's flags).
struct Corpus {
    dir: tempfile::TempDir,
    /// `[source, relative path]` pairs that compiled.
    sources: Vec<(String, String)>,
}

impl Corpus {
    fn pyc(&self, rel: &str) -> PathBuf {
        self.dir.path().join(format!("{rel}c"))
    }

    fn pycs(&self) -> Vec<PathBuf> {
        self.sources.iter().map(|(_, rel)| self.pyc(rel)).collect()
    }
}

fn sample_size() -> u64 {
    match std::env::var("PYCACHE_TEST_MARSHAL_FILES").as_deref() {
        Ok("all") => 0,
        Ok(n) => n
            .parse()
            .expect("PYCACHE_TEST_MARSHAL_FILES: a number or `all`"),
        Err(_) => 150,
    }
}

/// Compiles `sources` in one process of `interpreter` into `out`, `co_filename` being `prefix`
/// plus each relative path; returns the pairs that compiled. The hash seed is fixed: before
/// 3.11 it orders frozenset constants.
fn compile(
    interpreter: &Interpreter,
    sources: &[(String, String)],
    out: &Path,
    prefix: &[u8],
) -> Vec<(String, String)> {
    let request = json!({"mode": "compile", "sources": sources, "out": out, "prefix": hex(prefix)});
    let env = [("PYTHONHASHSEED", "0")];
    let done = run_oracle_with_env(interpreter, SCRIPT, &request, &[], out, &env);
    let done: Vec<&str> = done
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    sources
        .iter()
        .filter(|(_, rel)| done.contains(&rel.as_str()))
        .cloned()
        .collect()
}

/// The corpus of interpreter number `index` of [`interpreters`], built once.
fn corpus(index: usize) -> &'static Corpus {
    static CORPORA: OnceLock<Vec<OnceLock<Corpus>>> = OnceLock::new();
    let all = CORPORA.get_or_init(|| interpreters().iter().map(|_| OnceLock::new()).collect());
    all[index].get_or_init(|| {
        let interpreter = &interpreters()[index];
        let dir = tempfile::tempdir().unwrap();
        let request = json!({"mode": "sources", "limit": sample_size()});
        let found = run_oracle(interpreter, SCRIPT, &request, &["-E"], dir.path());
        let found: Vec<(String, String)> = serde_json::from_value(found).unwrap();
        let sources = compile(interpreter, &found, dir.path(), PREFIX);
        assert!(
            sources.len() * 10 >= found.len() * 9 && sources.len() >= 50.min(found.len()),
            "{}: only {} of {} sources compiled",
            interpreter.display_name(),
            sources.len(),
            found.len()
        );
        eprintln!("{}: {} pycs", interpreter.display_name(), sources.len());
        Corpus { dir, sources }
    })
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn marshal_round_trips_every_pyc() {
    for (index, interpreter) in interpreters().iter().enumerate() {
        let corpus = corpus(index);
        for path in corpus.pycs() {
            let data = read(&path);
            let pyc = Pyc::split(&data).unwrap();
            let code = pyc.code().unwrap_or_else(|e| {
                panic!("{}: {}: {e}", interpreter.display_name(), path.display())
            });
            assert!(
                pycache::marshal::write(&code) == pyc.payload(),
                "{}: {} does not round-trip",
                interpreter.display_name(),
                path.display()
            );
        }
    }
}

/// The code objects under `object`, in stream order (references not followed).
fn code_objects<'a>(object: &'a Object, out: &mut Vec<&'a pycache::marshal::Code>) {
    match &object.value {
        Value::Code(code) => {
            out.push(code);
            for field in &code.fields {
                if let Field::Object(child) = field {
                    code_objects(child, out);
                }
            }
        }
        Value::Tuple { items, .. }
        | Value::List(items)
        | Value::Set(items)
        | Value::FrozenSet(items) => items.iter().for_each(|i| code_objects(i, out)),
        _ => {}
    }
}

/// The string a field holds, following a reference through `refs`.
fn field_text(code: &pycache::marshal::Code, name: FieldName, refs: &[&Object]) -> Option<String> {
    let mut object = code.object(name)?;
    if let Value::Ref(index) = object.value {
        object = refs[index as usize];
    }
    match &object.value {
        Value::Str(s) => Some(hex(&s.data)),
        other => panic!("{name:?} is {other:?}"),
    }
}

#[test]
fn marshal_code_fields_are_the_ones_the_interpreter_loads() {
    for (index, interpreter) in interpreters().iter().enumerate() {
        let pycs: Vec<PathBuf> = corpus(index).pycs().into_iter().take(60).collect();
        let request = json!({"mode": "fields", "pycs": pycs});
        let theirs = run_oracle(interpreter, SCRIPT, &request, &["-E"], Path::new("/"));
        for (path, their) in pycs.iter().zip(theirs.as_array().unwrap()) {
            let data = read(path);
            let root = Pyc::split(&data).unwrap().code().unwrap();
            let mut codes = Vec::new();
            code_objects(&root, &mut codes);
            let refs = pycache::marshal::references(&root);
            let ours: Vec<Json> = codes
                .iter()
                .map(|code| {
                    let mut fields = serde_json::Map::new();
                    for &name in code.layout.fields() {
                        if let Some(value) = code.int(name) {
                            fields.insert(name.as_str().into(), value.into());
                        }
                    }
                    for name in [FieldName::Filename, FieldName::Name, FieldName::Qualname] {
                        if let Some(text) = field_text(code, name, &refs) {
                            fields.insert(name.as_str().into(), text.into());
                        }
                    }
                    Json::Object(fields)
                })
                .collect();
            let mut theirs = their.as_array().unwrap().clone();
            // 3.11+ compute co_nlocals from the kinds; it is not in the stream.
            if interpreter.version().at_least(3, 11) {
                theirs.iter_mut().for_each(|f| {
                    f.as_object_mut().unwrap().remove("nlocals");
                });
            }
            assert_eq!(
                ours,
                theirs,
                "{}: {}",
                interpreter.display_name(),
                path.display()
            );
        }
    }
}

/// Fedora's `add-det` (a GPL test tool, never a dependency): from `PATH` or Cargo's bin folder.
/// With `PYCACHE_TEST_REQUIRE_INTERPRETERS` set its absence is a failure, not a skip.
fn add_det() -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .map(|home| home.join("bin"));
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(cargo_bin)
        .map(|dir| dir.join("add-det"))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("PYCACHE_TEST_REQUIRE_INTERPRETERS").is_none(),
            "add-det not found (cargo install --locked add-determinism)"
        );
        eprintln!("add-det not found: canonical form not compared with it");
    }
    found
}

/// Copies `pycs` under `to`, named by their index.
fn copy_pycs(pycs: &[PathBuf], to: &Path) -> Vec<PathBuf> {
    let copies: Vec<PathBuf> = (0..pycs.len())
        .map(|i| to.join(format!("{i}.pyc")))
        .collect();
    for (from, copy) in pycs.iter().zip(&copies) {
        std::fs::copy(from, copy).unwrap();
    }
    copies
}

/// Asks `interpreter` which pairs of pycs load to different code; there must be none.
fn assert_same_code(interpreter: &Interpreter, pairs: &[(PathBuf, PathBuf)], what: &str) {
    let request = json!({"mode": "same", "pairs": pairs});
    let differ = run_oracle(interpreter, SCRIPT, &request, &["-E"], Path::new("/"));
    let differ: Vec<usize> = serde_json::from_value(differ).unwrap();
    assert!(
        differ.is_empty(),
        "{}: {what}: {} pairs load differently, first {:?}",
        interpreter.display_name(),
        differ.len(),
        pairs[differ[0]]
    );
}

#[test]
fn canonical_is_what_add_det_writes_and_loads_the_same() {
    let add_det = add_det();
    for (index, interpreter) in interpreters().iter().enumerate() {
        let pycs = corpus(index).pycs();
        let dir = tempfile::tempdir().unwrap();
        let (ours_dir, theirs_dir) = (dir.path().join("ours"), dir.path().join("theirs"));
        std::fs::create_dir_all(&ours_dir).unwrap();
        std::fs::create_dir_all(&theirs_dir).unwrap();
        let ours = copy_pycs(&pycs, &ours_dir);
        let mut changed = 0;
        for path in &ours {
            let data = read(path);
            let canonical = Pyc::split(&data).unwrap().canonical().unwrap();
            let again = Pyc::split(&canonical).unwrap().canonical().unwrap();
            assert!(again == canonical, "{}: not idempotent", path.display());
            changed += usize::from(canonical != data);
            std::fs::write(path, canonical).unwrap();
        }
        let pairs: Vec<(PathBuf, PathBuf)> = pycs.iter().cloned().zip(ours.clone()).collect();
        assert_same_code(interpreter, &pairs, "canonical");
        let is_pypy = interpreter.implementation() == "pypy";
        let Some(add_det) = add_det.as_ref().filter(|_| !is_pypy) else {
            eprintln!(
                "{}: {changed} of {} changed",
                interpreter.display_name(),
                pycs.len()
            );
            continue;
        };
        let theirs = copy_pycs(&pycs, &theirs_dir);
        // Files named one by one: add-det walking a large directory while its workers create
        // and rename temporary files in it counts the vanished ones as errors (seen at 11,642).
        for chunk in theirs.chunks(1000) {
            let output = Command::new(add_det)
                .args(["--handler=pyc", "-j2"])
                .args(chunk)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "add-det failed in {}: {}{}",
                theirs_dir.display(),
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .filter(|l| !l.contains("replacing with normalized"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for ((source, ours), theirs) in pycs.iter().zip(&ours).zip(&theirs) {
            assert!(
                read(ours) == read(theirs),
                "{}: {} differs from add-det's",
                interpreter.display_name(),
                source.display()
            );
        }
        eprintln!(
            "{}: {changed} of {} changed, all as add-det",
            interpreter.display_name(),
            pycs.len()
        );
        assert!(
            changed > 0,
            "{}: a long-lived compiler wrote only canonical pycs",
            interpreter.display_name()
        );
    }
}

/// Other places to compile at: a path over 255 bytes (`a` instead of `z`) and a non-ASCII one
/// with an undecodable byte (`u`, a lone surrogate written with `surrogatepass`).
fn other_prefixes() -> Vec<Vec<u8>> {
    let long = [b"/srv/".as_slice(), &[b'l'; 260], b"/"].concat();
    vec![long, b"/srv/\xc3\xa9t\xc3\xa9/\xff/".to_vec()]
}

#[test]
fn rewrite_filename_gives_what_the_interpreter_compiles_at_the_other_path() {
    for (index, interpreter) in interpreters().iter().enumerate() {
        let sources: Vec<(String, String)> =
            corpus(index).sources.iter().take(60).cloned().collect();
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, prefix: &[u8]| {
            let out = dir.path().join(name);
            std::fs::create_dir_all(&out).unwrap();
            (out.clone(), compile(interpreter, &sources, &out, prefix))
        };
        let (a_dir, a_done) = at("a", PREFIX);
        let (mut exact, mut canonical_equal) = (0, 0);
        let mut pairs = Vec::new();
        let is_pypy = interpreter.implementation() == "pypy";
        for (n, prefix) in other_prefixes().iter().enumerate() {
            let (b_dir, b_done) = at(&format!("b{n}"), prefix);
            assert_eq!(a_done, b_done, "{}", interpreter.display_name());
            let moved_dir = dir.path().join(format!("moved{n}"));
            for (_, rel) in &a_done {
                let a = read(&a_dir.join(format!("{rel}c")));
                let b_path = b_dir.join(format!("{rel}c"));
                let b = read(&b_path);
                let new_path = [prefix.as_slice(), rel.as_bytes()].concat();
                let moved = Pyc::split(&a).unwrap().rewrite_filename(&new_path).unwrap();
                let canonical = |data: &[u8]| Pyc::split(data).unwrap().canonical().unwrap();
                let same_canonical = canonical(&moved) == canonical(&b);
                canonical_equal += usize::from(same_canonical);
                // PyPy interns strings (`z` or `Z`) by process history even in fresh processes;
                // the interpreter's own loads still has to agree below.
                assert!(
                    same_canonical || is_pypy,
                    "{}: {rel} re-pointed to {} is not what the interpreter compiles there",
                    interpreter.display_name(),
                    String::from_utf8_lossy(&new_path)
                );
                exact += usize::from(moved == b);
                let moved_path = moved_dir.join(format!("{rel}c"));
                std::fs::create_dir_all(moved_path.parent().unwrap()).unwrap();
                std::fs::write(&moved_path, moved).unwrap();
                pairs.push((moved_path, b_path));
            }
        }
        assert_same_code(interpreter, &pairs, "re-pointed");
        eprintln!(
            "{}: {} re-pointed pycs, {canonical_equal} equal after canonical, {exact} before",
            interpreter.display_name(),
            pairs.len()
        );
        if interpreter.implementation() == "cpython" && interpreter.version().at_least(3, 11) {
            assert_eq!(
                exact,
                pairs.len(),
                "{}: 3.11+ is stable across processes",
                interpreter.display_name()
            );
        }
    }
}

/// The streaming `canonical` and `rewrite_filename` against their first implementations over
/// an `Object` tree (`marshal::tree_reference`), on every pyc of every interpreter's corpus,
/// whole and cut short.
#[test]
fn streaming_marshal_passes_agree_with_the_tree_on_every_pyc() {
    use pycache::marshal::{self, tree_reference};
    for (index, interpreter) in interpreters().iter().enumerate() {
        let corpus = corpus(index);
        let mut count = 0;
        for ((_, rel), path) in corpus.sources.iter().zip(corpus.pycs()) {
            let data = read(&path);
            let pyc = Pyc::split(&data).unwrap();
            let (payload, format) = (pyc.payload(), pyc.format());
            let what = format!("{}: {}", interpreter.display_name(), path.display());
            let canonical = marshal::canonical(payload, format);
            assert!(canonical.is_ok(), "{what}");
            assert!(
                canonical == tree_reference::canonical(payload, format),
                "{what}"
            );
            // The spots a scan finds, kept as bytes and read back, re-point as the scan does.
            let spots = marshal::FilenameSpots::find(payload, format).unwrap();
            let kept = marshal::FilenameSpots::from_bytes(&spots.to_bytes(), payload);
            assert!(kept.as_ref() == Some(&spots), "{what}: spots");
            for prefix in other_prefixes() {
                let new_path = [prefix.as_slice(), rel.as_bytes()].concat();
                let moved = marshal::rewrite_filename(payload, format, &new_path);
                let expected = tree_reference::rewrite_filename(payload, format, &new_path);
                assert!(moved.is_ok() && moved == expected, "{what}: re-pointed");
                let moved = moved.unwrap();
                assert!(spots.apply(payload, &new_path) == moved, "{what}: spliced");
                let canonical = marshal::canonical(&moved, format);
                assert!(
                    canonical == tree_reference::canonical(&moved, format),
                    "{what}: re-pointed, canonical"
                );
            }
            let cut = &payload[..payload.len() * (count % 7 + 1) / 8];
            assert_eq!(
                marshal::canonical(cut, format),
                tree_reference::canonical(cut, format),
                "{what}: cut"
            );
            assert_eq!(
                marshal::rewrite_filename(cut, format, b"/x.py"),
                tree_reference::rewrite_filename(cut, format, b"/x.py"),
                "{what}: cut"
            );
            count += 1;
        }
        assert!(count >= 50, "{}: {count} pycs", interpreter.display_name());
    }
}
