//! The signer against AWS's published vectors: the SigV4 test suite (as
//! shipped in awslabs/aws-c-auth, `tests/aws-signing-test-suite/v4/*`:
//! credentials `AKIDEXAMPLE`, region us-east-1, service `service`, time
//! 2015-08-30T12:36:00Z), the IAM `ListUsers` example of AWS's SigV4 guide,
//! and the S3 "GET Object" example of the S3 API reference.

use super::*;

const SUITE: Credentials<'static> = Credentials {
    access_key_id: "AKIDEXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    session_token: None,
};
/// 2015-08-30T12:36:00Z.
const SUITE_TIME: u64 = 1_440_938_160;
const SUITE_SCOPE: Scope<'static> = Scope {
    region: "us-east-1",
    service: "service",
    time: SUITE_TIME,
};

fn authorization<'a>(out: &'a [(&'static str, String)]) -> &'a str {
    out.iter()
        .find(|(n, _)| *n == "authorization")
        .map(|(_, v)| v.as_str())
        .expect("authorization header")
}

/// The suite's `Authorization` for `signed_headers` and `signature`.
fn suite_authz(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

fn suite(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let req = Request {
        method,
        host: "example.amazonaws.com",
        path,
        query,
        headers,
        body,
    };
    authorization(&sign(&req, &SUITE, &SUITE_SCOPE)).to_owned()
}

#[test]
fn suite_vanilla_requests() {
    assert_eq!(
        suite("GET", "/", None, &[], b""),
        suite_authz(
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ),
        "get-vanilla"
    );
    assert_eq!(
        suite("POST", "/", None, &[], b""),
        suite_authz(
            "host;x-amz-date",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ),
        "post-vanilla"
    );
}

#[test]
fn suite_queries() {
    assert_eq!(
        suite("GET", "/", Some("Param2=value2&Param1=value1"), &[], b""),
        suite_authz(
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
        "get-vanilla-query-order-key-case"
    );
    let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    assert_eq!(
        suite(
            "GET",
            "/",
            Some(&format!("{unreserved}={unreserved}")),
            &[],
            b""
        ),
        suite_authz(
            "host;x-amz-date",
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"
        ),
        "get-vanilla-query-unreserved"
    );
}

#[test]
fn suite_paths_are_encoded_as_sent() {
    // The request line carries the raw UTF-8; signed as `/%E1%88%B4`.
    assert_eq!(
        suite("GET", "/ሴ", None, &[], b""),
        suite_authz(
            "host;x-amz-date",
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        ),
        "get-utf8"
    );
}

#[test]
fn suite_headers_and_bodies() {
    assert_eq!(
        suite(
            "GET",
            "/",
            None,
            &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            b""
        ),
        suite_authz(
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        ),
        "get-header-value-trim"
    );
    assert_eq!(
        suite(
            "POST",
            "/",
            None,
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "13"),
                (
                    "x-amz-content-sha256",
                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
                ),
            ],
            b"Param1=value1"
        ),
        suite_authz(
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
        ),
        "post-x-www-form-urlencoded"
    );
}

#[test]
fn suite_session_token_is_signed_and_sent() {
    let creds = Credentials {
        session_token: Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
        ..SUITE
    };
    let req = Request {
        method: "GET",
        host: "example.amazonaws.com",
        path: "/",
        query: None,
        headers: &[],
        body: b"",
    };
    let out = sign(&req, &creds, &SUITE_SCOPE);
    assert_eq!(
        authorization(&out),
        suite_authz(
            "host;x-amz-date;x-amz-security-token",
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        ),
        "get-vanilla-with-session-token"
    );
    assert_eq!(
        out[..2],
        [
            ("x-amz-date", "20150830T123600Z".to_owned()),
            (
                "x-amz-security-token",
                "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267".to_owned()
            ),
        ]
    );
}

#[test]
fn documented_signing_key_and_iam_example() {
    // "Examples of how to derive a signing key" (AWS General Reference).
    let key = signing_key(SUITE.secret_access_key, "20150830", "us-east-1", "iam");
    // ring keeps the key opaque: compare what it signs with the raw key's.
    let raw = [
        0xc4, 0xaf, 0xb1, 0xcc, 0x57, 0x71, 0xd8, 0x71, 0x76, 0x3a, 0x39, 0x3e, 0x44, 0xb7, 0x03,
        0x57, 0x1b, 0x55, 0xcc, 0x28, 0x42, 0x4d, 0x1a, 0x5e, 0x86, 0xda, 0x6e, 0xd3, 0xc1, 0x54,
        0xa4, 0xb9,
    ];
    let want = hmac::Key::new(hmac::HMAC_SHA256, &raw);
    assert_eq!(
        hmac::sign(&key, b"probe").as_ref(),
        hmac::sign(&want, b"probe").as_ref()
    );
    // The guide's example request: IAM ListUsers.
    let req = Request {
        method: "GET",
        host: "iam.amazonaws.com",
        path: "/",
        query: Some("Action=ListUsers&Version=2010-05-08"),
        headers: &[(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body: b"",
    };
    let scope = Scope {
        service: "iam",
        ..SUITE_SCOPE
    };
    assert_eq!(
        authorization(&sign(&req, &SUITE, &scope)),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

#[test]
fn documented_s3_get_object() {
    // S3 API reference, "Signature Calculations for the Authorization
    // Header": GET /test.txt (a path that encodes the same once or twice).
    let creds = Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let req = Request {
        method: "GET",
        host: "examplebucket.s3.amazonaws.com",
        path: "/test.txt",
        query: None,
        headers: &[("Range", "bytes=0-9"), ("x-amz-content-sha256", empty)],
        body: b"",
    };
    let scope = Scope {
        region: "us-east-1",
        service: "s3",
        // 2013-05-24T00:00:00Z
        time: 1_369_353_600,
    };
    assert_eq!(
        authorization(&sign(&req, &creds, &scope)),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn bedrock_model_ids_are_encoded_twice_in_the_signature() {
    // What goes on the wire: one encoding of the id as one path segment.
    let id = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0";
    let sent = encode_segment(id);
    assert_eq!(
        sent,
        "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-v1%3A0"
    );
    // What is signed: that path encoded once more, `%` -> `%25`.
    assert_eq!(
        canonical_uri(&format!("/model/{sent}/converse")),
        "/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A123456789012%253Ainference-profile%252Fus.anthropic.claude-v1%253A0/converse"
    );
    assert_eq!(
        canonical_uri("/model/amazon.nova-lite-v1%3A0/converse-stream"),
        "/model/amazon.nova-lite-v1%253A0/converse-stream"
    );
    // A url::Url keeps the escapes as they are: what it sends is what is signed.
    let url = url::Url::parse(&format!(
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/{sent}/converse"
    ))
    .expect("url");
    assert_eq!(url.path(), format!("/model/{sent}/converse"));
    assert_eq!(host(&url), "bedrock-runtime.us-east-1.amazonaws.com");
    let local = url::Url::parse("http://127.0.0.1:8123/x").expect("url");
    assert_eq!(host(&local), "127.0.0.1:8123");
    assert_eq!(encode_segment("a b+é~"), "a%20b%2B%C3%A9~");
}

#[test]
fn timestamps_are_utc() {
    assert_eq!(
        amz_timestamp(SUITE_TIME),
        ("20150830T123600Z".to_owned(), "20150830".to_owned())
    );
    assert_eq!(amz_timestamp(0).0, "19700101T000000Z");
    // 2024-02-29T23:59:59Z, a leap day.
    assert_eq!(amz_timestamp(1_709_251_199).0, "20240229T235959Z");
    // 2100-03-01 (2100 is not a leap year).
    assert_eq!(amz_timestamp(4_107_542_400).1, "21000301");
}

#[test]
fn percent_decoding_of_queries() {
    assert_eq!(decode("a%20b%zz%4"), "a b%zz%4");
    assert_eq!(canonical_query("b=2&a=%7E&c"), "a=~&b=2&c=");
}
