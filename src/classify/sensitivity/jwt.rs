//! JSON Web Tokens: three base64url segments (`header.payload.signature`,
//! the signature may be empty for `alg: none`) whose header starts `eyJ`
//! and decodes (with the `base64` crate) to JSON-looking text holding an
//! `"alg"` key.
//!
//! Must not: accept a lone `eyJ...` segment (that is base64 JSON, not a
//! token), or start inside a longer base64 word (`sntrys_eyJ...` belongs to
//! the API-key rules).

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use regex::Regex;

use super::{Kind, Match};

/// Upper bound on a token's length; longer runs are not read further.
const MAX_TOKEN: usize = 16 * 1024;

/// The compiled token shape.
pub(super) struct Jwt {
    shape: Regex,
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// base64url, padded or not, trailing bits tolerated (as JOSE libraries
/// decode a header).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64url; `None` when it is not valid base64url.
fn decode_b64url(s: &[u8]) -> Option<Vec<u8>> {
    B64URL.decode(s).ok()
}

/// Whether a decoded header looks like a JOSE header.
fn header_ok(header: &[u8]) -> bool {
    header.first() == Some(&b'{') && header.windows(5).any(|w| w == b"\"alg\"")
}

impl Jwt {
    pub(super) fn new() -> Jwt {
        let shape = Regex::new(
            r"^eyJ[A-Za-z0-9_-]{2,}={0,2}\.[A-Za-z0-9_-]{2,}={0,2}\.[A-Za-z0-9_-]*={0,2}",
        )
        .expect("constant JWT shape regex compiles (covered by tests)");
        Jwt { shape }
    }

    /// Checks the `eyJ` at `at`.
    pub(super) fn check(&self, text: &str, at: usize, out: &mut Vec<Match>) {
        let b = text.as_bytes();
        if at > 0 && (is_b64url(b[at - 1]) || matches!(b[at - 1], b'.' | b'+' | b'/')) {
            return;
        }
        let end = super::text::ceil_boundary(text, at.saturating_add(MAX_TOKEN));
        let Some(m) = text.get(at..end).and_then(|w| self.shape.find(w)) else {
            return;
        };
        let token = &b[at..at + m.end()];
        let header = token.split(|&c| c == b'.').next().unwrap_or_default();
        if decode_b64url(header).is_some_and(|h| header_ok(&h)) {
            out.push(Match {
                kind: Kind::Jwt,
                start: at,
                end: at + m.end(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    fn jwts(text: &str) -> Vec<&str> {
        spans(text, Kind::Jwt)
    }

    #[test]
    fn decoder() {
        assert_eq!(
            decode_b64url(b"eyJhbGciOiJub25lIn0").as_deref(),
            Some(&br#"{"alg":"none"}"#[..])
        );
        assert_eq!(decode_b64url(b"TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(decode_b64url(b"TWE=").as_deref(), Some(&b"Ma"[..]));
        assert_eq!(decode_b64url(b"T!"), None);
        assert_eq!(decode_b64url(b"T+/A"), None, "base64url only");
        assert_eq!(decode_b64url(b"").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn table() {
        let bearer = format!("Authorization: Bearer {JWT}\n");
        let none_alg = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        let no_alg = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln"; // {"typ":"JWT"}
        let cases: &[(&str, &[&str])] = &[
            (&bearer, &[JWT]),
            (none_alg, &[none_alg]),
            (no_alg, &[]),
            ("eyJhbGciOiJIUzI1NiJ9 alone", &[]),
            ("sntrys_eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&jwts(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = format!("jeton → «{JWT}»");
        assert_eq!(jwts(&text), vec![JWT]);
    }
}
