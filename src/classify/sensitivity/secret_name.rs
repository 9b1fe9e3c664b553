//! Judges a name: does `ident` (an identifier, header or key around a
//! secret keyword) name a secret, and is it a password? Its last word, after
//! harmless suffixes (`_hash`, `_prod`, `2`), must be a secret word, so
//! `token_url`, `key_id`, `passwordVariable`, `DomTokenList` and `bypass`
//! are not secret names, while `API_KEY`, `dbPassword`, `x-auth-token` are.
//!
//! Must not: look at the value or at anything outside the name.

use super::secret_value::Class;
use super::text::eq_any;

/// Last words that make a name secret-sounding, also as the end of a
/// compound (`apikey`, `accesstoken`, `dbpwd`).
#[rustfmt::skip]
const SECRET_ENDINGS: &[&str] = &[
    "key", "keys", "token", "tokens", "secret", "secrets", "password", "passwords", "passwd",
    "passphrase", "pwd", "credential", "credentials", "creds", "authorization", "bearer", "cookie",
];
/// Last words that count only whole (`DB_PASS`, not `bypass`).
const SECRET_WORDS: &[&str] = &["pass", "pw", "auth", "pat", "cred"];
/// Endings that make it a password (lower bar for the value).
#[rustfmt::skip]
const PASSWORD_ENDINGS: &[&str] = &["password", "passwords", "passwd", "passphrase", "pwd"];
/// Words that may follow the secret word (`password_hash`, `API_KEY_PROD`).
#[rustfmt::skip]
const SUFFIXES: &[&str] = &[
    "value", "val", "str", "string", "hash", "hashed", "b64", "base64", "hex", "enc", "encrypted",
    "raw", "plain", "text", "base", "confirm", "confirmation", "again", "repeat", "prod",
    "production", "dev", "staging", "test", "live",
];
fn ends_any(word: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| {
        word.len() >= w.len() && word[word.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes())
    })
}

/// Splits a name into words at `_ - .` and lower-to-upper case changes.
fn words(ident: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..=ident.len() {
        let split = i == ident.len()
            || !ident[i].is_ascii_alphanumeric()
            || (i > start && ident[i].is_ascii_uppercase() && ident[i - 1].is_ascii_lowercase());
        if split {
            if i > start {
                out.push(&ident[start..i]);
            }
            start = if i < ident.len() && !ident[i].is_ascii_alphanumeric() {
                i + 1
            } else {
                i
            };
        }
    }
    out
}

/// `key2` -> `key`.
fn trim_digits(w: &[u8]) -> &[u8] {
    let n = w.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    &w[..w.len() - n]
}

/// How a name's value is judged, or `None` if the name holds no secret: its
/// last word (after suffixes such as `_hash`, `_prod`) must be a secret
/// word, so `token_url`, `key_id`, `passwordVariable` and `bypass` are not.
pub(super) fn classify(ident: &[u8]) -> Option<Class> {
    let ws = words(ident);
    let mut n = ws.len();
    while n > 1 && eq_any(trim_digits(ws[n - 1]), SUFFIXES) {
        n -= 1;
    }
    let last = trim_digits(ws.get(..n)?.last()?);
    let public = |w: &&[u8]| w.len() >= 3 && w[..3].eq_ignore_ascii_case(b"pub");
    if ws.iter().any(public) || !(ends_any(last, SECRET_ENDINGS) || eq_any(last, SECRET_WORDS)) {
        return None;
    }
    if ends_any(last, PASSWORD_ENDINGS) || eq_any(last, &["pass", "pw"]) {
        Some(Class::Password)
    } else {
        Some(Class::Generic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(words(b"oktaApiToken"), vec![&b"okta"[..], b"Api", b"Token"]);
        assert_eq!(
            words(b"--db_PASSWORD.x"),
            vec![&b"db"[..], b"PASSWORD", b"x"]
        );
        assert_eq!(classify(b"DB_PASSWORD"), Some(Class::Password));
        assert_eq!(classify(b"hubspotKey"), Some(Class::Generic));
        assert_eq!(classify(b"kms_key_id"), None);
        assert_eq!(classify(b"public_key"), None);
        assert_eq!(classify(b"keyboard"), None);
        assert_eq!(classify(b"author"), None);
        assert_eq!(classify(b"passwordVariable"), None);
        assert_eq!(classify(b"IFLA_VXLAN_LOCALBYPASS"), None);
        assert_eq!(classify(b"token_url"), None);
        assert_eq!(classify(b"DB_PASS"), Some(Class::Password));
        assert_eq!(classify(b"password_hash"), Some(Class::Password));
        assert_eq!(classify(b"API_KEY_PROD"), Some(Class::Generic));
        assert_eq!(classify(b"apiKey2"), Some(Class::Generic));
    }
}
