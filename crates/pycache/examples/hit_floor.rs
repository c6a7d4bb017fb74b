//! The hit floors for the cache benchmark: what any content-addressed cache of compiled code must
//! do per file on a hit, and nothing else.
//!
//! - The hit floor: for each file, read the source (open, fstat, read it whole, close) and take
//!   its BLAKE3 digest (the key cannot be known without it), then write the pyc as
//!   `bench/write_floor.c` does (create the directory if needed, a temporary file, write, close,
//!   rename), on every core. No lookup, no re-pointing, no deciding: the pyc bytes are given.
//! - With `complete`, also what the cache issue requires of every hit besides: list each
//!   directory of the tree once (the walk, without a `stat`: the source's `fstat` is counted
//!   already), read the entry from one pack file (one `pread` into a buffer that is not
//!   zero-filled) and verify its XXH3-128 checksum; the pyc is written from that buffer
//!   (pycache re-points `co_filename` by writing the payload's pieces around the new name,
//!   without copying it). The pack and its index (in memory) are made before the clock
//!   starts, a generous assumption: pycache reads its index during the run. And the pyc is
//!   written the way pycache writes one that is not there yet (the cheapest atomic write known
//!   here): an unnamed file in its directory (`O_TMPFILE`; the directory made only when that
//!   fails for want of it), linked under its name once written.
//!
//! ```text
//! cargo build --release -p pycache --example hit_floor
//! target/release/examples/hit_floor MANIFEST THREADS [complete]
//! ```
//!
//! MANIFEST: lines `PYC_PATH\tCONTENT_FILE\tSOURCE_PATH`. Every content file is read into memory
//! before the clock starts; the time printed (seconds, on stdout) covers the rest. Written in
//! Rust rather than C only because BLAKE3's fastest implementation (the one pycache uses) is
//! this crate.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Item {
    pyc: String,
    data: Vec<u8>,
    source: String,
}

/// Where an item's bytes are in the pack, and their checksum.
struct Place {
    offset: u64,
    len: usize,
    checksum: u128,
}

/// What `complete` adds: the pack, its index (one place per item), the directories to list.
struct Complete {
    pack: File,
    places: Vec<Place>,
    dirs: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (manifest, threads, complete) = match &args[..] {
        [_, manifest, threads] => (manifest, threads, false),
        [_, manifest, threads, mode] if mode == "complete" => (manifest, threads, true),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "usage: hit_floor MANIFEST THREADS [complete]"
            );
            std::process::exit(2);
        }
    };
    let threads: usize = threads.parse().unwrap_or(1).clamp(1, 64);
    // The pack (`complete`) goes beside the manifest: on the file system the benchmark works
    // in, as pycache's cache is.
    let pack_dir = std::path::Path::new(manifest)
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_owned();
    let manifest = std::fs::read_to_string(manifest).expect("manifest");
    let items: Vec<Item> = manifest
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (pyc, content, source) = (fields.next()?, fields.next()?, fields.next()?);
            Some(Item {
                pyc: pyc.to_owned(),
                data: std::fs::read(content).expect("content file"),
                source: source.to_owned(),
            })
        })
        .collect();
    let complete = complete.then(|| prepare(&items, &pack_dir));
    let (next_dir, next) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for id in 0..threads {
            let (items, next, next_dir, complete) = (&items, &next, &next_dir, &complete);
            scope.spawn(move || {
                let tag = std::process::id() as usize * 100 + id;
                if let Some(complete) = complete {
                    while let Some(dir) =
                        complete.dirs.get(next_dir.fetch_add(1, Ordering::Relaxed))
                    {
                        list(dir);
                    }
                }
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    match complete {
                        Some(complete) => {
                            let pyc = entry(complete, &complete.places[i]);
                            let source = read_source(item);
                            std::hint::black_box(blake3::hash(&source));
                            write_unnamed(&item.pyc, &pyc);
                        }
                        None => hit(item, &item.data, tag),
                    }
                }
            });
        }
    });
    let _ = writeln!(std::io::stdout(), "{:.6}", start.elapsed().as_secs_f64());
}

/// The pack of every item's bytes, its index, and the source directories (before the clock).
fn prepare(items: &[Item], dir: &std::path::Path) -> Complete {
    let mut pack = tempfile::tempfile_in(dir).expect("pack");
    let mut places = Vec::with_capacity(items.len());
    let mut offset = 0;
    for item in items {
        pack.write_all(&item.data).expect("pack write");
        places.push(Place {
            offset,
            len: item.data.len(),
            checksum: xxhash_rust::xxh3::xxh3_128(&item.data),
        });
        offset += item.data.len() as u64;
    }
    // Written back before the clock starts, as pycache's packs are (they were written by an
    // earlier run): dirty pages of the pack would otherwise be flushed during the measure.
    pack.sync_all().expect("pack sync");
    let mut dirs: Vec<String> = items
        .iter()
        .filter_map(|item| {
            Some(
                std::path::Path::new(&item.source)
                    .parent()?
                    .to_str()?
                    .to_owned(),
            )
        })
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    Complete { pack, places, dirs }
}

/// Lists `dir` as a walk must (the names and their types, from `getdents`).
fn list(dir: &str) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        std::hint::black_box((entry.file_name(), entry.file_type().ok()));
    }
}

/// An entry read from the pack and checked.
fn entry(complete: &Complete, place: &Place) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(place.len);
    while bytes.len() < place.len {
        let at = place.offset + bytes.len() as u64;
        let spare = rustix::buffer::spare_capacity(&mut bytes);
        let read = rustix::io::pread(&complete.pack, spare, at).expect("pread");
        assert_ne!(read, 0, "pack truncated");
    }
    assert_eq!(xxhash_rust::xxh3::xxh3_128(&bytes), place.checksum);
    bytes
}

/// The source's bytes: open, fstat, read, close.
fn read_source(item: &Item) -> Vec<u8> {
    let mut file = File::open(&item.source).expect("source");
    let len = file.metadata().expect("fstat").len() as usize;
    let mut source = vec![0; len];
    file.read_exact(&mut source).expect("read");
    source
}

/// Writes `pyc` at `path` as an unnamed file linked under its name when complete.
fn write_unnamed(path: &str, pyc: &[u8]) {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    let dir = std::path::Path::new(path).parent().expect("a directory");
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    let open = || rustix::fs::open(dir, flags, Mode::from_raw_mode(0o644));
    let fd = open()
        .or_else(|_| {
            match std::fs::create_dir(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => panic!("{e}"),
                _ => {}
            }
            open()
        })
        .expect("unnamed file");
    let mut out = File::from(fd);
    out.write_all(pyc).expect("write");
    // The descriptor's own route needs `CAP_DAC_READ_SEARCH`: learned once, as pycache does.
    static BY_PROC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if BY_PROC.load(Ordering::Relaxed)
        || rustix::fs::linkat(&out, "", CWD, path, AtFlags::EMPTY_PATH).is_err()
    {
        BY_PROC.store(true, Ordering::Relaxed);
        use std::os::fd::AsRawFd;
        let proc = format!("/proc/self/fd/{}", out.as_raw_fd());
        rustix::fs::linkat(CWD, &proc, CWD, path, AtFlags::SYMLINK_FOLLOW).expect("linkat");
    }
}

fn hit(item: &Item, pyc: &[u8], tag: usize) {
    let source = read_source(item);
    std::hint::black_box(blake3::hash(&source));
    if let Some(dir) = std::path::Path::new(&item.pyc).parent() {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => panic!("{e}"),
            _ => {}
        }
    }
    let temporary = format!("{}.{tag}", item.pyc);
    let mut out = File::options()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .expect("temporary");
    out.write_all(pyc).expect("write");
    drop(out);
    std::fs::rename(&temporary, &item.pyc).expect("rename");
}
