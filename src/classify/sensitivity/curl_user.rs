//! `curl -u user:password` / `--user user:password` on a command line: the
//! credential after the flag counts as a secret when the password part has
//! six or more bytes and is not a variable or placeholder.
//!
//! Must not: fire on other `-u` flags (`git push -u origin`, `docker -u
//! 1000:1000`) whose value has no password-like part.

use super::secret_value::{placeholder, value_span};
use super::text::char_classes;
use super::{Kind, Match};

/// Literals that start a `curl -u user:password` credential.
pub(super) const LITERALS: &[&str] = &["-u ", "--user ", "--user="];

/// Handles a `curl -u` / `--user` literal found at `start..end`.
pub(super) fn check(text: &str, start: usize, end: usize, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    if start > 0 && !b[start - 1].is_ascii_whitespace() {
        return;
    }
    let mut i = end;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let quote = b.get(i).copied().filter(|c| matches!(c, b'"' | b'\''));
    if quote.is_some() {
        i += 1;
    }
    let (vs, mut ve, _) = value_span(b, i, quote);
    // `user:'password'`: the password is quoted on its own.
    if quote.is_none() && b.get(ve) == Some(&b':') {
        if let Some(q) = b.get(ve + 1).copied().filter(|c| matches!(c, b'"' | b'\'')) {
            let (_, pe, quoted) = value_span(b, ve + 2, Some(q));
            ve = if quoted { pe } else { ve + 1 };
        } else {
            ve += 1;
        }
    }
    let value = &b[vs..ve];
    let Some(colon) = value.iter().position(|&c| c == b':') else {
        return;
    };
    let (user, pass) = (&value[..colon], &value[colon + 1..]);
    let pass = pass
        .strip_prefix(b"'")
        .or_else(|| pass.strip_prefix(b"\""))
        .unwrap_or(pass);
    let bad_start = |s: &[u8]| matches!(s.first(), Some(b'$' | b'<' | b'{' | b'%'));
    // An API key passed as the user name with an empty password (`KEY:`).
    let key_as_user =
        pass.is_empty() && user.len() >= 8 && char_classes(user) >= 2 && !placeholder(user);
    let password = pass.len() >= 6 && !placeholder(pass);
    if (key_as_user || password) && !bad_start(user) && !bad_start(pass) {
        out.push(Match {
            kind: Kind::Secret,
            start: vs,
            end: ve,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::Kind;
    use super::super::tests::spans;

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "curl --cacert ca.crt -u elastic:P@ssw0rd$1 https://localhost:9200",
                &["elastic:P@ssw0rd$1"],
            ),
            ("curl -u \":d2LkV78zLx!t\" https://x", &[":d2LkV78zLx!t"]),
            (
                "curl --user=dev:yqDVtkqPECriaLRi",
                &["dev:yqDVtkqPECriaLRi"],
            ),
            ("curl -i -u 'test:test'", &[]),
            ("curl -u \"d2LkV78zLx!t:\" https://x", &["d2LkV78zLx!t:"]),
            (
                "curl --user kevin:'pRf7vG2h1L8nQkW9' -iX PATCH",
                &["kevin:'pRf7vG2h1L8nQkW9"],
            ),
            ("curl --user \"username:password\" x", &[]),
            ("curl --user \"$1:$2\" \"$3\"", &[]),
            ("curl -u <user:password> https://test.com", &[]),
            ("git push -u origin main", &[]),
            ("docker run -u 1000:1000 img", &[]),
            ("ab-u x:yyyyyyyy", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&spans(text, Kind::Secret), want, "{text}");
        }
    }
}
