//! Credentials embedded in URLs: `scheme://user:password@host` (database
//! DSNs, git remotes, proxies). Triggered by each `://` the keyword pass
//! finds; the match spans from the scheme to the end of the host so a
//! redactor can drop the whole authority. The user may be empty
//! (`redis://:pw@host`); the password may not.
//!
//! Must not: accept template placeholders (`${PASS}`, `<password>`, `%s`,
//! `****`) as passwords, or read past the URL's authority.

use super::text::looks_masked;
use super::{Kind, Match};

fn ends_authority(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\' | b')' | b']' | b',' | b';'
    ) || b.is_ascii_whitespace()
}

/// Checks the URL whose `://` starts at `sep`.
pub(super) fn check(text: &str, sep: usize, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let mut s = sep;
    while s > 0
        && sep - s < 32
        && (b[s - 1].is_ascii_alphanumeric() || matches!(b[s - 1], b'+' | b'.' | b'-'))
    {
        s -= 1;
    }
    while s < sep && !b[s].is_ascii_alphabetic() {
        s += 1;
    }
    if s == sep {
        return;
    }
    let u = sep + 3;
    let mut e = u;
    while e < b.len() && e - u < 512 && !ends_authority(b[e]) {
        e += 1;
    }
    let Some(authority) = b.get(u..e) else {
        return;
    };
    let Some(at) = authority.iter().rposition(|&c| c == b'@') else {
        return;
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.iter().position(|&c| c == b':') else {
        return;
    };
    let password = &userinfo[colon + 1..];
    let host = &authority[at + 1..];
    let host_len = host
        .iter()
        .take_while(|&&c| {
            c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
        .count();
    if host_len == 0 || !password_ok(password) || !user_ok(&userinfo[..colon]) {
        return;
    }
    out.push(Match {
        kind: Kind::UrlCredentials,
        start: s,
        end: u + at + 1 + host_len,
    });
}

fn user_ok(user: &[u8]) -> bool {
    !matches!(user.first(), Some(b'$' | b'{' | b'<' | b'%'))
}

fn password_ok(p: &[u8]) -> bool {
    !p.is_empty()
        && !matches!(p.first(), Some(b'$' | b'{' | b'<' | b'['))
        && p != b"%s"
        && !p.starts_with(b"%(")
        && !looks_masked(p)
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn creds(text: &str) -> Vec<&str> {
        spans(text, Kind::UrlCredentials)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "DSN postgres://app:s3cr3t@db.internal:5432/app",
                &["postgres://app:s3cr3t@db.internal:5432"],
            ),
            ("redis://:hunter22@cache", &["redis://:hunter22@cache"]),
            (
                "https://cafebabe:deadbeef@gems.contribsys.com/",
                &["https://cafebabe:deadbeef@gems.contribsys.com"],
            ),
            (
                "mongodb+srv://u:p@ss@cluster0.x.net",
                &["mongodb+srv://u:p@ss@cluster0.x.net"],
            ),
            ("https://example.com/a:b@c", &[]),
            ("https://user@example.com", &[]),
            ("postgres://${USER}:${PASS}@db", &[]),
            ("postgres://user:<password>@db", &[]),
            ("amqp://guest:****@mq", &[]),
            ("http://host:8080/", &[]),
            ("://a:b@c", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&creds(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "数据库 → mysql://root:Pa55w0rd@10.0.0.5:3306/db";
        assert_eq!(creds(text), vec!["mysql://root:Pa55w0rd@10.0.0.5:3306"]);
    }
}
