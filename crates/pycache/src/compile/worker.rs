//! One long-lived interpreter process running the embedded `worker.py`.
//!
//! Rust sends a source's bytes and the name to compile it under; the worker answers with the
//! marshalled code for each optimization level (or the error text) and any warnings. Reads wait
//! with `poll(2)` so that a hung worker is noticed after the per-file timeout; a worker that
//! dies shows as the end of its stdout. Workers run in their own process group, so a Ctrl-C at
//! the terminal reaches pycache alone, which then stops them in order.

use crate::interpreter::Interpreter;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const WORKER_SCRIPT: &str = include_str!("worker.py");

/// The worker script itself: part of the compiled-code cache's key, since what it imports
/// decides which strings are interned, and so some bytes of what it compiles.
pub(crate) fn script() -> &'static [u8] {
    WORKER_SCRIPT.as_bytes()
}

/// Why a worker could not do its job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WorkerError {
    #[error("cannot start the interpreter: {0}")]
    Spawn(String),
    #[error("the worker did not start properly: {0}")]
    Handshake(String),
    #[error("the worker process died ({0})")]
    Died(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("the worker sent a malformed answer: {0}")]
    Protocol(String),
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
    stdout: ChildStdout,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Worker(pid {})", self.child.id())
    }
}

/// Reads exactly `buf.len()` bytes, waiting at most until `deadline`.
fn read_exact_until(
    stdout: &mut ChildStdout,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<(), ReadError> {
    let mut filled = 0;
    while filled < buf.len() {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut poll = libc::pollfd {
                fd: stdout.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd for a descriptor we own, for the duration of the call.
            let ready = unsafe { libc::poll(&mut poll, 1, millis) };
            if ready == 0 {
                return Err(ReadError::Timeout);
            }
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(ReadError::Io(error.to_string()));
            }
        }
        match stdout.read(&mut buf[filled..]) {
            Ok(0) => return Err(ReadError::Eof),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e.to_string())),
        }
    }
    Ok(())
}

enum ReadError {
    Timeout,
    Eof,
    Io(String),
}

impl Worker {
    /// Starts a worker for `interpreter` and waits (up to `timeout`) for its greeting, which
    /// must name the interpreter's own magic. A `reproducible` worker runs with
    /// `PYTHONHASHSEED=0` and, on PyPy, compiles each file in a child forked from its pristine
    /// self.
    pub(crate) fn start(
        interpreter: &Interpreter,
        timeout: Option<Duration>,
        reproducible: bool,
    ) -> Result<Self, WorkerError> {
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
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env_remove("PYTHONSTARTUP")
            .process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| WorkerError::Spawn(e.to_string()))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut worker = Worker {
            child,
            stdin,
            stdout,
        };
        let hello = match worker.read_frame(timeout) {
            Ok(frame) => frame,
            Err(error) => {
                worker.kill();
                return Err(WorkerError::Handshake(error.to_string()));
            }
        };
        let hello: serde_json::Value = serde_json::from_slice(&hello)
            .map_err(|e| WorkerError::Handshake(format!("bad greeting: {e}")))?;
        let magic = interpreter.magic().to_string();
        if hello["magic"].as_str() != Some(magic.as_str()) {
            worker.kill();
            return Err(WorkerError::Handshake(format!(
                "the worker reports magic {}, the probe said {magic}",
                hello["magic"]
            )));
        }
        Ok(worker)
    }

    fn read_frame(&mut self, timeout: Option<Duration>) -> Result<Vec<u8>, WorkerError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut head = [0u8; 4];
        self.read_exact(&mut head, deadline, timeout)?;
        let mut body = vec![0u8; u32::from_le_bytes(head) as usize];
        self.read_exact(&mut body, deadline, timeout)?;
        Ok(body)
    }

    fn read_exact(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> Result<(), WorkerError> {
        match read_exact_until(&mut self.stdout, buf, deadline) {
            Ok(()) => Ok(()),
            Err(ReadError::Timeout) => Err(WorkerError::Timeout(timeout.unwrap_or_default())),
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
        let frame = self.read_frame(timeout)?;
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
            stdout,
        } = self;
        drop(stdin);
        drop(stdout);
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
