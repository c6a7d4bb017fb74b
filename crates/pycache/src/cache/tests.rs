use super::*;
use std::time::{Duration, SystemTime};

fn parts(source: &[u8]) -> KeyParts<'_> {
    KeyParts::new(
        "cpython",
        "3.12.1 (main) [GCC 12.2.0]",
        *b"\xcb\x0d\x0d\x0a",
        0,
        source,
        b"worker-1",
    )
}

#[test]
fn every_part_of_the_key_changes_it() {
    let base = CacheKey::new(&parts(b"x = 1\n"));
    assert_eq!(base, CacheKey::new(&parts(b"x = 1\n")));
    let variants = [
        KeyParts {
            implementation: "pypy",
            ..parts(b"x = 1\n")
        },
        KeyParts {
            sys_version: "3.12.1 (other build)",
            ..parts(b"x = 1\n")
        },
        KeyParts {
            magic: *b"\xcc\x0d\x0d\x0a",
            ..parts(b"x = 1\n")
        },
        KeyParts {
            optimization: 1,
            ..parts(b"x = 1\n")
        },
        parts(b"x = 2\n"),
        KeyParts {
            worker: b"worker-2",
            ..parts(b"x = 1\n")
        },
        parts(b"x = 1\n").canonical(true),
    ];
    for variant in variants {
        assert_ne!(base, CacheKey::new(&variant), "{variant:?}");
    }
    // Length prefixes: moving a byte from one field to the next is another key.
    let a = KeyParts {
        implementation: "cpythonx",
        sys_version: "3",
        ..parts(b"")
    };
    let b = KeyParts {
        implementation: "cpython",
        sys_version: "x3",
        ..parts(b"")
    };
    assert_ne!(CacheKey::new(&a), CacheKey::new(&b));
}

#[test]
fn an_entry_round_trips_and_every_damage_is_caught() {
    let key = CacheKey::new(&parts(b"x = 1\n"));
    let entry = Entry::new(
        b"\xe3code".to_vec(),
        "a.py:1: SyntaxWarning: x\n".into(),
        true,
    )
    .with_filename_spots(b"\x01\x00\x00\x00\x00\x05\x00\x00\x00".to_vec());
    let bytes = entry.encode(&key);
    assert_eq!(Entry::decode(&bytes, &key), Ok(entry));
    for cut in 0..bytes.len() {
        assert!(Entry::decode(&bytes[..cut], &key).is_err(), "cut at {cut}");
    }
    for at in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        assert!(
            Entry::decode(&flipped, &key).is_err(),
            "bit flipped at {at}"
        );
    }
    let other = CacheKey::new(&parts(b"x = 2\n"));
    assert_eq!(Entry::decode(&bytes, &other), Err(EntryError::WrongKey));
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let key = CacheKey::new(&parts(b""));
        let _ = Entry::decode(&bytes, &key);
    }
}

fn entry(text: &str) -> Entry {
    Entry::new(text.as_bytes().to_vec(), String::new(), false)
}

/// The pack files under `dir` (a cache directory), oldest first.
fn packs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut packs: Vec<_> = std::fs::read_dir(dir.join("packs"))
        .map(|files| files.map(|f| f.unwrap().path()).collect())
        .unwrap_or_default();
    packs.sort();
    packs
}

/// A cache in `dir` holding one entry, in one pack: its key, and the pack.
fn one_entry(dir: &std::path::Path) -> (CacheKey, std::path::PathBuf) {
    let key = CacheKey::new(&parts(b"x"));
    LocalCache::new(dir).put(&key, &entry("payload")).unwrap();
    let [pack] = &packs(dir)[..] else {
        panic!("one pack")
    };
    (key, pack.clone())
}

#[test]
fn a_stored_entry_is_found_by_its_writer_and_then_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalCache::new(dir.path().join("code"));
    let key = CacheKey::new(&parts(b"x = 1\n"));
    assert!(matches!(cache.get(&key), Lookup::Miss));
    cache.put(&key, &entry("payload")).unwrap();
    match cache.get(&key) {
        Lookup::Hit(found) => assert_eq!(found, entry("payload")),
        other => panic!("{other:?}"),
    }
    // Others see it once the pack is finished; nothing but the pack is left (no temporary).
    let other = LocalCache::new(dir.path().join("code"));
    assert!(matches!(other.get(&key), Lookup::Miss));
    cache.flush().unwrap();
    let later = LocalCache::new(dir.path().join("code"));
    match later.get(&key) {
        Lookup::Hit(found) => assert_eq!(found, entry("payload")),
        other => panic!("{other:?}"),
    }
    let names: Vec<_> = (packs(&dir.path().join("code")).iter())
        .map(|path| path.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with(".pack"), "{names:?}");
}

#[test]
fn get_with_gives_the_entry_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (stored, absent) = (CacheKey::new(&parts(b"1")), CacheKey::new(&parts(b"2")));
    let fields = |view: EntryView<'_>| {
        let (payload, spots) = (view.payload.to_vec(), view.filename_spots.to_vec());
        (payload, view.warnings.to_owned(), view.canonical, spots)
    };
    let expected = (
        b"payload".to_vec(),
        "a warning".to_owned(),
        true,
        Vec::new(),
    );
    {
        let cache = LocalCache::new(dir.path());
        let entry = Entry::new(b"payload".to_vec(), "a warning".into(), true);
        cache.put(&stored, &entry).unwrap();
        // What this process stored (not yet in a finished pack) is read the same way.
        assert!(matches!(cache.get_with(&stored, fields), Lookup::Hit(f) if f == expected));
    }
    let cache = LocalCache::new(dir.path());
    assert!(matches!(cache.get_with(&stored, fields), Lookup::Hit(f) if f == expected));
    assert!(matches!(cache.get_with(&absent, fields), Lookup::Miss));
    // The same entry in the buffer it was read into.
    let Lookup::Hit(entry) = cache.get_buf(&stored) else {
        panic!("no hit")
    };
    assert_eq!(fields(entry.view()), expected);
    assert_eq!(entry.payload(), b"payload");
}

#[test]
fn a_damaged_entry_is_a_miss_and_its_pack_is_rewritten_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<_> = (0..3u8).map(|i| CacheKey::new(&parts(&[i]))).collect();
    {
        let cache = LocalCache::new(dir.path());
        for (i, key) in keys.iter().enumerate() {
            cache.put(key, &entry(&format!("payload {i}"))).unwrap();
        }
    }
    let [pack] = &packs(dir.path())[..] else {
        panic!("one pack")
    };
    // Flip a bit in the second entry's payload (entries are stored in order).
    let mut bytes = std::fs::read(pack).unwrap();
    let one = entry("payload 0").encode(&keys[0]).len();
    let two = entry("payload 1").encode(&keys[1]).len();
    bytes[one + two - 2] ^= 0x40;
    std::fs::write(pack, &bytes).unwrap();

    let cache = LocalCache::new(dir.path());
    assert!(matches!(cache.get(&keys[0]), Lookup::Hit(_)));
    // Checked before it is used: the closure never sees a damaged entry.
    assert!(matches!(
        cache.get_with(&keys[1], |_| -> u8 { panic!("a damaged entry was used") }),
        Lookup::Damaged(EntryError::Checksum)
    ));
    assert!(matches!(cache.get(&keys[2]), Lookup::Hit(_)));
    cache.flush().unwrap();
    let after = packs(dir.path());
    assert!(!pack.exists(), "the damaged pack is removed");
    assert_eq!(after.len(), 1, "{after:?}");
    let cache = LocalCache::new(dir.path());
    assert!(matches!(cache.get(&keys[0]), Lookup::Hit(_)));
    assert!(matches!(cache.get(&keys[1]), Lookup::Miss));
    assert!(matches!(cache.get(&keys[2]), Lookup::Hit(_)));
    assert_eq!(cache.usage().unwrap().entries, 2);
}

#[test]
fn a_pack_that_is_not_whole_is_removed_and_its_entries_are_misses() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pack) = one_entry(dir.path());
    let pack = &pack;
    let whole = std::fs::read(pack).unwrap();
    let foreign = dir.path().join("packs/foreign.pack");
    std::fs::write(&foreign, b"not a pack at all").unwrap();
    for cut in [1, 40, whole.len() / 2, whole.len() - 1] {
        std::fs::write(pack, &whole[..cut]).unwrap();
        assert!(matches!(
            LocalCache::new(dir.path()).get(&key),
            Lookup::Miss
        ));
        assert!(!pack.exists() && !foreign.exists(), "cut at {cut}");
        std::fs::write(pack, &whole).unwrap();
        assert!(matches!(
            LocalCache::new(dir.path()).get(&key),
            Lookup::Hit(_)
        ));
    }
    // A flipped bit in the index is caught by its checksum.
    let mut flipped = whole.clone();
    let at = whole.len() - 48 - 20;
    flipped[at] ^= 1;
    std::fs::write(pack, &flipped).unwrap();
    assert!(matches!(
        LocalCache::new(dir.path()).get(&key),
        Lookup::Miss
    ));
    assert!(!pack.exists());
}

#[test]
fn prune_evicts_the_least_recently_used_packs_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalCache::new(dir.path());
    let keys: Vec<_> = (0..4u8).map(|i| CacheKey::new(&parts(&[i]))).collect();
    for key in &keys {
        cache.put(key, &entry(&"x".repeat(1000))).unwrap();
        cache.flush().unwrap();
    }
    let size = cache.usage().unwrap().bytes / 4;
    // Make the order of use explicit: key 0 oldest ... key 3 newest; then use key 0.
    let base = SystemTime::now() - Duration::from_secs(10_000);
    for (i, pack) in packs(dir.path()).iter().enumerate() {
        test_support::set_mtime(pack, base + Duration::from_secs(i as u64 * 10));
    }
    let cache = LocalCache::new(dir.path());
    assert!(matches!(cache.get(&keys[0]), Lookup::Hit(_)));
    let report = cache.prune(2 * size).unwrap();
    assert_eq!(report.removed, 2);
    assert_eq!(report.left.entries, 2);
    let cache = LocalCache::new(dir.path());
    assert!(matches!(cache.get(&keys[1]), Lookup::Miss));
    assert!(matches!(cache.get(&keys[2]), Lookup::Miss));
    assert!(matches!(cache.get(&keys[0]), Lookup::Hit(_)));
    assert!(matches!(cache.get(&keys[3]), Lookup::Hit(_)));
    let cleared = cache.clear().unwrap();
    assert_eq!(cleared.removed, 2);
    assert_eq!(cache.usage().unwrap(), CacheUsage::default());
}

/// A cache in `dir` with `count` packs of one entry each ("payload N"); their keys.
fn one_pack_per_entry(dir: &std::path::Path, count: u8) -> Vec<CacheKey> {
    let cache = LocalCache::new(dir);
    let keys: Vec<_> = (0..count).map(|i| CacheKey::new(&parts(&[i]))).collect();
    for (i, key) in keys.iter().enumerate() {
        cache.put(key, &entry(&format!("payload {i}"))).unwrap();
        cache.flush().unwrap();
    }
    keys
}

/// Every key of [`one_pack_per_entry`] is a hit with its payload.
fn assert_every_entry_is_found(dir: &std::path::Path, keys: &[CacheKey]) {
    let cache = LocalCache::new(dir);
    for (i, key) in keys.iter().enumerate() {
        match cache.get(key) {
            Lookup::Hit(found) => assert_eq!(found, entry(&format!("payload {i}"))),
            other => panic!("{i}: {other:?}"),
        }
    }
}

#[test]
fn many_small_packs_are_merged_keeping_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let keys = one_pack_per_entry(dir.path(), 70);
    assert_eq!(packs(dir.path()).len(), 70);
    let report = LocalCache::new(dir.path()).prune(u64::MAX).unwrap();
    assert_eq!(report.removed, 0);
    assert_eq!(report.left.entries, 70);
    assert_eq!(packs(dir.path()).len(), 48);
    assert_every_entry_is_found(dir.path(), &keys);
}

#[test]
fn a_cache_of_more_packs_than_are_kept_open_serves_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let keys = one_pack_per_entry(dir.path(), 130);
    assert_every_entry_is_found(dir.path(), &keys);
}

#[test]
fn a_pack_of_another_format_is_left_alone_and_ages_out() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pack) = one_entry(dir.path());
    let pack = &pack;
    // The same pack, as a later pycache with another pack format would write it.
    let mut other = std::fs::read(pack).unwrap();
    let format = other.len() - 48 + 8;
    other[format] ^= 0x7f;
    let elsewhere = dir.path().join("packs/0-other-format.pack");
    std::fs::write(&elsewhere, &other).unwrap();
    std::fs::remove_file(pack).unwrap();
    let cache = LocalCache::new(dir.path());
    assert!(matches!(cache.get(&key), Lookup::Miss));
    cache.flush().unwrap();
    assert!(elsewhere.exists(), "never removed as damaged");
    // Not merged either; evicted by age like any pack.
    assert_eq!(cache.prune(u64::MAX).unwrap().removed, 0);
    assert!(elsewhere.exists());
    test_support::set_mtime(&elsewhere, SystemTime::now() - Duration::from_secs(10_000));
    cache
        .put(&CacheKey::new(&parts(b"y")), &entry("new"))
        .unwrap();
    cache.prune(1).unwrap();
    assert!(!elsewhere.exists());
}

#[test]
fn packs_are_small_under_a_small_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalCache::new(dir.path()).with_max_size(1 << 20);
    for i in 0..40u8 {
        let key = CacheKey::new(&parts(&[i]));
        cache.put(&key, &entry(&"x".repeat(20_000))).unwrap();
    }
    cache.flush().unwrap();
    // A sixteenth of 1 MiB is below the least pack size, 256 KiB; a pack is finished by the
    // entry that takes it past that: 40 entries of 20 KB, in packs of 14, 14 and 12.
    assert_eq!(packs(dir.path()).len(), 3);
    assert_eq!(cache.usage().unwrap().entries, 40);
}

#[test]
fn a_temporary_pack_being_written_is_never_pruned_however_old() {
    let dir = tempfile::tempdir().unwrap();
    let writing = LocalCache::new(dir.path());
    writing
        .put(&CacheKey::new(&parts(b"x")), &entry("payload"))
        .unwrap();
    let [temporary] = &packs(dir.path())[..] else {
        panic!("one temporary pack")
    };
    test_support::set_mtime(temporary, SystemTime::now() - Duration::from_secs(7200));
    let report = LocalCache::new(dir.path()).prune(u64::MAX).unwrap();
    assert_eq!(report.removed, 0);
    assert!(temporary.exists());
    writing.flush().unwrap();
    assert_eq!(LocalCache::new(dir.path()).usage().unwrap().entries, 1);
}

#[test]
fn prune_removes_old_temporary_files_and_the_old_layout_only() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalCache::new(dir.path());
    std::fs::create_dir(dir.path().join("packs")).unwrap();
    let old = dir.path().join("packs/.tmpOLD");
    let young = dir.path().join("packs/.tmpNEW");
    std::fs::write(&old, "x").unwrap();
    std::fs::write(&young, "x").unwrap();
    test_support::set_mtime(&old, SystemTime::now() - Duration::from_secs(7200));
    // An entry of the one-file-per-entry layout, and a file that is none of the cache's.
    std::fs::create_dir(dir.path().join("ab")).unwrap();
    std::fs::write(dir.path().join("ab").join("ab".repeat(32)), "x").unwrap();
    std::fs::write(dir.path().join("runs.jsonl"), "").unwrap();
    // A directory named like a shard holding something else keeps it.
    std::fs::create_dir(dir.path().join("cd")).unwrap();
    std::fs::write(dir.path().join("cd/notes.txt"), "mine").unwrap();
    let report = cache.prune(u64::MAX).unwrap();
    assert_eq!(report.removed, 2);
    assert!(!old.exists() && young.exists());
    assert!(!dir.path().join("ab").exists());
    assert!(dir.path().join("runs.jsonl").exists());
    assert!(dir.path().join("cd/notes.txt").exists());
}

#[test]
fn threads_storing_and_reading_the_same_keys_see_whole_entries() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalCache::new(dir.path());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for i in 0..50u8 {
                    let key = CacheKey::new(&parts(&[i]));
                    let value = entry(&format!("payload {i}").repeat(100));
                    cache.put(&key, &value).unwrap();
                    match cache.get(&key) {
                        Lookup::Hit(found) => assert_eq!(found, value),
                        other => panic!("{other:?}"),
                    }
                }
            });
        }
    });
    cache.flush().unwrap();
    assert_eq!(cache.usage().unwrap().entries, 50);
}

#[test]
fn recent_runs_are_kept_in_order_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1200 {
        record_run(dir.path(), &RunStats::new(i, 0, 1, 0)).unwrap();
    }
    let runs = recent_runs(dir.path(), 10).unwrap();
    assert_eq!(runs.len(), 10);
    assert_eq!(runs.last().unwrap().hits, 1199);
    assert!(
        std::fs::metadata(dir.path().join("runs.jsonl"))
            .unwrap()
            .len()
            <= 64 << 10
    );
}

#[test]
fn a_bundle_round_trips_and_its_key_ignores_order_and_repeats() {
    let keys: Vec<_> = (0..3u8).map(|i| CacheKey::new(&parts(&[i]))).collect();
    let entries: Vec<_> = keys
        .iter()
        .map(|key| (*key, entry("payload").encode(key)))
        .collect();
    let bytes = encode_bundle(&entries);
    let decoded = decode_bundle(&bytes).unwrap();
    assert_eq!(decoded.len(), 3);
    for ((key, bytes), (found_key, found)) in entries.iter().zip(&decoded) {
        assert_eq!(key, found_key);
        assert_eq!(&bytes[..], *found);
    }
    for cut in 0..bytes.len() {
        assert!(decode_bundle(&bytes[..cut]).is_none(), "cut at {cut}");
    }
    let reordered = [keys[2], keys[0], keys[1], keys[0]];
    assert_eq!(bundle_key(&keys), bundle_key(&reordered));
    assert_ne!(bundle_key(&keys), bundle_key(&keys[..2]));
}

proptest::proptest! {
    #[test]
    fn decoding_an_arbitrary_bundle_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let mut bundle = b"PYCBNDL\0".to_vec();
        bundle.extend_from_slice(&CACHE_FORMAT.to_le_bytes());
        bundle.extend_from_slice(&bytes);
        let _ = decode_bundle(&bundle);
        let _ = decode_bundle(&bytes);
    }
}
