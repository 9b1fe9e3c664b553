//! E-mail addresses: `local@domain.tld`, found by expanding around each `@`
//! (no regex pass over the whole text). Local part: `A-Z a-z 0-9 . _ % + -`,
//! at most 64 bytes, no leading, trailing or doubled dot. Domain: two or
//! more labels of letters, digits and inner hyphens; the last label (TLD)
//! is letters only, 2-24 long.
//!
//! Must not: accept quoted or non-ASCII local parts (rare; left out on
//! purpose), package specifiers like `pkg@1.2.3`, or hosts without a TLD.

use super::text::is_escape_letter;
use super::{Kind, Match};

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Appends every e-mail address in `text`.
pub(super) fn detect(text: &str, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let mut done = 0;
    for at in memchr::memchr_iter(b'@', b) {
        if at < done {
            continue;
        }
        if let Some((start, end)) = address_at(b, at) {
            out.push(Match {
                kind: Kind::Email,
                start,
                end,
            });
            done = end;
        }
    }
}

/// The address around the `@` at `at`, if any.
fn address_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut l = at;
    while l > 0 && is_local(b[l - 1]) && !is_escape_letter(b, l - 1) {
        if at - l >= 64 {
            return None;
        }
        l -= 1;
    }
    // A doubled dot cannot be inside a local part: start after the last one.
    if let Some(p) = b[l..at].windows(2).rposition(|w| w == b"..") {
        l += p + 2;
    }
    while l < at && b[l] == b'.' {
        l += 1;
    }
    let local = &b[l..at];
    if local.is_empty() || local.ends_with(b".") {
        return None;
    }
    let end = domain_end(b, at + 1)?;
    Some((l, end))
}

/// Parses `label(.label)+` from `start`; returns its end if the last label is
/// a plausible TLD.
fn domain_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let mut labels = 0;
    let mut last_label = start..start;
    loop {
        let ls = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') && i - ls < 63 {
            i += 1;
        }
        let label = &b[ls..i];
        if label.is_empty() || label.starts_with(b"-") {
            break;
        }
        // A trailing hyphen belongs to the prose, not the host.
        let mut le = i;
        while le > ls && b[le - 1] == b'-' {
            le -= 1;
        }
        labels += 1;
        last_label = ls..le;
        i = le;
        let next_is_label = b.get(i + 1).is_some_and(u8::is_ascii_alphanumeric);
        if b.get(i) == Some(&b'.') && next_is_label && le == ls + label.len() {
            i += 1;
        } else {
            break;
        }
    }
    let tld = &b[last_label.clone()];
    let tld_ok = (2..=24).contains(&tld.len()) && tld.iter().all(u8::is_ascii_alphabetic);
    let after_ok = !b
        .get(last_label.end)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'@');
    (labels >= 2 && tld_ok && after_ok).then_some(last_label.end)
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn emails(text: &str) -> Vec<&str> {
        spans(text, Kind::Email)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Write to jane.doe+tag@example.co.uk.",
                &["jane.doe+tag@example.co.uk"],
            ),
            (
                "You said your email is EwanDawson@dayrep.com. Is that",
                &["EwanDawson@dayrep.com"],
            ),
            ("<a@b.io>, (c_d@e-f.org)", &["a@b.io", "c_d@e-f.org"]),
            ("mailto:ops@corp.example", &["ops@corp.example"]),
            ("user@localhost is local", &[]),
            ("\"strict-uri-encode@npm:2.0.0\"", &[]),
            ("install @scope/pkg@1.2.3", &[]),
            ("a..b@example.com", &["b@example.com"]),
            ("trailing@example.c", &[]),
            ("x@y.com@z", &[]),
            ("@ alone and @@", &[]),
            ("git@github.com:org/repo.git", &["git@github.com"]),
            (
                "E-mail:\\nMariePavlikova@superrito.com\\n",
                &["MariePavlikova@superrito.com"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&emails(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Écrivez à «marie@exemple.fr» 😀";
        assert_eq!(emails(text), vec!["marie@exemple.fr"]);
    }
}
