//! PEP 3148's process-pool example: check the PEP's numbers for primality on a
//! `ProcessPoolExecutor` and print the results in input order (`map`).
#![allow(clippy::print_stdout)]

use concurrent_futures::{Executor, ProcessPoolExecutor, TaskFn, init};

const PRIMES: [u64; 6] = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
];

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n == 2 {
        return true;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    let sqrt_n = (n as f64).sqrt().floor() as u64;
    (3..=sqrt_n).step_by(2).all(|i| !n.is_multiple_of(i))
}

static IS_PRIME: TaskFn<u64, bool> = TaskFn::new("primes::is_prime", is_prime);

fn main() {
    init(&[&IS_PRIME]);
    let pool = ProcessPoolExecutor::builder().build().unwrap();
    let results = pool
        .map(PRIMES.iter().map(|&n| IS_PRIME.call(n)), None)
        .unwrap();
    for (number, prime) in PRIMES.iter().zip(results) {
        println!("{number} is prime: {}", prime.unwrap());
    }
}
