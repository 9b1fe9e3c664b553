//! Every match of an Aho-Corasick DFA, overlapping ones included, found by
//! stepping four parts of the text at once.
//!
//! A DFA search is a chain of dependent loads: the next state needs the
//! previous one, so one search runs at the latency of a table load per
//! byte (about 1.3 ns here), whatever else the core could do. Four
//! independent searches over four quarters of the text, stepped in one
//! loop, keep four chains in flight. Each quarter after the first starts
//! `max_pattern_len - 1` bytes early, so a match that straddles a
//! boundary is seen whole by the quarter it ends in, and a quarter reports
//! only the matches that end inside it: no match is lost or repeated.
//!
//! The result equals `AhoCorasick::find_overlapping_iter` over the same
//! patterns (tested against it): the same matches, in the same order (by
//! end, then in the automaton's order for one end).
//!
//! Must not: change which matches are found; only how fast.

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, PatternID};

/// Shorter texts are searched in one pass: the setup is not worth it.
/// Short is relative to the longest pattern, which each lane after the
/// first reads again.
const MIN_LANED: usize = 256;
/// Parts searched at once (the loop below is written out for four;
/// two to sixteen measured within 5% of each other here).
const N: usize = 4;
const _: () = assert!(N == 4, "the search loop steps four lanes by name");

/// An overlapping-match DFA, ASCII case ignored, for [`Lanes::each`].
pub struct Lanes {
    dfa: DFA,
    /// What each byte is read as: ASCII letters lower-cased, else itself.
    fold: [u8; 256],
}

impl Lanes {
    /// Compiles `patterns` (standard semantics, so every match is found;
    /// ASCII case ignored).
    pub fn new<P: AsRef<[u8]>>(patterns: &[P]) -> Result<Lanes, aho_corasick::BuildError> {
        // Case is ignored by lower-casing the patterns and every byte read,
        // not by the automaton's own option: that gives upper and lower
        // case letters separate byte classes, which doubles the DFA's
        // table (1.6 MB for the cue phrases), and a search that misses the
        // cache on most steps. Folded, the tables are about half the size.
        let fold: [u8; 256] = std::array::from_fn(|b| (b as u8).to_ascii_lowercase());
        let folded: Vec<Vec<u8>> = patterns
            .iter()
            .map(|p| p.as_ref().iter().map(|&b| fold[usize::from(b)]).collect())
            .collect();
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            // The laned loop never consults a prefilter; without one, only
            // match (and dead) states are special.
            .prefilter(false)
            .build(&folded)?;
        Ok(Lanes { dfa, fold })
    }

    /// Calls `f(pattern, start, end)` for every match in `hay`, overlapping
    /// ones included, ordered by end offset.
    pub fn each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let dfa = &self.dfa;
        let fold = &self.fold;
        let Ok(start) = dfa.start_state(Anchored::No) else {
            return;
        };
        let mut report = |sid, end: usize| {
            for i in 0..dfa.match_len(sid) {
                let pid = dfa.match_pattern(sid, i);
                f(pid.as_usize(), end - dfa.pattern_len(pid), end);
            }
        };
        if hay.len() < MIN_LANED.max(8 * dfa.max_pattern_len()) {
            let mut sid = start;
            for (at, &b) in hay.iter().enumerate() {
                sid = dfa.next_state(Anchored::No, sid, fold[usize::from(b)]);
                if dfa.is_special(sid) && dfa.is_match(sid) {
                    report(sid, at + 1);
                }
            }
            return;
        }
        // Lane k reports the matches that end in (lo[k], hi[k]] and reads
        // from `back` bytes before lo[k] (lane 0 from the start).
        let n = hay.len();
        let seg = n.div_ceil(N);
        let back = dfa.max_pattern_len().saturating_sub(1);
        let lo: [usize; N] = std::array::from_fn(|k| (k * seg).min(n));
        let hi: [usize; N] = std::array::from_fn(|k| ((k + 1) * seg).min(n));
        let from = lo.map(|l| l.saturating_sub(back));
        let steps = (0..N).map(|k| hi[k] - from[k]).min().unwrap_or(0);
        let mut found: [Vec<(usize, PatternID)>; N] = std::array::from_fn(|_| Vec::new());
        let mut keep = |k: usize, sid, end: usize| {
            if end > lo[k] {
                for i in 0..dfa.match_len(sid) {
                    found[k].push((end, dfa.match_pattern(sid, i)));
                }
            }
        };
        let mut sid = [start; N];
        let lane = |k: usize| &hay[from[k]..from[k] + steps];
        for (i, (((&b0, &b1), &b2), &b3)) in lane(0)
            .iter()
            .zip(lane(1))
            .zip(lane(2))
            .zip(lane(3))
            .enumerate()
        {
            sid[0] = dfa.next_state(Anchored::No, sid[0], fold[usize::from(b0)]);
            sid[1] = dfa.next_state(Anchored::No, sid[1], fold[usize::from(b1)]);
            sid[2] = dfa.next_state(Anchored::No, sid[2], fold[usize::from(b2)]);
            sid[3] = dfa.next_state(Anchored::No, sid[3], fold[usize::from(b3)]);
            if dfa.is_special(sid[0])
                | dfa.is_special(sid[1])
                | dfa.is_special(sid[2])
                | dfa.is_special(sid[3])
            {
                for (k, &s) in sid.iter().enumerate() {
                    if dfa.is_match(s) {
                        keep(k, s, from[k] + i + 1);
                    }
                }
            }
        }
        // What each lane has left (at most seg + back - steps bytes).
        for (k, s) in sid.iter_mut().enumerate() {
            let rest = from[k] + steps;
            for (at, &b) in hay[rest..hi[k]].iter().enumerate() {
                *s = dfa.next_state(Anchored::No, *s, fold[usize::from(b)]);
                if dfa.is_special(*s) && dfa.is_match(*s) {
                    keep(k, *s, rest + at + 1);
                }
            }
        }
        for lane in found {
            for (end, pid) in lane {
                f(pid.as_usize(), end - dfa.pattern_len(pid), end);
            }
        }
    }

    /// Calls `f(pattern, start, end)` for the matches leftmost-longest
    /// semantics pick (`MatchKind::LeftmostLongest`): from the start, the
    /// match that starts first, the longest of those (the first pattern
    /// of equal ones), then on from its end. Chosen from all matches, so
    /// the same as a leftmost-longest automaton over the same patterns.
    pub fn each_leftmost_longest(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let mut all = Vec::new();
        self.each(hay, |p, s, e| all.push((s, std::cmp::Reverse(e), p)));
        all.sort_unstable();
        let mut at = 0;
        for (start, std::cmp::Reverse(end), p) in all {
            if start >= at {
                f(p, start, end);
                at = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use aho_corasick::MatchKind;
    use proptest::prelude::*;

    fn reference(patterns: &[&str], hay: &str) -> Vec<(usize, usize, usize)> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .expect("build");
        ac.find_overlapping_iter(hay)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect()
    }

    fn laned(patterns: &[&str], hay: &str) -> Vec<(usize, usize, usize)> {
        let l = Lanes::new(patterns).expect("build");
        let mut got = Vec::new();
        l.each(hay.as_bytes(), |p, s, e| got.push((p, s, e)));
        got
    }

    const PATTERNS: &[&str] = &[
        "secret", "password", "pass", "sk-", "ssn", "ecr", "word", "a",
    ];

    #[test]
    fn matches_straddling_every_lane_boundary_are_found_once() {
        // 4 KB: lanes of 1 KB; put a pattern across each boundary.
        let mut hay = "x".repeat(4096);
        for at in [1022, 2046, 3070, 4090] {
            hay.replace_range(at..at + 6, "SeCrEt");
        }
        let got = laned(PATTERNS, &hay);
        assert_eq!(got, reference(PATTERNS, &hay));
        assert_eq!(got.iter().filter(|m| m.0 == 0).count(), 4);
    }

    #[test]
    fn short_and_empty_texts() {
        for hay in ["", "a", "password", "my passwords: sk-1 ssn"] {
            assert_eq!(laned(PATTERNS, hay), reference(PATTERNS, hay), "{hay:?}");
        }
    }

    /// Leftmost-longest over patterns where one is a prefix, a suffix or
    /// (case ignored) a copy of another.
    type Found = Vec<(usize, usize, usize)>;

    fn leftmost_longest(patterns: &[&str], hay: &str) -> (Found, Found) {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns)
            .expect("build");
        let want = ac
            .find_iter(hay)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect();
        let l = Lanes::new(patterns).expect("build");
        let mut got = Vec::new();
        l.each_leftmost_longest(hay.as_bytes(), |p, s, e| got.push((p, s, e)));
        (got, want)
    }

    const LONGEST: &[&str] = &[
        "pass", "password", "PASS", "word", "sword", "a", "as", "pas",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn leftmost_longest_equals_the_automaton(
            words in proptest::collection::vec(
                prop::sample::select(vec!["pass", "Password", "swords", "a", "s", " ", "x", "PA"]),
                0..1500,
            )
        ) {
            let hay: String = words.concat();
            let (got, want) = leftmost_longest(LONGEST, &hay);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn equals_find_overlapping_iter(
            words in proptest::collection::vec(
                prop::sample::select(vec![
                    "secret", "PASSWORD", "pass", "sk-", "ssn", "word", "a", "the ", " ",
                    "quick brown fox ", "ecret", "sswo", "\n", "é",
                ]),
                0..1500,
            )
        ) {
            let hay: String = words.concat();
            prop_assert_eq!(laned(PATTERNS, &hay), reference(PATTERNS, &hay));
        }
    }
}
