//! The remote cache against real servers started on 127.0.0.1: Redis (`redis-server`) and
//! WebDAV (nginx's DAV module), and against servers that are gone or never answer.

use pycache::cache::{CacheKey, Entry, KeyParts, RemoteCache, RemoteError};
use std::time::{Duration, Instant};
use test_support::{Redis, WebDav};

fn key(i: u32) -> CacheKey {
    let source = i.to_le_bytes();
    CacheKey::new(&KeyParts::new(
        "cpython", "3.12.1", [0; 4], 0, &source, b"w",
    ))
}

fn entries(count: u32) -> Vec<(CacheKey, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let key = key(i);
            let entry = Entry::new(
                format!("payload {i}").repeat(50).into_bytes(),
                String::new(),
                false,
            );
            (key, entry.encode(&key))
        })
        .collect()
}

/// One machine stores, another (a second client) finds every entry, byte for byte, and misses
/// what was never stored.
fn a_second_machine_gets_what_the_first_stored(url: &str) {
    a_second_machine_gets_what_the_first_stored_with(url, &|name| std::env::var(name).ok());
}

fn a_second_machine_gets_what_the_first_stored_with(
    url: &str,
    env: &dyn Fn(&str) -> Option<String>,
) {
    let first = RemoteCache::from_url_with_env(url, Duration::from_secs(10), env).unwrap();
    let stored = entries(300);
    first.put_many(stored.clone()).unwrap();
    let second = RemoteCache::from_url_with_env(url, Duration::from_secs(10), env).unwrap();
    let mut keys: Vec<CacheKey> = stored.iter().map(|(k, _)| *k).collect();
    keys.push(key(1_000_000));
    let found = second.get_many(&keys).unwrap();
    assert_eq!(found.len(), 301);
    for ((key, bytes), got) in stored.iter().zip(&found) {
        assert_eq!(got.as_deref(), Some(&bytes[..]));
        assert!(Entry::decode(got.as_ref().unwrap(), key).is_ok());
    }
    assert_eq!(found[300], None);
}

#[test]
fn redis_shares_entries_between_machines() {
    let redis = Redis::start();
    a_second_machine_gets_what_the_first_stored(&redis.url(0));
    // Another database of the same server is another cache.
    let other = RemoteCache::from_url(&redis.url(3), Duration::from_secs(10)).unwrap();
    assert_eq!(other.get_many(&[key(0)]).unwrap(), vec![None]);
}

#[test]
fn webdav_shares_entries_between_machines() {
    let dav = WebDav::start();
    a_second_machine_gets_what_the_first_stored(&dav.url("team/cache"));
    assert!(dav.root().join("team/cache/v1").is_dir());
}

#[test]
fn a_server_killed_mid_run_is_an_error_not_a_hang() {
    let mut redis = Redis::start();
    let remote = RemoteCache::from_url(&redis.url(0), Duration::from_secs(5)).unwrap();
    remote.put_many(entries(10)).unwrap();
    redis.kill();
    let start = Instant::now();
    let keys: Vec<_> = (0..10).map(key).collect();
    assert!(remote.get_many(&keys).is_err());
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );

    let mut dav = WebDav::start();
    let remote = RemoteCache::from_url(&dav.url("c"), Duration::from_secs(5)).unwrap();
    remote.put_many(entries(10)).unwrap();
    dav.kill();
    assert!(remote.get_many(&keys).is_err());
    assert!(remote.put_many(entries(3)).is_err());
}

#[test]
fn an_unreachable_remote_fails_fast() {
    let port = test_support::free_port();
    for url in [
        format!("redis://127.0.0.1:{port}/0"),
        format!("webdav+http://127.0.0.1:{port}/c"),
    ] {
        let start = Instant::now();
        let error = RemoteCache::from_url(&url, Duration::from_secs(5))
            .and_then(|remote| remote.get_many(&[key(0)]))
            .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(6), "{url}");
        assert!(error.to_string().contains("127.0.0.1"), "{error}");
    }
}

/// A server that accepts connections and never answers: the request times out.
#[test]
fn a_silent_remote_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("webdav+http://127.0.0.1:{port}/c");
    let remote = RemoteCache::from_url(&url, Duration::from_millis(500)).unwrap();
    let start = Instant::now();
    let error = remote.get_many(&[key(0), key(1)]).unwrap_err();
    assert!(matches!(error, RemoteError::Timeout { .. }), "{error}");
    assert!(start.elapsed() < Duration::from_secs(3));
    drop(listener);
}

#[test]
fn unknown_schemes_are_refused_with_the_reason() {
    for url in ["ftp://x/y", "redis", "redis://127.0.0.1:1/notanumber"] {
        let error = RemoteCache::from_url(url, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(error, RemoteError::Url { .. }), "{url}: {error}");
        assert!(error.to_string().contains(url), "{error}");
    }
}

/// S3 against `s3s-fs`, an S3-compatible server, configured from the standard AWS variables
/// (given here without touching the process environment); wrong credentials are an error.
#[test]
fn s3_shares_entries_between_machines() {
    let s3 = test_support::S3::start("team-cache");
    let vars = s3.env();
    let env = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    a_second_machine_gets_what_the_first_stored_with("s3://team-cache/pycache", &env);
    let wrong = |name: &str| match name {
        "AWS_SECRET_ACCESS_KEY" => Some("wrong".to_owned()),
        _ => env(name),
    };
    let remote =
        RemoteCache::from_url_with_env("s3://team-cache/pycache", Duration::from_secs(5), &wrong)
            .unwrap();
    assert!(remote.get_many(&[key(0)]).is_err());
}
