//! Sensitivity detection: finds personal data, financial identifiers and
//! credentials in prompt text, in process, in microseconds, so the gateway
//! can keep a request local. It fails closed: checksummed and known shapes
//! count alone, weak shapes count when a context word is near, and a
//! doubtful case is reported rather than dropped (a false positive only
//! keeps a request local; a miss leaks it).
//!
//! How a scan runs: one Aho-Corasick pass finds every literal that can start
//! a secret and every context word of a weak identifier (`triggers`,
//! `anchors`); one byte pass splits digits into chunks for the card, SSN,
//! IPv4 and phone detectors and marks where wallet addresses may start
//! (`numeric`); the weak identifiers (licences, passports, accounts,
//! routing numbers, NPIs, dates of birth, record numbers) are read only
//! next to their context words; e-mail, IPv6 and IBAN candidates are found
//! by their `@`, `:` and `LLdd` anchors. Only candidates run a regex or a
//! validator, so clean text costs a few linear passes.
//!
//! Must not: log, store or copy the text; allocate per byte; panic on any
//! input; or report offsets that are not char boundaries of the text.

mod aba_routing;
mod anchors;
mod api_key;
mod api_key_rules;
mod bank_account;
mod card;
mod code;
mod crypto_wallet;
mod curl_user;
mod date_of_birth;
mod driver_license;
mod email;
mod iban;
mod ip_address;
mod jwt;
mod k8s_secret;
mod legal;
mod medical;
mod medical_record;
mod merge;
pub mod names;
mod npi;
mod numeric;
mod passport;
mod phone;
mod private_key;
mod secret;
mod secret_name;
mod secret_value;
mod ssn;
mod text;
mod triggers;
mod url_credentials;

#[cfg(test)]
mod tests;

use anchors::{Anchors, Family};
use text::{Context, ceil_boundary, floor_boundary};
use triggers::{Hit, Trigger, Triggers};

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Email,
    Phone,
    CreditCard,
    UsSsn,
    Iban,
    ApiKey,
    Secret,
    PrivateKey,
    Jwt,
    UrlCredentials,
    IpAddress,
    UsDriverLicense,
    UsPassport,
    BankAccount,
    AbaRouting,
    Npi,
    DateOfBirth,
    MedicalRecordNumber,
    CryptoWallet,
    Person,
    StreetAddress,
    LegalPrivilege,
    ProprietaryCode,
    MedicalTerm,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 24] = [
        Kind::Email,
        Kind::Phone,
        Kind::CreditCard,
        Kind::UsSsn,
        Kind::Iban,
        Kind::ApiKey,
        Kind::Secret,
        Kind::PrivateKey,
        Kind::Jwt,
        Kind::UrlCredentials,
        Kind::IpAddress,
        Kind::UsDriverLicense,
        Kind::UsPassport,
        Kind::BankAccount,
        Kind::AbaRouting,
        Kind::Npi,
        Kind::DateOfBirth,
        Kind::MedicalRecordNumber,
        Kind::CryptoWallet,
        Kind::Person,
        Kind::StreetAddress,
        Kind::LegalPrivilege,
        Kind::ProprietaryCode,
        Kind::MedicalTerm,
    ];

    /// Stable snake_case name (for config, audit and metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::CreditCard => "credit_card",
            Kind::UsSsn => "us_ssn",
            Kind::Iban => "iban",
            Kind::ApiKey => "api_key",
            Kind::Secret => "secret",
            Kind::PrivateKey => "private_key",
            Kind::Jwt => "jwt",
            Kind::UrlCredentials => "url_credentials",
            Kind::IpAddress => "ip_address",
            Kind::UsDriverLicense => "us_driver_license",
            Kind::UsPassport => "us_passport",
            Kind::BankAccount => "bank_account",
            Kind::AbaRouting => "aba_routing",
            Kind::Npi => "npi",
            Kind::DateOfBirth => "date_of_birth",
            Kind::MedicalRecordNumber => "medical_record_number",
            Kind::CryptoWallet => "crypto_wallet",
            Kind::Person => "person",
            Kind::StreetAddress => "street_address",
            Kind::LegalPrivilege => "legal_privilege",
            Kind::ProprietaryCode => "proprietary_code",
            Kind::MedicalTerm => "medical_term",
        }
    }

    /// The policy category this kind falls under.
    pub fn category(self) -> Category {
        match self {
            Kind::Email
            | Kind::Phone
            | Kind::UsSsn
            | Kind::IpAddress
            | Kind::UsDriverLicense
            | Kind::UsPassport
            | Kind::DateOfBirth
            | Kind::Person
            | Kind::StreetAddress => Category::Pii,
            Kind::CreditCard
            | Kind::Iban
            | Kind::BankAccount
            | Kind::AbaRouting
            | Kind::CryptoWallet => Category::Financial,
            Kind::Npi | Kind::MedicalRecordNumber | Kind::MedicalTerm => Category::Phi,
            Kind::LegalPrivilege => Category::Legal,
            Kind::ProprietaryCode => Category::Code,
            Kind::ApiKey | Kind::Secret | Kind::PrivateKey | Kind::Jwt | Kind::UrlCredentials => {
                Category::Secret
            }
        }
    }
}

impl Kind {
    /// Whether replacing a finding's span with a placeholder removes what
    /// makes the text sensitive. A privilege or code marker only points at
    /// content that stays; a medical term is sensitive only next to an
    /// identifier, and redaction removes the identifiers instead.
    pub fn redactable(self) -> bool {
        !matches!(
            self,
            Kind::LegalPrivilege | Kind::ProprietaryCode | Kind::MedicalTerm
        )
    }

    /// Whether a finding of this kind can identify a person (the HIPAA
    /// identifiers: names, addresses, dates of birth, contact details,
    /// government and account numbers, record numbers), so that medical
    /// vocabulary in the same request makes it PHI.
    pub fn identifies_person(self) -> bool {
        match self.category() {
            Category::Pii => true,
            Category::Financial => self != Kind::AbaRouting,
            Category::Phi => self == Kind::MedicalRecordNumber,
            Category::Secret | Category::Code | Category::Legal | Category::Custom => false,
        }
    }
}

/// Policy categories. Every one but `Custom` has built-in detectors here;
/// operators' custom detectors may name any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Pii,
    Phi,
    Financial,
    Secret,
    Code,
    Legal,
    Custom,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 7] = [
        Category::Pii,
        Category::Phi,
        Category::Financial,
        Category::Secret,
        Category::Code,
        Category::Legal,
        Category::Custom,
    ];

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Phi => "phi",
            Category::Financial => "financial",
            Category::Secret => "secret",
            Category::Code => "code",
            Category::Legal => "legal",
            Category::Custom => "custom",
        }
    }
}

/// One finding: `text[start..end]` (byte offsets on char boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// What a scanner detects beyond the built-in detectors.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Person names and street addresses.
    pub names: bool,
    /// Operator markers of proprietary code (`[detectors] code_markers`).
    pub code_markers: Vec<String>,
}

/// Bytes read before and after a person's name for a disease it names.
const EPONYM_BEFORE: usize = 24;
const EPONYM_AFTER: usize = 48;

/// All detectors, compiled once. `Send + Sync`; share it through an `Arc`.
pub struct Scanner {
    triggers: Triggers,
    api_keys: api_key::ApiKeys,
    jwt: jwt::Jwt,
    legal: legal::Legal,
    medical: medical::MedicalTerms,
    card_context: Context,
    ssn_context: Context,
    phone_context: Context,
    /// Person names and street addresses: `None` when turned off.
    names: Option<names::NameDetector>,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner::new()
    }
}

impl Scanner {
    /// Every built-in detector, names included, and no operator markers.
    /// Compiling costs a few milliseconds; do it once at start-up.
    pub fn new() -> Scanner {
        Scanner::with_options(&Options {
            names: true,
            ..Options::default()
        })
    }

    /// Every built-in detector but person names and street addresses.
    pub fn without_names() -> Scanner {
        Scanner::with_options(&Options::default())
    }

    pub fn with_options(options: &Options) -> Scanner {
        Scanner {
            triggers: Triggers::new(&options.code_markers),
            api_keys: api_key::ApiKeys::new(),
            jwt: jwt::Jwt::new(),
            legal: legal::Legal::new(),
            medical: medical::MedicalTerms::new(),
            card_context: Context::new(card::CONTEXT_WORDS),
            ssn_context: Context::new(ssn::CONTEXT_WORDS),
            phone_context: Context::new(phone::CONTEXT_WORDS),
            names: options.names.then(names::NameDetector::new),
        }
    }

    /// Appends the findings for `text` to `out`: sorted by start, no two
    /// with the same span and kind. Findings already in `out` are kept.
    pub fn scan(&self, text: &str, out: &mut Vec<Match>) {
        let mut found = Vec::new();
        let mut hits = Vec::new();
        self.triggers.find(text, &mut hits);
        let mut anchors = Anchors::default();
        self.scan_literals(text, &hits, &mut anchors, &mut found);
        let b = text.as_bytes();
        if has_digit(b) {
            anchors.finish();
            scan_anchored(text, &anchors, &mut found);
            self.scan_numbers(text, &anchors, &mut found);
            iban::detect(text, &mut found);
        }
        if memchr::memchr(b'@', b).is_some() {
            email::detect(text, &mut found);
        }
        if memchr::memchr(b':', b).is_some() {
            ip_address::detect_v6(text, &mut found);
        }
        let mut spans = Vec::new();
        if let Some(names) = &self.names {
            names.detect(text, &mut spans);
            self.drop_eponyms(text, &mut spans);
        }
        found.extend(spans.into_iter().map(|(start, end, kind)| Match {
            kind: match kind {
                names::NameKind::Person => Kind::Person,
                names::NameKind::StreetAddress => Kind::StreetAddress,
            },
            start,
            end,
        }));
        merge::finish(text, found, out);
    }

    /// Appends the medical vocabulary in `text` (`medical_term` findings,
    /// sorted, not overlapping). Separate from `scan`: a medical term only
    /// matters next to something that identifies a person, so a caller
    /// runs this only when `scan` found such a thing.
    pub fn scan_medical(&self, text: &str, out: &mut Vec<Match>) {
        let mut terms = Vec::new();
        self.medical.detect(text, &mut terms);
        out.extend(terms.into_iter().map(|(start, end)| Match {
            kind: Kind::MedicalTerm,
            start,
            end,
        }));
    }

    /// Drops the "people" that are part of a disease's name ("Early
    /// Parkinson" in "Early Parkinson disease"): the medical vocabulary is
    /// read around each person only, from the word start a few bytes
    /// before it to the word end a few bytes after.
    fn drop_eponyms(&self, text: &str, spans: &mut Vec<(usize, usize, names::NameKind)>) {
        let b = text.as_bytes();
        let mut terms = Vec::new();
        spans.retain(|&(start, end, kind)| {
            if kind != names::NameKind::Person {
                return true;
            }
            let mut a = floor_boundary(text, start.saturating_sub(EPONYM_BEFORE));
            while a > 0 && b[a - 1].is_ascii_alphanumeric() {
                a -= 1;
            }
            let mut z = ceil_boundary(text, end + EPONYM_AFTER);
            while z < b.len() && b[z].is_ascii_alphanumeric() {
                z += 1;
            }
            terms.clear();
            self.medical.detect(&text[a..z], &mut terms);
            !terms.iter().any(|&(s, e)| a + s < end && start < a + e)
        });
    }

    fn scan_literals(
        &self,
        text: &str,
        hits: &[Hit],
        anchors: &mut Anchors,
        found: &mut Vec<Match>,
    ) {
        if hits.is_empty() {
            return;
        }
        let mut api_state = api_key::State::default();
        let mut secret_state = secret::State::default();
        let mut k8s_state = k8s_secret::State::default();
        let mut caches = private_key::Caches::default();
        let mut key_end = 0;
        let mut is_code = None;
        for h in hits {
            match h.trigger {
                Trigger::Rule(i) => {
                    self.api_keys
                        .check(i, text, (h.start, h.end), &mut api_state, found)
                }
                Trigger::Keyword => {
                    secret::check_keyword(text, h.start, h.end, &mut secret_state, found)
                }
                Trigger::Context(i) => anchors.push(text, i, h.start, h.end),
                Trigger::Curl => curl_user::check(text, h.start, h.end, found),
                Trigger::K8sData => k8s_secret::check(text, h.start, h.end, &mut k8s_state, found),
                Trigger::Jwt => self.jwt.check(text, h.start, found),
                Trigger::Url => url_credentials::check(text, h.start, found),
                Trigger::Legal => self.legal.check(text, h.start, h.end, found),
                Trigger::CodeMarker => code::check(text, h.start, h.end, &mut is_code, found),
                Trigger::Pem | Trigger::Putty if h.start < key_end => {}
                Trigger::Pem => private_key::check_pem(text, h.start, &mut caches, found),
                Trigger::Putty => private_key::check_putty(text, h.start, &mut caches, found),
            }
            if matches!(h.trigger, Trigger::Pem | Trigger::Putty)
                && let Some(m) = found.last().filter(|m| m.kind == Kind::PrivateKey)
            {
                key_end = key_end.max(m.end);
            }
        }
    }

    fn scan_numbers(&self, text: &str, anchors: &Anchors, found: &mut Vec<Match>) {
        let (mut groups, mut chunks) = (Vec::new(), Vec::new());
        numeric::tokenize(text.as_bytes(), &mut groups, &mut chunks);
        let mut claimed = Vec::new();
        for chunk in &chunks {
            claimed.clear();
            claimed.resize(chunk.groups.len(), false);
            card::detect(
                text,
                &groups,
                chunk,
                &mut claimed,
                &self.card_context,
                found,
            );
            ssn::detect(text, &groups, chunk, &mut claimed, &self.ssn_context, found);
            ip_address::detect_v4(text, &groups, chunk, &mut claimed, found);
            phone::detect(text, &groups, chunk, &claimed, &self.phone_context, found);
        }
        crypto_wallet::detect(text, &groups, anchors, found);
    }
}

/// Whether `b` holds an ASCII digit. Blocks of 64 bytes are tested whole,
/// which the compiler turns into vector compares (a plain `any` stops at
/// each byte and cannot be).
fn has_digit(b: &[u8]) -> bool {
    let mut blocks = b.chunks_exact(64);
    let digit = |c: &[u8]| {
        c.iter()
            .fold(false, |a, &x| a | (x.wrapping_sub(b'0') < 10))
    };
    blocks.any(digit) || digit(blocks.remainder())
}

/// Runs the weak-identifier detectors next to each of their context words.
fn scan_anchored(text: &str, anchors: &Anchors, found: &mut Vec<Match>) {
    for a in anchors.iter() {
        match a.family {
            Family::DriverLicense => driver_license::check(text, a, found),
            Family::Passport => passport::check(text, a, found),
            Family::BankAccount => bank_account::check(text, a, found),
            Family::Routing => aba_routing::check(text, a, found),
            Family::Npi => npi::check(text, a, found),
            Family::Birth => date_of_birth::check(text, a, found),
            Family::MedicalRecord => medical_record::check(text, a, found),
            // Wallet words only confirm candidates (`crypto_wallet`).
            Family::Wallet => {}
        }
    }
}
