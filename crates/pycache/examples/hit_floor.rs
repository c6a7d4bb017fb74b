//! The hit floor for the cache benchmark: what any content-addressed cache of compiled code must
//! do per file on a hit, and nothing else. For each file: read the source (open, fstat, read it
//! whole, close) and take its BLAKE3 digest (the key cannot be known without it), then write the pyc as
//! `bench/write_floor.c` does (create the directory if needed, a temporary file, write, close,
//! rename), on every core. No lookup, no re-pointing, no deciding: the pyc bytes are given.
//!
//! ```text
//! cargo build --release -p pycache --example hit_floor
//! target/release/examples/hit_floor MANIFEST THREADS
//! ```
//!
//! MANIFEST: lines `PYC_PATH\tCONTENT_FILE\tSOURCE_PATH`. Every content file is read into memory
//! before the clock starts; the time printed (seconds, on stdout) covers the reading, hashing
//! and writing. Written in Rust rather than C only because BLAKE3's fastest implementation (the
//! one pycache uses) is this crate.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Item {
    pyc: String,
    data: Vec<u8>,
    source: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, manifest, threads] = &args[..] else {
        let _ = writeln!(std::io::stderr(), "usage: hit_floor MANIFEST THREADS");
        std::process::exit(2);
    };
    let threads: usize = threads.parse().unwrap_or(1).clamp(1, 64);
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
    let next = AtomicUsize::new(0);
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for id in 0..threads {
            let (items, next) = (&items, &next);
            scope.spawn(move || {
                let tag = std::process::id() as usize * 100 + id;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    hit(item, tag);
                }
            });
        }
    });
    let _ = writeln!(std::io::stdout(), "{:.6}", start.elapsed().as_secs_f64());
}

fn hit(item: &Item, tag: usize) {
    let mut file = File::open(&item.source).expect("source");
    let len = file.metadata().expect("fstat").len() as usize;
    let mut source = vec![0; len];
    file.read_exact(&mut source).expect("read");
    drop(file);
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
    out.write_all(&item.data).expect("write");
    drop(out);
    std::fs::rename(&temporary, &item.pyc).expect("rename");
}
