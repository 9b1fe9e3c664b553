use super::*;

/// The ConverseStream fixtures, written by `make_streams.py` (Python's
/// `zlib.crc32`, not this module).
pub(crate) const FIXTURES: [&[u8]; 3] = [
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bedrock/stream.bin"
    )),
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bedrock/stream_tools.bin"
    )),
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bedrock/stream_error.bin"
    )),
];

/// Every message of `chunks`, or the first error.
fn decode(chunks: &[&[u8]], limit: usize) -> Result<Vec<Message>, FrameError> {
    let mut d = Decoder::new(limit);
    let mut out = Vec::new();
    for c in chunks {
        d.push(c)?;
        while let Some(m) = d.next_message() {
            out.push(m);
        }
    }
    if d.is_partial() {
        return Err(FrameError::Malformed("cut"));
    }
    Ok(out)
}

// The messages of AWS's own decoder tests (aws-c-event-stream,
// tests/message_deserializer_test.c): bytes and expected fields as published.
#[test]
fn aws_published_messages_decode() {
    let empty = [
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8,
        0xff,
    ];
    let m = decode(&[&empty], 1024).expect("valid");
    assert_eq!(m.len(), 1);
    assert!(m[0].headers.is_empty() && m[0].payload.is_empty());

    let no_headers = [
        0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a, 0x7b, 0x27, 0x66,
        0x6f, 0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0xc3, 0x65, 0x39, 0x36,
    ];
    let m = decode(&[&no_headers], 1024).expect("valid");
    assert_eq!(&m[0].payload[..], b"{'foo':'bar'}");

    let mut one_header = vec![
        0x00, 0x00, 0x00, 0x3D, 0x00, 0x00, 0x00, 0x20, 0x07, 0xFD, 0x83, 0x96, 0x0C,
    ];
    one_header.extend_from_slice(b"content-type");
    one_header.extend_from_slice(&[0x07, 0x00, 0x10]);
    one_header.extend_from_slice(b"application/json");
    one_header.extend_from_slice(b"{'foo':'bar'}");
    one_header.extend_from_slice(&[0x8D, 0x9C, 0x08, 0xB1]);
    let m = decode(&[&one_header], 1024).expect("valid");
    assert_eq!(m[0].header("content-type"), Some("application/json"));
    assert_eq!(&m[0].payload[..], b"{'foo':'bar'}");

    // The three back to back, at every split.
    let all = [&empty[..], &no_headers[..], &one_header[..]].concat();
    for at in 0..=all.len() {
        let (a, b) = all.split_at(at);
        assert_eq!(decode(&[a, b], 1024).expect("valid").len(), 3, "split {at}");
    }
}

#[test]
fn every_header_type_round_trips() {
    let headers = [
        ("t", HeaderValue::Bool(true)),
        ("f", HeaderValue::Bool(false)),
        ("b", HeaderValue::Byte(-3)),
        ("s", HeaderValue::Int16(-300)),
        ("i", HeaderValue::Int32(70_000)),
        ("l", HeaderValue::Int64(-5_000_000_000)),
        ("y", HeaderValue::Bytes(vec![0, 255, 7])),
        ("str", HeaderValue::String("héllo".into())),
        ("ts", HeaderValue::Timestamp(1_700_000_000_000)),
        ("u", HeaderValue::Uuid([9; 16])),
    ];
    let bytes = encode(&headers, b"payload");
    let m = decode(&[&bytes], 1024).expect("valid");
    let want: Vec<(String, HeaderValue)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect();
    assert_eq!(m[0].headers, want);
    assert_eq!(m[0].header("str"), Some("héllo"));
    assert_eq!(m[0].header("i"), None, "not a string");
}

#[test]
fn fixtures_decode_the_same_at_every_split() {
    for fixture in FIXTURES {
        let whole = decode(&[fixture], 1 << 16).expect("fixture decodes");
        assert!(whole.len() >= 3);
        for at in 0..=fixture.len() {
            let (a, b) = fixture.split_at(at);
            assert_eq!(decode(&[a, b], 1 << 16).as_ref(), Ok(&whole), "split {at}");
        }
        let bytes: Vec<&[u8]> = fixture.chunks(1).collect();
        assert_eq!(decode(&bytes, 1 << 16), Ok(whole), "byte at a time");
    }
    let first = decode(&[FIXTURES[0]], 1 << 16).expect("valid");
    assert_eq!(first[0].header(":event-type"), Some("messageStart"));
    assert_eq!(first[0].header(":message-type"), Some("event"));
}

#[test]
fn a_flipped_bit_anywhere_is_refused() {
    let good = encode(&[(":event-type", HeaderValue::String("x".into()))], b"{}");
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        let got = decode(&[&bad], 1024);
        assert!(got.is_err(), "flip at {i} accepted: {got:?}");
    }
    let mut bad = good.clone();
    bad[9] ^= 1;
    assert_eq!(decode(&[&bad], 1024), Err(FrameError::PreludeCrc));
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(decode(&[&bad], 1024), Err(FrameError::MessageCrc));
    bad[20] ^= 1;
    bad[last] ^= 1;
    assert_eq!(decode(&[&bad], 1024), Err(FrameError::MessageCrc));
}

#[test]
fn errors_are_sticky_and_messages_before_them_count() {
    let good = encode(&[], b"one");
    let mut bad = encode(&[], b"two");
    let n = bad.len();
    bad[n - 1] ^= 1;
    let mut d = Decoder::new(1024);
    assert_eq!(
        d.push(&[good.as_slice(), bad.as_slice()].concat()),
        Err(FrameError::MessageCrc)
    );
    assert_eq!(
        d.next_message().map(|m| m.payload),
        Some(Bytes::from("one"))
    );
    assert_eq!(d.push(&good), Err(FrameError::MessageCrc));
    assert!(d.next_message().is_none());
}

#[test]
fn an_oversized_message_is_refused_from_its_prelude() {
    let big = encode(&[], &[b'x'; 600]);
    let mut d = Decoder::new(512);
    // The prelude alone is enough: nothing more is buffered.
    assert_eq!(d.push(&big[..12]), Err(FrameError::TooLarge { limit: 512 }));
    assert_eq!(
        decode(&[&big], 512),
        Err(FrameError::TooLarge { limit: 512 })
    );
    assert_eq!(decode(&[&big], 616).map(|m| m.len()), Ok(1));
    // A forged length: 4 GiB announced.
    let mut forged = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    let crc = crc32fast::hash(&forged);
    forged.extend_from_slice(&crc.to_be_bytes());
    assert_eq!(
        decode(&[&forged], 1 << 20),
        Err(FrameError::TooLarge { limit: 1 << 20 })
    );
}

/// A message with the given lengths and header bytes, its CRCs right.
fn raw(total: u32, headers_len: u32, rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&headers_len.to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(rest);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn malformed_lengths_and_headers_are_refused() {
    // Shorter than a prelude and a CRC.
    assert!(matches!(
        decode(&[&raw(15, 0, &[])], 1024),
        Err(FrameError::Malformed(_))
    ));
    // Headers longer than the message allows.
    assert!(matches!(
        decode(&[&raw(20, 5, &[1, b'a', 0, 0])], 1024),
        Err(FrameError::Malformed(_))
    ));
    for headers in [
        &[0u8, 0][..],                       // empty name
        &[3, b'a', b'b'][..],                // name cut short
        &[1, b'a', 42][..],                  // unknown type
        &[1, b'a', 4, 0, 0][..],             // i32 cut short
        &[1, b'a', 7, 0, 9, b'x'][..],       // string cut short
        &[1, b'a', 7, 0, 2, 0xff, 0xfe][..], // string not UTF-8
        &[1, 0xff, 0][..],                   // name not UTF-8
    ] {
        let len = u32::try_from(headers.len()).expect("small");
        let got = decode(&[&raw(16 + len, len, headers)], 1024);
        assert!(
            matches!(got, Err(FrameError::Malformed(_))),
            "{headers:?}: {got:?}"
        );
    }
}

#[test]
fn a_cut_message_is_partial() {
    let m = encode(&[], b"abc");
    let mut d = Decoder::new(1024);
    d.push(&m[..m.len() - 1]).expect("no error yet");
    assert!(d.next_message().is_none());
    assert!(d.is_partial());
    d.push(&m[m.len() - 1..]).expect("complete");
    assert!(!d.is_partial());
    assert!(d.next_message().is_some());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let mut d = Decoder::new(1024);
        let _ = d.push(&bytes);
        while d.next_message().is_some() {}
    }
}
