//! The text the classify bench and `examples/scan_profile` scan: mixed
//! realistic prose, a little code, and a few identifiers.

/// `bytes` bytes of the bench text (ASCII, so any length is a boundary).
pub fn prompt(bytes: usize) -> String {
    let pieces = [
        "Please review the quarterly report and summarise the main risks for the board. ",
        "The customer wrote in about a late delivery and asked for a refund by Friday. ",
        "fn total(items: &[Item]) -> u64 { items.iter().map(|i| i.price).sum() }\n",
        "Contact the account manager at jane.doe@example.com or +1 (415) 555-0132. ",
        "Explain step by step why the cache misses increase after the deploy. ",
        "Order 88412 shipped on 2024-03-14 with tracking 1Z999AA10123456784. ",
    ];
    let mut s = String::with_capacity(bytes + 128);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    s.truncate(bytes);
    s
}
