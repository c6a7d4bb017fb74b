//! The shared cache: entries kept on a server, for fleets of CI machines and image builders,
//! through Apache OpenDAL (as sccache does).
//!
//! `redis://HOST:PORT/DB`, `s3://BUCKET/PREFIX` (the standard `AWS_*` variables;
//! `AWS_ENDPOINT_URL` for S3-compatible stores), `webdav+http://HOST:PORT/PATH` (and
//! `webdav+https`), `ghac://` (the GitHub Actions cache, from `ACTIONS_CACHE_URL` and
//! `ACTIONS_RUNTIME_TOKEN`). Entries are the bytes [`super::Entry::encode`] gives, under
//! `v1/<key hex>`: the same checks as the local cache apply to what comes back.
//!
//! Thousands of small entries are fetched per run, so lookups and stores go in batches, many
//! requests at once. A remote must never fail a build: the first error or timeout is returned
//! and the caller then leaves the remote alone for the rest of the run (one warning).
//!
//! Trust: whoever can write to the remote can put code into your pycs. Give untrusted jobs
//! (pull requests) read-only access, or `--remote-read-only`.

use super::key::CacheKey;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use opendal::{ErrorKind, Operator, services};
use std::time::Duration;

/// Requests in flight at once.
const CONCURRENCY: usize = 64;

/// A remote cache.
#[derive(Debug)]
pub struct RemoteCache {
    operator: Operator,
    runtime: tokio::runtime::Runtime,
    url: String,
    timeout: Duration,
}

/// Why the remote cache cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The URL names no backend pycache knows, or is malformed.
    #[error("remote cache URL '{url}': {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend answered with an error.
    #[error("remote cache {url}: {source}")]
    Backend {
        /// The URL.
        url: String,
        /// The backend's error.
        source: opendal::Error,
    },
    /// No answer in time.
    #[error("remote cache {url}: no answer within {seconds} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// The async runtime could not start.
    #[error("remote cache: cannot start its I/O threads: {0}")]
    Runtime(std::io::Error),
}

impl RemoteCache {
    /// The remote cache `url` names; each request may take at most `timeout`.
    ///
    /// # Errors
    /// [`RemoteError::Url`] for a URL of no known backend; [`RemoteError::Backend`] when the
    /// backend refuses its configuration. Nothing is sent yet.
    pub fn from_url(url: &str, timeout: Duration) -> Result<Self, RemoteError> {
        Self::from_url_with_env(url, timeout, &|name| std::env::var(name).ok())
    }

    /// As [`RemoteCache::from_url`], with the variables an `s3://` remote reads (`AWS_*`) taken
    /// from `env` instead of the process environment.
    ///
    /// # Errors
    /// As [`RemoteCache::from_url`].
    pub fn from_url_with_env(
        url: &str,
        timeout: Duration,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, RemoteError> {
        let bad = |reason: &str| RemoteError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected SCHEME://..."))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let backend = |e| RemoteError::Backend {
            url: url.to_owned(),
            source: e,
        };
        let operator: Operator = match scheme {
            "redis" | "rediss" => {
                let db = match path.trim_matches('/') {
                    "" => 0,
                    db => db
                        .parse()
                        .map_err(|_| bad("the path must be a database number"))?,
                };
                let endpoint = format!("{scheme}://{authority}");
                Operator::new(
                    services::Redis::default()
                        .endpoint(&endpoint)
                        .db(db)
                        .root("/pycache"),
                )
                .map(|b| b.finish())
            }
            "s3" => Operator::new(s3(authority, path, env)).map(|b| b.finish()),
            "webdav+http" | "webdav+https" => {
                let endpoint = format!("{}://{authority}", &scheme["webdav+".len()..]);
                Operator::new(
                    services::Webdav::default()
                        .endpoint(&endpoint)
                        .root(&format!("/{path}")),
                )
                .map(|b| b.finish())
            }
            "ghac" => Operator::new(services::Ghac::default().root(&format!("/{rest}")))
                .map(|b| b.finish()),
            _ => {
                return Err(bad(
                    "unknown scheme (redis, s3, webdav+http, webdav+https, ghac)",
                ));
            }
        }
        .map_err(backend)?;
        // Redis: one thread that drives the requests and their I/O alike (no wake-ups across
        // threads per request: a warm run from Redis took 14% less time than on two worker
        // threads). The HTTP services share one process-wide client whose pooled connections
        // are driven by the runtime that opened them, so they get worker threads that run on
        // their own.
        let runtime = match scheme {
            "redis" | "rediss" => tokio::runtime::Builder::new_current_thread(),
            _ => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(2);
                builder
            }
        }
        .enable_all()
        .build()
        .map_err(RemoteError::Runtime)?;
        Ok(RemoteCache {
            operator,
            runtime,
            url: url.to_owned(),
            timeout,
        })
    }

    /// The URL it was made from.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn timeout_error(&self) -> RemoteError {
        RemoteError::Timeout {
            url: self.url.clone(),
            seconds: self.timeout.as_secs(),
        }
    }

    /// The stored bytes of each key (`None` where the remote has none), in the keys' order,
    /// as the storage layer received them (not copied again unless they came in pieces).
    ///
    /// # Errors
    /// The first error or timeout of any request: the caller should stop using the remote.
    pub fn get_many(&self, keys: &[CacheKey]) -> Result<Vec<Option<Bytes>>, RemoteError> {
        let requests = keys.iter().map(|key| {
            let operator = self.operator.clone();
            let path = path_of(key);
            async move {
                match tokio::time::timeout(self.timeout, operator.read(&path)).await {
                    Err(_) => Err(self.timeout_error()),
                    Ok(Ok(buffer)) => Ok(Some(buffer.to_bytes())),
                    Ok(Err(e)) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Ok(Err(e)) => Err(RemoteError::Backend {
                        url: self.url.clone(),
                        source: e,
                    }),
                }
            }
        });
        self.runtime.block_on(
            futures::stream::iter(requests)
                .buffered(CONCURRENCY)
                .try_collect(),
        )
    }

    /// Stores each `(key, bytes)`.
    ///
    /// # Errors
    /// The first error or timeout of any request: the caller should stop using the remote.
    pub fn put_many(&self, entries: Vec<(CacheKey, Vec<u8>)>) -> Result<(), RemoteError> {
        let requests = entries.into_iter().map(|(key, bytes)| {
            let operator = self.operator.clone();
            async move {
                match tokio::time::timeout(self.timeout, operator.write(&path_of(&key), bytes))
                    .await
                {
                    Err(_) => Err(self.timeout_error()),
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(RemoteError::Backend {
                        url: self.url.clone(),
                        source: e,
                    }),
                }
            }
        });
        self.runtime.block_on(
            futures::stream::iter(requests)
                .buffer_unordered(CONCURRENCY)
                .try_collect(),
        )
    }
}

/// An S3 bucket, configured from the standard AWS variables.
fn s3(bucket: &str, prefix: &str, env: &dyn Fn(&str) -> Option<String>) -> services::S3 {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut builder = services::S3::default()
        .bucket(bucket)
        .root(&format!("/{prefix}"))
        .region(
            &env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
        );
    if let Some(endpoint) = env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")) {
        builder = builder.endpoint(&endpoint);
    }
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        builder = builder.access_key_id(&id).secret_access_key(&secret);
    }
    if let Some(token) = env("AWS_SESSION_TOKEN") {
        builder = builder.session_token(&token);
    }
    builder
}

fn path_of(key: &CacheKey) -> String {
    format!("v1/{}", key.to_hex())
}
