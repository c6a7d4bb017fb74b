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
use std::io::{Read, Write};
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

pub(crate) struct Worker {
    child: Child,
    stdin: ChildStdin,
    replies: std::fs::File,
    cancel: Arc<AtomicBool>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Worker(pid {})", self.child.id())
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
        let mut poll = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = i32::try_from(slice.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: one valid pollfd for a descriptor we own, for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready == 0 {
            continue;
        }
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(ReadError::Io(error.to_string()));
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
            stdin,
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
        let len = u32::from_le_bytes(head) as usize;
        if len > max {
            return Err(WorkerError::Protocol(format!(
                "a frame of {len} bytes (at most {max} expected)"
            )));
        }
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
        let total = 1 + levels.len() + 4 + name.len() + source.len();
        let total = u32::try_from(total)
            .map_err(|_| WorkerError::Protocol("source larger than 4 GiB".into()))?;
        let levels_bytes: Vec<u8> = levels.iter().map(|&l| l as u8).collect();
        let written = (|| {
            self.stdin.write_all(&total.to_le_bytes())?;
            self.stdin.write_all(&[count])?;
            self.stdin.write_all(&levels_bytes)?;
            self.stdin.write_all(&name_len.to_le_bytes())?;
            self.stdin.write_all(name)?;
            self.stdin.write_all(source)?;
            self.stdin.flush()
        })();
        if written.is_err() {
            return Err(WorkerError::Died(self.exit_status()));
        }
        let frame = self.read_frame(timeout, MAX_REPLY)?;
        parse_reply(&frame, levels.len())
    }

    /// Ends the worker now and reaps it.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the worker to finish (end of input) and reaps it.
    pub(crate) fn close(self) {
        let Worker {
            mut child,
            stdin,
            replies,
            ..
        } = self;
        drop(stdin);
        drop(replies);
        let _ = child.wait();
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
