//! Differential tests: our answers against the live interpreters' own (`importlib.util`,
//! `py_compile`, import itself), for every interpreter found.

mod freshness;
mod headers;
mod paths;
mod support;
