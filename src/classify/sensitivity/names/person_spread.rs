//! Second pass of the person rules: a word already found in a name counts
//! again alone, a capitalised word listed next to a found name counts, two
//! surname-like words joined by "and" count, and chat line labels count once
//! one of them is a found name. It only adds single-token spans, never over
//! an address or a span already found.

use super::Doc;
use super::lexicon::{AMBIG, GIVEN, ORG, STOP, SUFFIX, SURNAME};
use super::person::surname_ending;
use super::tokens::{Case, gap};

/// Second pass: a word already found in a name counts again alone
/// ("Alvir D. Pušaver ... Alvir"), and so does a capitalised word listed
/// next to a found name ("Hannah, Anthony and Derek") or a surname paired
/// with another by "and" ("Sneddon and Olson").
pub fn spread(doc: &Doc, covered: &[bool], first_found: usize, out: &mut Vec<(usize, usize)>) {
    let n = doc.toks.len();
    let mut taken = covered.to_vec();
    let mut names: Vec<&str> = Vec::new();
    for &(s, e) in &out[first_found..] {
        taken[s..=e].iter_mut().for_each(|t| *t = true);
        names.extend(
            (s..=e)
                .filter(|&k| doc.toks[k].case == Case::Title)
                .map(|k| doc.word(k)),
        );
    }
    names.sort_unstable();
    names.dedup();
    let free = |k: usize, taken: &[bool]| {
        k < n
            && !taken[k]
            && doc.toks[k].end - doc.toks[k].start > 2
            && doc.toks[k].case == Case::Title
            && doc.flags(k) & (STOP | ORG | SUFFIX) == 0
    };
    let found = |k: usize, taken: &[bool]| k < n && taken[k] && !covered[k];
    let and = |k: usize| k < n && matches!(doc.word(k), "and" | "or") && doc.toks[k].gap == 0;
    let listed = |k: usize| k < n && doc.toks[k].gap == gap::COMMA;
    // Chat transcripts: once one "Name:" line label is a found name, the
    // other line labels are speakers too ("Ubul: ...\nNicole: ...").
    let label = |k: usize| {
        (k == 0 || doc.toks[k].gap & gap::NEWLINE != 0)
            && doc.text[doc.toks[k].end..].starts_with(':')
    };
    if doc.starts.iter().any(|&k| label(k) && found(k, &taken)) {
        for &k in &doc.starts {
            if label(k) && free(k, &taken) && doc.flags(k) & AMBIG == 0 {
                out.push((k, k));
                taken[k] = true;
            }
        }
    }
    for _ in 0..2 {
        let before = out.len();
        let any_found = before > first_found;
        for &k in &doc.starts {
            if !free(k, &taken) {
                continue;
            }
            // Cheap tests first: most capitalised words have no found name
            // or "and" next to them.
            let pair_next = and(k + 1);
            let near_name = any_found
                && ((k > 0 && found(k - 1, &taken) && listed(k))
                    || (k > 1 && and(k - 1) && found(k - 2, &taken) && doc.toks[k].gap == 0)
                    || (found(k + 1, &taken) && listed(k + 1))
                    || (pair_next && found(k + 2, &taken) && doc.toks[k + 2].gap == 0));
            let remembered = !names.is_empty() && names.binary_search(&doc.word(k)).is_ok();
            if !(near_name || remembered || pair_next) {
                continue;
            }
            let f = doc.flags(k);
            // A listed neighbour must look like a name itself, not a place
            // in a list of places ("Sicily, Leon, Granada").
            let namish =
                f & (GIVEN | SURNAME) != 0 || doc.toks[k].non_ascii || surname_ending(doc.word(k));
            let plain = f & AMBIG == 0 && namish;
            let surnamish = |x: usize| {
                let fx = doc.flags(x);
                (fx & SURNAME != 0 && fx & AMBIG == 0)
                    || doc.toks[x].non_ascii
                    || surname_ending(doc.word(x))
            };
            let surname_pair = pair_next
                && free(k + 2, &taken)
                && surnamish(k)
                && surnamish(k + 2)
                && (f & SURNAME != 0 || doc.flags(k + 2) & SURNAME != 0);
            if remembered || (plain && (near_name || surname_pair)) {
                out.push((k, k));
                taken[k] = true;
                if surname_pair {
                    out.push((k + 2, k + 2));
                    taken[k + 2] = true;
                }
            }
        }
        if out.len() == before {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{NameDetector, NameKind};

    #[test]
    fn spreads_to_lists_repeats_and_labels() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Zdeňka, Hannah and Anthony",
                &["Zdeňka", "Hannah", "Anthony"],
            ),
            // An unknown ASCII word in a list stays out: it may be a place.
            ("Gaetane, Hannah and Anthony", &["Hannah", "Anthony"]),
            ("Sicily, Leon, Granada", &["Leon"]),
            ("Jane Roe wrote it. Later Roe left.", &["Jane Roe", "Roe"]),
            ("Kowalski and Novak were there", &["Kowalski", "Novak"]),
            ("Halldór: What?\nMatthew: Hi.", &["Halldór", "Matthew"]),
            ("Note: one.\nAnswer: two.", &[]),
        ];
        let det = NameDetector::new();
        for (text, want) in cases {
            let mut out = Vec::new();
            det.detect(text, &mut out);
            out.sort_by_key(|f| f.0);
            let got: Vec<_> = out
                .iter()
                .filter(|f| f.2 == NameKind::Person)
                .map(|f| &text[f.0..f.1])
                .collect();
            assert_eq!(got, *want, "{text}");
        }
    }
}
