//! Scans the bench's 16 KB text repeatedly, for profilers
//! (`valgrind --tool=callgrind`, `perf stat`). Not part of the suite.
use airlock::classify::evasion;
use airlock::classify::sensitivity::Scanner;

fn main() {
    let pieces = [
        "Please review the quarterly report and summarise the main risks for the board. ",
        "The customer wrote in about a late delivery and asked for a refund by Friday. ",
        "fn total(items: &[Item]) -> u64 { items.iter().map(|i| i.price).sum() }\n",
        "Contact the account manager at jane.doe@example.com or +1 (415) 555-0132. ",
        "Explain step by step why the cache misses increase after the deploy. ",
        "Order 88412 shipped on 2024-03-14 with tracking 1Z999AA10123456784. ",
    ];
    let mut s = String::new();
    let mut i = 0;
    while s.len() < 16 * 1024 {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    s.truncate(16 * 1024);
    let names = std::env::args().any(|a| a == "--names");
    let scanner = if names {
        Scanner::new()
    } else {
        Scanner::without_names()
    };
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let mut out = Vec::new();
    let mut n = 0;
    for _ in 0..rounds {
        out.clear();
        evasion::scan(&scanner, std::hint::black_box(&s), &mut out);
        n += out.len();
    }
    println!("{n} findings");
}
