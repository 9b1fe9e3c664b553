//! Bank account numbers. US accounts are 6 to 17 digits with no checksum
//! (other countries use IBANs, found by `iban`), so a number counts only
//! right after an account word (`account`, `acct`, `a/c`), with at most
//! filler words in between (`number`, `no.`, `is`, `checking`...). The
//! token: digits with optional single dashes, 6-17 digits, not all the same
//! digit, not part of an amount, date, time or e-mail.
//!
//! Must not: look before the context word, or further than 40 bytes after it.

use super::anchors::{Anchor, id_after};
use super::{Kind, Match};

/// Bytes after the context word within which the number must start.
const WINDOW: usize = 40;

fn shape_ok(token: &[u8]) -> bool {
    let digits = token.iter().filter(|b| b.is_ascii_digit()).count();
    token.iter().all(|&b| b.is_ascii_digit() || b == b'-')
        && (6..=17).contains(&digits)
        && token.iter().any(|&b| b != token[0] && b != b'-')
}

/// Checks the token after the account word `a`.
pub(super) fn check(text: &str, a: &Anchor, out: &mut Vec<Match>) {
    id_after(text, a, WINDOW, shape_ok, Kind::BankAccount, out);
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::BankAccount)
    }

    #[test]
    fn shapes() {
        assert!(shape_ok(b"12345678901"));
        assert!(shape_ok(b"12-3456-78"));
        assert!(!shape_ok(b"12345"));
        assert!(!shape_ok(b"000000000"));
        assert!(!shape_ok(b"A12345678"));
        assert!(!shape_ok(b"123456789012345678"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("account no. 12345678901 by Monday", &["12345678901"]),
            ("Checking account number: 0012-3456-789", &["0012-3456-789"]),
            ("acct #4409871234", &["4409871234"]),
            ("A/C 556677889", &["556677889"]),
            ("my bank account is 123456", &["123456"]),
            ("account ending in 4321", &[]),
            ("account balance is $1234567", &[]),
            ("accounts receivable 123456789", &[]),
            ("account 1234567.89", &[]),
            ("12345678901 is my account", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Überweisung: account № 12345678901";
        assert_eq!(offsets(text, Kind::BankAccount), vec![(26, 37)]);
    }
}
