//! Differential tests: our answers against the live interpreters' own (`importlib.util`,
//! `py_compile`, import itself), for every interpreter found.

// Tests say on stderr which interpreters they compared against.
#![allow(clippy::print_stderr)]

mod discovery;
mod exclude;
mod extension;
mod freshness;
mod headers;
mod marshal;
mod paths;
mod payload;
mod support;
