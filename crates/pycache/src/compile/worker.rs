//! One long-lived interpreter process running the embedded `worker.py`.
//!
//! Rust sends a source's bytes and the name to compile it under on the worker's stdin; the
//! worker answers on a descriptor of its own ([`REPLY_FD`], a pipe, never stdout, which an
//! interpreter's start-up may print to) with the marshalled code for each optimization level
//! (or the error text) and whatever it printed while compiling (warnings, stray output), so
//! that this text is reported with its file. Frames are capped ([`MAX_GREETING`],
//! [`MAX_REPLY`]). Reads wait with `poll(2)` in short slices, so that a hung worker is noticed
//! after the per-file timeout and a cancelled run stops within a slice; a worker that dies
//! shows as the end of its reply pipe.
//!
//! Workers run in their own process group, so a Ctrl-C at the terminal reaches pycache alone,
//! which then stops them in order; and they die with pycache (`PR_SET_PDEATHSIG`, set between
//! fork and exec, then checked against the parent's pid to close the race with its death).
//! The death signal follows the *thread* that forked: workers are forked by the run's compile
//! threads, which live until every job is done (a thread pool's threads never retire early),
//! after which the workers are only closed. A dedicated forking thread would be tidier, but
//! would cost a process slot under `ulimit -u`.

use crate::interpreter::Interpreter;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const WORKER_SCRIPT: &str = include_str!("worker.py");

/// The worker script itself: part of the compiled-code cache's key, since what it imports
/// decides which strings are interned, and so some bytes of what it compiles.
pub(crate) fn script() -> &'static [u8] {
    WORKER_SCRIPT.as_bytes()
}

/// The worker's descriptor for replies (`worker.py` is told its number).
const REPLY_FD: i32 = 3;
/// The largest greeting accepted (it is a short JSON object).
const MAX_GREETING: usize = 4096;
/// The largest reply accepted: marshalled code for the largest source the protocol carries.
const MAX_REPLY: usize = 1 << 31;
/// How long a read waits before looking at the cancel flag again.
const POLL_SLICE: Duration = Duration::from_millis(50);

/// Why a worker could not do its job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WorkerError {
    #[error("cannot start the interpreter: {0}")]
    Spawn(String),
    /// The system refused a new process for now (`EAGAIN`, `ENOMEM`): retry later.
    #[error("cannot start the interpreter: {0}")]
    NoResources(String),
    #[error("the worker did not start properly: {0}")]
    Handshake(String),
    /// The worker runs another interpreter than the probe said (a stale probe cache entry).
    #[error("the worker reports magic {found}, the probe said {expected}")]
    WrongMagic { found: String, expected: String },
    #[error("the worker process died ({0})")]
    Died(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("the worker sent a malformed answer: {0}")]
    Protocol(String),
    #[error("interrupted")]
    Interrupted,
}

/// What the worker answered for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `marshal.dumps(code)` per requested level, and the warnings text.
    Compiled {
        code: Vec<Vec<u8>>,
        warnings: String,
    },
    /// The error text as compileall prints it, and the warnings text.
    Failed { message: String, warnings: String },
}

/// A running worker. However it ends (closed, killed, dropped on an error path or in a
/// panic), its process is killed if still running and reaped: no zombie, no orphan.
pub(crate) struct Worker {
    child: Child,
    /// `None` once closed (end of input asks the worker to finish).
    stdin: Option<ChildStdin>,
    replies: std::fs::File,
    cancel: Arc<AtomicBool>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Worker(pid {})", self.child.id())
    }
}

/// The protocol's framing, both ways: a little-endian u32 length, then that many bytes.
/// Incoming frames are capped by the caller's `max` before anything is allocated.
mod frame {
    use std::io::Write;

    /// Writes one frame made of `parts`; `None` when they do not fit a u32 length.
    pub(super) fn write(out: &mut impl Write, parts: &[&[u8]]) -> Option<std::io::Result<()>> {
        let total = parts.iter().map(|p| p.len()).sum::<usize>();
        let total = u32::try_from(total).ok()?;
        Some((|| {
            out.write_all(&total.to_le_bytes())?;
            for part in parts {
                out.write_all(part)?;
            }
            out.flush()
        })())
    }

    /// The length a frame's head announces, when it is at most `max`.
    pub(super) fn body_len(head: [u8; 4], max: usize) -> Result<usize, String> {
        let len = u32::from_le_bytes(head) as usize;
        if len > max {
            return Err(format!("a frame of {len} bytes (at most {max} expected)"));
        }
        Ok(len)
    }
}

enum ReadError {
    Timeout,
    Eof,
    Cancelled,
    Io(String),
}

/// Reads exactly `buf.len()` bytes, waiting at most until `deadline`, and giving up within
/// [`POLL_SLICE`] once `cancel` is set.
fn read_exact_until(
    file: &mut std::fs::File,
    buf: &mut [u8],
    deadline: Option<Instant>,
    cancel: &AtomicBool,
) -> Result<(), ReadError> {
    let mut filled = 0;
    while filled < buf.len() {
        if cancel.load(Ordering::SeqCst) {
            return Err(ReadError::Cancelled);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(ReadError::Timeout);
        }
        let slice = left.map_or(POLL_SLICE, |left| left.min(POLL_SLICE));
        let slice = rustix::event::Timespec::try_from(slice.max(Duration::from_millis(1)))
            .unwrap_or(rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            });
        let mut fds = [rustix::event::PollFd::new(
            file,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&slice)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(error) => return Err(ReadError::Io(std::io::Error::from(error).to_string())),
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Err(ReadError::Eof),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e.to_string())),
        }
    }
    Ok(())
}

/// What runs in the child between fork and exec: the reply pipe becomes [`REPLY_FD`], and the
/// child asks for SIGKILL when its parent dies, then checks that the parent has not died
/// already. Only system calls, no allocation (this runs in a fork of a threaded process).
fn child_setup(reply: i32, parent: rustix::process::Pid) -> std::io::Result<()> {
    use rustix::io::{FdFlags, dup2, fcntl_setfd};
    // SAFETY: `reply` is the child's copy of the pipe's write end, open until exec.
    let source = unsafe { std::os::fd::BorrowedFd::borrow_raw(reply) };
    if reply == REPLY_FD {
        fcntl_setfd(source, FdFlags::empty())?;
    } else {
        // SAFETY: descriptor REPLY_FD of the child is ours to replace; it is never closed here
        // (ManuallyDrop), only overwritten by dup2, which clears its close-on-exec flag.
        let mut target = std::mem::ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(REPLY_FD) });
        dup2(source, &mut target)?;
    }
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    if rustix::process::getppid() != Some(parent) {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

fn spawn_error(error: &std::io::Error) -> WorkerError {
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::ENOMEM) => WorkerError::NoResources(error.to_string()),
        _ => WorkerError::Spawn(error.to_string()),
    }
}

/// The greeting must be JSON naming the magic the probe found for this interpreter.
fn check_greeting(hello: &[u8], interpreter: &Interpreter) -> Result<(), WorkerError> {
    let hello: serde_json::Value = serde_json::from_slice(hello)
        .map_err(|e| WorkerError::Handshake(format!("bad greeting: {e}")))?;
    let expected = interpreter.magic().to_string();
    match hello["magic"].as_str() {
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(WorkerError::WrongMagic {
            found: found.to_owned(),
            expected,
        }),
        None => Err(WorkerError::Handshake(format!("bad greeting: {hello}"))),
    }
}

impl Worker {
    /// Starts a worker for `interpreter` and waits, up to `timeout`, for its greeting, which
    /// must name the interpreter's own magic. A worker that fails to greet is killed and
    /// reaped. A `reproducible` worker runs with `PYTHONHASHSEED=0` and, on PyPy, compiles each
    /// file in a child forked from its pristine self.
    pub(crate) fn start(
        interpreter: &Interpreter,
        timeout: Duration,
        cancel: Arc<AtomicBool>,
        reproducible: bool,
    ) -> Result<Self, WorkerError> {
        use rustix::pipe::{PipeFlags, pipe_with};
        use std::os::fd::AsFd;
        let (reply_read, reply_write) =
            pipe_with(PipeFlags::CLOEXEC).map_err(|e| spawn_error(&e.into()))?;
        // What the interpreter prints on stdout (a sitecustomize, a wrapper) goes to stderr.
        let stdout = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| spawn_error(&e))?;
        let mut command = Command::new(interpreter.path());
        if reproducible {
            command.env("PYTHONHASHSEED", "0");
            if interpreter.implementation() == "pypy" {
                command.env("PYCACHE_WORKER_FORK", "1");
            }
        }
        command
            .arg("-c")
            .arg(WORKER_SCRIPT)
            .arg(REPLY_FD.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::inherit())
            .env_remove("PYTHONSTARTUP")
            .process_group(0);
        let parent = rustix::process::getpid();
        let reply = reply_write.as_raw_fd();
        // SAFETY: `child_setup` runs between fork and exec, and only makes system calls
        // (dup2, fcntl, prctl, getppid) without allocating or taking locks.
        unsafe {
            command.pre_exec(move || child_setup(reply, parent));
        }
        let spawned = command.spawn();
        drop(reply_write);
        let mut child = spawned.map_err(|e| spawn_error(&e))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut worker = Worker {
            child,
            stdin: Some(stdin),
            replies: std::fs::File::from(reply_read),
            cancel,
        };
        let greeted = worker
            .read_frame(Some(timeout), MAX_GREETING)
            .and_then(|hello| check_greeting(&hello, interpreter));
        match greeted {
            Ok(()) => Ok(worker),
            Err(error) => {
                worker.kill();
                Err(match error {
                    WorkerError::Interrupted
                    | WorkerError::WrongMagic { .. }
                    | WorkerError::Handshake(_) => error,
                    other => WorkerError::Handshake(other.to_string()),
                })
            }
        }
    }

    fn read_frame(
        &mut self,
        timeout: Option<Duration>,
        max: usize,
    ) -> Result<Vec<u8>, WorkerError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut head = [0u8; 4];
        self.read_exact(&mut head, deadline, timeout)?;
        let len = frame::body_len(head, max).map_err(WorkerError::Protocol)?;
        let mut body = vec![0u8; len];
        self.read_exact(&mut body, deadline, timeout)?;
        Ok(body)
    }

    fn read_exact(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> Result<(), WorkerError> {
        match read_exact_until(&mut self.replies, buf, deadline, &self.cancel) {
            Ok(()) => Ok(()),
            Err(ReadError::Timeout) => Err(WorkerError::Timeout(timeout.unwrap_or_default())),
            Err(ReadError::Cancelled) => Err(WorkerError::Interrupted),
            Err(ReadError::Eof) => Err(WorkerError::Died(self.exit_status())),
            Err(ReadError::Io(e)) => Err(WorkerError::Died(e)),
        }
    }

    fn exit_status(&mut self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self.child.wait() {
            Ok(status) => match status.signal() {
                Some(signal) => format!("killed by signal {signal}"),
                None => status.to_string(),
            },
            Err(e) => e.to_string(),
        }
    }

    /// Compiles `source` under `name` at each of `levels`.
    pub(crate) fn compile(
        &mut self,
        levels: &[i8],
        name: &[u8],
        source: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Reply, WorkerError> {
        let count = u8::try_from(levels.len())
            .map_err(|_| WorkerError::Protocol("too many levels".into()))?;
        let name_len =
            u32::try_from(name.len()).map_err(|_| WorkerError::Protocol("name too long".into()))?;
        let levels_bytes: Vec<u8> = levels.iter().map(|&l| l as u8).collect();
        let stdin = self.stdin.as_mut().expect("stdin is open until close");
        let parts: [&[u8]; 5] = [
            &[count],
            &levels_bytes,
            &name_len.to_le_bytes(),
            name,
            source,
        ];
        let written = frame::write(stdin, &parts)
            .ok_or_else(|| WorkerError::Protocol("source larger than 4 GiB".into()))?;
        if written.is_err() {
            return Err(WorkerError::Died(self.exit_status()));
        }
        let frame = self.read_frame(timeout, MAX_REPLY)?;
        parse_reply(&frame, levels.len())
    }

    /// Ends the worker now and reaps it (see the `Drop` impl).
    pub(crate) fn kill(self) {
        drop(self);
    }

    /// Asks the worker to finish (end of input) and reaps it.
    pub(crate) fn close(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }

    /// The worker's process id.
    #[cfg(test)]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Worker {
    /// Kills the process unless it was reaped already (`Child::kill` then sends nothing, so a
    /// recycled pid is never hit), and reaps it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], WorkerError> {
    if data.len() < n {
        return Err(WorkerError::Protocol("truncated answer".into()));
    }
    let (head, rest) = data.split_at(n);
    *data = rest;
    Ok(head)
}

fn take_u32(data: &mut &[u8]) -> Result<usize, WorkerError> {
    let bytes = take(data, 4)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
}

fn parse_reply(frame: &[u8], levels: usize) -> Result<Reply, WorkerError> {
    let mut data = frame;
    let status = take(&mut data, 1)?[0];
    match status {
        0 => {
            let count = usize::from(take(&mut data, 1)?[0]);
            if count != levels {
                return Err(WorkerError::Protocol(format!(
                    "{count} code objects for {levels} levels"
                )));
            }
            let mut code = Vec::with_capacity(count);
            for _ in 0..count {
                let len = take_u32(&mut data)?;
                code.push(take(&mut data, len)?.to_vec());
            }
            Ok(Reply::Compiled {
                code,
                warnings: String::from_utf8_lossy(data).into_owned(),
            })
        }
        1 => {
            let len = take_u32(&mut data)?;
            let message = String::from_utf8_lossy(take(&mut data, len)?).into_owned();
            Ok(Reply::Failed {
                message,
                warnings: String::from_utf8_lossy(data).into_owned(),
            })
        }
        other => Err(WorkerError::Protocol(format!("unknown status {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpreter::{DiscoveryOptions, default_interpreter};

    fn start() -> Worker {
        let interpreter = default_interpreter(&DiscoveryOptions::from_env()).expect("python3");
        Worker::start(
            &interpreter,
            Duration::from_secs(60),
            Arc::new(AtomicBool::new(false)),
            false,
        )
        .expect("a worker starts")
    }

    /// True while `pid` exists at all (running, or a zombie nobody reaped).
    fn exists(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn a_dropped_worker_is_killed_and_reaped() {
        let worker = start();
        let pid = worker.pid();
        assert!(exists(pid));
        drop(worker);
        assert!(!exists(pid), "worker {pid} left running or unreaped");
    }

    #[test]
    fn a_killed_or_closed_worker_is_reaped() {
        let (killed, closed) = (start(), start());
        let pids = [killed.pid(), closed.pid()];
        killed.kill();
        closed.close();
        for pid in pids {
            assert!(!exists(pid), "worker {pid} left running or unreaped");
        }
    }

    #[test]
    fn a_worker_unwound_by_a_panic_is_killed_and_reaped() {
        let mut pid = 0;
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let worker = start();
            pid = worker.pid();
            panic!("a bug while holding {worker:?}");
        }));
        assert!(unwound.is_err());
        assert!(
            pid != 0 && !exists(pid),
            "worker {pid} left running or unreaped"
        );
    }

    #[test]
    fn a_corrupt_frame_length_is_refused_before_allocating() {
        assert_eq!(
            frame::body_len([0xff; 4], MAX_REPLY),
            Err("a frame of 4294967295 bytes (at most 2147483648 expected)".to_owned())
        );
        assert_eq!(frame::body_len(7u32.to_le_bytes(), MAX_GREETING), Ok(7));
    }

    #[test]
    fn a_frame_is_its_length_then_its_parts() {
        let mut out = Vec::new();
        frame::write(&mut out, &[b"ab", b"", b"cde"])
            .expect("fits")
            .unwrap();
        assert_eq!(out, b"\x05\0\0\0abcde");
    }

    #[test]
    fn a_compile_after_start_round_trips() {
        let mut worker = start();
        let reply = worker
            .compile(&[0], b"m.py", b"x = 1\n", Some(Duration::from_secs(60)))
            .unwrap();
        assert!(matches!(reply, Reply::Compiled { code, .. } if code.len() == 1));
    }
}
