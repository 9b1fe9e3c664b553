//! Context words for the weak identifiers (driver's licences, passports,
//! bank accounts, routing numbers, NPIs, dates of birth, medical record
//! numbers, Ethereum addresses). They are literals of the one keyword pass
//! (`triggers`), so finding them costs nothing extra; this module keeps the
//! ones that stand at a word start, and offers the two ways a detector
//! reads them: "is a word of this family near this span" and "which token
//! follows (or precedes) this word".
//!
//! Must not: decide whether a token is an identifier (each detector checks
//! its own shape), or look further than a fixed window from a word.

use super::text::is_escape_letter;

/// Which detector a context word serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    DriverLicense,
    Passport,
    BankAccount,
    Routing,
    Npi,
    Birth,
    MedicalRecord,
    Wallet,
}

/// `(literal, family, whole)`: matched ASCII-case-insensitively; it must
/// start at a word start, and with `whole` no letter may follow it.
#[rustfmt::skip]
pub(super) const WORDS: &[(&str, Family, bool)] = &[
    ("driver's license", Family::DriverLicense, true),
    ("driver's licence", Family::DriverLicense, true),
    ("driver\u{2019}s license", Family::DriverLicense, true),
    ("driver\u{2019}s licence", Family::DriverLicense, true),
    ("drivers license", Family::DriverLicense, true),
    ("drivers licence", Family::DriverLicense, true),
    ("driver license", Family::DriverLicense, true),
    ("driver licence", Family::DriverLicense, true),
    ("driving license", Family::DriverLicense, true),
    ("driving licence", Family::DriverLicense, true),
    ("dl", Family::DriverLicense, true),
    ("dln", Family::DriverLicense, true),
    ("passport", Family::Passport, false),
    ("account", Family::BankAccount, true),
    ("acct", Family::BankAccount, true),
    ("a/c", Family::BankAccount, true),
    ("routing", Family::Routing, true),
    ("aba", Family::Routing, true),
    ("rtn", Family::Routing, true),
    ("transit number", Family::Routing, true),
    ("npi", Family::Npi, true),
    ("national provider", Family::Npi, true),
    ("birth", Family::Birth, false),
    ("born", Family::Birth, true),
    ("dob", Family::Birth, true),
    ("d.o.b", Family::Birth, false),
    ("bday", Family::Birth, true),
    ("mrn", Family::MedicalRecord, true),
    ("medical record", Family::MedicalRecord, false),
    ("med rec", Family::MedicalRecord, false),
    ("health record", Family::MedicalRecord, false),
    ("patient id", Family::MedicalRecord, true),
    ("patient number", Family::MedicalRecord, true),
    ("patient no", Family::MedicalRecord, true),
    ("chart number", Family::MedicalRecord, true),
    ("wallet", Family::Wallet, false),
    ("eth", Family::Wallet, true),
    ("ether", Family::Wallet, true),
    ("ethereum", Family::Wallet, true),
    ("address", Family::Wallet, false),
    ("metamask", Family::Wallet, true),
    ("erc20", Family::Wallet, true),
    ("erc-20", Family::Wallet, true),
    ("crypto", Family::Wallet, false),
];

/// Bytes before a span searched for a family's word by [`Anchors::near`].
const NEAR_BEFORE: usize = 64;
/// Bytes after a span searched by [`Anchors::near`].
const NEAR_AFTER: usize = 32;

/// One context word found in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Anchor {
    pub family: Family,
    pub start: usize,
    pub end: usize,
}

/// The context words of one text, sorted by start.
#[derive(Debug, Default)]
pub(super) struct Anchors {
    list: Vec<Anchor>,
}

impl Anchors {
    /// Records the word `WORDS[index]` found at `start..end` if it stands at
    /// a word start (and, for whole words, no letter follows).
    pub(super) fn push(&mut self, text: &str, index: usize, start: usize, end: usize) {
        let Some(&(_, family, whole)) = WORDS.get(index) else {
            return;
        };
        let b = text.as_bytes();
        let left_ok =
            start == 0 || !b[start - 1].is_ascii_alphanumeric() || is_escape_letter(b, start - 1);
        let right_ok = !whole || !b.get(end).is_some_and(u8::is_ascii_alphabetic);
        if left_ok && right_ok {
            self.list.push(Anchor { family, start, end });
        }
    }

    /// Sorts the words by start; call once after the last `push`.
    pub(super) fn finish(&mut self) {
        self.list.sort_unstable_by_key(|a| (a.start, a.end));
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Anchor> {
        self.list.iter()
    }

    /// Whether a word of `family` lies within 64 bytes before or 32 bytes
    /// after `start..end`.
    pub(super) fn near(&self, family: Family, start: usize, end: usize) -> bool {
        let lo = start.saturating_sub(NEAR_BEFORE);
        let hi = end.saturating_add(NEAR_AFTER);
        // Words are short (< 32 bytes): one starting before `lo - 32` ends before `lo`.
        let first = self
            .list
            .partition_point(|a| a.start < lo.saturating_sub(32));
        self.list[first..]
            .iter()
            .take_while(|a| a.start < hi)
            .any(|a| a.family == family && a.end > lo)
    }
}

/// Words that may stand between a context word and its identifier
/// (`passport number is ...`, `MRN of the patient: ...`).
#[rustfmt::skip]
const FILLER: &[&str] = &[
    "number", "numbers", "num", "no", "nr", "nbr", "is", "was", "are", "id", "ident",
    "identifier", "identification", "of", "the", "a", "my", "his", "her", "their", "your",
    "our", "patient", "s", "code", "card", "holder", "on", "file", "reads", "as", "be",
    "record", "records", "issued", "bank", "checking", "savings", "us", "u",
];

/// A candidate identifier: a run of ASCII letters and digits, with single
/// `-` joins between them; it holds at least one digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub start: usize,
    pub end: usize,
}

/// Reads the token starting at `i` (an ASCII letter or digit); returns its end.
fn token_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len()
        && (b[j].is_ascii_alphanumeric()
            || (b[j] == b'-' && j > i && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric)))
    {
        j += 1;
    }
    j
}

/// Skips separators (anything but an ASCII letter or digit, and `\n`-style
/// escapes) from `i`; returns the next token start, if within `limit`.
fn skip_separators(b: &[u8], mut i: usize, limit: usize) -> Option<usize> {
    while i < limit {
        match b[i] {
            b'\\' if matches!(b.get(i + 1), Some(b'n' | b'r' | b't')) => i += 2,
            c if c.is_ascii_alphanumeric() => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The first token holding a digit after `from`, reached through filler
/// words only, and starting within `window` bytes. `any_words` lets any
/// word stand in between (used by checksummed identifiers).
pub(super) fn token_after(b: &[u8], from: usize, window: usize, any_words: bool) -> Option<Token> {
    let limit = from.saturating_add(window).min(b.len());
    let mut i = from;
    // A context word may end inside a word (`birth` in `birthday`): finish it.
    while i < b.len() && b[i].is_ascii_alphabetic() {
        i += 1;
    }
    loop {
        let start = skip_separators(b, i, limit)?;
        let end = token_end(b, start);
        let token = &b[start..end];
        if token.iter().any(u8::is_ascii_digit) {
            return Some(Token { start, end });
        }
        if !any_words
            && !FILLER
                .iter()
                .any(|w| token.eq_ignore_ascii_case(w.as_bytes()))
        {
            return None;
        }
        i = end;
    }
}

/// The last token holding a digit that ends within `window` bytes before
/// `before` (any words may stand in between).
pub(super) fn token_before(b: &[u8], before: usize, window: usize) -> Option<Token> {
    let lo = before.saturating_sub(window);
    let mut i = before.min(b.len());
    while i > lo {
        if b[i - 1].is_ascii_digit() {
            let end = i;
            let mut s = i;
            while s > 0
                && (b[s - 1].is_ascii_alphanumeric()
                    || (b[s - 1] == b'-' && s > 1 && b[s - 2].is_ascii_alphanumeric()))
            {
                s -= 1;
            }
            // `\n123` pasted from JSON: the escape letter is not part of the token.
            if s < end && is_escape_letter(b, s) {
                s += 1;
            }
            return Some(Token { start: s, end });
        }
        i -= 1;
    }
    None
}

/// The common rule of the weak, unvalidated identifiers (passport, driver's
/// license, bank account, record number): the first standalone token within
/// `window` bytes after the context word `a`, if `shape_ok` accepts it.
pub(super) fn id_after(
    text: &str,
    a: &Anchor,
    window: usize,
    shape_ok: fn(&[u8]) -> bool,
    kind: super::Kind,
    out: &mut Vec<super::Match>,
) {
    let b = text.as_bytes();
    if let Some(t) = token_after(b, a.end, window, false)
        && standalone(b, t)
        && shape_ok(&b[t.start..t.end])
    {
        out.push(super::Match {
            kind,
            start: t.start,
            end: t.end,
        });
    }
}

/// Whether the token stands alone as an identifier: not part of an amount
/// (`$123`, `1,234`, `12.50`), a date or time (`12/05`, `10:30`), an e-mail
/// or a path.
pub(super) fn standalone(b: &[u8], t: Token) -> bool {
    let before = t.start.checked_sub(1).map(|i| b[i]);
    let before2 = t.start.checked_sub(2).map(|i| b[i]);
    let after = b.get(t.end).copied();
    let after2 = b.get(t.end + 1).copied();
    let digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    let money = matches!(before, Some(b'$'))
        || b[..t.start].ends_with("€".as_bytes())
        || b[..t.start].ends_with("£".as_bytes());
    let glued_left = matches!(before, Some(b'.' | b',' | b'/' | b':' | b'@' | b'_'))
        && digit(before2)
        || matches!(before, Some(b'@' | b'_' | b'/'));
    let glued_right = matches!(after, Some(b'.' | b',' | b'/' | b':')) && digit(after2)
        || matches!(after, Some(b'@' | b'_'));
    !(money || glued_left || glued_right)
}

/// Counts of ASCII digits and letters in `s`.
pub(super) fn digits_letters(s: &[u8]) -> (usize, usize) {
    let digits = s.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = s.iter().filter(|b| b.is_ascii_alphabetic()).count();
    (digits, letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors(text: &str) -> Anchors {
        let mut a = Anchors::default();
        for (i, (w, _, _)) in WORDS.iter().enumerate() {
            let lower = text.to_ascii_lowercase();
            for (at, _) in lower.match_indices(w) {
                a.push(text, i, at, at + w.len());
            }
        }
        a.finish();
        a
    }

    #[test]
    fn words_stand_at_word_starts() {
        let a = anchors("Driver's License: X; stubborn; born; DOBs; DOB; aba; abacus");
        let got: Vec<_> = a.iter().map(|x| (x.family, x.start)).collect();
        assert_eq!(
            got,
            vec![
                (Family::DriverLicense, 0),
                (Family::Birth, 31),
                (Family::Birth, 43),
                (Family::Routing, 48),
            ]
        );
    }

    #[test]
    fn near_window() {
        let a = anchors("send to my wallet: ");
        assert!(a.near(Family::Wallet, 19, 61));
        assert!(!a.near(Family::Birth, 19, 61));
        assert!(!a.near(Family::Wallet, 200, 240));
        let far = format!("wallet{}", " ".repeat(80));
        assert!(!anchors(&far).near(Family::Wallet, 86, 90));
    }

    #[test]
    fn tokens_after_through_filler() {
        let b = b"passport number is: X1234567 ok";
        let t = token_after(b, 8, 48, false).unwrap();
        assert_eq!(&b[t.start..t.end], b"X1234567");
        assert_eq!(
            token_after(b"passport office 123456789", 8, 48, false),
            None
        );
        let t = token_after(b"routing for the wire 021000021", 7, 48, true).unwrap();
        assert_eq!((t.start, t.end), (21, 30));
        assert_eq!(token_after(b"account", 7, 48, false), None);
        let t = token_after(b"birthday: 1-2-1990", 5, 40, false).unwrap();
        assert_eq!((t.start, t.end), (10, 18));
        let t = token_after(b"MRN:\\n00482913", 3, 48, false).unwrap();
        assert_eq!((t.start, t.end), (6, 14));
    }

    #[test]
    fn tokens_before() {
        let b = b"021000021 is the ABA";
        assert_eq!(token_before(b, 17, 32), Some(Token { start: 0, end: 9 }));
        assert_eq!(token_before(b"no digits here ABA", 15, 32), None);
        let b = b"x\\n021000021 aba";
        assert_eq!(token_before(b, 13, 32), Some(Token { start: 3, end: 12 }));
    }

    #[test]
    fn standalone_tokens() {
        let t = |s, e| Token { start: s, end: e };
        assert!(standalone(b"no. 12345678 ok", t(4, 12)));
        assert!(!standalone(b"$12345678", t(1, 9)));
        assert!(!standalone(b"12345678.50", t(0, 8)));
        assert!(!standalone(b"1,12345678", t(2, 10)));
        assert!(!standalone(b"12345678@x.io", t(0, 8)));
        assert!(standalone(b"#12345678.", t(1, 9)));
        assert!(!standalone("€12345678".as_bytes(), t(3, 11)));
    }
}
