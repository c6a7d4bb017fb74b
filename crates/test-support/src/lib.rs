//! Test-only helpers shared by pycache's crates. Never a dependency of a published crate.
//!
//! [`set_mtime`] and [`set_mtime_secs`] age a file for the freshness tests; [`hex`] and
//! [`unhex`] carry bytes through JSON to and from the oracle scripts (Python's
//! `bytes.hex()` and `bytes.fromhex`); [`file_names`] lists a directory for the tests that
//! check what was left in it.
//!
//! [`Redis`] and [`WebDav`] start real servers (Debian's `redis-server` and nginx with its DAV
//! module, installed by `scripts/setup.sh`) on 127.0.0.1, on a free port, with their data in a
//! temporary directory; dropping one kills it. A missing server binary is a test failure, not
//! a skip: the feature under test would otherwise go untested.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The names in `dir`, sorted (lossily decoded: test names are ASCII).
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Lower-case hex of `bytes`, as Python's `bytes.hex()`.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The bytes of hex `text`, as Python's `bytes.fromhex`.
///
/// # Panics
///
/// When `text` is not hex: a test's input or an oracle's answer is wrong.
#[track_caller]
pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("not hex ({e}): {text:?}"))
}

/// Sets the modification time of `path`.
#[track_caller]
pub fn set_mtime(path: &Path, when: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(when))
        .unwrap_or_else(|e| panic!("set the mtime of {}: {e}", path.display()));
}

/// Sets the modification time of `path` to `seconds` since the epoch (a fraction, or before
/// the epoch when negative).
#[track_caller]
pub fn set_mtime_secs(path: &Path, seconds: f64) {
    let when = if seconds < 0.0 {
        std::time::UNIX_EPOCH - Duration::from_secs_f64(-seconds)
    } else {
        std::time::UNIX_EPOCH + Duration::from_secs_f64(seconds)
    };
    set_mtime(path, when);
}

/// A port nobody listens on now (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Waits until something accepts connections on `port` (at most 10 s).
fn wait_for(port: u16, child: &mut Child, what: &str) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(command: &mut Command, what: &str) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} (run scripts/setup.sh): {e}"))
}

/// A `redis-server` on 127.0.0.1, without persistence.
#[derive(Debug)]
pub struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts one.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let mut child = spawn(
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--port", &port.to_string()])
                .arg("--dir")
                .arg(dir.path()),
            "redis-server",
        );
        wait_for(port, &mut child, "redis-server");
        Redis {
            child,
            port,
            _dir: dir,
        }
    }

    /// `redis://127.0.0.1:PORT/DB`.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// How many times the server has run `command` (lower case, e.g. `get`) since it started
    /// or since [`Redis::reset_stats`]: from `INFO commandstats`.
    pub fn calls(&self, command: &str) -> u64 {
        let info = self.request(&["INFO", "commandstats"]);
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |calls| calls.parse().unwrap_or(0))
    }

    /// Zeroes the server's command counts (`CONFIG RESETSTAT`).
    pub fn reset_stats(&self) {
        self.request(&["CONFIG", "RESETSTAT"]);
    }

    /// Sends one command and reads its reply whole (a status or a bulk string) as text.
    fn request(&self, words: &[&str]) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("redis");
        let mut command = format!("*{}\r\n", words.len());
        for word in words {
            command.push_str(&format!("${}\r\n{word}\r\n", word.len()));
        }
        stream.write_all(command.as_bytes()).expect("redis request");
        let mut reply = Vec::new();
        let mut buffer = [0; 4096];
        loop {
            let n = stream.read(&mut buffer).expect("redis reply");
            reply.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&reply);
            let whole = match text.strip_prefix('$') {
                Some(bulk) => bulk
                    .split_once("\r\n")
                    .is_some_and(|(len, body)| body.len() >= len.parse::<usize>().unwrap_or(0) + 2),
                None => text.ends_with("\r\n"),
            };
            if n == 0 || whole {
                return text.into_owned();
            }
        }
    }

    /// Kills the server now (a remote that dies in the middle of a run).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// nginx serving WebDAV (PUT, DELETE, MKCOL) from a temporary directory on 127.0.0.1.
#[derive(Debug)]
pub struct WebDav {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl WebDav {
    /// Starts one.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("create the DAV root");
        let config = dir.path().join("nginx.conf");
        std::fs::write(&config, nginx_config(dir.path(), &root, port)).expect("write nginx.conf");
        let mut child = spawn(
            Command::new(nginx())
                .arg("-c")
                .arg(&config)
                .arg("-p")
                .arg(dir.path()),
            "nginx",
        );
        wait_for(port, &mut child, "nginx");
        WebDav { child, port, dir }
    }

    /// `webdav+http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("webdav+http://127.0.0.1:{}/{path}", self.port)
    }

    /// Where the files it serves are.
    pub fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("root")
    }

    /// Kills the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WebDav {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An S3-compatible server: `s3s-fs` (from crates.io, installed by `scripts/setup.sh`) on
/// 127.0.0.1, keeping objects in a temporary directory, with one bucket.
#[derive(Debug)]
pub struct S3 {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl S3 {
    /// The access key and secret the server takes.
    pub const ACCESS_KEY: &'static str = "pycache-test";
    /// See [`S3::ACCESS_KEY`].
    pub const SECRET_KEY: &'static str = "pycache-test-secret";

    /// Starts one, with the bucket `bucket` created.
    pub fn start(bucket: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join(bucket)).expect("create the bucket");
        let port = free_port();
        let mut child = spawn(
            Command::new(s3s_fs())
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--access-key",
                    Self::ACCESS_KEY,
                    "--secret-key",
                    Self::SECRET_KEY,
                ])
                .arg(dir.path()),
            "s3s-fs",
        );
        wait_for(port, &mut child, "s3s-fs");
        S3 {
            child,
            port,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables an S3 client of this server needs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", Self::ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", Self::SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// Kills the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `s3s-fs` on PATH, else where `cargo install` puts it.
fn s3s_fs() -> std::path::PathBuf {
    let installed = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin/s3s-fs"));
    match installed {
        Some(path) if path.exists() => path,
        _ => "s3s-fs".into(),
    }
}

fn nginx() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn nginx_config(dir: &Path, root: &Path, port: u16) -> String {
    let dir = dir.display();
    let root = root.display();
    // As root (CI), nginx's workers would drop to nobody and could not write the root.
    let user = if is_root() { "user root;" } else { "" };
    // PROPFIND (which the WebDAV client sends) comes from the dav_ext module of nginx-extras.
    let module = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so";
    let load = if Path::new(module).exists() {
        format!("load_module {module};")
    } else {
        String::new()
    };
    format!(
        "{user}
{load}
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
            autoindex on;
        }}
    }}
}}
"
    )
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
