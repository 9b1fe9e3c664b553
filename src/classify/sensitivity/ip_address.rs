//! IP addresses.
//!
//! IPv4: four dot-separated decimal octets read from the numeric chunks
//! (`numeric`), parsed with `std::net::Ipv4Addr` (each octet 0-255, no
//! leading zeros). Not counted: a dotted run of more than four numbers
//! (`1.3.6.1.4.1`, OIDs), one glued to a word (`v1.2.3.4`, `x.1.2.3.4`),
//! one right after a version or numbering word (`version 1.2.3.4`,
//! `build`, `release`, `section`, `step`...: version strings, not hosts),
//! and addresses that name no host: `0.0.0.0`, `127.x.x.x` loopback,
//! `255.255.255.255` and netmasks (`255.255.255.0`). Private ranges count:
//! they map an organisation's network.
//!
//! IPv6: the run of hex digits, colons and dots around each `:` (at most 45
//! bytes), not glued to a word, parsed with `std::net::Ipv6Addr`: full and
//! compressed forms (`2001:db8::8a2e:370:7334`, `fe80::1`, `::ffff:1.2.3.4`).
//! A compressed form needs two groups or more, so `::1`, `::` and code such
//! as `a::` do not count.
//!
//! Must not: split a longer dotted number, or read more than 45 bytes
//! around a colon.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::numeric::{Chunk, Group, sep_between};
use super::text::{eq_any, is_word_byte};
use super::{Kind, Match};

/// Words after which a dotted quad is a version or a section number.
#[rustfmt::skip]
const NOT_AFTER: &[&str] = &[
    "version", "ver", "v", "release", "rel", "build", "firmware", "fw", "rev", "revision", "patch",
    "update", "section", "sec", "chapter", "clause", "article", "art", "paragraph", "para",
    "figure", "fig", "table", "step", "item", "rule", "exercise", "problem", "question",
    "theorem", "lemma", "equation", "eq", "appendix", "part", "no",
];

/// Longest IPv6 text (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
const V6_MAX: usize = 45;

/// Finds IPv4 addresses among the chunk's groups; marks the groups it uses.
pub(super) fn detect_v4(
    text: &str,
    all_groups: &[Group],
    chunk: &Chunk,
    claimed: &mut [bool],
    out: &mut Vec<Match>,
) {
    let b = text.as_bytes();
    let groups = &all_groups[chunk.groups.clone()];
    let n = groups.len();
    if n < 4 {
        return;
    }
    let dot = |k: usize| sep_between(b, groups, k) == b".";
    let mut i = 0;
    while i + 3 < n {
        let quad = &groups[i..i + 4];
        let shaped = quad.iter().all(|g| (1..=3).contains(&g.len()))
            && (i..i + 3).all(dot)
            && !(i > 0 && sep_between(b, groups, i - 1).contains(&b'.'))
            && !(i + 4 < n && sep_between(b, groups, i + 3).contains(&b'.'));
        let (start, end) = (quad[0].start, quad[3].end);
        if shaped
            && !claimed[i..i + 4].iter().any(|&c| c)
            && edges_ok(b, start, end)
            && !after_version_word(b, start)
            && v4_counts(&text[start..end])
        {
            out.push(Match {
                kind: Kind::IpAddress,
                start,
                end,
            });
            claimed[i..i + 4].iter_mut().for_each(|c| *c = true);
            i += 4;
        } else {
            i += 1;
        }
    }
}

/// No word byte or dotted continuation on either side (a port after `:` is fine).
fn edges_ok(b: &[u8], start: usize, end: usize) -> bool {
    let left = match start.checked_sub(1).map(|p| b[p]) {
        Some(c) if is_word_byte(c) => false,
        Some(b'.') => !(start >= 2 && b[start - 2].is_ascii_alphanumeric()),
        _ => true,
    };
    let right = match b.get(end) {
        Some(&c) if is_word_byte(c) => false,
        Some(b'.') => !b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric),
        _ => true,
    };
    left && right
}

/// Whether the word just before `start` (over spaces, `:`, `#`, `=`) is a
/// version or numbering word.
fn after_version_word(b: &[u8], start: usize) -> bool {
    let mut e = start;
    while e > 0 && start - e < 4 && matches!(b[e - 1], b' ' | b':' | b'#' | b'=' | b'\t') {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && e - s < 16 && b[s - 1].is_ascii_alphabetic() {
        s -= 1;
    }
    s < e && eq_any(&b[s..e], NOT_AFTER)
}

/// Parses and keeps addresses that name a host.
fn v4_counts(s: &str) -> bool {
    let Ok(ip) = s.parse::<Ipv4Addr>() else {
        return false;
    };
    let bits = u32::from(ip);
    let netmask = ip.octets()[0] == 255 && bits.leading_ones() + bits.trailing_zeros() == 32;
    !(ip.is_unspecified() || ip.is_loopback() || netmask)
}

fn is_v6_byte(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

/// Appends every IPv6 address in `text`.
pub(super) fn detect_v6(text: &str, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let mut done = 0;
    for (p, _) in text.match_indices(':') {
        if p < done {
            continue;
        }
        let mut s = p;
        while s > 0 && p - s < V6_MAX && is_v6_byte(b[s - 1]) {
            s -= 1;
        }
        let mut e = p + 1;
        while e < b.len() && e - s < V6_MAX && is_v6_byte(b[e]) {
            e += 1;
        }
        done = e;
        // Sentence punctuation around the address is not part of it.
        while s < e && b[s] == b'.' {
            s += 1;
        }
        while e > s && b[e - 1] == b'.' {
            e -= 1;
        }
        if e > s + 1 && b[e - 1] == b':' && b[e - 2] != b':' {
            e -= 1;
        }
        let glued =
            (s > 0 && is_word_byte(b[s - 1])) || b.get(e).copied().is_some_and(is_word_byte);
        if !glued && e > s && v6_counts(&text[s..e]) {
            out.push(Match {
                kind: Kind::IpAddress,
                start: s,
                end: e,
            });
        }
    }
}

fn v6_counts(s: &str) -> bool {
    let colons = s.bytes().filter(|&c| c == b':').count();
    if colons < 2 || s.contains(":::") {
        return false;
    }
    let Ok(ip) = s.parse::<Ipv6Addr>() else {
        return false;
    };
    let groups = s.split(':').filter(|g| !g.is_empty()).count();
    !(ip.is_unspecified() || ip.is_loopback()) && (colons == 7 || groups >= 2)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn ips(text: &str) -> Vec<&str> {
        spans(text, Kind::IpAddress)
    }

    #[test]
    fn v4_rules() {
        assert!(v4_counts("106.31.73.20"));
        assert!(v4_counts("10.0.12.7"));
        assert!(!v4_counts("256.1.1.1"));
        assert!(!v4_counts("01.2.3.4"));
        assert!(!v4_counts("0.0.0.0"));
        assert!(!v4_counts("127.0.0.1"));
        assert!(!v4_counts("255.255.255.0"));
        assert!(!v4_counts("255.255.255.255"));
        assert!(v4_counts("255.1.2.3"));
    }

    #[test]
    fn v6_rules() {
        assert!(v6_counts("2302:7bb4:6cd6:a804:b287:85b9:e705:3266"));
        assert!(v6_counts("2001:db8::8a2e:370:7334"));
        assert!(v6_counts("fe80::1"));
        assert!(v6_counts("::ffff:192.0.2.1"));
        assert!(!v6_counts("::1"));
        assert!(!v6_counts("::"));
        assert!(!v6_counts("a::"));
        assert!(!v6_counts("10:30:45"));
        assert!(!v6_counts("00:1a:2b:3c:4d:5e"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "keep getting address 41.173.96.26 blocked",
                &["41.173.96.26"],
            ),
            (
                "client_ip = ?%//!%20\\|106.31.73.20|%20/",
                &["106.31.73.20"],
            ),
            ("server 10.0.12.7:8080 is down.", &["10.0.12.7"]),
            (
                "from 192.168.1.10 to 192.168.1.20.",
                &["192.168.1.10", "192.168.1.20"],
            ),
            ("(8.8.8.8)", &["8.8.8.8"]),
            ("version 1.2.3.4 shipped", &[]),
            ("Version: 10.2.0.1", &[]),
            ("see section 1.2.3.4", &[]),
            ("v1.2.3.4", &[]),
            ("oid 1.3.6.1.4.1", &[]),
            ("x.1.2.3.4", &[]),
            ("1.2.3.400", &[]),
            ("localhost 127.0.0.1 and 0.0.0.0", &[]),
            ("mask 255.255.255.0", &[]),
            (
                "address 2302:7bb4:6cd6:a804:b287:85b9:e705:3266 blocked",
                &["2302:7bb4:6cd6:a804:b287:85b9:e705:3266"],
            ),
            (
                "\\|f15a:b8dc:6d4a:5690:2e50:e8ce:6d37:dfb2|%20/",
                &["f15a:b8dc:6d4a:5690:2e50:e8ce:6d37:dfb2"],
            ),
            (
                "[fe80::1ff:fe23:4567:890a]:443",
                &["fe80::1ff:fe23:4567:890a"],
            ),
            ("ping 2001:db8::1.", &["2001:db8::1"]),
            ("use std::fmt::Debug; at 10:30:45", &[]),
            ("loopback ::1 only", &[]),
            ("mac 00:1a:2b:3c:4d:5e", &[]),
            ("Answer: A", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&ips(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Serveur à l’adresse 10.1.2.3 et fe80::1";
        assert_eq!(offsets(text, Kind::IpAddress), vec![(23, 31), (35, 42)]);
    }
}
