//! The payload check against what each interpreter's `py_compile` writes: every pyc it writes
//! parses, and no pyc cut short does.

use crate::support::interpreters;
use pycache::PycHeader;
use pycache::payload::payload_parses;
use std::process::Command;

const FIXTURE: &str = r#"
import sys
BIG = 2 ** 200 - 3 ** 90
NEG = -(10 ** 40)
F, C = 1.5, 2 + 3j
S, FS = {1, 2, "a"}, frozenset({b"x", (1, 2)})
D = {"k": [1, 2, (3, None, True, False, ...)], "ü": "ümlaut \udc80".encode("utf-8", "surrogatepass")}
LONG = "x" * 300
class K:
    def method(self, a, /, b, *, c=1, **kw):
        def inner():
            return a + b
        return [i for i in range(c)], lambda: inner
async def co():
    async with x as y:
        pass
    try:
        yield
    except* ValueError if sys.version_info >= (3, 11) else Exception:
        pass
"#;

/// The sources compiled: the fixture and a few large stdlib modules of the interpreter's own.
const SCRIPT: &str = r#"
import importlib.util, py_compile, sys
out = sys.argv[1]
paths = [sys.argv[2]] + [importlib.util.find_spec(m).origin for m in
                         ("argparse", "typing", "collections", "json.decoder", "ast")]
for i, path in enumerate(paths):
    try:
        py_compile.compile(path, cfile="%s/%d.pyc" % (out, i), doraise=True)
    except py_compile.PyCompileError:
        pass  # the fixture's newer syntax, on older interpreters
"#;

#[test]
fn every_pyc_the_interpreters_write_parses_and_no_truncated_one_does() {
    for interpreter in interpreters() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = dir.path().join("fixture.py");
        let source = if interpreter.version().at_least(3, 11) {
            FIXTURE.to_owned()
        } else {
            FIXTURE.replace("except*", "except")
        };
        std::fs::write(&fixture, source).unwrap();
        let status = Command::new(interpreter.path())
            .args(["-c", SCRIPT])
            .arg(dir.path())
            .arg(&fixture)
            .status()
            .unwrap();
        assert!(status.success(), "{}", interpreter.display_name());
        let layout = interpreter.header_layout();
        let mut checked = 0;
        for i in 0..6 {
            let Ok(pyc) = std::fs::read(dir.path().join(format!("{i}.pyc"))) else {
                continue;
            };
            PycHeader::parse(&pyc, layout).unwrap();
            let payload = &pyc[layout.len()..];
            let magic = interpreter.magic();
            assert!(
                payload_parses(payload, magic) == Some(true),
                "{} {i}.pyc",
                interpreter.display_name()
            );
            let step = (payload.len() / 500).max(1);
            for cut in (0..payload.len()).step_by(step) {
                assert!(
                    payload_parses(&payload[..cut], magic) == Some(false),
                    "{} {i}.pyc cut at {cut} of {}",
                    interpreter.display_name(),
                    payload.len()
                );
            }
            checked += 1;
        }
        assert!(
            checked >= 5,
            "{}: {checked} pycs",
            interpreter.display_name()
        );
    }
}
