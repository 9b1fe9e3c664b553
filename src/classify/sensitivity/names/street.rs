//! Street-name pieces for the address rules: street-type prefixes and
//! endings, house numbers, named streets after "on"/"at", PO and military
//! boxes and "the corner of X and Y". Each function reads tokens from a given
//! index and returns the last token of what it recognised; none of them
//! decides alone that text is an address or extends past the street.

use super::Doc;
use super::lexicon::{ORG, PARTICLE, PREFIX, STOP};
use super::tokens::{Case, gap};

/// Most capitalised words in a street name ("Via Nuova del Campo").
pub const MAX_NAME_WORDS: usize = 5;

/// "Rue", "Via", "ul." and the like at token `i`.
pub fn prefix_word(doc: &Doc, i: usize) -> bool {
    let t = doc.toks[i];
    doc.flags(i) & PREFIX != 0
        && (t.case == Case::Title || (t.case == Case::Lower && t.dot))
        && doc
            .toks
            .get(i + 1)
            .is_some_and(|n| n.gap & gap::NEWLINE == 0)
}

/// After "on" or "at": "Marina Fort Street" (a full suffix word) or
/// "Pod Floriánem 1677" (two or more words and a house number).
pub fn named_street(doc: &Doc, i: usize) -> Option<usize> {
    let mut k = i;
    while k < doc.toks.len() && k - i < 4 && (k == i || doc.same_phrase(k)) {
        let t = doc.toks[k];
        if t.num {
            let d = t.digits(doc.text);
            return (k - i >= 2 && (1..=5).contains(&d)).then_some(k);
        }
        if !(t.capital() || t.non_ascii) || doc.flags(k) & STOP != 0 || date_word(doc.word(k)) {
            return None;
        }
        let full = t.case == Case::Title
            && [
                "Street",
                "Avenue",
                "Road",
                "Boulevard",
                "Lane",
                "Drive",
                "Parkway",
                "Highway",
                "Terrace",
            ]
            .contains(&doc.word(k));
        if k > i && full {
            return Some(k);
        }
        k += 1;
    }
    None
}

/// "5th", "21st", "2nd", "3rd".
pub fn ordinal(w: &str) -> bool {
    let tail = w.trim_start_matches(|c: char| c.is_ascii_digit());
    tail.len() < w.len()
        && ["st", "nd", "rd", "th"]
            .iter()
            .any(|s| tail.eq_ignore_ascii_case(s))
}

pub fn money_before(doc: &Doc, i: usize) -> bool {
    let s = doc.toks[i].start;
    doc.text[..s]
        .chars()
        .next_back()
        .is_some_and(|c| matches!(c, '$' | '€' | '£' | '¥' | '.' | ',' | '-' | '+' | '/'))
}

/// From token `j`, street-name words (first one at `first_word`) then a
/// house number; returns the number's index. `j` may be the prefix word.
pub fn street_then_number(doc: &Doc, j: usize, first_word: usize) -> Option<usize> {
    let mut k = first_word;
    let mut words = usize::from(first_word > j);
    let mut capitals = words;
    while k < doc.toks.len() && words <= MAX_NAME_WORDS {
        if k > j && !doc.same_phrase(k) {
            return None;
        }
        let tk = doc.toks[k];
        if tk.num {
            return (capitals > 0 && house_number(doc, k)).then_some(k);
        }
        let f = doc.flags(k);
        let capital = (tk.capital() && f & STOP == 0) || tk.non_ascii;
        let ok = capital || (words > 0 && (f & PARTICLE != 0 || doc.street_ending(k)));
        if !ok || date_word(doc.word(k)) {
            return None;
        }
        capitals += usize::from(capital);
        words += 1;
        k += 1;
    }
    None
}

/// A house number after a street name: one to four digits (and a letter),
/// not a figure ("45,000", "3.5", "60%").
fn house_number(doc: &Doc, k: usize) -> bool {
    let t = doc.toks[k];
    let d = t.digits(doc.text);
    let after = doc.text.as_bytes().get(t.end..t.end + 2).unwrap_or(&[]);
    let figure = matches!(after, [b',' | b'.', b'0'..=b'9']) || after.first() == Some(&b'%');
    (1..=4).contains(&d) && !figure
}

/// Month and weekday names: "May 17" and "on Monday 3" are dates.
pub fn date_word(w: &str) -> bool {
    const DATES: &[&str] = &[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    w.len() <= 9 && DATES.iter().any(|d| w.eq_ignore_ascii_case(d))
}

/// A word with a street ending followed by a house number, with up to two
/// capitalised words before it ("Passauer Strasse 33").
pub fn ending_then_number(doc: &Doc, i: usize) -> Option<(usize, usize)> {
    if !doc.street_ending(i) || !doc.is_num(i + 1) || !doc.same_phrase(i + 1) {
        return None;
    }
    let d = doc.toks[i + 1].digits(doc.text);
    if !(1..=5).contains(&d) {
        return None;
    }
    let mut s = i;
    while s > 0 && i - s < 2 && doc.same_phrase(s) {
        let p = doc.toks[s - 1];
        if p.num || !(p.capital() || p.non_ascii) || doc.flags(s - 1) & (STOP | ORG) != 0 {
            break;
        }
        s -= 1;
    }
    Some((s, i + 1))
}

/// "P.O. Box 12", "PO Box 12", "Post Office Box 12", "PSC 1234, Box 5678",
/// "Unit 5146 Box 1772", "USNS Uvarov" (+ FPO line): returns the last token.
pub fn po_box(doc: &Doc, i: usize) -> Option<usize> {
    let w = doc.word(i);
    let is = |k: usize, s: &str| doc.toks.get(k).is_some() && doc.word(k).eq_ignore_ascii_case(s);
    let box_num = |k: usize| (is(k, "box") && doc.is_num(k + 1)).then_some(k + 1);
    if w.eq_ignore_ascii_case("p") && is(i + 1, "o") {
        return box_num(i + 2);
    }
    if w.eq_ignore_ascii_case("po") || w.eq_ignore_ascii_case("pob") {
        return box_num(i + 1).or_else(|| doc.is_num(i + 1).then_some(i + 1));
    }
    if w.eq_ignore_ascii_case("post") && is(i + 1, "office") {
        return box_num(i + 2);
    }
    let any = |w: &str, list: &[&str]| list.iter().any(|l| w.eq_ignore_ascii_case(l));
    if any(w, &["psc", "cmr", "unit"]) && doc.is_num(i + 1) {
        return box_num(i + 2);
    }
    let post = |k: usize| any(doc.word(k), &["apo", "fpo", "dpo"]);
    if any(w, &["usns", "usnv", "uss", "uscgc"]) {
        return (i + 2..doc.toks.len().min(i + 6)).find(|&k| post(k));
    }
    if post(i) && i + 1 < doc.toks.len() && any(doc.word(i + 1), &["aa", "ae", "ap"]) {
        return Some(i + 1);
    }
    None
}

/// "[the] corner of X and Y": from "the" through the end of Y.
pub fn corner(doc: &Doc, i: usize) -> Option<(usize, usize)> {
    let start = if i > 0 && doc.lower_is(i - 1, "the") {
        i - 1
    } else {
        i
    };
    let mut k = i + 2;
    let mut end = None;
    while k < doc.toks.len() && k - i < 10 {
        if doc.toks[k].gap & gap::NEWLINE != 0 {
            break;
        }
        if doc.lower_is(k, "and") && (i + 2..k).any(|x| doc.toks[x].capital() || doc.is_num(x)) {
            end = Some(k - 1);
            let mut y = k + 1;
            while y < doc.toks.len() && y - k <= MAX_NAME_WORDS && doc.same_phrase(y) {
                let t = doc.toks[y];
                if !(t.capital()
                    || t.num
                    || t.non_ascii
                    || (y > k + 1 && doc.flags(y) & PARTICLE != 0))
                {
                    break;
                }
                if t.capital() || t.num || t.non_ascii {
                    end = Some(y);
                }
                y += 1;
            }
            break;
        }
        k += 1;
    }
    end.map(|e| (start, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_shapes() {
        for (w, want) in [
            ("5th", true),
            ("21st", true),
            ("2nd", true),
            ("3rd", true),
            ("5", false),
            ("th", false),
        ] {
            assert_eq!(ordinal(w), want, "{w}");
        }
        for (w, want) in [
            ("May", true),
            ("SEPT", true),
            ("monday", true),
            ("Mayfair", false),
            ("Main", false),
        ] {
            assert_eq!(date_word(w), want, "{w}");
        }
    }
}
