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

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};
use std::collections::HashMap;

/// Shorter texts are searched in one pass: the setup is not worth it.
/// Short is relative to the longest pattern, which each lane after the
/// first reads again.
const MIN_LANED: usize = 256;
/// Parts searched at once (the loop below is written out for four;
/// two to sixteen measured within 5% of each other here).
const N: usize = 4;
const _: () = assert!(N == 4, "the search loop steps four lanes by name");

/// An overlapping-match DFA, ASCII case ignored, for [`Lanes::each`].
///
/// Its tables are read out of an aho-corasick DFA once, at build, so that
/// a step is two loads: the byte's column (case folding included) and the
/// next state. Stepping aho-corasick's DFA through its `Automaton` trait
/// took three (fold, its byte class, the transition) plus a check for its
/// special states; here match states are numbered first, so "is this a
/// match" is one compare.
pub struct Lanes {
    /// The column each byte is read in: bytes that lead every state to the
    /// same place (an upper-case letter and its lower case among them)
    /// share one.
    class: [u8; 256],
    /// `trans[state + class]` is the next state. A state is its row's
    /// offset (its index times the number of columns).
    trans: Vec<u32>,
    /// Columns: the distance between two states.
    stride: usize,
    start: u32,
    /// States below this one are match states.
    matching: u32,
    /// The patterns the match state with index `i` reports are
    /// `reports[first[i]..first[i + 1]]`, as (pattern, length).
    first: Vec<u32>,
    reports: Vec<(u32, u32)>,
    max_len: usize,
}

impl Lanes {
    /// Compiles `patterns` (standard semantics, so every match is found;
    /// ASCII case ignored).
    pub fn new<P: AsRef<[u8]>>(patterns: &[P]) -> Result<Lanes, aho_corasick::BuildError> {
        // Case is ignored by lower-casing the patterns and every byte read,
        // not by the automaton's own option: that gives upper and lower
        // case letters separate columns, which doubles the table (1.6 MB
        // for the cue phrases), and a search that misses the cache on
        // most steps.
        let fold: [u8; 256] = std::array::from_fn(|b| (b as u8).to_ascii_lowercase());
        let folded: Vec<Vec<u8>> = patterns
            .iter()
            .map(|p| p.as_ref().iter().map(|&b| fold[usize::from(b)]).collect())
            .collect();
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(&folded)?;
        Ok(Lanes::read_out(&dfa, &fold))
    }

    /// Every state reachable from the unanchored start, on folded bytes,
    /// with its transitions, columns merged and match states first.
    fn read_out(dfa: &DFA, fold: &[u8; 256]) -> Lanes {
        let start = dfa
            .start_state(Anchored::No)
            .expect("a DFA built with default start kinds has an unanchored start");
        // The bytes a search can ask about: every byte, case folded.
        let mut bytes: Vec<u8> = fold.to_vec();
        bytes.sort_unstable();
        bytes.dedup();
        // Breadth first over the states; on the way, bytes are split into
        // columns: two bytes share one while they have led every state seen
        // so far to the same place (the columns are refined row by row, so
        // no table of all transitions is kept: it was megabytes for the cue
        // phrases, and the allocator kept them as resident memory).
        let mut index: HashMap<StateID, u32> = HashMap::from([(start, 0)]);
        let mut states = vec![start];
        let mut column = vec![0u32; bytes.len()];
        let mut split: HashMap<(u32, u32), u32> = HashMap::new();
        let mut i = 0;
        while i < states.len() {
            let sid = states[i];
            split.clear();
            for (j, &b) in bytes.iter().enumerate() {
                let to = dfa.next_state(Anchored::No, sid, b);
                let n = u32::try_from(states.len()).expect("fewer than 2^32 states");
                let to = *index.entry(to).or_insert_with(|| {
                    states.push(to);
                    n
                });
                let k = u32::try_from(split.len()).expect("at most 256 bytes");
                column[j] = *split.entry((column[j], to)).or_insert(k);
            }
            i += 1;
        }
        // One representative byte per column.
        let mut reps: Vec<u8> = Vec::new();
        let mut numbered: HashMap<u32, u8> = HashMap::new();
        let mut class_of_folded = [0u8; 256];
        for (j, &b) in bytes.iter().enumerate() {
            let n = u8::try_from(numbered.len()).expect("at most 256 columns");
            class_of_folded[usize::from(b)] = *numbered.entry(column[j]).or_insert_with(|| {
                reps.push(b);
                n
            });
        }
        let class: [u8; 256] = std::array::from_fn(|b| class_of_folded[usize::from(fold[b])]);
        let rows = states.len();
        // Match states first, so that a match is `state < matching`.
        let is_match: Vec<bool> = states.iter().map(|&s| dfa.is_match(s)).collect();
        let mut order: Vec<usize> = (0..rows).collect();
        order.sort_by_key(|&i| !is_match[i]);
        let mut renamed = vec![0u32; rows];
        for (new, &old) in order.iter().enumerate() {
            renamed[old] = u32::try_from(new).expect("fewer than 2^32 states");
        }
        let stride = reps.len();
        let offset = |i: u32| {
            u32::try_from(i as usize * stride).expect("the table is smaller than 2^32 entries")
        };
        let mut trans = Vec::with_capacity(rows * stride);
        let mut first = vec![0u32];
        let mut reports = Vec::new();
        for &old in &order {
            let sid = states[old];
            trans.extend(reps.iter().map(|&b| {
                let to = dfa.next_state(Anchored::No, sid, b);
                offset(renamed[index[&to] as usize])
            }));
            if is_match[old] {
                for k in 0..dfa.match_len(sid) {
                    let pid = dfa.match_pattern(sid, k);
                    let len = u32::try_from(dfa.pattern_len(pid)).expect("short patterns");
                    reports.push((pid.as_u32(), len));
                }
                first.push(u32::try_from(reports.len()).expect("fewer than 2^32 reports"));
            }
        }
        let matching = offset(u32::try_from(first.len() - 1).expect("counted above"));
        Lanes {
            class,
            trans,
            stride,
            start: offset(renamed[0]),
            matching,
            first,
            reports,
            max_len: dfa.max_pattern_len(),
        }
    }

    /// The patterns match state `sid` reports, as (pattern, length).
    fn reported(&self, sid: usize) -> &[(u32, u32)] {
        let i = sid / self.stride;
        &self.reports[self.first[i] as usize..self.first[i + 1] as usize]
    }

    /// Calls `f(pattern, start, end)` for every match in `hay`, overlapping
    /// ones included, ordered by end offset.
    pub fn each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let trans = &self.trans[..];
        let class = &self.class;
        let matching = self.matching;
        let step = |sid: u32, b: u8| trans[sid as usize + usize::from(class[usize::from(b)])];
        let mut report = |sid: u32, end: usize| {
            for &(pid, len) in self.reported(sid as usize) {
                f(pid as usize, end - len as usize, end);
            }
        };
        if hay.len() < MIN_LANED.max(8 * self.max_len) {
            let mut sid = self.start;
            for (at, &b) in hay.iter().enumerate() {
                sid = step(sid, b);
                if sid < matching {
                    report(sid, at + 1);
                }
            }
            return;
        }
        // Lane k reports the matches that end in (lo[k], hi[k]] and reads
        // from `back` bytes before lo[k] (lane 0 from the start).
        let n = hay.len();
        let seg = n.div_ceil(N);
        let back = self.max_len.saturating_sub(1);
        let lo: [usize; N] = std::array::from_fn(|k| (k * seg).min(n));
        let hi: [usize; N] = std::array::from_fn(|k| ((k + 1) * seg).min(n));
        let from = lo.map(|l| l.saturating_sub(back));
        let steps = (0..N).map(|k| hi[k] - from[k]).min().unwrap_or(0);
        let mut found: [Vec<(usize, u32)>; N] = std::array::from_fn(|_| Vec::new());
        let mut keep = |k: usize, sid: u32, end: usize| {
            if end > lo[k] {
                found[k].push((end, sid));
            }
        };
        let mut sid = [self.start; N];
        let lane = |k: usize| &hay[from[k]..from[k] + steps];
        for (i, (((&b0, &b1), &b2), &b3)) in lane(0)
            .iter()
            .zip(lane(1))
            .zip(lane(2))
            .zip(lane(3))
            .enumerate()
        {
            sid[0] = step(sid[0], b0);
            sid[1] = step(sid[1], b1);
            sid[2] = step(sid[2], b2);
            sid[3] = step(sid[3], b3);
            if (sid[0] < matching) | (sid[1] < matching) | (sid[2] < matching) | (sid[3] < matching)
            {
                for (k, &s) in sid.iter().enumerate() {
                    if s < matching {
                        keep(k, s, from[k] + i + 1);
                    }
                }
            }
        }
        // What each lane has left (at most seg + back - steps bytes).
        for (k, s) in sid.iter_mut().enumerate() {
            let rest = from[k] + steps;
            for (at, &b) in hay[rest..hi[k]].iter().enumerate() {
                *s = step(*s, b);
                if *s < matching {
                    keep(k, *s, rest + at + 1);
                }
            }
        }
        for lane in found {
            for (end, sid) in lane {
                report(sid, end);
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

/// Texts for checking a laned search against aho-corasick's own over the
/// same patterns (the trigger and cue tests).
#[cfg(test)]
pub(crate) mod testing {
    use proptest::sample::Index;

    /// The patterns, the first half of each longer than three bytes (cut
    /// at a char boundary), then `extra` (text around them).
    pub(crate) fn pieces(patterns: &[&str], extra: &[&str]) -> Vec<String> {
        let mut w: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        w.extend(patterns.iter().filter(|p| p.len() > 3).map(|p| {
            let mut half = p.len() / 2;
            while !p.is_char_boundary(half) {
                half -= 1;
            }
            p[..half].to_owned()
        }));
        w.extend(extra.iter().map(|e| e.to_string()));
        w
    }

    /// The picked pieces joined, each in upper case when its flag says so.
    pub(crate) fn text(picks: &[(Index, bool)], pieces: &[String]) -> String {
        picks
            .iter()
            .map(|(i, upper)| {
                let s = i.get(pieces);
                if *upper {
                    s.to_ascii_uppercase()
                } else {
                    s.clone()
                }
            })
            .collect()
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
