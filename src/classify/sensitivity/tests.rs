//! Cross-detector tests: the public API, ordering and de-duplication, and
//! the "never panics, offsets always on char boundaries" property over
//! random and adversarial input.
//!
//! Must not: time anything or read files.

use std::sync::OnceLock;

use super::*;

/// One scanner for all tests (building it is the slow part in debug builds).
pub(super) fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

fn scan(text: &str) -> Vec<Match> {
    let mut out = Vec::new();
    scanner().scan(text, &mut out);
    out
}

/// The substrings of `text` found as `kind`, in order.
pub(super) fn spans(text: &str, kind: Kind) -> Vec<&str> {
    scan(text)
        .into_iter()
        .filter(|m| m.kind == kind)
        .map(|m| &text[m.start..m.end])
        .collect()
}

/// The byte spans of `text` found as `kind`, in order.
pub(super) fn offsets(text: &str, kind: Kind) -> Vec<(usize, usize)> {
    scan(text)
        .into_iter()
        .filter(|m| m.kind == kind)
        .map(|m| (m.start, m.end))
        .collect()
}

#[test]
fn kind_and_category_names() {
    let names: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "email",
            "phone",
            "credit_card",
            "us_ssn",
            "iban",
            "api_key",
            "secret",
            "private_key",
            "jwt",
            "url_credentials",
            "ip_address",
            "us_driver_license",
            "us_passport",
            "bank_account",
            "aba_routing",
            "npi",
            "date_of_birth",
            "medical_record_number",
            "crypto_wallet",
            "person",
            "street_address",
            "legal_privilege",
            "proprietary_code",
            "medical_term"
        ]
    );
    let cat = |k: Kind| k.category();
    for k in [
        Kind::IpAddress,
        Kind::UsDriverLicense,
        Kind::UsPassport,
        Kind::DateOfBirth,
    ] {
        assert_eq!(cat(k), Category::Pii, "{k:?}");
    }
    for k in [Kind::BankAccount, Kind::AbaRouting, Kind::CryptoWallet] {
        assert_eq!(cat(k), Category::Financial, "{k:?}");
    }
    for k in [Kind::Npi, Kind::MedicalRecordNumber, Kind::MedicalTerm] {
        assert_eq!(cat(k), Category::Phi, "{k:?}");
    }
    assert_eq!(Kind::LegalPrivilege.category(), Category::Legal);
    assert_eq!(Kind::ProprietaryCode.category(), Category::Code);
    assert_eq!(Kind::Email.category(), Category::Pii);
    assert_eq!(Kind::UsSsn.category(), Category::Pii);
    assert_eq!(Kind::Iban.category(), Category::Financial);
    assert_eq!(Kind::Jwt.category(), Category::Secret);
    let cats: Vec<_> = Category::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        cats,
        [
            "pii",
            "phi",
            "financial",
            "secret",
            "code",
            "legal",
            "custom"
        ]
    );
}

#[test]
fn scanner_is_send_sync_and_default() {
    fn check<T: Send + Sync + Default>() {}
    check::<Scanner>();
}

#[test]
fn mixed_text_sorted_and_exact() {
    let text = "Hi, I'm Zoë. Mail zoe@example.org or call (415) 555-0132.\n\
                Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00.\n\
                export OPENAI_API_KEY=sk-proj-SevzWEV_NmNnMndQ5gn6PjFcX_9ay5SEK\n\
                db: postgres://app:s3cr3t@db.internal/app";
    let got: Vec<_> = scan(text)
        .iter()
        .map(|m| (m.kind, &text[m.start..m.end]))
        .collect();
    assert_eq!(
        got,
        vec![
            (Kind::Person, "Zoë"),
            (Kind::Email, "zoe@example.org"),
            (Kind::Phone, "(415) 555-0132"),
            (Kind::CreditCard, "4111 1111 1111 1111"),
            (Kind::Iban, "DE89 3704 0044 0532 0130 00"),
            (Kind::ApiKey, "sk-proj-SevzWEV_NmNnMndQ5gn6PjFcX_9ay5SEK"),
            (Kind::UrlCredentials, "postgres://app:s3cr3t@db.internal"),
        ]
    );
}

#[test]
fn appends_without_touching_earlier_findings() {
    let mut out = vec![Match {
        kind: Kind::Jwt,
        start: 100,
        end: 200,
    }];
    scanner().scan("mail a@b.io", &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].start, 100);
    assert_eq!(
        out[1],
        Match {
            kind: Kind::Email,
            start: 5,
            end: 11
        }
    );
}

#[test]
fn weak_identifiers_with_context_in_one_text() {
    let text = "Patient Zoë, DOB: 03/14/1985, MRN 00482913, NPI 1234567893.\n\
                Server 10.0.12.7 and fe80::1ff:fe23:4567:890a saw her log in.\n\
                Driver's license F162823540116; passport no. C03005988.\n\
                Wire to routing number 021000021, account no. 12345678901.\n\
                BTC 1BoatSLRHtKNngkdXEeobR76b53LETtpyT, ETH wallet \
                0x52908400098527886E0F7030069857D2E4169EE7.";
    let got: Vec<_> = scan(text)
        .iter()
        .map(|m| (m.kind, &text[m.start..m.end]))
        .collect();
    assert_eq!(
        got,
        vec![
            // The capitalised cue word stays out of the span.
            (Kind::Person, "Zoë"),
            (Kind::DateOfBirth, "03/14/1985"),
            (Kind::MedicalRecordNumber, "00482913"),
            (Kind::Npi, "1234567893"),
            (Kind::IpAddress, "10.0.12.7"),
            (Kind::IpAddress, "fe80::1ff:fe23:4567:890a"),
            (Kind::UsDriverLicense, "F162823540116"),
            (Kind::UsPassport, "C03005988"),
            (Kind::AbaRouting, "021000021"),
            (Kind::BankAccount, "12345678901"),
            (Kind::CryptoWallet, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
            (
                Kind::CryptoWallet,
                "0x52908400098527886E0F7030069857D2E4169EE7"
            ),
        ]
    );
}

#[test]
fn clean_text_finds_nothing() {
    let text = "The mitochondria is the powerhouse of the cell. In 1905, Einstein \
                published 4 papers; version 1.2.3 shipped on 2024-01-15 at 10:30. \
                Order #12345 costs $1,234.56. See section 3.4.1 and fn main() {}.";
    assert_eq!(scan(text), vec![]);
}

/// A small deterministic generator (xorshift64*), so the test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "0",
    "1",
    "4",
    "9",
    "12",
    "415",
    "555",
    "0132",
    "4111",
    " ",
    "-",
    ".",
    "(",
    ")",
    "/",
    "+",
    ",",
    ":",
    "@",
    "=",
    "\"",
    "'",
    "`",
    "\n",
    "\\n",
    "x",
    "X",
    "a",
    "Z",
    "é",
    "中",
    "😀",
    "\u{a0}",
    "\u{200b}",
    "sk-",
    "AKIA",
    "eyJ",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "-----END",
    "://",
    "u:p@h",
    "password",
    "=\"",
    "token: ",
    "Bearer ",
    "GB82",
    "DE89",
    "ssn ",
    "phone ",
    "card ",
    "xoxb-",
    "ghp_",
    "-us1",
    "Q~",
    "|",
    ".atlasv1.",
    ":AA",
    "ext",
    "PuTTY-User-Key-File-",
    "Private-MAC:",
    "<key>",
    "</key>",
    "value=",
    "-u ",
    "hf_",
    "AAAA",
    "abc123XYZ",
    "==",
    "kind: Secret\n",
    "data:\n",
    "  k: ",
    "---\n",
    "|\n",
    "\t",
    "string ",
    "__CONTRIBSYS__COM",
    "DOB ",
    "born on ",
    "March ",
    "passport no ",
    "driver's license ",
    "MRN ",
    "NPI ",
    "routing ",
    "account ",
    "wallet ",
    "bc1q",
    "0x",
    "::",
    "1.2.3.4",
    "fe80",
    "a/c",
    "1Boat",
    "021000021",
    "1234567893",
];

fn check_invariants(text: &str) {
    let found = scan(text);
    for m in &found {
        assert!(m.start < m.end && m.end <= text.len(), "{m:?} in {text:?}");
        assert!(
            text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
            "{m:?} in {text:?}"
        );
    }
    for w in found.windows(2) {
        assert!(w[0].start <= w[1].start, "unsorted in {text:?}");
        assert!(w[0] != w[1], "duplicate in {text:?}");
    }
}

#[test]
fn never_panics_on_random_pieces() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..rng.below(80) {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
        check_invariants(&text);
    }
}

#[test]
fn never_panics_on_random_bytes() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => b"0123456789 -.()+@:/"[rng.below(19)],
                1 => (rng.next() & 0xff) as u8,
                _ => b'!' + (rng.next() % 94) as u8,
            })
            .collect();
        check_invariants(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn adversarial_repetition_stays_correct() {
    for piece in [
        "kind: Secret\ndata:\n  a: |\n",
        "-----BEGIN RSA PRIVATE KEY-----",
        "PuTTY-User-Key-File-2",
        "1 ",
        "a@",
        "eyJ",
        "sk-a1",
        "key=",
        "9",
        "DOB 1",
        "account ",
        "routing 1 ",
        "1:",
        "::",
        "1.",
        "bc1",
        "0x",
        "13",
    ] {
        check_invariants(&piece.repeat(2000));
    }
    for piece in ["key=", "sk-", "password: x", "-u a"] {
        check_invariants(&piece.repeat(30_000));
    }
    let long_key = format!("-----BEGIN PRIVATE KEY-----\n{}", "A".repeat(100_000));
    check_invariants(&long_key);
}

#[test]
fn eponyms_in_disease_names_are_not_people() {
    let text = "Early Parkinson disease was found, said Mary Hodgkin.";
    let found = scan(text);
    let people: Vec<&str> = found
        .iter()
        .filter(|m| m.kind == Kind::Person)
        .map(|m| &text[m.start..m.end])
        .collect();
    assert!(
        !people.iter().any(|p| p.contains("Parkinson")),
        "{people:?}"
    );
    assert!(people.contains(&"Mary Hodgkin"), "{people:?}");
}

#[test]
fn has_digit_sees_a_digit_in_any_block_or_the_tail() {
    assert!(!super::has_digit(b""));
    assert!(!super::has_digit(
        "no digits here, just words / and :;".repeat(9).as_bytes()
    ));
    for len in [1, 63, 64, 65, 200] {
        for at in [0, len / 2, len - 1] {
            let mut b = vec![b'x'; len];
            b[at] = b'7';
            assert!(super::has_digit(&b), "len {len} at {at}");
            // The bytes around '0'..='9' are not digits.
            b[at] = b'/';
            assert!(!super::has_digit(&b));
            b[at] = b':';
            assert!(!super::has_digit(&b));
        }
    }
}
