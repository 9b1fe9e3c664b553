//! Street-address rules over the token stream: house number + street name +
//! suffix (US), street-type word or ending + house number (Europe), PO and
//! military boxes, "the corner of X and Y", bare unit designators, and the
//! unit / city / state / ZIP lines that follow. It only finds spans; it must
//! not look at person names and must never index outside the token slice.

use super::Doc;
use super::lexicon::{
    ADDR_CTX, DIRECTION, ORG, PARTICLE, PREFIX, STATE, STOP, SUFFIX, SUFFIX_WEAK, UNIT,
};
use super::street::{
    MAX_NAME_WORDS, corner, ending_then_number, money_before, named_street, ordinal, po_box,
    prefix_word, street_then_number,
};
use super::tokens::{Case, gap};

/// Words that are stop words elsewhere but often start a city or country
/// name ("New Zealand", "United Kingdom", "St Albans").
const PLACE_STARTS: &[&str] = &[
    "new", "united", "north", "south", "east", "west", "northern", "southern", "upper", "lower",
    "great", "saint", "st", "san", "santa", "los", "las", "el", "la", "le", "port", "fort",
    "mount",
];

/// Appends token ranges `(first, last)` (inclusive) of street addresses.
pub fn find(doc: &Doc, out: &mut Vec<(usize, usize)>) {
    let n = doc.toks.len();
    let mut next_free = 0;
    for &i in &doc.starts {
        if i < next_free {
            continue;
        }
        if let Some((s, e)) = at(doc, i) {
            let e = continuation(doc, e.min(n - 1)).0;
            out.push((s.max(next_free), e));
            next_free = e + 1;
        }
    }
}

/// The address core that starts at (or, for "the corner of", just before)
/// token `i`, if any.
fn at(doc: &Doc, i: usize) -> Option<(usize, usize)> {
    let t = doc.toks[i];
    if t.num {
        return numbered(doc, i);
    }
    let w = doc.word(i);
    let num_next = doc.is_num(i + 1);
    if t.case == Case::Lower {
        // Few lower-case words start an address: test cheaply, look up late.
        if w.eq_ignore_ascii_case("corner") && doc.lower_is(i + 1, "of") {
            return corner(doc, i);
        }
        if w.len() <= 5
            && matches!(w.as_bytes()[0], b'p' | b'u' | b'a' | b'f' | b'd' | b'c')
            && let Some(e) = po_box(doc, i)
        {
            return Some((i, e));
        }
        if t.dot && prefix_word(doc, i) {
            return street_then_number(doc, i, i + 1).map(|e| (i, e));
        }
        return if num_next {
            ending_then_number(doc, i)
        } else {
            None
        };
    }
    if w.len() <= 5
        && matches!(w.as_bytes()[0], b'P' | b'U' | b'A' | b'F' | b'D' | b'C')
        && let Some(e) = po_box(doc, i)
    {
        return Some((i, e));
    }
    let f = doc.flags(i);
    if f & UNIT != 0 && t.capital() && is_apt(w) {
        // "Apt. 264", "Suite #17" on their own.
        return (num_next && doc.no_break(i + 1)).then_some((i, i + 1));
    }
    if f & (STOP | ORG) == 0
        && i > 0
        && matches!(doc.word(i - 1), "on" | "at")
        && let Some(e) = named_street(doc, i)
    {
        return Some((i, e));
    }
    // Other capitalised streets need a house number close behind them.
    let num_soon = (i + 1..doc.toks.len().min(i + 7)).any(|k| doc.toks[k].num);
    if !num_soon {
        return None;
    }
    if prefix_word(doc, i) {
        return street_then_number(doc, i, i + 1).map(|e| (i, e));
    }
    if num_next {
        // "Hammarvägen 15", "Passauer Strasse 33", "Gosposka ulica 92".
        if let Some((s, e)) = ending_then_number(doc, i) {
            return Some((s, e));
        }
    }
    if f & (STOP | ORG) != 0 {
        return None;
    }
    if t.case == Case::Title && addr_context(doc, i, true) {
        // "Meet me at the address: Arenales 9462".
        return street_then_number(doc, i, i + 1).map(|e| (i, e));
    }
    None
}

fn is_apt(w: &str) -> bool {
    ["apt", "apartment", "suite", "ste"]
        .iter()
        .any(|a| w.eq_ignore_ascii_case(a))
}

/// Rules that begin with a house number at `i`.
fn numbered(doc: &Doc, i: usize) -> Option<(usize, usize)> {
    let t = doc.toks[i];
    let digits = t.digits(doc.text);
    if digits == 0 || digits > 6 || t.end - t.start > digits + 1 || money_before(doc, i) {
        return None;
    }
    let mut j = i + 1;
    // "370 3911 Fourth Avenue": a second number on the same line.
    if doc.is_num(j)
        && doc.toks[j].gap == 0
        && doc.toks[j].digits(doc.text) == doc.toks[j].end - doc.toks[j].start
        && doc.toks[j].end - doc.toks[j].start <= 6
    {
        j += 1;
    }
    if doc.flags(j) & DIRECTION != 0 && doc.toks.get(j).is_some_and(|d| d.capital()) {
        j += 1;
    }
    let first = doc.toks.get(j)?;
    if first.gap & (gap::NEWLINE | gap::STOP | gap::COLON | gap::COMMA) != 0 {
        return None;
    }
    let lower_prefix = doc.flags(j) & PREFIX != 0 && first.case == Case::Lower;
    if prefix_word(doc, j) || lower_prefix {
        // "69 Av Sidi Lakhmi": without a house number after, the name
        // runs over the capitalised words after the prefix.
        let mut e = j;
        while e + 1 < doc.toks.len() && e - j < MAX_NAME_WORDS && doc.same_phrase(e + 1) {
            let t = doc.toks[e + 1];
            if !(t.capital() || t.non_ascii || doc.flags(e + 1) & PARTICLE != 0) {
                break;
            }
            e += 1;
        }
        while e > j && doc.toks[e].case == Case::Lower && !doc.toks[e].non_ascii {
            e -= 1;
        }
        return match street_then_number(doc, j, j + 1) {
            Some(num) => Some((i, num)),
            None => (e > j).then_some((i, e)),
        };
    }
    // US: number + name words + suffix.
    let mut k = j;
    let mut words = 0;
    while k < doc.toks.len() && words < MAX_NAME_WORDS {
        if k > j && !doc.same_phrase(k) {
            break;
        }
        let f = doc.flags(k);
        let tk = doc.toks[k];
        let suffix = f & (SUFFIX | SUFFIX_WEAK) != 0 && tk.case != Case::Lower;
        if suffix
            && words > 0
            && (f & SUFFIX != 0 || continuation(doc, k).1 || addr_context(doc, i, false))
        {
            return Some((i, k));
        }
        let name_like = (tk.capital() && (f & STOP == 0 || f & (SUFFIX | SUFFIX_WEAK) != 0))
            || (tk.num && ordinal(doc.word(k)))
            || (words > 0 && f & PARTICLE != 0);
        if !name_like {
            break;
        }
        words += 1;
        k += 1;
    }
    // Europe: number + street (+ ending) + house number.
    if let Some(e) = street_then_number(doc, j, j) {
        let year_like = digits == 4 && matches!(&doc.text[t.start..t.start + 2], "19" | "20");
        let strong = (digits >= 3 && !year_like)
            || addr_context(doc, i, false)
            || (j..e).any(|x| doc.toks[x].non_ascii || doc.street_ending(x));
        if strong {
            return Some((i, e));
        }
    }
    None
}

/// Unit, city, state, country and ZIP after an address core ending at `e`.
/// Returns the new last token and whether a unit, state or ZIP was seen.
fn continuation(doc: &Doc, mut e: usize) -> (usize, bool) {
    let mut strong = false;
    let mut segments = 0;
    let mut after_number_or_unit = true;
    while segments < 8 {
        let n = e + 1;
        let Some(t) = doc.toks.get(n) else { break };
        // A line break may carry bullets or quote marks ("> ", "* ").
        let g = if t.gap & gap::NEWLINE != 0 {
            t.gap & (gap::NEWLINE | gap::COMMA)
        } else {
            t.gap
        };
        if g & (gap::COLON | gap::OTHER) != 0 && g & gap::HASH == 0 {
            break;
        }
        if g & gap::STOP != 0 && !doc.toks[e].dot {
            break;
        }
        let w = doc.word(n);
        let f = doc.flags(n);
        if t.num {
            let d = t.digits(doc.text);
            // ZIP+4: "12345-6789".
            let plus4 = doc.is_num(n + 1)
                && doc.text[t.end..].starts_with('-')
                && doc.toks[n + 1].digits(doc.text) == 4;
            let phone_like = !plus4
                && doc.is_num(n + 1)
                && doc.toks[n + 1].gap & (gap::NEWLINE | gap::COMMA) == 0;
            if !(3..=6).contains(&d) || phone_like {
                break;
            }
            e = if plus4 { n + 1 } else { n }; // ZIP or house number
            strong = true;
            break;
        }
        if f & UNIT != 0 && (t.capital() || doc.is_num(n + 1)) || (g & gap::HASH != 0) {
            let k = if g & gap::HASH != 0 && t.num {
                n
            } else {
                n + 1
            };
            if doc.is_num(k) {
                e = k;
                strong = true;
                segments += 1;
                after_number_or_unit = true;
                continue;
            }
            break;
        }
        if t.case == Case::Upper && w.len() == 2 && f & STATE != 0 {
            e = n;
            strong = true;
            segments += 1;
            after_number_or_unit = false;
            continue;
        }
        // City or country: capitalised words, with a break before them or
        // straight after a number or unit.
        let broken = g & (gap::NEWLINE | gap::COMMA) != 0;
        let place_word = f & STOP == 0 || PLACE_STARTS.iter().any(|p| w.eq_ignore_ascii_case(p));
        if (t.capital() || t.non_ascii) && place_word && (broken || after_number_or_unit) {
            let mut k = n;
            while k + 1 < doc.toks.len() && k + 1 - n < 4 && doc.same_phrase(k + 1) {
                let nt = doc.toks[k + 1];
                if nt.num || !(nt.capital() || nt.non_ascii || doc.flags(k + 1) & PARTICLE != 0) {
                    break;
                }
                k += 1;
            }
            while doc.toks[k].case == Case::Lower && k > n {
                k -= 1;
            }
            e = k;
            segments += 1;
            after_number_or_unit = false;
            continue;
        }
        break;
    }
    (e, strong)
}

/// Address words strong enough to make "Word 12" an address alone.
const STRONG_CONTEXT: &[&str] = &[
    "address",
    "addresses",
    "addr",
    "lives",
    "live",
    "lived",
    "living",
    "located",
    "reside",
    "resides",
    "residing",
    "residence",
    "moved",
    "billing",
    "shipping",
    "mailing",
];

/// An address word within four tokens before `i`, in the same sentence and
/// line. With `strong`, only `STRONG_CONTEXT` words count.
fn addr_context(doc: &Doc, i: usize, strong: bool) -> bool {
    let lo = i.saturating_sub(4);
    for k in (lo..i).rev() {
        if doc.flags(k) & ADDR_CTX != 0 {
            let w = doc.word(k);
            if !strong || STRONG_CONTEXT.iter().any(|s| w.eq_ignore_ascii_case(s)) {
                return true;
            }
        }
        if doc.toks[k].gap & (gap::STOP | gap::NEWLINE) != 0 {
            break;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::{NameDetector, NameKind};

    fn addresses(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        NameDetector::new().detect(text, &mut out);
        out.iter()
            .filter(|f| f.2 == NameKind::StreetAddress)
            .map(|f| &text[f.0..f.1])
            .collect()
    }

    #[test]
    fn address_shapes() {
        let cases: &[(&str, &[&str])] = &[
            ("at 1668 Glyn St today", &["1668 Glyn St"]),
            (
                "5th: 12 5th Ave NW, Washington, DC 20001-1234 ok",
                &["12 5th Ave NW, Washington, DC 20001-1234"],
            ),
            ("P.O. Box 287, Tallinn", &["P.O. Box 287, Tallinn"]),
            (
                "PSC 6293, Box 8158\nAPO AP 04336",
                &["PSC 6293, Box 8158\nAPO AP 04336"],
            ),
            ("USNV Uvarov\nFPO AE 17332", &["USNV Uvarov\nFPO AE 17332"]),
            ("ul. Cicha 86 and more", &["ul. Cicha 86"]),
            (
                "2456 Rue de Virton 38\n Suite 510\n Ettelgem\n Belgium",
                &["2456 Rue de Virton 38\n Suite 510\n Ettelgem\n Belgium"],
            ),
            (
                "Passauer Strasse 33, Cite Guedouala",
                &["Passauer Strasse 33, Cite Guedouala"],
            ),
            (
                "> 935 69 Gordon Terrace\n> Suite 828\n> United Kingdom 89800",
                &["935 69 Gordon Terrace\n> Suite 828\n> United Kingdom 89800"],
            ),
            (
                "The bus station is on Pod Floriánem 1677",
                &["Pod Floriánem 1677"],
            ),
            ("shows on Marina Fort Street were", &["Marina Fort Street"]),
            ("Apt. 264", &["Apt. 264"]),
            // A weak suffix ("Park") needs support: none here.
            ("In 1999 Central Park hosted it.", &[]),
            ("costs $120 Main Street prices", &[]),
            ("Route 66 is long", &["Route 66"]),
        ];
        for (text, want) in cases {
            assert_eq!(addresses(text), *want, "{text}");
        }
    }
}
