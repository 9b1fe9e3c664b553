//! The cue table and the one pass that counts cues in a text: one
//! Aho-Corasick automaton over every phrase (ASCII case-insensitive), plus
//! one byte loop for what phrases cannot say cheaply (personal pronouns, numbers, sentence ends, question marks, code
//! symbols). Neither allocates; the automaton is built once.
//!
//! Pattern syntax: a phrase matches as whole words; a trailing `*` makes it
//! a stem (`negligen*` matches "negligent" and "negligence"), a leading
//! `*` a suffix (`*n't` matches "didn't"); a phrase that
//! starts or ends with a character that is not a letter or digit (`\n1. `,
//! `=`) is not checked for a word boundary on that side. A match that
//! fails its boundary check is dropped (leftmost-longest, non-overlapping).
//!
//! Must not: keep or return any of the text, only counts.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::OnceLock;

/// What a phrase counts toward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(super) enum Cue {
    Reasoning,
    Step,
    Constraint,
    Negation,
    Comparison,
    Recall,
    NumberWord,
    Part,
    Logic,
    Legal,
    Technical,
    Science,
    Ethics,
    Code,
    Math,
    Detail,
    UnitWords,
    UnitPages,
    UnitParagraphs,
    Extraction,
    Classification,
    Summarization,
    Translation,
    Formatting,
    Creative,
    CurrentStrong,
    CurrentTime,
    CurrentTopic,
}

impl Cue {
    pub(super) const COUNT: usize = Cue::CurrentTopic as usize + 1;
}

use Cue::*;

/// Every phrase and what it counts toward. Hand-written lists of generic
/// vocabulary, not mined from any data set.
const CUES: &[(&str, Cue)] = &[
    // Reasoning: the request asks for analysis, not recall (requests, not
    // topic nouns like "strategy").
    ("step by step", Reasoning),
    ("step-by-step", Reasoning),
    ("explain why", Reasoning),
    ("why does", Reasoning),
    ("why do", Reasoning),
    ("why is", Reasoning),
    ("how does", Reasoning),
    ("analy*", Reasoning),
    ("trade-off*", Reasoning),
    ("tradeoff*", Reasoning),
    ("compare", Reasoning),
    ("contrast", Reasoning),
    ("evaluate", Reasoning),
    ("assess", Reasoning),
    ("justify", Reasoning),
    ("critique", Reasoning),
    ("design a", Reasoning),
    ("optimi*", Reasoning),
    ("root cause", Reasoning),
    ("pros and cons", Reasoning),
    ("think through", Reasoning),
    ("what would happen", Reasoning),
    ("what if", Reasoning),
    ("riddle", Reasoning),
    ("prove that", Reasoning),
    ("derive", Reasoning),
    ("explain your reasoning", Reasoning),
    ("show that", Reasoning),
    ("puzzle", Reasoning),
    // Steps: ordered parts of one request.
    ("first,", Step),
    ("then", Step),
    ("after that", Step),
    ("finally", Step),
    ("next,", Step),
    ("secondly", Step),
    ("lastly", Step),
    ("followed by", Step),
    ("\n1. ", Step),
    ("\n2. ", Step),
    ("\n3. ", Step),
    ("\n4. ", Step),
    ("\n5. ", Step),
    ("\n1) ", Step),
    ("\n2) ", Step),
    ("\n3) ", Step),
    ("\n- ", Step),
    ("\n* ", Step),
    // Constraints the answer must satisfy together.
    ("must", Constraint),
    ("should", Constraint),
    ("only", Constraint),
    ("each", Constraint),
    ("every", Constraint),
    ("both", Constraint),
    ("unless", Constraint),
    ("without", Constraint),
    ("at least", Constraint),
    ("at most", Constraint),
    ("no more than", Constraint),
    ("no fewer than", Constraint),
    ("exactly", Constraint),
    ("make sure", Constraint),
    ("ensure", Constraint),
    ("avoid", Constraint),
    ("provided that", Constraint),
    ("as long as", Constraint),
    ("in addition", Constraint),
    // Negation: questions that turn on a "not" or an "except".
    ("not", Negation),
    ("never", Negation),
    ("except", Negation),
    ("least", Negation),
    ("false", Negation),
    ("incorrect", Negation),
    ("cannot", Negation),
    ("*n't", Negation),
    ("*n\u{2019}t", Negation),
    // Comparisons: relations between quantities or options.
    ("more", Comparison),
    ("less", Comparison),
    ("than", Comparison),
    ("higher", Comparison),
    ("lower", Comparison),
    ("greater", Comparison),
    ("fewer", Comparison),
    ("smaller", Comparison),
    ("larger", Comparison),
    ("highest", Comparison),
    ("lowest", Comparison),
    ("most", Comparison),
    ("increas*", Comparison),
    ("decreas*", Comparison),
    ("reduc*", Comparison),
    ("rise", Comparison),
    ("rises", Comparison),
    ("fall", Comparison),
    ("falls", Comparison),
    ("twice", Comparison),
    ("half as", Comparison),
    // Recall: asks for a name or a definition.
    ("is called", Recall),
    ("are called", Recall),
    ("was called", Recall),
    ("refers to", Recall),
    ("is known as", Recall),
    ("are known as", Recall),
    ("was known as", Recall),
    ("is defined as", Recall),
    ("is termed", Recall),
    ("the term", Recall),
    ("stands for", Recall),
    ("what is the name", Recall),
    ("what year", Recall),
    ("in which year", Recall),
    ("capital of", Recall),
    ("who wrote", Recall),
    ("who invented", Recall),
    ("who discovered", Recall),
    // Numbers written as words (counted with the digit runs).
    ("two", NumberWord),
    ("three", NumberWord),
    ("four", NumberWord),
    ("five", NumberWord),
    ("six", NumberWord),
    ("seven", NumberWord),
    ("eight", NumberWord),
    ("nine", NumberWord),
    ("ten", NumberWord),
    ("eleven", NumberWord),
    ("twelve", NumberWord),
    ("fifteen", NumberWord),
    ("twenty", NumberWord),
    ("thirty", NumberWord),
    ("forty", NumberWord),
    ("fifty", NumberWord),
    ("sixty", NumberWord),
    ("hundred*", NumberWord),
    ("thousand*", NumberWord),
    ("million*", NumberWord),
    ("billion*", NumberWord),
    ("dozen*", NumberWord),
    ("half", NumberWord),
    ("quarter", NumberWord),
    ("triple", NumberWord),
    ("double", NumberWord),
    // Enumerated parts to judge one by one.
    ("statement 1", Part),
    ("statement 2", Part),
    ("statement 3", Part),
    ("scenario 1", Part),
    ("scenario 2", Part),
    ("case 1", Part),
    ("case 2", Part),
    ("claim 1", Part),
    ("claim 2", Part),
    ("\ni. ", Part),
    ("\nii. ", Part),
    ("\niii. ", Part),
    ("\niv. ", Part),
    ("\ni) ", Part),
    ("\nii) ", Part),
    ("\niii) ", Part),
    // Formal logic and argument.
    ("valid", Logic),
    ("invalid", Logic),
    ("argument*", Logic),
    ("premise*", Logic),
    ("conclusion*", Logic),
    ("implies", Logic),
    ("implication", Logic),
    ("necessary condition", Logic),
    ("sufficient condition", Logic),
    ("fallac*", Logic),
    ("infer*", Logic),
    ("deduc*", Logic),
    ("inductive", Logic),
    ("counterexample*", Logic),
    ("entail*", Logic),
    ("contradict*", Logic),
    ("tautolog*", Logic),
    ("truth table", Logic),
    ("syllogism*", Logic),
    ("predicate*", Logic),
    ("quantifier*", Logic),
    ("proposition*", Logic),
    ("symboli*", Logic),
    ("if and only if", Logic),
    ("logically", Logic),
    ("paradox*", Logic),
    // Legal reasoning: facts to apply rules to.
    ("plaintiff*", Legal),
    ("defendant*", Legal),
    ("court*", Legal),
    ("statut*", Legal),
    ("contract*", Legal),
    ("tort*", Legal),
    ("negligen*", Legal),
    ("liable", Legal),
    ("liabilit*", Legal),
    ("constitution*", Legal),
    ("amendment*", Legal),
    ("jurisdiction*", Legal),
    ("appeal*", Legal),
    ("testimony", Legal),
    ("evidence", Legal),
    ("hearsay", Legal),
    ("prosecut*", Legal),
    ("convict*", Legal),
    ("felon*", Legal),
    ("misdemeanor*", Legal),
    ("crime*", Legal),
    ("criminal*", Legal),
    ("lawsuit*", Legal),
    ("damages", Legal),
    ("breach*", Legal),
    ("tenant*", Legal),
    ("landlord*", Legal),
    ("deed*", Legal),
    ("mortgag*", Legal),
    ("easement*", Legal),
    ("covenant*", Legal),
    ("grantor*", Legal),
    ("grantee*", Legal),
    ("convey*", Legal),
    ("trespass*", Legal),
    ("burglar*", Legal),
    ("larceny", Legal),
    ("robbery", Legal),
    ("murder*", Legal),
    ("manslaughter", Legal),
    ("homicide*", Legal),
    ("attorney*", Legal),
    ("lawyer*", Legal),
    ("judge*", Legal),
    ("jury", Legal),
    ("trial*", Legal),
    ("precedent*", Legal),
    ("ordinance*", Legal),
    ("injunction*", Legal),
    ("warrant*", Legal),
    ("due process", Legal),
    ("legislat*", Legal),
    ("lease*", Legal),
    ("fiduciary", Legal),
    ("estoppel", Legal),
    ("verdict*", Legal),
    ("guilty", Legal),
    ("sued", Legal),
    // Computing concepts.
    ("algorithm*", Technical),
    ("compiler*", Technical),
    ("pipelin*", Technical),
    ("cache*", Technical),
    ("processor*", Technical),
    ("cpu*", Technical),
    ("gpu*", Technical),
    ("register*", Technical),
    ("binary", Technical),
    ("byte*", Technical),
    ("hash*", Technical),
    ("encrypt*", Technical),
    ("cipher*", Technical),
    ("protocol*", Technical),
    ("packet*", Technical),
    ("tcp", Technical),
    ("database*", Technical),
    ("query", Technical),
    ("queries", Technical),
    ("software", Technical),
    ("hardware", Technical),
    ("recursi*", Technical),
    ("runtime", Technical),
    ("thread*", Technical),
    ("kernel*", Technical),
    ("operating system*", Technical),
    ("neural", Technical),
    ("gradient*", Technical),
    ("classifier*", Technical),
    ("overfit*", Technical),
    ("regulari*", Technical),
    ("loss function", Technical),
    ("boolean", Technical),
    ("floating point", Technical),
    ("stack", Technical),
    ("queue*", Technical),
    ("heap", Technical),
    ("linked list", Technical),
    ("array*", Technical),
    ("pointer*", Technical),
    ("deadlock*", Technical),
    ("mutex*", Technical),
    ("concurren*", Technical),
    ("latency", Technical),
    ("bandwidth", Technical),
    ("throughput", Technical),
    ("turing", Technical),
    ("automat*", Technical),
    ("np-complete", Technical),
    ("time complexity", Technical),
    ("server*", Technical),
    ("network*", Technical),
    ("program*", Technical),
    ("website*", Technical),
    ("web page*", Technical),
    ("file", Technical),
    ("files", Technical),
    ("directory", Technical),
    ("directories", Technical),
    ("string", Technical),
    ("strings", Technical),
    // Quantitative science and economics.
    ("velocity", Science),
    ("acceleration", Science),
    ("momentum", Science),
    ("force*", Science),
    ("energy", Science),
    ("kinetic", Science),
    ("friction*", Science),
    ("gravit*", Science),
    ("magnet*", Science),
    ("electric*", Science),
    ("charge*", Science),
    ("voltage*", Science),
    ("resistance", Science),
    ("capacitor*", Science),
    ("circuit*", Science),
    ("frequenc*", Science),
    ("wavelength*", Science),
    ("photon*", Science),
    ("electron*", Science),
    ("proton*", Science),
    ("neutron*", Science),
    ("quantum", Science),
    ("thermodynamic*", Science),
    ("entropy", Science),
    ("enthalpy", Science),
    ("equilibri*", Science),
    ("elastic*", Science),
    ("marginal", Science),
    ("aggregate", Science),
    ("monetary", Science),
    ("fiscal", Science),
    ("inflation*", Science),
    ("unemployment", Science),
    ("interest rate*", Science),
    ("gdp", Science),
    ("price level", Science),
    ("money supply", Science),
    ("tariff*", Science),
    ("comparative advantage", Science),
    ("opportunity cost*", Science),
    ("monopol*", Science),
    ("oligopol*", Science),
    ("variance", Science),
    ("standard deviation", Science),
    ("regression", Science),
    ("correlation*", Science),
    ("hypothes*", Science),
    ("confidence interval*", Science),
    ("distribution*", Science),
    ("expected value", Science),
    ("random variable*", Science),
    ("molecul*", Science),
    ("reaction*", Science),
    ("oxidation", Science),
    ("isotope*", Science),
    // Normative judgement.
    ("moral*", Ethics),
    ("ethic*", Ethics),
    ("wrong*", Ethics),
    ("permissib*", Ethics),
    ("obligat*", Ethics),
    ("duty", Ethics),
    ("duties", Ethics),
    ("virtue*", Ethics),
    ("justif*", Ethics),
    ("fairness", Ethics),
    ("utilitarian*", Ethics),
    ("deontolog*", Ethics),
    ("kant*", Ethics),
    ("ought", Ethics),
    // Code: writing or reading programs.
    ("```", Code),
    ("def", Code),
    ("fn", Code),
    ("function*", Code),
    ("#include", Code),
    ("=>", Code),
    ("->", Code),
    ("println", Code),
    ("printf", Code),
    ("console.log", Code),
    ("public static", Code),
    ("python", Code),
    ("javascript", Code),
    ("typescript", Code),
    ("java", Code),
    ("c++", Code),
    ("golang", Code),
    ("sql", Code),
    ("regex*", Code),
    ("code", Code),
    ("coding", Code),
    ("implement", Code),
    ("refactor*", Code),
    ("debug*", Code),
    ("bug", Code),
    ("compile", Code),
    ("unit test*", Code),
    ("stack trace", Code),
    ("traceback", Code),
    ("api", Code),
    ("html", Code),
    ("css", Code),
    ("bash", Code),
    ("git", Code),
    ("docker*", Code),
    ("kubernetes", Code),
    ("npm", Code),
    ("pip install", Code),
    // Math: computation and proof.
    ("equation*", Math),
    ("integer*", Math),
    ("solve", Math),
    ("integral*", Math),
    ("derivative*", Math),
    ("polynomial*", Math),
    ("matrix", Math),
    ("matrices", Math),
    ("logarithm*", Math),
    ("theorem*", Math),
    ("prove", Math),
    ("proof*", Math),
    ("remainder", Math),
    ("divisible", Math),
    ("prime number*", Math),
    ("fraction*", Math),
    ("how many", Math),
    ("how much", Math),
    ("percent*", Math),
    ("%", Math),
    ("=", Math),
    ("^", Math),
    ("\u{221a}", Math),
    ("\u{222b}", Math),
    ("\u{2211}", Math),
    ("\u{3c0}", Math),
    ("\u{2264}", Math),
    ("\u{2265}", Math),
    ("\u{b1}", Math),
    ("\u{d7}", Math),
    ("\u{f7}", Math),
    ("\\frac", Math),
    ("sqrt", Math),
    ("calculate", Math),
    ("compute", Math),
    ("probabilit*", Math),
    ("sum of", Math),
    ("product of", Math),
    ("area of", Math),
    ("perimeter", Math),
    ("radius", Math),
    ("triangle*", Math),
    ("slope", Math),
    // Requested length of the answer.
    ("detailed", Detail),
    ("in detail", Detail),
    ("comprehensive", Detail),
    ("in depth", Detail),
    ("in-depth", Detail),
    ("thorough*", Detail),
    ("exhaustive", Detail),
    ("elaborate", Detail),
    ("extensive", Detail),
    ("full report", Detail),
    ("long-form", Detail),
    ("at length", Detail),
    ("words", UnitWords),
    ("word", UnitWords),
    ("pages", UnitPages),
    ("page", UnitPages),
    ("paragraphs", UnitParagraphs),
    ("paragraph", UnitParagraphs),
    // Task kinds.
    ("extract*", Extraction),
    ("pull out", Extraction),
    ("list all", Extraction),
    ("parse the", Extraction),
    ("find all", Extraction),
    ("identify all", Extraction),
    ("named entit*", Extraction),
    ("classify", Classification),
    ("categori*", Classification),
    ("sentiment", Classification),
    ("label the", Classification),
    ("label each", Classification),
    ("is this spam", Classification),
    ("which category", Classification),
    ("summari*", Summarization),
    ("summary", Summarization),
    ("tl;dr", Summarization),
    ("key points", Summarization),
    ("main points", Summarization),
    ("condense", Summarization),
    ("recap", Summarization),
    ("translat*", Translation),
    ("into english", Translation),
    ("into french", Translation),
    ("into spanish", Translation),
    ("into german", Translation),
    ("into italian", Translation),
    ("into chinese", Translation),
    ("into japanese", Translation),
    ("into portuguese", Translation),
    ("reformat*", Formatting),
    ("format as", Formatting),
    ("format this", Formatting),
    ("format the", Formatting),
    ("convert to", Formatting),
    ("convert this", Formatting),
    ("as json", Formatting),
    ("as a table", Formatting),
    ("into a table", Formatting),
    ("markdown", Formatting),
    ("csv", Formatting),
    ("yaml", Formatting),
    ("bullet points", Formatting),
    ("bulleted", Formatting),
    ("capitali*", Formatting),
    ("alphabeti*", Formatting),
    ("proofread*", Formatting),
    ("fix the grammar", Formatting),
    ("fix grammar", Formatting),
    ("spelling", Formatting),
    ("rephrase", Formatting),
    ("paraphrase", Formatting),
    ("story", Creative),
    ("stories", Creative),
    ("poem*", Creative),
    ("poetry", Creative),
    ("haiku*", Creative),
    ("limerick*", Creative),
    ("sonnet*", Creative),
    ("lyrics", Creative),
    ("song", Creative),
    ("fiction*", Creative),
    ("novel", Creative),
    ("screenplay*", Creative),
    ("fairy tale*", Creative),
    ("fable*", Creative),
    ("joke*", Creative),
    ("roleplay*", Creative),
    ("role-play*", Creative),
    ("pretend you are", Creative),
    ("pretend to be", Creative),
    ("pretend yourself", Creative),
    ("imagine you are", Creative),
    ("in character", Creative),
    ("essay*", Creative),
    ("blog post*", Creative),
    ("slogan*", Creative),
    ("tagline*", Creative),
    ("rap", Creative),
    ("bedtime", Creative),
    // Current information: a phrase that says it alone, or a time anchor
    // ("today", "right now") together with a topic that changes ("score",
    // "weather"). A time anchor alone ("the latest version of the
    // theorem") or a topic alone ("exchange rates are fixed") is not enough.
    ("latest news", CurrentStrong),
    ("breaking news", CurrentStrong),
    ("news today", CurrentStrong),
    ("current events", CurrentStrong),
    ("headlines", CurrentStrong),
    ("weather forecast", CurrentStrong),
    ("weather in", CurrentStrong),
    ("weather like", CurrentStrong),
    ("weather for", CurrentStrong),
    ("today", CurrentTime),
    ("today's", CurrentTime),
    ("tonight", CurrentTime),
    ("right now", CurrentTime),
    ("currently", CurrentTime),
    ("at the moment", CurrentTime),
    ("this week", CurrentTime),
    ("this weekend", CurrentTime),
    ("this morning", CurrentTime),
    ("yesterday", CurrentTime),
    ("last night", CurrentTime),
    ("latest", CurrentTime),
    ("as of now", CurrentTime),
    ("so far this", CurrentTime),
    ("up to date", CurrentTime),
    ("up-to-date", CurrentTime),
    ("news", CurrentTopic),
    ("weather", CurrentTopic),
    ("forecast", CurrentTopic),
    ("stock price*", CurrentTopic),
    ("share price*", CurrentTopic),
    ("stock market", CurrentTopic),
    ("exchange rate*", CurrentTopic),
    ("price of bitcoin", CurrentTopic),
    ("bitcoin", CurrentTopic),
    ("score", CurrentTopic),
    ("scores", CurrentTopic),
    ("who won", CurrentTopic),
    ("traffic", CurrentTopic),
    ("trending", CurrentTopic),
    ("election result*", CurrentTopic),
    ("polls", CurrentTopic),
];

/// A compiled phrase: what it counts toward and which sides need a word
/// boundary.
struct Entry {
    cue: Cue,
    left: bool,
    right: bool,
}

struct Table {
    ac: AhoCorasick,
    entries: Vec<Entry>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut phrases = Vec::with_capacity(CUES.len());
        let mut entries = Vec::with_capacity(CUES.len());
        for (raw, cue) in CUES {
            let (phrase, stem) = match raw.strip_suffix('*') {
                Some(p) => (p, true),
                None => (*raw, false),
            };
            let (phrase, suffix) = match phrase.strip_prefix('*') {
                Some(p) => (p, true),
                None => (phrase, false),
            };
            let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            entries.push(Entry {
                cue: *cue,
                left: !suffix && alnum(phrase.chars().next()),
                right: !stem && alnum(phrase.chars().next_back()),
            });
            phrases.push(phrase);
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&phrases)
            .expect("the cue phrases are constant and valid");
        Table { ac, entries }
    })
}

/// Builds the automaton (a DFA: a few milliseconds once, then a few
/// nanoseconds a byte).
pub(super) fn warm() {
    table();
}

/// A byte that continues a word: ASCII letters and digits, and any byte of
/// a non-ASCII character (so "café" is one word).
fn wordy(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// What one pass over one text counted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct TextCounts {
    pub cues: [u32; Cue::COUNT],
    /// Output length asked for in words, pages or paragraphs, as tokens.
    pub asked_tokens: u64,
    /// "I", "me", "my", "he", "she", "his", "her", "him" and the like.
    pub pronouns: u32,
    /// Runs of digits.
    pub numbers: u32,
    pub questions: u32,
    /// `.`, `!` or `?` followed by white space or the end.
    pub sentences: u32,
    /// `{`, `}` and `;`.
    pub code_symbols: u32,
}

/// Personal pronouns (lower case), the mark of a situation with people in it.
const PRONOUNS: &[&[u8]] = &[
    b"i", b"me", b"my", b"mine", b"he", b"she", b"his", b"her", b"him", b"hers",
];

/// Counts cues and text statistics in `text`: one automaton pass and one
/// byte loop.
pub(super) fn count(text: &str) -> TextCounts {
    let mut c = TextCounts::default();
    let t = table();
    let bytes = text.as_bytes();
    for m in t.ac.find_iter(text) {
        let e = &t.entries[m.pattern().as_usize()];
        if (e.left && m.start() > 0 && wordy(bytes[m.start() - 1]))
            || (e.right && bytes.get(m.end()).is_some_and(|&b| wordy(b)))
        {
            continue;
        }
        c.cues[e.cue as usize] += 1;
        // Tokens per three units: a word is ~4/3 tokens, a page ~500
        // words, a paragraph ~100.
        let per_three = match e.cue {
            UnitWords => 4,
            UnitPages => 2_000,
            UnitParagraphs => 400,
            _ => continue,
        };
        if let Some(n) = number_before(&bytes[..m.start()]) {
            c.asked_tokens = c
                .asked_tokens
                .saturating_add(n.saturating_mul(per_three) / 3);
        }
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let len = i - start;
            if len <= 4 && (start == 0 || !wordy(bytes[start - 1])) {
                let mut low = [0u8; 4];
                for (d, s) in low.iter_mut().zip(&bytes[start..i]) {
                    *d = s.to_ascii_lowercase();
                }
                if PRONOUNS.contains(&&low[..len]) {
                    c.pronouns += 1;
                }
            }
            continue;
        }
        if b.is_ascii_digit() {
            c.numbers += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit())
            {
                i += 1;
            }
            continue;
        }
        match b {
            b'?' => c.questions += 1,
            b'{' | b'}' | b';' => c.code_symbols += 1,
            _ => {}
        }
        if matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
        {
            c.sentences += 1;
        }
        i += 1;
    }
    c
}

/// The number written just before a unit ("2000 words", "2,000-word",
/// "3 pages"), if any.
fn number_before(before: &[u8]) -> Option<u64> {
    let mut end = before.len();
    while end > 0 && matches!(before[end - 1], b' ' | b'-') {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && (before[start - 1].is_ascii_digit() || before[start - 1] == b',') {
        start -= 1;
    }
    let mut n: u64 = 0;
    let mut any = false;
    for &b in &before[start..end] {
        if b.is_ascii_digit() {
            n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
            any = true;
        }
    }
    any.then_some(n)
}
