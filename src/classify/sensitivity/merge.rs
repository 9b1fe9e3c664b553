//! Turns one text's raw findings into the scanner's output: sorted by
//! start, exact duplicates and same-kind nested findings dropped, and the
//! generic finding dropped where a specific one covers the same text (a
//! `Secret` under an API key or JWT, a `Phone` overlapping any other
//! numeric identifier (card, SSN, IBAN, IP address, routing or account
//! number, NPI, passport, licence, record number, wallet, date of birth), an
//! `Email` that is the `pass@host` part of a URL).
//!
//! Must not: add findings, or move a finding's offsets.

use super::{Kind, Match};

/// Sorts and cleans one text's findings, then appends them to `out`:
/// drops exact duplicates, findings contained in a finding of the same kind,
/// generic secrets overlapping a specific credential, phones overlapping
/// another numeric identifier, and e-mails that are the `pass@host` of a URL.
pub(super) fn finish(text: &str, mut found: Vec<Match>, out: &mut Vec<Match>) {
    found.retain(|m| {
        m.start < m.end && text.is_char_boundary(m.start) && text.is_char_boundary(m.end)
    });
    found.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.kind.cmp(&b.kind))
    });
    found.dedup();
    let mut max_end = [0usize; Kind::ALL.len()];
    found.retain(|m| {
        let slot = &mut max_end[m.kind as usize];
        let contained = *slot >= m.end;
        *slot = (*slot).max(m.end);
        !contained
    });
    let specific = Overlaps::of(&found, |k| {
        matches!(
            k,
            Kind::ApiKey | Kind::PrivateKey | Kind::Jwt | Kind::UrlCredentials
        )
    });
    let numbers = Overlaps::of(&found, |k| {
        matches!(
            k,
            Kind::CreditCard
                | Kind::UsSsn
                | Kind::Iban
                | Kind::IpAddress
                | Kind::AbaRouting
                | Kind::Npi
                | Kind::BankAccount
                | Kind::UsPassport
                | Kind::UsDriverLicense
                | Kind::MedicalRecordNumber
                | Kind::CryptoWallet
                | Kind::DateOfBirth
        )
    });
    let urls = Overlaps::of(&found, |k| k == Kind::UrlCredentials);
    found.retain(|m| match m.kind {
        Kind::Secret => !specific.any(m.start, m.end),
        Kind::Phone => !numbers.any(m.start, m.end),
        Kind::Email => !urls.any(m.start, m.end),
        _ => true,
    });
    found.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.end.cmp(&b.end))
            .then(a.kind.cmp(&b.kind))
    });
    out.extend(found);
}

/// Intervals sorted by start, with the running maximum of their ends, to
/// answer "does anything overlap `s..e`" in `O(log n)`.
struct Overlaps {
    starts: Vec<usize>,
    max_end: Vec<usize>,
}

impl Overlaps {
    fn of(sorted: &[Match], pick: impl Fn(Kind) -> bool) -> Overlaps {
        let mut starts = Vec::new();
        let mut max_end = Vec::new();
        for m in sorted.iter().filter(|m| pick(m.kind)) {
            starts.push(m.start);
            max_end.push(max_end.last().copied().unwrap_or(0).max(m.end));
        }
        Overlaps { starts, max_end }
    }

    fn any(&self, s: usize, e: usize) -> bool {
        let n = self.starts.partition_point(|&x| x < e);
        n > 0 && self.max_end[n - 1] > s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: Kind, start: usize, end: usize) -> Match {
        Match { kind, start, end }
    }

    #[test]
    fn merges() {
        let text = "x".repeat(100);
        let found = vec![
            m(Kind::Secret, 10, 20),
            m(Kind::ApiKey, 5, 30),
            m(Kind::Phone, 40, 50),
            m(Kind::CreditCard, 38, 55),
            m(Kind::Jwt, 60, 70),
            m(Kind::Jwt, 62, 68),
            m(Kind::Email, 80, 90),
            m(Kind::Email, 80, 90),
            m(Kind::Secret, 95, 99),
        ];
        let mut out = vec![m(Kind::Iban, 0, 1)];
        finish(&text, found, &mut out);
        assert_eq!(
            out,
            vec![
                m(Kind::Iban, 0, 1),
                m(Kind::ApiKey, 5, 30),
                m(Kind::CreditCard, 38, 55),
                m(Kind::Jwt, 60, 70),
                m(Kind::Email, 80, 90),
                m(Kind::Secret, 95, 99),
            ]
        );
    }

    #[test]
    fn drops_offsets_off_char_boundaries() {
        let mut out = Vec::new();
        finish(
            "é",
            vec![m(Kind::Email, 0, 1), m(Kind::Email, 0, 2)],
            &mut out,
        );
        assert_eq!(out, vec![m(Kind::Email, 0, 2)]);
    }
}
