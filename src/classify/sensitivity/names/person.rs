//! Person-name rules over the token stream: runs of capitalised words are
//! scored from the census name lists, titles, context words before them,
//! middle initials, letters outside ASCII and surname endings. It only finds
//! spans; it must not report words inside an address, and a common word
//! that is also a name ("May", "Will", "Grant") never counts alone.

use super::Doc;
use super::lexicon::{AMBIG, GIVEN, ORG, PERSON_CTX, STOP, SUFFIX, SURNAME, TITLE};
use super::tokens::{Case, gap};

/// Longest name kept: given, middle, middle, surname.
const MAX_RUN: usize = 4;

/// Surname endings of European languages ("Kowalski", "Petrova",
/// "Sigfúsdóttir"): a second capitalised word ending so is taken as a surname.
const SURNAME_ENDINGS: &[&str] = &[
    "ov", "ova", "ová", "ev", "eva", "ski", "ska", "sky", "ský", "ská", "sen", "dóttir", "dottir",
    "ić", "vić", "vich", "enko", "escu", "poulos", "yan", "shvili", "dze", "berg", "stein", "mann",
    "elli", "etti", "ucci", "oglu", "oğlu", "akis", "nen", "czyk", "wicz",
];

/// Lower-case words inside a name ("Willemine ten Pas", "Maika van de Noort").
const NAME_PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "del", "della", "da", "das", "dos", "do", "di", "du", "des",
    "la", "le", "ten", "ter", "bin", "ibn", "al", "el",
];

/// Words for people close to the writer: a capitalised word after one is a
/// name ("my son Lukas", "the patient Jane").
const RELATIONS: &[&str] = &[
    "wife",
    "husband",
    "son",
    "daughter",
    "mother",
    "father",
    "mom",
    "dad",
    "brother",
    "sister",
    "kid",
    "child",
    "friend",
    "boss",
    "partner",
    "colleague",
    "patient",
    "client",
    "tenant",
    "uncle",
    "aunt",
    "cousin",
    "nephew",
    "niece",
    "grandson",
    "granddaughter",
    "grandmother",
    "grandfather",
    "girlfriend",
    "boyfriend",
    "fiancé",
    "fiancée",
    "fiance",
    "fiancee",
    "spouse",
    "coworker",
];

/// How strongly the words before a run say "a name follows".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cue {
    None,
    /// "by", "says", "with", "to": a pair of capitalised words counts.
    Weak,
    /// "Mr.", "name is", "Dear", "Patient:": one capitalised word counts.
    Strong,
}

/// Appends token ranges `(first, last)` (inclusive) of person names.
pub fn find(doc: &Doc, covered: &[bool], out: &mut Vec<(usize, usize)>) {
    let first_found = out.len();
    let n = doc.toks.len();
    let mut next_free = 0;
    for &i in &doc.starts {
        if i < next_free {
            continue;
        }
        if covered[i] || !starts_name(doc, i) {
            if let Some(e) = lowercase_name(doc, i + 1) {
                out.push((i + 1, e));
                next_free = e + 1;
            }
            continue;
        }
        let mut e = i;
        let mut org = false;
        while e + 1 < n && e + 1 - i < MAX_RUN + 2 && !covered[e + 1] && doc.same_phrase(e + 1) {
            let t = doc.toks[e + 1];
            let particle = t.case == Case::Lower
                && NAME_PARTICLES.contains(&doc.word(e + 1))
                && starts_name(doc, e + 2);
            if !(starts_name(doc, e + 1) || particle) {
                break;
            }
            org |= doc.flags(e + 1) & (ORG | SUFFIX) != 0;
            e += 1;
        }
        if !org
            && doc.flags(i) & (ORG | SUFFIX) == 0
            && let Some((s, last)) = judge(doc, covered, i, e)
        {
            out.push((s, last));
        }
        next_free = e + 1;
    }
    super::person_spread::spread(doc, covered, first_found, out);
}

/// A capitalised word that could be part of a name.
fn starts_name(doc: &Doc, i: usize) -> bool {
    doc.toks.get(i).is_some_and(|t| {
        t.case == Case::Initial || (t.case == Case::Title && doc.flags(i) & STOP == 0)
    })
}

/// Decides on the run `s..=e`; returns the part that is a name.
fn judge(doc: &Doc, covered: &[bool], s: usize, e: usize) -> Option<(usize, usize)> {
    let cue = cue_before(doc, s);
    let sentence_start =
        doc.toks[s].gap & (gap::STOP | gap::NEWLINE | gap::COLON | gap::OTHER) != 0;
    let initial = |k: usize| doc.toks[k].case == Case::Initial;
    let words = (s..=e).filter(|&k| !initial(k)).count();
    // Trailing initials ("... Smith J") are dropped; a lone initial is no name.
    let mut last = e;
    while last > s && (initial(last) || doc.toks[last].case == Case::Lower) {
        last -= 1;
    }
    if words == 0 {
        return None;
    }
    let cap = |k: usize| (s + MAX_RUN - 1).min(k);
    let cue = cue.max(cue_after(doc, last));
    if cue == Cue::Strong && !initial(s) {
        return Some(span_from(doc, s, last));
    }
    // A known given name starts the name.
    for g in s..=last {
        let f = doc.flags(g);
        if f & GIVEN == 0 {
            continue;
        }
        let next = (g + 1..=last).find(|&k| !initial(k));
        let backed = next.is_some_and(|k| {
            let nf = doc.flags(k);
            nf & SURNAME != 0 || (nf & GIVEN != 0 && nf & AMBIG == 0)
        });
        if f & AMBIG == 0 || backed {
            let end = if next.is_some() || g == last { last } else { g };
            return Some((g, (g + MAX_RUN - 1).min(end)));
        }
    }
    // Two or more unknown words: a name when something else speaks for it.
    let first = (s..=last)
        .find(|&k| !initial(k))
        .unwrap_or(s)
        .min(cap(last));
    let pair_words = (first..=last).filter(|&k| !initial(k)).count();
    if pair_words >= 2 {
        let middle_initial = (first + 1..last).any(initial);
        let foreign = (first..=last).any(|k| doc.toks[k].non_ascii);
        let ending = surname_ending(doc.word(last));
        let surname = doc.flags(last) & SURNAME != 0 && doc.flags(last) & AMBIG == 0;
        // A line of its own just above an address: a letter or label head.
        let n = doc.toks.len();
        let own_line = doc.toks[s].gap & gap::NEWLINE != 0
            && (e + 1 == n || doc.toks[e + 1].gap & gap::NEWLINE != 0)
            && (e + 1..n.min(e + 16)).any(|k| covered[k]);
        if cue == Cue::Weak
            || middle_initial
            || foreign
            || ending
            || own_line
            || (surname && !sentence_start)
        {
            return Some(span_from(doc, first, last));
        }
    }
    None
}

/// The name span of a run judged from `s` through `last`: a capitalised cue
/// or title word it starts with ("Patient Zoë Smith", "Captain Jan Novák")
/// is left out, as the gold spans leave out titles, unless it is a given
/// name too ("Son"); the last word always stays. At most `MAX_RUN` tokens.
fn span_from(doc: &Doc, s: usize, last: usize) -> (usize, usize) {
    let mut first = s;
    while first < last && doc.toks[first].case == Case::Title && {
        let f = doc.flags(first);
        f & (PERSON_CTX | TITLE) != 0 && f & GIVEN == 0
    } {
        first += 1;
    }
    (first, (first + MAX_RUN - 1).min(last))
}

pub fn surname_ending(w: &str) -> bool {
    if w.chars().count() < 5 {
        return false;
    }
    // "-son" after a consonant that starts no common English noun ending:
    // "Jackson", "Gibson", "Robertson", not "Person", "Season", "Lesson".
    let son = w.len() > 4
        && w.ends_with("son")
        && matches!(
            w.as_bytes()[w.len() - 4],
            b'k' | b'n' | b'l' | b'd' | b't' | b'm' | b'b' | b'g' | b'p' | b'v'
        );
    son || SURNAME_ENDINGS.iter().any(|e| w.ends_with(e))
}

/// What the one or two words before token `s` say.
fn cue_before(doc: &Doc, s: usize) -> Cue {
    if s == 0 {
        return Cue::None;
    }
    let p = s - 1;
    let pf = doc.flags(p);
    if pf & TITLE != 0 && doc.toks[p].case != Case::Lower && doc.same_phrase(s) {
        return Cue::Strong;
    }
    // Fast exit: most words before a capital are no cue at all.
    let pronoun = matches!(
        doc.word(p),
        "is" | "was" | "me" | "m" | "am" | "him" | "her"
    );
    if pf & PERSON_CTX == 0 && !pronoun {
        return Cue::None;
    }
    // Quotes or brackets between cue and word: code or a title, not a name.
    let between = doc.text[doc.toks[p].end..doc.toks[s].start].trim();
    if !matches!(between, "" | ":" | "," | "?" | ".") {
        return Cue::None;
    }
    if between == "." {
        return Cue::None; // a sentence end (titles were handled above)
    }
    let mut buf = [0u8; 16];
    let w = lower(doc.word(p), &mut buf);
    if w == "name" {
        return Cue::Strong; // "last name? Boyle", "Name: Jan Engel"
    }
    let mut buf2 = [0u8; 16];
    let pw = if p > 0 {
        lower(doc.word(p - 1), &mut buf2)
    } else {
        ""
    };
    let strong = match w {
        _ if RELATIONS.contains(&w) => doc.toks[p].case == Case::Lower,
        "him" | "her" => pw == "named" || pw == "called",
        "called" | "named" | "dear" | "hi" | "hello" | "hey" | "patient" | "signed" | "regards"
        | "sincerely" | "cheers" | "attn" | "sender" | "recipient" => true,
        "is" | "was" => pw == "name",
        "me" => pw == "call" || pw == "calls",
        "m" => pw == "i",
        "am" => pw == "i",
        _ => pf & PERSON_CTX != 0 && doc.toks[s].gap & gap::COLON != 0,
    };
    // Header words count only with a colon ("From: Jane Roe"); alone they
    // precede too many titles ("to Critical Security Studies").
    let header = matches!(w, "to" | "from" | "by" | "cc" | "attn" | "user" | "contact");
    if strong {
        Cue::Strong
    } else if pf & PERSON_CTX != 0 && !header {
        Cue::Weak
    } else {
        Cue::None
    }
}

/// `w` in ASCII lower case, in `buf`; "" when longer than the buffer or
/// not ASCII (no cue word is).
fn lower<'b>(w: &str, buf: &'b mut [u8; 16]) -> &'b str {
    if w.len() > buf.len() || !w.is_ascii() {
        return "";
    }
    let b = &mut buf[..w.len()];
    b.copy_from_slice(w.as_bytes());
    b.make_ascii_lowercase();
    std::str::from_utf8(b).unwrap_or("")
}

/// What the words after token `last` say: "X lives at", "X's daughter"
/// (strong), "X said" (weak).
fn cue_after(doc: &Doc, last: usize) -> Cue {
    let k = last + 1;
    if k >= doc.toks.len() || doc.toks[k].case != Case::Lower {
        return Cue::None;
    }
    let w = doc.word(k);
    if doc.toks[k].gap == gap::OTHER && w == "s" {
        let rel = k + 1 < doc.toks.len() && RELATIONS.contains(&doc.word(k + 1));
        return if rel { Cue::Strong } else { Cue::None };
    }
    if doc.toks[k].gap != 0 {
        return Cue::None;
    }
    match w {
        "lives" | "lived" | "born" | "married" | "died" | "shouted" | "replied" | "whispered" => {
            Cue::Strong
        }
        "said" | "says" | "told" | "asked" | "explained" | "wrote" | "writes" | "flew"
        | "spent" | "began" => Cue::Weak,
        _ => Cue::None,
    }
}

/// "my name is chad", "call me nathan": a lower-case given name right after
/// a strong cue. Returns the last token of the name.
fn lowercase_name(doc: &Doc, i: usize) -> Option<usize> {
    let t = *doc.toks.get(i)?;
    if t.case != Case::Lower || t.num || i == 0 || !matches!(doc.word(i - 1), "is" | "me") {
        return None;
    }
    if cue_before(doc, i) != Cue::Strong || doc.flags(i) & GIVEN == 0 || doc.flags(i) & STOP != 0 {
        return None;
    }
    let next = i + 1;
    let surname = next < doc.toks.len()
        && doc.toks[next].case == Case::Lower
        && doc.same_phrase(next)
        && doc.flags(next) & SURNAME != 0
        && doc.flags(next) & STOP == 0;
    Some(if surname { next } else { i })
}

#[cfg(test)]
mod tests {
    use super::super::{NameDetector, NameKind};

    fn persons(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        NameDetector::new().detect(text, &mut out);
        let mut v: Vec<_> = out.iter().filter(|f| f.2 == NameKind::Person).collect();
        v.sort_by_key(|f| f.0);
        v.iter().map(|f| &text[f.0..f.1]).collect()
    }

    #[test]
    fn person_rules() {
        let cases: &[(&str, &[&str])] = &[
            // Given name + unknown surname; title; context words.
            ("ask Tamara Wojcik", &["Tamara Wojcik"]),
            ("Ms. Quinzia called", &["Quinzia"]),
            ("What's your last name? Turgeon", &["Turgeon"]),
            ("She named him Frank", &["Frank"]),
            ("my son Lukas is ill", &["Lukas"]),
            ("Trivo lives on Grössgstötten 50 street.", &["Trivo"]),
            ("It was Franciska's kid.", &["Franciska"]),
            // Middle initial, letters outside ASCII, surname endings.
            ("by Szabina J Gelencsér today", &["Szabina J Gelencsér"]),
            ("Is it Ivan Petrov?", &["Ivan Petrov"]),
            ("then Boris Kuznetsov left", &["Boris Kuznetsov"]),
            // Lists and repeats.
            ("Usamov and Bowers were engineers.", &["Usamov", "Bowers"]),
            (
                "Alvir D. Pušaver met Alvir.",
                &["Alvir D. Pušaver", "Alvir"],
            ),
            ("Ubul: Hi.\nNicole: Hello.", &["Ubul", "Nicole"]),
            // Lower case after a strong cue.
            ("my name is chad", &["chad"]),
            // Ambiguous words alone, months, places and organisations.
            ("Will Smith and May", &["Will Smith"]),
            ("June 5 and August 12", &[]),
            ("Georgia Tech and Virginia Beach", &[]),
            ("the Jackson Street Bridge", &[]),
            ("Boston Omaha Corporation", &[]),
            ("Dear Sir, hello World", &[]),
            // A capitalised cue or title word before the name stays out of
            // the span, and so is not remembered as a name.
            (
                "Patient Zoë Smith was seen. Patient is stable.",
                &["Zoë Smith"],
            ),
            ("Captain Zdenka Nováková", &["Zdenka Nováková"]),
            ("Nurse Ratched said so", &["Ratched"]),
            (
                "Patient Anna Maria Kowalska Nowak",
                &["Anna Maria Kowalska Nowak"],
            ),
            ("Son Nguyen was here", &["Son Nguyen"]),
        ];
        for (text, want) in cases {
            assert_eq!(persons(text), *want, "{text}");
        }
    }
}
