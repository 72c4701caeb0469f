//! Password figures for the closing notes: argon2id hash time with the default parameters,
//! and the breach filter's size, build time and lookup rate on 1,000,000 entries.
//!
//! Run: `cargo bench --bench password` (release profile). Plain timing with `Instant`, no
//! framework, so the figures are reproducible with nothing else installed.

use std::hint::black_box;
use std::time::Instant;

use sekimori::crypto::hash::{HashParams, hash_password, verify_password};
use sekimori::password::breach::{BreachFilter, ListFormat};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let entries: u64 = std::env::var("SEKIMORI_BENCH_BREACH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    // argon2id, default parameters (m = 19 MiB, t = 2, p = 1), one thread.
    let params = HashParams::default();
    let _ = hash_password("warm-up", params, None);
    let mut times = Vec::new();
    let mut phc = String::new();
    for i in 0..30 {
        let t = Instant::now();
        phc = hash_password(&format!("bench-password-{i}"), params, None).unwrap_or_default();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let t = Instant::now();
    let ok = verify_password("bench-password-29", &phc, params, None)
        .map(|v| v.is_match())
        .unwrap_or(false);
    let verify_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "argon2id m=19456 t=2 p=1: hash median {:.1} ms, p95 {:.1} ms, min {:.1} ms (n=30); verify {:.1} ms (match={ok})",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times[0],
        verify_ms
    );

    // Breach filter on a generated plain list.
    let list: String = (0..entries)
        .map(|i| format!("breached-password-{i}\n"))
        .collect();
    let t = Instant::now();
    let (filter, stats) = match BreachFilter::build(list.as_bytes(), ListFormat::Plain, 0, |_| {}) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("build failed: {e}");
            return;
        }
    };
    let build_s = t.elapsed().as_secs_f64();
    println!(
        "breach filter: {} entries built in {:.2} s (includes SHA-1 of every line); {} bytes = {:.3} bytes/entry",
        stats.entries,
        build_s,
        stats.bytes,
        stats.bytes as f64 / stats.entries as f64
    );
    // HIBP-format build of the same size (hash parsing instead of hashing).
    // Uniformly spread 160-bit values, as real SHA-1 hashes are (splitmix64 steps).
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let hibp: String = (0..entries)
        .map(|i| {
            format!(
                "{:016X}{:016X}{:08X}:{}\n",
                mix(i),
                mix(i ^ 0xABCD),
                mix(i) as u32,
                i % 50 + 1
            )
        })
        .collect();
    let t = Instant::now();
    if let Ok((_, s)) = BreachFilter::build(hibp.as_bytes(), ListFormat::Hibp, 0, |_| {}) {
        println!(
            "breach filter (HIBP SHA1:COUNT input): {} entries built in {:.2} s",
            s.entries,
            t.elapsed().as_secs_f64()
        );
    }

    // Lookups: half present, half absent; password → SHA-1 → filter, as at a login.
    let probes: Vec<String> = (0..1_000_000u64)
        .map(|i| {
            if i % 2 == 0 {
                format!("breached-password-{}", i % entries)
            } else {
                format!("clean-password-{i}")
            }
        })
        .collect();
    let t = Instant::now();
    let mut hits = 0u64;
    for p in &probes {
        hits += u64::from(black_box(filter.contains_password(black_box(p))));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "breach filter lookups: {:.0} per second ({} probes, {} hits; ASCII probes skip the NFKC second hash)",
        probes.len() as f64 / secs,
        probes.len(),
        hits
    );
    let misses = (0..1_000_000u64)
        .filter(|i| filter.contains_password(&format!("never-breached-{i}")))
        .count();
    println!(
        "breach filter false positives: {misses} in 1,000,000 absent passwords ({:.5}%)",
        misses as f64 / 1e4
    );
}
