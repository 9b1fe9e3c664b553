//! AWS Signature Version 4 for requests to Bedrock (`Authorization:
//! AWS4-HMAC-SHA256 ...` headers), on `ring`'s HMAC-SHA256 and SHA-256.
//! Written from AWS's "Create a signed AWS API request" and checked against
//! AWS's published test-suite vectors (see the tests).
//!
//! - Canonical URI: the path as sent (each segment already percent-encoded
//!   once, see [`encode_segment`]) with every segment encoded once more, as
//!   AWS asks of every service but S3. A model id `a:0` travels as `a%3A0`
//!   and is signed as `a%253A0`; an ARN's `/` as `%2F`, signed `%252F`.
//! - Canonical query: names and values decoded, encoded with the strict
//!   alphabet, sorted by name then value.
//! - Canonical headers: `host` (with the port when the URL names a
//!   non-default one, as HTTP clients send it), `x-amz-date`, with a session
//!   token `x-amz-security-token`, and the headers the caller adds; names
//!   lowercased, values trimmed with inner runs of spaces collapsed, sorted.
//! - Payload: the hex SHA-256 of the body.
//!
//! Pure: the time is an argument. The secret and the session token never
//! leave this module but as the signature and the token header.

use ring::{digest, hmac};
use std::fmt::Write;

/// The credentials a request is signed with.
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// Where and when: the credential scope.
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    /// Unix seconds.
    pub time: u64,
}

/// The request to sign, as it goes on the wire.
pub struct Request<'a> {
    pub method: &'a str,
    /// The `host` header: with the port when the URL names a non-default
    /// one, as HTTP clients send it ([`host`]).
    pub host: &'a str,
    /// The path of the request line, as sent.
    pub path: &'a str,
    /// The query as sent (without `?`), if any.
    pub query: Option<&'a str>,
    /// Headers sent besides `host` and the ones the signature adds, all signed.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// What a signature adds to a request: `x-amz-date`, the session token if
/// any, and `authorization`, in that order.
pub fn sign(
    req: &Request<'_>,
    creds: &Credentials<'_>,
    scope: &Scope<'_>,
) -> Vec<(&'static str, String)> {
    let (amz_date, date) = amz_timestamp(scope.time);
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), canonical_value(v)))
        .collect();
    headers.push(("host".into(), req.host.to_owned()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = creds.session_token {
        headers.push(("x-amz-security-token".into(), canonical_value(token)));
    }
    // Stable: repeated names keep their values' order.
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    // Repeated names: one line, values joined by commas, in order.
    let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        match merged.last_mut() {
            Some((last, joined)) if *last == name => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let signed_headers = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = String::new();
    canonical.push_str(&req.method.to_ascii_uppercase());
    canonical.push('\n');
    canonical.push_str(&canonical_uri(req.path));
    canonical.push('\n');
    canonical.push_str(&canonical_query(req.query.unwrap_or("")));
    canonical.push('\n');
    for (name, value) in &merged {
        let _ = writeln!(canonical, "{name}:{value}");
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex(digest::digest(&digest::SHA256, req.body).as_ref()));

    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{credential_scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let key = signing_key(creds.secret_access_key, &date, scope.region, scope.service);
    let signature = hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    let mut out = vec![("x-amz-date", amz_date)];
    if let Some(token) = creds.session_token {
        out.push(("x-amz-security-token", token.to_owned()));
    }
    out.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    out
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, format!("AWS4{secret}").as_bytes());
    for part in [date, region, service, "aws4_request"] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

/// The `host` header as an HTTP client sends it for `url`.
pub fn host(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The path as sent, each segment encoded once more (`%` becomes `%25`).
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// The query's pairs, percent-decoded, re-encoded strictly and sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode_segment(&decode(k)), encode_segment(&decode(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `s` with its `%XX` escapes decoded (a malformed escape stays as it is).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A header value as signed: trimmed, inner runs of spaces collapsed to one.
fn canonical_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` percent-encoded as AWS's `UriEncode`: every byte but the unreserved
/// `A-Z a-z 0-9 - _ . ~`, uppercase hex. One path segment of a request URL
/// (a Bedrock model id or ARN) is this; signing applies it once more.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `(YYYYMMDD'T'HHMMSS'Z', YYYYMMDD)` of Unix seconds `t`, in UTC.
pub fn amz_timestamp(t: u64) -> (String, String) {
    let days = t / 86_400;
    let secs = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    let date = format!("{y:04}{m:02}{d:02}");
    let full = format!(
        "{date}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    (full, date)
}

/// The proleptic Gregorian date of day `z` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(z: u64) -> (u64, u64, u64) {
    let z = z + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
