//! Headers and source hashes against what each interpreter's `py_compile` writes and
//! `importlib.util.source_hash` returns.

use crate::support::{hex, interpreters, run_oracle, set_mtime_secs};
use pycache::{HeaderLayout, PycHeader, SourceStat, mask_u32, source_hash};
use serde_json::json;

const SCRIPT: &str = include_str!("hash_oracle.py");

fn blobs() -> Vec<Vec<u8>> {
    let mut blobs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"x = 1\n".to_vec(),
        b"abcdefgh".to_vec(),
        (0..=255).collect(),
        "# -*- coding: latin-1 -*-\nx = '\u{e9}'\n"
            .as_bytes()
            .to_vec(),
        b"\xef\xbb\xbfprint('bom')\r\n".to_vec(),
    ];
    for len in 1..40 {
        blobs.push((0..len).map(|i| (i * 37 + len) as u8).collect());
    }
    blobs.push(vec![b'#'; 100_000]);
    blobs
}

#[test]
fn source_hash_matches_importlib() {
    let blobs = blobs();
    let dir = tempfile::tempdir().unwrap();
    for interpreter in interpreters() {
        let request =
            json!({"blobs": blobs.iter().map(|b| hex(b)).collect::<Vec<_>>(), "compile": []});
        let theirs = run_oracle(interpreter, SCRIPT, &request, &[], dir.path());
        let theirs = theirs["hashes"].as_array().unwrap();
        let Some(algorithm) = interpreter.source_hash_algorithm() else {
            assert!(
                theirs.is_empty(),
                "{} has source_hash but no algorithm was found",
                interpreter.display_name()
            );
            assert!(
                !interpreter.version().at_least(3, 7),
                "{} should hash",
                interpreter.display_name()
            );
            continue;
        };
        for (blob, their) in blobs.iter().zip(theirs) {
            assert_eq!(
                hex(&source_hash(algorithm, interpreter.magic(), blob)),
                their.as_str().unwrap(),
                "{} on {} bytes",
                interpreter.display_name(),
                blob.len()
            );
        }
    }
}

// Over 80 lines on purpose: one corpus (texts, mtimes) and, per interpreter and mode, the
// comparison with py_compile; split, the corpus would sit far from the checks it feeds.
#[test]
fn headers_match_py_compile() {
    let dir = tempfile::tempdir().unwrap();
    let sources: Vec<(std::path::PathBuf, Vec<u8>)> = [
        b"x = 1\n".to_vec(),
        b"".to_vec(),
        b"def f():\n    return 'hello'\n".to_vec(),
        vec![b'#'; 70_000],
    ]
    .into_iter()
    .enumerate()
    .map(|(i, text)| (dir.path().join(format!("m{i}.py")), text))
    .collect();
    for (path, text) in &sources {
        std::fs::write(path, text).unwrap();
    }
    // mtimes with a fraction, past 2**31, and before the epoch.
    let mtimes = [1_700_000_000.75_f64, 2_200_000_000.5, -5.3, 0.0];
    for ((path, _), mtime) in sources.iter().zip(mtimes) {
        set_mtime_secs(path, mtime);
    }
    for interpreter in interpreters() {
        let modes: &[Option<&str>] = if interpreter.version().at_least(3, 7) {
            &[
                None,
                Some("TIMESTAMP"),
                Some("CHECKED_HASH"),
                Some("UNCHECKED_HASH"),
            ]
        } else {
            &[None]
        };
        let mut jobs = Vec::new();
        for (i, (path, _)) in sources.iter().enumerate() {
            for (m, mode) in modes.iter().enumerate() {
                let cfile = dir
                    .path()
                    .join(format!("out-{}-{i}-{m}.pyc", interpreter.display_name()));
                jobs.push(json!({"source": path, "cfile": cfile, "mode": mode}));
            }
        }
        run_oracle(
            interpreter,
            SCRIPT,
            &json!({"blobs": [], "compile": jobs}),
            &[],
            dir.path(),
        );
        for (i, (path, text)) in sources.iter().enumerate() {
            let stat = SourceStat::from_metadata(&std::fs::metadata(path).unwrap());
            for (m, mode) in modes.iter().enumerate() {
                let cfile = dir
                    .path()
                    .join(format!("out-{}-{i}-{m}.pyc", interpreter.display_name()));
                let written = std::fs::read(&cfile).unwrap();
                let layout = interpreter.header_layout();
                let ours = match mode {
                    None | Some("TIMESTAMP") => PycHeader::timestamp(
                        interpreter.magic(),
                        layout,
                        mask_u32(stat.mtime),
                        stat.size as u32,
                    ),
                    Some(checked) => PycHeader::hash_based(
                        interpreter.magic(),
                        *checked == "CHECKED_HASH",
                        source_hash(
                            interpreter.source_hash_algorithm().unwrap(),
                            interpreter.magic(),
                            text,
                        ),
                    ),
                };
                assert_eq!(
                    hex(&ours.to_bytes()),
                    hex(&written[..layout.len()]),
                    "{} {} {:?}",
                    interpreter.display_name(),
                    path.display(),
                    mode
                );
                assert_eq!(PycHeader::parse(&written, layout).unwrap(), ours);
                if layout == HeaderLayout::Pep552 {
                    assert_eq!(PycHeader::parse_any(&written).unwrap().layout, layout);
                }
            }
        }
    }
}
