//! Registered task functions and worker mode.
//!
//! A process pool cannot send a closure to another process. Instead a task is a plain `fn`
//! registered under a stable name, with serde-serializable arguments and result (JSON on the
//! wire). Workers are the current executable started again with an environment variable that
//! [`init`] recognises, like `multiprocessing`'s `freeze_support()`.

use super::frame::{read_frame, write_frame};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Set in a worker's environment; its value is unused.
pub(crate) const WORKER_ENV: &str = "CONCURRENT_FUTURES_WORKER";

pub(crate) const STATUS_OK: u8 = 0;
pub(crate) const STATUS_ERROR: u8 = 1;
pub(crate) const STATUS_PANIC: u8 = 2;
pub(crate) const STATUS_UNKNOWN: u8 = 3;

enum Body<A, R> {
    Plain(fn(A) -> R),
    Fallible(fn(A) -> Result<R, String>),
}

/// A function that process workers can run, registered under `name`.
///
/// ```
/// use concurrent_futures::TaskFn;
/// fn double(x: u64) -> u64 { x * 2 }
/// static DOUBLE: TaskFn<u64, u64> = TaskFn::new("example::double", double);
/// ```
pub struct TaskFn<A, R> {
    name: &'static str,
    body: Body<A, R>,
    types: PhantomData<fn(A) -> R>,
}

impl<A, R> std::fmt::Debug for TaskFn<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskFn({})", self.name)
    }
}

impl<A, R> TaskFn<A, R> {
    /// A task function whose value is its result; a panic fails the future.
    pub const fn new(name: &'static str, f: fn(A) -> R) -> Self {
        TaskFn {
            name,
            body: Body::Plain(f),
            types: PhantomData,
        }
    }

    /// A task function whose `Err` fails the future with that message.
    pub const fn fallible(name: &'static str, f: fn(A) -> Result<R, String>) -> Self {
        TaskFn {
            name,
            body: Body::Fallible(f),
            types: PhantomData,
        }
    }

    /// The registered name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<A: Serialize, R: DeserializeOwned + Send + 'static> TaskFn<A, R> {
    /// A call of this function with `args`, to submit to a [`crate::ProcessPoolExecutor`].
    pub fn call(&self, args: A) -> super::ProcessTask<R> {
        super::ProcessTask::new(self.name, serde_json::to_vec(&args), |bytes| {
            serde_json::from_slice(bytes).map_err(|e| e.to_string())
        })
    }
}

/// A registered function, type-erased for the worker's table.
pub trait Registered: Sync {
    /// The registered name.
    fn registered_name(&self) -> &'static str;
    /// Decodes `args`, runs the function and encodes its result; `Err((status, message))`.
    #[doc(hidden)]
    fn call_encoded(&self, args: &[u8]) -> Result<Vec<u8>, (u8, String)>;
}

impl<A, R> Registered for TaskFn<A, R>
where
    A: DeserializeOwned,
    R: Serialize,
{
    fn registered_name(&self) -> &'static str {
        self.name
    }

    fn call_encoded(&self, args: &[u8]) -> Result<Vec<u8>, (u8, String)> {
        let args: A = serde_json::from_slice(args).map_err(|e| {
            (
                STATUS_ERROR,
                format!("cannot decode the arguments of {}: {e}", self.name),
            )
        })?;
        let outcome = catch_unwind(AssertUnwindSafe(|| match &self.body {
            Body::Plain(f) => Ok(f(args)),
            Body::Fallible(f) => f(args),
        }));
        match outcome {
            Ok(Ok(value)) => serde_json::to_vec(&value).map_err(|e| {
                (
                    STATUS_ERROR,
                    format!("cannot encode the result of {}: {e}", self.name),
                )
            }),
            Ok(Err(message)) => Err((STATUS_ERROR, message)),
            Err(payload) => Err((
                STATUS_PANIC,
                crate::TaskError::from_panic(payload).to_string(),
            )),
        }
    }
}

/// Call first thing in `main`. In the parent it returns at once; in a worker process started
/// by a [`crate::ProcessPoolExecutor`] it serves tasks from `registry` and exits, never
/// returning.
pub fn init(registry: &[&dyn Registered]) {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    std::process::exit(serve(registry));
}

/// The worker loop: one request frame in, one response frame out, until stdin closes.
fn serve(registry: &[&dyn Registered]) -> i32 {
    // The protocol owns the original stdout; anything a task prints goes to stderr instead.
    let Ok(protocol) = rustix::io::dup(std::io::stdout()) else {
        return 3;
    };
    if rustix::stdio::dup2_stdout(std::io::stderr()).is_err() {
        return 3;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::from(protocol));
    std::panic::set_hook(Box::new(|_| {})); // panics are reported to the parent instead
    let mut input = std::io::stdin().lock();
    loop {
        let frame = match read_frame(&mut input) {
            Ok(Some(frame)) => frame,
            Ok(None) => return 0,
            Err(_) => return 2,
        };
        let response = match decode_request(&frame) {
            None => Err((STATUS_ERROR, "malformed request".to_owned())),
            Some((name, args)) => match registry.iter().find(|f| f.registered_name() == name) {
                Some(function) => function.call_encoded(args),
                None => Err((
                    STATUS_UNKNOWN,
                    format!("no task function registered as {name:?}"),
                )),
            },
        };
        let written = match response {
            Ok(payload) => write_frame(&mut out, &[&[STATUS_OK], &payload]),
            Err((status, message)) => write_frame(&mut out, &[&[status], message.as_bytes()]),
        };
        if written.is_err() {
            return 2;
        }
    }
}

/// A request is `name length (u16 LE) + name + arguments`.
pub(crate) fn encode_request(name: &str, args: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + name.len() + args.len());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(args);
    out
}

fn decode_request(frame: &[u8]) -> Option<(&str, &[u8])> {
    let len = usize::from(u16::from_le_bytes([*frame.first()?, *frame.get(1)?]));
    let name = std::str::from_utf8(frame.get(2..2 + len)?).ok()?;
    Some((name, &frame[2 + len..]))
}
