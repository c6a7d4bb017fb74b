//! PEP 3148's thread-pool example: read several URLs in parallel with a per-URL timeout and
//! print each page's size (or error) as it completes.
//!
//! `cargo run --example url_reads -- URL...`; with no URL it starts a small HTTP server on
//! 127.0.0.1 and reads from it (one page is too slow for the timeout, one is missing).
#![allow(clippy::print_stdout)]

use concurrent_futures::{Executor, ThreadPoolExecutor, ThreadTask, as_completed};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

fn load_url(url: &str, timeout: Duration) -> Result<Vec<u8>, ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    agent.get(url).call()?.body_mut().read_to_vec()
}

/// A tiny HTTP/1.0 server: `/small`, `/large` (a megabyte), `/slow` (slower than the
/// timeout), anything else is 404. It serves until the process ends.
fn start_local_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = match path.as_str() {
                    "/small" => ("200 OK", b"hello, futures\n".repeat(10)),
                    "/large" => ("200 OK", vec![b'x'; 1 << 20]),
                    "/slow" => {
                        std::thread::sleep(TIMEOUT + Duration::from_secs(1));
                        ("200 OK", b"too late".to_vec())
                    }
                    _ => ("404 Not Found", b"no such page".to_vec()),
                };
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.0 {status}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            });
        }
    });
    format!("http://{address}")
}

fn main() {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        let base = start_local_server();
        urls = ["/small", "/large", "/slow", "/missing"]
            .iter()
            .map(|p| format!("{base}{p}"))
            .collect();
    }
    let pool = ThreadPoolExecutor::builder()
        .max_workers(5)
        .build()
        .unwrap();
    let futures: Vec<_> = urls
        .iter()
        .map(|url| {
            let url = url.clone();
            Executor::submit(
                &pool,
                ThreadTask::fallible(move || load_url(&url, TIMEOUT).map(|page| (url, page.len()))),
            )
            .unwrap()
        })
        .collect();
    // Futures that fail carry no URL, so remember which is which.
    let urls_by_future: Vec<(concurrent_futures::Future<(String, usize)>, String)> =
        futures.iter().cloned().zip(urls.iter().cloned()).collect();
    for done in as_completed(futures, None) {
        let future = done.unwrap();
        let url = &urls_by_future
            .iter()
            .find(|(f, _)| f.ptr_eq(&future))
            .unwrap()
            .1;
        match future.result(None) {
            Ok((_, size)) => println!("{url:?} page is {size} bytes"),
            Err(error) => println!("{url:?} generated an exception: {error}"),
        }
    }
}
