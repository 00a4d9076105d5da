//! Aggregation cost per request: `perf::aggregate::Aggregator::observe`
//! (route lookup, cell update, histogram bucket, totals for `/metrics`) on
//! a realistic mix of 24 routes × methods × statuses, against a baseline in
//! the same run — a `HashMap<String, u64>` counter looked up by `&str`, the
//! least any per-route statistic costs. Prints each round and the medians in
//! ns per request, on one thread and on two threads sharing one aggregator.
//!
//! Run: `cargo bench --bench perf_aggregate` (ROUNDS, default 11).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use watchpost::perf::aggregate::Aggregator;

const PER_ROUND: u64 = 2_000_000;

fn routes() -> Vec<String> {
    (0..24)
        .map(|i| format!("/api/v1/thing{i}/{{id}}"))
        .collect()
}

fn observe(agg: &Aggregator, routes: &[String], n: u64) {
    let methods = ["GET", "GET", "GET", "POST"];
    for i in 0..n {
        let route = &routes[(i % 24) as usize];
        let status = if i % 50 == 0 { 500 } else { 200 };
        // 0.2 ms … 80 ms, spread over the decades.
        let us = 200 + (i * 7919) % 80_000;
        // A new minute every 100k requests, as the flusher would take them.
        let minute = (i / 100_000) as i64 * 60;
        agg.observe(route, methods[(i % 4) as usize], status, Some(us), minute);
        if i % 100_000 == 99_999 {
            black_box(agg.take_before(Some(minute)));
        }
    }
}

fn counter(routes: &[String], n: u64) -> u64 {
    let mut map: HashMap<String, u64> = routes.iter().map(|r| (r.clone(), 0)).collect();
    for i in 0..n {
        if let Some(c) = map.get_mut(routes[(i % 24) as usize].as_str()) {
            *c += black_box(1);
        }
    }
    map.values().sum()
}

fn ns_per(started: Instant, n: u64) -> f64 {
    started.elapsed().as_nanos() as f64 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let routes = Arc::new(routes());
    let (mut base, mut one, mut two) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let t = Instant::now();
        black_box(counter(&routes, PER_ROUND));
        base.push(ns_per(t, PER_ROUND));

        let agg = Aggregator::new("self");
        let t = Instant::now();
        observe(&agg, &routes, PER_ROUND);
        one.push(ns_per(t, PER_ROUND));

        let agg = Arc::new(Aggregator::new("self"));
        let t = Instant::now();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (agg, routes) = (agg.clone(), routes.clone());
                std::thread::spawn(move || observe(&agg, &routes, PER_ROUND / 2))
            })
            .collect();
        threads.into_iter().for_each(|h| {
            let _ = h.join();
        });
        two.push(ns_per(t, PER_ROUND));
        println!(
            "round {round}: counter {:.1} ns, aggregate {:.1} ns, aggregate on 2 threads {:.1} ns (wall per request)",
            base[round - 1],
            one[round - 1],
            two[round - 1]
        );
    }
    let (b, o, t) = (median(base), median(one), median(two));
    println!("median: counter baseline {b:.1} ns/request");
    println!(
        "median: aggregation {o:.1} ns/request ({:.1}× the counter)",
        o / b
    );
    println!("median: aggregation on 2 threads {t:.1} ns/request of wall time");
}
