//! Private key material: PEM blocks whose label ends in `PRIVATE KEY` (RSA,
//! EC, DSA, OPENSSH, ENCRYPTED, plain PKCS#8) or `PRIVATE KEY BLOCK` (PGP),
//! and PuTTY `.ppk` files. The BEGIN line alone counts, since a truncated
//! block still leaks; the match runs to the END line when there is one,
//! else over the base64 lines that follow (also across literal `\n`
//! escapes, as in JSON strings).
//!
//! Must not: match public keys or certificates, or search further than
//! [`MAX_BLOCK`] bytes for the end of a block.

use super::{Kind, Match};

/// The longest block we look through for its END line.
const MAX_BLOCK: usize = 64 * 1024;

/// Remembers where the next occurrence of a marker lies, so that many BEGIN
/// lines cost one forward search in all (keeps the scan linear).
#[derive(Debug)]
pub(super) struct NextCache {
    needle: &'static str,
    /// `(from, found)`: the first needle at or after `from` is at `found`.
    last: Option<(usize, Option<usize>)>,
}

impl NextCache {
    pub(super) fn new(needle: &'static str) -> NextCache {
        NextCache { needle, last: None }
    }

    fn next(&mut self, text: &str, from: usize) -> Option<usize> {
        if let Some((f, found)) = self.last
            && f <= from
            && found.is_none_or(|p| p >= from)
        {
            return found;
        }
        let found = text
            .get(from..)
            .and_then(|t| t.find(self.needle))
            .map(|p| from + p);
        self.last = Some((from, found));
        found
    }
}

/// The caches one scan needs.
#[derive(Debug)]
pub(super) struct Caches {
    end: NextCache,
    mac: NextCache,
}

impl Default for Caches {
    fn default() -> Caches {
        Caches {
            end: NextCache::new("-----END"),
            mac: NextCache::new("Private-MAC:"),
        }
    }
}

/// Checks the `-----BEGIN` at `at`.
pub(super) fn check_pem(text: &str, at: usize, caches: &mut Caches, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let label_start = at + b"-----BEGIN".len();
    let line_end = b[label_start..]
        .iter()
        .take(64)
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or((label_start + 64).min(b.len()), |p| label_start + p);
    let Some(close) = find(&b[label_start..line_end], b"-----") else {
        return;
    };
    let label = &b[label_start..label_start + close];
    if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
        return;
    }
    let header_end = label_start + close + 5;
    let limit = header_end.saturating_add(MAX_BLOCK).min(b.len());
    let end = match caches.end.next(text, header_end).filter(|&p| p < limit) {
        Some(p) => {
            let tail = p + 8;
            let cap = (tail + 64).min(b.len());
            find(&b[tail..cap], b"-----").map_or(tail, |q| tail + q + 5)
        }
        None => body_end(b, header_end, limit),
    };
    out.push(Match {
        kind: Kind::PrivateKey,
        start: at,
        end,
    });
}

/// Checks the `PuTTY-User-Key-File-` at `at`: runs to the end of the
/// `Private-MAC:` line, or of the first line if there is none.
pub(super) fn check_putty(text: &str, at: usize, caches: &mut Caches, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let limit = at.saturating_add(MAX_BLOCK).min(b.len());
    let from = caches
        .mac
        .next(text, at)
        .filter(|&p| p < limit)
        .unwrap_or(at);
    let end = b[from..limit]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(limit, |p| from + p);
    out.push(Match {
        kind: Kind::PrivateKey,
        start: at,
        end,
    });
}

/// End of the base64 (and `Header: value`) lines that follow a BEGIN line
/// without an END line.
fn body_end(b: &[u8], from: usize, limit: usize) -> usize {
    let mut end = from;
    let mut i = from;
    while i < limit {
        // Skip one line break: a real one or a literal `\n`.
        let mut j = i;
        while j < limit && matches!(b[j], b'\r' | b'\n') {
            j += 1;
        }
        if b[j..limit].starts_with(b"\\n") || b[j..limit].starts_with(b"\\r") {
            j += 2;
        }
        if j == i {
            break;
        }
        let start = j;
        while j < limit && !matches!(b[j], b'\r' | b'\n' | b'\\') {
            j += 1;
        }
        let line = &b[start..j];
        let base64 = line
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='));
        let header = line.windows(2).any(|w| w == b": ");
        if line.is_empty() || !(base64 || header) {
            break;
        }
        end = j;
        i = j;
    }
    end
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn keys(text: &str) -> Vec<&str> {
        spans(text, Kind::PrivateKey)
    }

    #[test]
    fn table() {
        let full =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAn6\n-----END RSA PRIVATE KEY-----";
        let cases: &[(String, Vec<&str>)] = &[
            (format!("key:\n{full}\nthanks"), vec![full]),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----".into(),
                vec!["-----BEGIN OPENSSH PRIVATE KEY-----"],
            ),
            (
                "x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\nabc=\nthen prose here".into(),
                vec!["-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\nabc="],
            ),
            (
                "\"-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\nKs14\\n\" rest".into(),
                vec!["-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\nKs14"],
            ),
            (
                "-----BEGIN PGP PRIVATE KEY BLOCK-----".into(),
                vec!["-----BEGIN PGP PRIVATE KEY BLOCK-----"],
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----".into(),
                vec!["-----BEGIN ENCRYPTED PRIVATE KEY-----"],
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----".into(),
                vec![],
            ),
            ("-----BEGIN CERTIFICATE-----".into(), vec![]),
            ("-----BEGIN PGP PUBLIC KEY BLOCK-----".into(), vec![]),
            (
                "PuTTY-User-Key-File-2: ssh-rsa\nPrivate-Lines: 1\nAAAA\nPrivate-MAC: 0a1b\nnext"
                    .into(),
                vec!["PuTTY-User-Key-File-2: ssh-rsa\nPrivate-Lines: 1\nAAAA\nPrivate-MAC: 0a1b"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&keys(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "鍵は→-----BEGIN DSA PRIVATE KEY-----";
        assert_eq!(keys(text), vec!["-----BEGIN DSA PRIVATE KEY-----"]);
    }
}
