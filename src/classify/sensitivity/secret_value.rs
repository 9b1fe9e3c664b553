//! Judges a candidate secret value and finds where it ends. Generic names
//! need a long (16+ bytes), mixed, high-entropy value (Shannon >= 3.0 bits
//! per byte, slightly less under 20 bytes); passwords need 6+ bytes of two
//! character classes (or 8+ quoted); `Bearer`/`Basic` credentials 8+ mixed
//! bytes. Unquoted values that read as code are refused.
//!
//! Must not: accept references (`$VAR`, `${x}`, `os.environ`,
//! `settings.KEY`, `getpass()`), masks, placeholders, constant names
//! (`ACCESS_TOKEN`) or type names (`string`, `None`).

use super::text::{char_classes, eq_any, is_word_byte, looks_masked, shannon_entropy};

/// Values that are type names, literals or the name itself, not secrets.
#[rustfmt::skip]
const NOT_VALUES: &[&str] = &[
    "null", "none", "nil", "true", "false", "undefined", "string", "str", "required", "optional",
    "password", "passwd", "secret", "token", "apikey", "api_key", "key",
];

/// How strictly a value is judged, from the name it is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Password,
    Generic,
    Scheme,
}

/// The value starting at `i`: up to the closing quote if there is one on
/// the line, else up to a delimiter. Returns `(start, end, quoted)`.
pub(super) fn value_span(b: &[u8], i: usize, quote: Option<u8>) -> (usize, usize, bool) {
    let i = i.min(b.len());
    if let Some(q) = quote {
        let close = b[i..].iter().take(1024).position(|&c| c == q || c == b'\n');
        if let Some(p) = close.filter(|&p| b[i + p] == q) {
            return (i, i + p, true);
        }
    }
    // One past the longest accepted value, so an over-long one is refused
    // whole rather than cut (possibly inside a multi-byte character).
    let len = b[i..]
        .iter()
        .take(1025)
        .take_while(|&&c| !c.is_ascii_whitespace() && !b"\"'`,;()[]{}<>\\&|".contains(&c))
        .count();
    let mut end = i + len;
    // One sentence-ending `.` or `:` is prose; `...` stays and is refused.
    if end > i && matches!(b[end - 1], b'.' | b':') && !(end > i + 1 && b[end - 2] == b'.') {
        end -= 1;
    }
    (i, end, false)
}

/// A template, reference, mask or filler rather than a value (`${X}`,
/// `$VAR`, `<token>`, `%s`, `[REDACTED]`, `your-key`, `abc...`, `xxxx`).
pub(super) fn placeholder(v: &[u8]) -> bool {
    let Some(&first) = v.first() else {
        return true;
    };
    let lower = v.to_ascii_lowercase();
    let has = |s: &[u8]| lower.windows(s.len()).any(|w| w == s);
    (first == b'$'
        && v.get(1)
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'{' | b'(' | b'_')))
        || matches!(first, b'{' | b'<' | b'%' | b'[')
        || has(b"{{")
        || has(b"${")
        || has(b"..")
        || has(b"your_")
        || has(b"your-")
        || has(b"placeholder")
        || has(b"redacted")
        || looks_masked(v)
        || v.iter().all(|&c| c == first)
        || eq_any(v, NOT_VALUES)
}

/// `settings.SECRET_KEY`, `os.environ`, `Ed25519.BlindKeySignatures`: a
/// dotted path of identifiers of 2-40 bytes, few of them digits (a Vault
/// `s.` token has a one-letter first part).
fn code_reference(v: &[u8]) -> bool {
    let ident = |p: &[u8]| {
        (2..=40).contains(&p.len())
            && (p[0].is_ascii_alphabetic() || p[0] == b'_')
            && p.iter().all(|&c| is_word_byte(c))
    };
    let digits = v.iter().filter(|c| c.is_ascii_digit()).count();
    v.contains(&b'.') && v.split(|&c| c == b'.').all(ident) && digits * 4 <= v.len()
}

/// `SalesResults-1.2`, `jjwt-jackson-0.11.2`: ends in a version number.
fn versioned(v: &[u8]) -> bool {
    let tail = v
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit() || **c == b'.')
        .count();
    let t = &v[v.len() - tail..];
    tail >= 3
        && t.contains(&b'.')
        && t[0].is_ascii_digit()
        && matches!(
            v.len().checked_sub(tail + 1).map(|p| v[p]),
            Some(b'-' | b'_' | b'v' | b'@')
        )
}

/// `abcdefghijklmnop`, `0123456789ABCDEF...`: an alphabet, not a key.
fn has_alphabet_run(v: &[u8]) -> bool {
    let mut run = 1;
    for w in v.windows(2) {
        run = if w[1] == w[0].wrapping_add(1) {
            run + 1
        } else {
            1
        };
        if run >= 12 {
            return true;
        }
    }
    false
}

/// Unquoted code rather than a literal: calls and generics (`f(`, `T<`),
/// paths (`super::Foo`, `settings.KEY`), pointers (`*const`), numbers
/// (`256u32`, `0xC000025A`), type names (`KeyScheduleTraffic`) and
/// snake_case identifiers (`alljoyn_credentials`, `_bindgen_ty_24`).
fn unquoted_code(v: &[u8], class: Class, next: Option<u8>) -> bool {
    let letters = v.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let word_chars = v.iter().all(|&c| is_word_byte(c));
    let short_parts = v.split(|&c| c == b'_').all(|p| p.len() <= 16);
    let digits = v.iter().any(u8::is_ascii_digit);
    let snake =
        word_chars && v.contains(&b'_') && (!digits || (short_parts && class != Class::Password));
    let url_bits = class == Class::Generic && (v.contains(&b'?') || v.contains(&b'#'));
    matches!(next, Some(b'(' | b'<' | b':'))
        || url_bits
        || v.first().is_some_and(|c| matches!(c, b'*' | b'&'))
        || v.starts_with(b"0x")
        || code_reference(v)
        || has(v, b"::")
        || letters < 3
        || letters == v.len()
        || snake
}

/// `test-ca/rsa-2048/end.key`, `./secrets.json`, `~/.ssh/id_rsa`: a path to a
/// file, not its content.
fn file_path(v: &[u8]) -> bool {
    let rooted = [&b"/"[..], b"./", b"../", b"~/"]
        .iter()
        .any(|p| v.starts_with(p));
    let ext = v
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let dotted_ext = (1..=4).contains(&ext) && v.len() > ext && v[v.len() - ext - 1] == b'.';
    rooted || (v.contains(&b'/') && dotted_ext)
}

fn has(v: &[u8], needle: &[u8]) -> bool {
    v.windows(needle.len()).any(|w| w == needle)
}

/// `ACCESS_TOKEN`, `GITHUB_TOKEN`: an upper-case constant name.
fn constant_name(v: &[u8]) -> bool {
    v.contains(&b'_')
        && v.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// Whether `v` (quoted or not; `next` is the byte after it) is a secret.
pub(super) fn accept(v: &[u8], class: Class, quoted: bool, next: Option<u8>) -> bool {
    if v.is_empty()
        || v.len() > 1024
        || placeholder(v)
        || constant_name(v)
        || has(v, b"://")
        || file_path(v)
    {
        return false;
    }
    if !quoted && unquoted_code(v, class, next) {
        return false;
    }
    let classes = char_classes(v);
    match class {
        Class::Password => v.len() >= 6 && (classes >= 2 || (quoted && v.len() >= 8)),
        Class::Scheme => {
            v.len() >= 8 && classes >= 2 && !v.contains(&b' ') && shannon_entropy(v) >= 2.5
        }
        Class::Generic => {
            // 3 bits per byte, relaxed for short values whose entropy cannot
            // reach it (16 random hex digits score about 3).
            let bar = (0.7 * (v.len() as f64).log2()).min(3.0);
            v.len() >= 16
                && classes >= 2
                && !v.contains(&b' ')
                && shannon_entropy(v) >= bar
                && !versioned(v)
                && !has_alphabet_run(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_values() {
        let cases: &[(&[u8], Class, bool, bool)] = &[
            (b"hunter22", Class::Password, false, true),
            (b"rootpasswd", Class::Password, true, true),
            (b"rootpasswd", Class::Password, false, false),
            (b"hunter", Class::Password, false, false),
            (
                b"Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
                Class::Generic,
                false,
                true,
            ),
            (b"aaaaaaaaaaaaaaaaaaaaaaaa", Class::Generic, true, false),
            (b"SalesResultsQ1", Class::Generic, true, false),
            (b"YnJvd3Nlcjo=", Class::Scheme, false, true),
            (b"${DB_PASSWORD}", Class::Password, true, false),
            (b"$SECRET", Class::Password, false, false),
            (b"settings.SECRET_KEY", Class::Generic, false, false),
            (b"s.ZC9Ecf4M5g9o34Q6RkzGsj0z", Class::Generic, false, true),
            (b"GITHUB_TOKEN", Class::Generic, false, false),
            (b"<your-token>", Class::Scheme, false, false),
            (b"xxxxxxxxxxxxxxxxxxxx", Class::Generic, true, false),
            (b"correct horse battery", Class::Password, true, true),
            (b"Optional", Class::Password, false, false),
            (b"LetMeInNow", Class::Password, false, false),
            (b"LetMeInNow", Class::Password, true, true),
            (
                b"::windows_sys::core::PCWSTR",
                Class::Password,
                false,
                false,
            ),
            (b"KeyScheduleTraffic", Class::Generic, false, false),
            (b"-2147221215i32", Class::Generic, false, false),
            (b"alljoyn_credentials", Class::Password, false, false),
            (b"_bindgen_ty_24", Class::Generic, false, false),
            (b"MI_UsernamePasswordCreds", Class::Password, false, false),
            (b"my_s3cret", Class::Password, false, true),
            (b"test-ca/rsa-2048/end.key", Class::Generic, false, false),
            (
                b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                Class::Generic,
                false,
                true,
            ),
            (b"https://example.com/x/y", Class::Generic, true, false),
            (b"Hold my bear", Class::Scheme, true, false),
            (b"0xC000025A_u32", Class::Generic, false, false),
        ];
        for &(v, class, quoted, want) in cases {
            assert_eq!(
                accept(v, class, quoted, None),
                want,
                "{}",
                String::from_utf8_lossy(v)
            );
        }
        assert!(!accept(b"getPassword", Class::Password, false, Some(b'(')));
        assert!(!accept(
            b"PrivatePkcs8KeyDer",
            Class::Generic,
            false,
            Some(b'<')
        ));
        assert!(!accept(b"*const", Class::Password, false, None));
        assert!(!accept(
            b"reader.read_u32",
            Class::Generic,
            false,
            Some(b':')
        ));
    }

    #[test]
    fn value_ends() {
        assert_eq!(value_span(b"\"a b\" c", 1, Some(b'"')), (1, 4, true));
        assert_eq!(value_span(b"\"ab\ncd\"", 1, Some(b'"')), (1, 3, false));
        assert_eq!(value_span(b"abc; d", 0, None), (0, 3, false));
        assert_eq!(value_span(b"hunter22.", 0, None), (0, 8, false));
        assert_eq!(value_span(b"x", 5, None), (1, 1, false));
    }
}
