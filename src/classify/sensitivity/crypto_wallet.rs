//! Cryptocurrency wallet addresses, found where a digit run starts (every
//! form below starts with a digit), so they cost nothing in text without
//! digits:
//! - Bitcoin Base58Check (`1...` P2PKH, `3...` P2SH): 25-35 Base58
//!   characters that decode to exactly 25 bytes, version byte 0x00 or
//!   0x05, and the last four bytes equal to the first four of the double
//!   SHA-256 of the first 21 (`ring`). Counts alone.
//! - Bitcoin bech32 (`bc1...`, BIP 173/350): one case only, charset
//!   `qpzry9x8gf2tvdw0s3jn54khce6mua7l`, length 14-74, witness version
//!   0-16, and the BCH checksum: bech32 for version 0 (with a 20- or 32-byte
//!   program), bech32m for later versions. Counts alone.
//! - Ethereum (`0x` + 40 hex digits). EIP-55 mixed-case checksums need
//!   Keccak-256, which no dependency of this crate provides, so no address
//!   is checksum-validated: one counts only with a wallet word (`wallet`,
//!   `eth`, `ethereum`, `address`, `crypto`, `metamask`, `erc20`...) within
//!   64 bytes before or 32 after, whatever its letter case.
//!
//! Testnet forms (`m`, `n`, `2`, `tb1`) and other chains are left out.
//!
//! Must not: match inside a longer word, or decode more than 35 characters
//! per candidate.

use super::anchors::{Anchors, Family};
use super::numeric::Group;
use super::text::is_word_byte;
use super::{Kind, Match};

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32M_CONST: u32 = 0x2bc8_30a3;

/// `BASE58_VALUE[c]` is the digit value of byte `c`, or 0xff.
const BASE58_VALUE: [u8; 256] = table(BASE58);
/// `BECH32_VALUE[c]` is the 5-bit value of lower-case byte `c`, or 0xff.
const BECH32_VALUE: [u8; 256] = table(BECH32);

const fn table(alphabet: &[u8]) -> [u8; 256] {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < alphabet.len() {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
}

/// Checks each digit group's start for an address.
pub(super) fn detect(text: &str, groups: &[Group], anchors: &Anchors, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let mut done = 0;
    for g in groups {
        let s = g.start;
        if s < done {
            continue;
        }
        let end = match b[s] {
            b'1' | b'3' if !before_is_word(b, s) => base58_at(b, s),
            b'0' => eth_at(b, s).filter(|&e| anchors.near(Family::Wallet, s, e)),
            _ => None,
        };
        let found = end.map(|e| (s, e)).or_else(|| {
            (b[s] == b'1' && s >= 2)
                .then(|| bech32_at(b, s - 2))
                .flatten()
                .map(|e| (s - 2, e))
        });
        if let Some((start, end)) = found {
            out.push(Match {
                kind: Kind::CryptoWallet,
                start,
                end,
            });
            done = end;
        }
    }
}

fn before_is_word(b: &[u8], s: usize) -> bool {
    s > 0 && is_word_byte(b[s - 1])
}

/// End of the run of bytes from `s` that satisfy `f`, at most `max` long;
/// `None` if the run is longer or a word byte follows it.
fn run(b: &[u8], s: usize, max: usize, f: impl Fn(u8) -> bool) -> Option<usize> {
    let mut e = s;
    while e < b.len() && f(b[e]) {
        e += 1;
        if e - s > max {
            return None;
        }
    }
    (!b.get(e).copied().is_some_and(is_word_byte)).then_some(e)
}

/// A Base58Check P2PKH or P2SH address starting at `s`.
fn base58_at(b: &[u8], s: usize) -> Option<usize> {
    let e = run(b, s, 35, |c| BASE58_VALUE[usize::from(c)] != 0xff)?;
    (e - s >= 25 && base58check_ok(&b[s..e])).then_some(e)
}

/// Decodes a Base58 address into 25 bytes and checks version and checksum.
pub(super) fn base58check_ok(addr: &[u8]) -> bool {
    let mut out = [0u8; 25];
    for &c in addr {
        let v = BASE58_VALUE[usize::from(c)];
        if v == 0xff {
            return false;
        }
        let mut carry = u32::from(v);
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    // Each leading '1' stands for one leading zero byte, and only those.
    let ones = addr.iter().take_while(|&&c| c == b'1').count();
    let zeros = out.iter().take_while(|&&x| x == 0).count();
    if ones != zeros {
        return false;
    }
    let check = sha256d(&out[..21]);
    matches!(out[0], 0x00 | 0x05) && check[..4] == out[21..]
}

/// Double SHA-256 (Bitcoin's checksum hash).
fn sha256d(data: &[u8]) -> [u8; 32] {
    use ring::digest::{SHA256, digest};
    let once = digest(&SHA256, data);
    let twice = digest(&SHA256, once.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(twice.as_ref());
    out
}

/// A `bc1` address starting at `s` (the `b`).
fn bech32_at(b: &[u8], s: usize) -> Option<usize> {
    let hrp = b.get(s..s + 3)?;
    if !(hrp == b"bc1" || hrp == b"BC1") || before_is_word(b, s) {
        return None;
    }
    let upper = hrp == b"BC1";
    let e = run(b, s + 3, 71, |c| {
        let case_ok = c.is_ascii_digit()
            || if upper {
                c.is_ascii_uppercase()
            } else {
                c.is_ascii_lowercase()
            };
        case_ok && BECH32_VALUE[usize::from(c.to_ascii_lowercase())] != 0xff
    })?;
    (e - s >= 14 && bech32_ok(&b[s..e])).then_some(e)
}

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    const G: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk = 1u32;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in G.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Checks a whole `bc1...` address (one case) against BIP 173/350.
pub(super) fn bech32_ok(addr: &[u8]) -> bool {
    let lower: Vec<u8> = addr.iter().map(u8::to_ascii_lowercase).collect();
    let Some(data) = lower.get(3..) else {
        return false;
    };
    let Some(values) = data
        .iter()
        .map(|&c| Some(BECH32_VALUE[usize::from(c)]).filter(|&v| v != 0xff))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    if values.len() < 7 {
        return false;
    }
    let hrp = &lower[..2];
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain([0])
        .chain(hrp.iter().map(|c| c & 31))
        .chain(values.iter().copied());
    let version = values[0];
    let program_groups = values.len() - 7;
    match (polymod(expanded), version) {
        (1, 0) => program_groups == 32 || program_groups == 52,
        (BECH32M_CONST, 1..=16) => (4..=64).contains(&program_groups),
        _ => false,
    }
}

/// `0x` + 40 hex digits starting at `s`, not inside a longer word.
fn eth_at(b: &[u8], s: usize) -> Option<usize> {
    if before_is_word(b, s) || !matches!(b.get(s + 1), Some(b'x' | b'X')) {
        return None;
    }
    let e = run(b, s + 2, 40, |c| c.is_ascii_hexdigit())?;
    (e - s == 42).then_some(e)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::CryptoWallet)
    }

    #[test]
    fn base58check() {
        assert!(base58check_ok(b"1BoatSLRHtKNngkdXEeobR76b53LETtpyT"));
        assert!(base58check_ok(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert!(base58check_ok(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(base58check_ok(b"1111111111111111111114oLvT2"));
        assert!(!base58check_ok(b"1BoatSLRHtKNngkdXEeobR76b53LETtpyU"));
        assert!(!base58check_ok(b"1BoatSLRHtKNngkdXEeobR76b53LETtpyTzzzz"));
        assert!(!base58check_ok(b"10atSLRHtKNngkdXEeobR76b53LETtpyT"));
    }

    #[test]
    fn bech32_checksums() {
        assert!(bech32_ok(b"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
        assert!(bech32_ok(
            b"bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"
        ));
        assert!(bech32_ok(
            b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
        ));
        assert!(bech32_ok(b"BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"));
        assert!(!bech32_ok(b"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr"));
        assert!(!bech32_ok(b"bc1qw508d6qejxtdg4c5w7cnwl2xsqetlc8v0yx"));
        assert!(!bech32_ok(b"bc1"));
    }

    #[test]
    fn table() {
        let eth = "0x52908400098527886E0F7030069857D2E4169EE7";
        let cases: &[(&str, &[&str])] = &[
            (
                "send it to 1BoatSLRHtKNngkdXEeobR76b53LETtpyT today",
                &["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"],
            ),
            (
                "(3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy)",
                &["3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"],
            ),
            (
                "pay bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq.",
                &["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"],
            ),
            (
                "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
                &["BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"],
            ),
            ("bad 1BoatSLRHtKNngkdXEeobR76b53LETtpyU", &[]),
            ("glued x1BoatSLRHtKNngkdXEeobR76b53LETtpyT", &[]),
            ("mixed bc1qAr0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", &[]),
            ("abc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", &[]),
            (
                "my ETH wallet: 0x52908400098527886E0F7030069857D2E4169EE7",
                &[eth],
            ),
            (
                "commit 0x52908400098527886E0F7030069857D2E4169EE7 reverted",
                &[],
            ),
            ("wallet 0x52908400098527886E0F7030069857D2E4169EE7A", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Adresse für Spende → 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
        assert_eq!(offsets(text, Kind::CryptoWallet), vec![(24, 58)]);
    }
}
