//! Fuzz targets for everything that reads bytes a stranger chose: request
//! bodies, the SSE, NDJSON and AWS event-stream decoders, each provider's
//! stream translator (upstream bytes to OpenAI chunks) and the sensitivity
//! scanner. Each target takes arbitrary bytes, returns normally for every
//! input the code handles as documented (refusals included), and panics
//! only when a property fails: a panic in the code under test, an error of
//! the wrong kind, an output that depends on where the input was cut into
//! chunks, a finding outside its text or off a char boundary, a
//! parse-serialise round trip that changes the value.
//!
//! Built for the tests (`cfg(test)`: `tests.rs` drives every target with
//! proptest from a fixed seed and replays the corpus under
//! `tests/fuzz/corpus/<target>/`) and, with the `fuzzing` feature, for the
//! cargo-fuzz crate in `fuzz/`. No I/O here; nothing is part of serving.

mod decoders;
mod request;
mod streams;

#[cfg(test)]
mod mutate;
#[cfg(test)]
mod tests;

pub use decoders::{eventstream, ndjson, sse};
pub use request::{request, scanner};
pub use streams::{
    stream_anthropic, stream_azure, stream_bedrock, stream_gemini, stream_ollama, stream_openai,
};

/// A fuzz target: arbitrary bytes in, a panic when a property fails.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus directory and cargo-fuzz binary use.
pub const TARGETS: &[(&str, Target)] = &[
    ("request", request),
    ("scanner", scanner),
    ("sse", sse),
    ("ndjson", ndjson),
    ("eventstream", eventstream),
    ("stream_openai", stream_openai),
    ("stream_azure", stream_azure),
    ("stream_anthropic", stream_anthropic),
    ("stream_gemini", stream_gemini),
    ("stream_ollama", stream_ollama),
    ("stream_bedrock", stream_bedrock),
];

/// Ways to cut `data` into chunks, the whole first: byte at a time (in
/// sevens past 4 KiB), every two-piece cut of a short input, and a few
/// pseudo-random cuts seeded by the bytes themselves (so a replayed input
/// is cut the same way every time).
pub(crate) fn chunkings(data: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut out = vec![vec![data]];
    if data.is_empty() {
        return out;
    }
    let step = if data.len() <= 4096 { 1 } else { 7 };
    out.push(data.chunks(step).collect());
    if data.len() <= 96 {
        for at in 1..data.len() {
            let (a, b) = data.split_at(at);
            out.push(vec![a, b]);
        }
    }
    let mut rng = SplitMix(fnv1a(data));
    for _ in 0..4 {
        let mut pieces = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            // Mostly short pieces, sometimes long ones.
            let most = if rng.next().is_multiple_of(4) {
                rest.len()
            } else {
                16
            };
            let n = 1 + (rng.next() as usize) % most.min(rest.len());
            let (a, b) = rest.split_at(n);
            pieces.push(a);
            rest = b;
        }
        out.push(pieces);
    }
    out
}

/// A chunking, briefly: how many pieces, and the cut points when few.
pub(crate) fn describe(chunks: &[&[u8]]) -> String {
    let mut at = 0;
    let cuts: Vec<usize> = chunks
        .iter()
        .map(|c| {
            at += c.len();
            at
        })
        .collect();
    if cuts.len() <= 12 {
        format!("cut into {} pieces ending at {cuts:?}", cuts.len())
    } else {
        format!("cut into {} pieces", cuts.len())
    }
}

pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A small deterministic generator (SplitMix64): cut points, not secrets.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
