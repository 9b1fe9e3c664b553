//! Generic secrets: a value assigned to a secret-sounding name
//! (`password = "..."`, `"api_token": "..."`, `<secret>...</secret>`,
//! `Authorization: Bearer ...`, `--token X`, `password is ...`). The keyword
//! pass reports each keyword; this module reads the name around it and the
//! assignment after it, then hands the value to [`super::secret_value`],
//! which judges it by the name's class (password, generic or auth scheme).
//!
//! Must not: grow its own name or value rules; those live in
//! [`super::secret_name`] and [`super::secret_value`].

use super::secret_name::classify;
use super::secret_value::{Class, accept, value_span};
use super::text::{eq_any, is_word_byte};
use super::{Kind, Match};

/// Keywords the keyword pass looks for (ASCII case ignored).
pub(super) const KEYWORDS: &[&str] = &[
    "key", "token", "secret", "pass", "pwd", "cred", "auth", "bearer", "cookie",
];
/// Scheme words skipped before a credential (`Bearer abc...`).
#[rustfmt::skip]
const SCHEMES: &[&str] = &[
    "bearer", "basic", "token", "bot", "digest", "apikey", "api-key", "api-token", "sso-key",
];
/// Per-scan state: the last name handled, so that the several keywords
/// inside one name (`secret_key`) are handled once, and the end of the last
/// value reported or longer than 64 bytes, so that keywords inside it are
/// not read again (keeps the scan linear on input like `key=key=key=...`).
#[derive(Debug, Default)]
pub(super) struct State {
    last: Option<(usize, usize)>,
    value_end: usize,
}

fn is_ident(b: u8) -> bool {
    is_word_byte(b) || b == b'-' || b == b'.'
}

/// Handles the keyword found at `start..end`.
pub(super) fn check_keyword(
    text: &str,
    start: usize,
    end: usize,
    state: &mut State,
    out: &mut Vec<Match>,
) {
    let b = text.as_bytes();
    let mut l = start;
    while l > 0 && is_ident(b[l - 1]) && start - l < 64 {
        l -= 1;
    }
    let mut r = end;
    while r < b.len() && is_ident(b[r]) && r - end < 64 {
        r += 1;
    }
    if (l > 0 && is_ident(b[l - 1]))
        || (r < b.len() && is_ident(b[r]))
        || state.last == Some((l, r))
        || start < state.value_end
    {
        return;
    }
    state.last = Some((l, r));
    while r > l && matches!(b[r - 1], b'.' | b'-') {
        r -= 1;
    }
    let flag = b[l] == b'-';
    while l < r && matches!(b[l], b'.' | b'-') {
        l += 1;
    }
    let ident = &b[l..r];
    let bearer = ident.eq_ignore_ascii_case(b"bearer");
    let Some(mut class) = (if bearer {
        Some(Class::Scheme)
    } else {
        classify(ident)
    }) else {
        return;
    };
    let Some(mut i) = operator(b, l, r, flag || bearer) else {
        return;
    };
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    if l > 0 && b[l - 1] == b'<' {
        while i < b.len() && b[i].is_ascii_whitespace() && i - r < 64 {
            i += 1;
        }
    }
    let quote = b
        .get(i)
        .copied()
        .filter(|c| matches!(c, b'"' | b'\'' | b'`'));
    if quote.is_some() {
        i += 1;
    }
    if let Some(after) = scheme_end(b, i) {
        i = after;
        class = Class::Scheme;
    }
    let (vs, ve, quoted) = value_span(b, i, quote);
    let value = &b[vs..ve];
    // A bare `key` is usually a map key whose value is a name
    // (`<add key="Password" value="...">`): ask for a digit, and skip it
    // when a `value=` attribute follows.
    let bare_key = eq_any(ident, &["key", "keys"])
        && (!value.iter().any(u8::is_ascii_digit) || value_attribute_follows(b, ve + 1));
    // `Bandpass = "bandpass"`: an enum or constant repeating its name.
    let echo = value.eq_ignore_ascii_case(ident);
    let accepted = !bare_key && !echo && accept(value, class, quoted, b.get(ve).copied());
    if accepted {
        out.push(Match {
            kind: Kind::Secret,
            start: vs,
            end: ve,
        });
    }
    // Keywords inside a short refused value (`key="Password"`) are still
    // read; a long value is read once.
    if accepted || ve - vs > 64 {
        state.value_end = ve;
    }
}

/// Finds the assignment after the name `b[l..r]`; returns where the value
/// may start. `bare` allows plain whitespace (`--token X`, `Bearer X`).
fn operator(b: &[u8], l: usize, r: usize, bare: bool) -> Option<usize> {
    let opener = l.checked_sub(1).map(|p| b[p]);
    let quoted_key = matches!(opener, Some(b'"' | b'\'' | b'`'));
    let mut i = r;
    if matches!(b.get(i), Some(b'"' | b'\'' | b'`')) {
        i += 1;
    }
    if b.get(i) == Some(&b']') {
        i += 1;
    }
    let after_name = i;
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    let rest = &b[i..];
    if quoted_key && rest.len() > 5 && rest[..5].eq_ignore_ascii_case(b"value") {
        let j = i + 5 + rest[5..].iter().take_while(|&&c| c == b' ').count();
        return (b.get(j) == Some(&b'=')).then_some(j + 1);
    }
    if let Some(op) = OPS.iter().find(|op| rest.starts_with(op)) {
        return Some(i + op.len());
    }
    // A type between name and `=`: `var token string = "..."` (Go).
    if let Some(j) = typed_assignment(b, i) {
        return Some(j);
    }
    let word_op = |w: &[u8]| {
        rest.len() > w.len() && rest[..w.len()].eq_ignore_ascii_case(w) && rest[w.len()] == b' '
    };
    let spaced = i > after_name;
    match rest.first() {
        // `token: str = "..."` (Python, TypeScript) or a plain `token: ...`.
        Some(b':') if rest.get(1) != Some(&b':') => {
            Some(typed_assignment(b, i + 1).unwrap_or(i + 1))
        }
        // `setProperty("API_TOKEN", "...")`: only with a quoted value.
        Some(b',') if quoted_key => {
            let j = i + 1 + rest[1..].iter().take_while(|&&c| c == b' ').count();
            matches!(b.get(j), Some(b'"' | b'\'')).then_some(j)
        }
        Some(b'>') if opener == Some(b'<') => Some(i + 1),
        _ if spaced && word_op(b"is") => Some(i + 3),
        _ if spaced && word_op(b"was") => Some(i + 4),
        _ if spaced && bare => Some(i),
        _ => None,
    }
}

/// Whether ` value=` follows at `i` (an XML `key="..." value="..."` pair).
fn value_attribute_follows(b: &[u8], i: usize) -> bool {
    let rest = b.get(i..).unwrap_or_default();
    let skip = rest.iter().take_while(|&&c| c == b' ').count();
    rest.len() >= skip + 6 && rest[skip..skip + 6].eq_ignore_ascii_case(b"value=")
}

/// Assignment operators, longest first.
const OPS: &[&[u8]] = &[
    b":::=", b"::=", b"===", b":=", b"?=", b".=", b"+=", b"=>", b"==", b"!=", b"=",
];

/// At `i`: optional blanks, a type name, blanks, then `=` or `:=`; returns
/// the index after the operator.
fn typed_assignment(b: &[u8], i: usize) -> Option<usize> {
    let blanks = |mut j: usize| {
        while j < b.len() && matches!(b[j], b' ' | b'\t') {
            j += 1;
        }
        j
    };
    let start = blanks(i);
    let mut j = start;
    while j < b.len()
        && (is_word_byte(b[j]) || matches!(b[j], b'.' | b'[' | b']' | b'*' | b'<' | b'>' | b'|'))
    {
        j += 1;
    }
    if j == start || j - start > 40 || !b[start].is_ascii_alphabetic() {
        return None;
    }
    let k = blanks(j);
    let rest = &b[k..];
    let op = [&b":="[..], b"="]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    let after = k + op.len();
    (!matches!(b.get(after), Some(b'=' | b'>'))).then_some(after)
}

/// After a scheme word such as `Bearer ` at `i`, the index of the credential.
fn scheme_end(b: &[u8], i: usize) -> Option<usize> {
    let i = i.min(b.len());
    let word_len = b[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic() || **c == b'-')
        .count();
    let word = &b[i..i + word_len];
    if word_len == 0 || !eq_any(word, SCHEMES) || b.get(i + word_len) != Some(&b' ') {
        return None;
    }
    let mut j = i + word_len;
    while b.get(j) == Some(&b' ') {
        j += 1;
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn secrets(text: &str) -> Vec<&str> {
        spans(text, Kind::Secret)
    }

    #[test]
    fn positives() {
        let cases: &[(&str, &str)] = &[
            (r#"password = "hunter2hunter2X!""#, "hunter2hunter2X!"),
            ("DB_PASSWORD=s3cr3t-pw", "s3cr3t-pw"),
            ("the password is hunter22.", "hunter22"),
            (r#"password       = "rootpasswd""#, "rootpasswd"),
            (
                "Authorization: Bearer abcDEF123456ghiJKL",
                "abcDEF123456ghiJKL",
            ),
            (
                "curl -H 'Authorization: Basic YnJvd3Nlcjo=' x",
                "YnJvd3Nlcjo=",
            ),
            (
                "genericToken = Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
                "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
            ),
            (
                r#"{"client_secret" : "6da89121079f83b2eb6acccf8219ea98"}"#,
                "6da89121079f83b2eb6acccf8219ea98",
            ),
            (
                r#"System.setProperty("API_TOKEN", "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB")"#,
                "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
            ),
            (
                "<genericToken>\n    Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB\n</genericToken>",
                "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
            ),
            (
                r#"<add key="ClearTextPassword" value="TestSourcePassword" />"#,
                "TestSourcePassword",
            ),
            ("$cfg['password'] = 'Tr0ub4dor&3';", "Tr0ub4dor&3"),
            ("mysql --password hunter2x", "hunter2x"),
            (
                "token: s.ZC9Ecf4M5g9o34Q6RkzGsj0z",
                "s.ZC9Ecf4M5g9o34Q6RkzGsj0z",
            ),
            (
                "heroku_api_key = \"832d2129-a846-4e27-99f4-7004b6ad53ef\"",
                "832d2129-a846-4e27-99f4-7004b6ad53ef",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(secrets(text), vec![*want], "{text}");
        }
    }

    #[test]
    fn negatives() {
        let cases = [
            "password: string",
            "password = getpass()",
            "api_key = os.environ[\"OPENAI_API_KEY\"]",
            "secret_key = settings.SECRET_KEY",
            "token = ACCESS_TOKEN",
            "password = \"${DB_PASSWORD}\"",
            "Authorization: Bearer <token>",
            "Authorization: Bearer XXXXXXXXXXXX",
            "kms_key_id: 555ea4a3-d53a-4412-9c66-3a7cb667b0d6",
            "public_key = \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit\"",
            "the password is stored in the vault",
            "a token of appreciation",
            "git push -u origin main",
            "PuttyPassword=0",
            "apiKey: \"your-api-key-here-1234\"",
            "password combination.\n\nR5: Regulatory--21",
            "js_class = \"GPURenderPassEncoder\", js_name = \"setBindGroup\"",
            "Bandpass = \"bandpass\",",
            "fn from(key: PrivatePkcs8KeyDer<'a>) -> Self",
            "pub password: *const u16,",
        ];
        for text in cases {
            assert_eq!(secrets(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "mot de passe → password=Tr0ub4dor3! ok";
        assert_eq!(secrets(text), vec!["Tr0ub4dor3!"]);
    }
}
