//! Whether a pyc's payload is one whole marshalled code object.
//!
//! Import loads the payload with `marshal.loads` and refuses anything but a code object; a
//! payload cut short (`EOFError: marshal data too short`) or garbled (`ValueError: bad marshal
//! data`) fails the import although the header says fresh. The payload is read with
//! [`crate::marshal`]'s reader (the one reader of marshal data), in the format of the magic
//! that wrote it; it must hold a code object and end where it should.

use crate::freshness::{Freshness, ImportRules, StaleReason};
use crate::magic::Magic;
use crate::marshal::{self, Format, Value};
use std::path::Path;

/// True when `payload` (the bytes after the header) holds a whole marshalled code object as the
/// Python whose `magic` wrote it lays it out; `None` when the magic's format is unknown (no
/// layout to check it by).
pub fn payload_parses(payload: &[u8], magic: Magic) -> Option<bool> {
    let (format, _) = Format::for_magic(magic).ok()?;
    Some(matches!(
        marshal::read(payload, format),
        Ok(object) if matches!(object.value, Value::Code(_))
    ))
}

/// Import's verdict once the payload is read too: a pyc whose header says fresh but whose
/// payload does not parse is [`StaleReason::Corrupt`]. Other verdicts are returned as they are;
/// so is a fresh one for a magic whose marshal format is unknown.
pub(crate) fn verified(verdict: Freshness, rules: &ImportRules, pyc: &Path) -> Freshness {
    use std::io::Read;
    let Freshness::Fresh(_) = verdict else {
        return verdict;
    };
    if Format::for_magic(rules.magic).is_err() {
        return verdict;
    }
    let mut data = Vec::new();
    let read = crate::regular_file::open(pyc).and_then(|mut file| file.read_to_end(&mut data));
    if let Err(error) = read {
        return Freshness::Stale(StaleReason::Unreadable(error.to_string()));
    }
    let header = rules.layout.len();
    if data.len() >= header && payload_parses(&data[header..], rules.magic) == Some(true) {
        verdict
    } else {
        Freshness::Stale(StaleReason::Corrupt)
    }
}

#[cfg(test)]
mod tests;
