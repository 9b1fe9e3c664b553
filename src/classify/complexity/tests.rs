use super::*;
use crate::openai::{Field, Segment};

fn user(text: &str) -> Segment<'_> {
    Segment {
        message: 0,
        part: None,
        field: Field::Content,
        role: Role::User,
        text,
    }
}

fn score(text: &str) -> Complexity {
    assess(&[user(text)], Shape::default())
}

fn task(text: &str) -> Task {
    score(text).task
}

fn value(c: &Complexity, f: Feature) -> Option<f64> {
    c.features.iter().find(|x| x.feature == f).map(|x| x.value)
}

#[test]
fn task_names_are_exactly_these_and_round_trip() {
    let names: Vec<_> = Task::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "classification",
            "extraction",
            "formatting",
            "summarization",
            "translation",
            "chat",
            "code",
            "math",
            "reasoning",
            "creative",
            "multimodal",
            "current_info",
            "embedding"
        ]
    );
    for t in Task::ALL {
        assert_eq!(Task::parse(t.as_str()), Some(t));
        assert_eq!(Task::ALL[t as usize], t, "index order");
    }
    assert_eq!(Task::parse("writing"), None);
    assert_eq!(Task::parse("vision"), None);
}

#[test]
fn task_kinds_table() {
    let table: &[(&str, Task)] = &[
        ("hello there", Task::Chat),
        (
            "Classify the sentiment of: I love this phone.",
            Task::Classification,
        ),
        (
            "Extract every date and amount from this invoice.",
            Task::Extraction,
        ),
        ("Reformat this list as a markdown table.", Task::Formatting),
        (
            "Summarize the meeting notes below in three bullet points.",
            Task::Summarization,
        ),
        ("Translate 'good morning' into French.", Task::Translation),
        (
            "Refactor this function:\n```python\ndef add(a, b):\n    return a + b\n```",
            Task::Code,
        ),
        (
            "Write a C++ program to find the nth Fibonacci number using recursion.",
            Task::Code,
        ),
        (
            "Write a function to find the median of two sorted arrays.",
            Task::Code,
        ),
        ("Solve for x: 3x + 5 = 20", Task::Math),
        (
            "Janet has 16 eggs and eats 3. How many are left?",
            Task::Math,
        ),
        (
            "Is the argument valid? Explain why the premises do or do not entail the conclusion.",
            Task::Reasoning,
        ),
        (
            "Write a short story about a lighthouse keeper.",
            Task::Creative,
        ),
        ("Write a haiku about autumn.", Task::Creative),
        ("Pretend you are a pirate and greet me.", Task::Creative),
        // Drafting ordinary prose is chat, not creative writing.
        (
            "Draft a reply to this customer thanking them for their patience.",
            Task::Chat,
        ),
        (
            "Write an email to my team about the new deadline.",
            Task::Chat,
        ),
    ];
    for (text, want) in table {
        assert_eq!(task(text), *want, "{text}");
    }
}

#[test]
fn current_info_needs_a_time_and_a_topic_or_a_phrase_that_says_it() {
    let yes = [
        "What's the weather in Paris today?",
        "What is the latest news about the strike?",
        "Who won the game last night?",
        "What's the score right now?",
        "What is the stock price of Apple today?",
        "Give me today's headlines.",
        "How is the stock market doing this week?",
    ];
    for text in yes {
        assert_eq!(task(text), Task::CurrentInfo, "{text}");
    }
    let no = [
        "What is the latest version of the theorem?",
        "Exchange rates are fixed under which system?",
        "Who won the Battle of Hastings?",
        "Last week Paul ate 2 cookies a day. This week he ate 3 a day. How many in all?",
        "Tonight, the daughter of a working family addresses the nation.",
        "Which of the following is currently accepted as the cause of tides?",
        "Compute the z score of 12 given mean 10 and sd 2.",
    ];
    for text in no {
        assert_ne!(task(text), Task::CurrentInfo, "{text}");
    }
}

#[test]
fn short_simple_requests_score_low() {
    let c = score("Classify the sentiment of: I love this phone.");
    assert!(c.score < 0.2, "{c:?}");
    assert!(score("hello there").score < 0.1);
}

#[test]
fn reasoning_and_code_score_high() {
    let c = score(
        "Analyze the trade-offs step by step and design a distributed cache architecture.\n\
         First, compare approaches.\n1. consistency\n2. latency\n3. cost\nThen write code:\n\
         ```rust\nfn main() { let x = 1; }\n```",
    );
    assert!(c.score >= 0.6, "{c:?}");
    assert!(c.reasons().any(|r| r == "reasoning"));
    assert!(c.reasons().any(|r| r == "code"));
}

#[test]
fn contributions_add_up_to_the_score() {
    let c = score("Explain why the defendant is not liable. Then compare both rulings.");
    let sum: f64 = c.features.iter().map(|f| f.contribution).sum();
    assert!((WEIGHTS.base + sum - c.score).abs() < 1e-9, "{c:?}");
    // Largest effect first.
    let effects: Vec<f64> = c.features.iter().map(|f| f.contribution.abs()).collect();
    assert!(effects.windows(2).all(|w| w[0] >= w[1]), "{effects:?}");
}

#[test]
fn score_grows_with_length_and_is_bounded() {
    let short = score("tell me about rust").score;
    let long_text = "tell me about rust. ".repeat(2_000);
    let long = score(&long_text);
    assert!(long.score > short);
    assert!(long.reasons().any(|r| r == "length"));
    let huge = "prove the theorem step by step analyze compare ".repeat(10_000);
    assert!((0.0..=1.0).contains(&score(&huge).score));
}

#[test]
fn requested_output_length_counts() {
    let words = score("Write a report on solar power in 2,000 words.");
    let asked = value(&words, Feature::OutputLength).expect("output_length");
    assert!((asked - 2_666.0).abs() < 1.0, "{asked}");
    let hyphen = score("Write a 1500-word report on solar power.");
    assert_eq!(value(&hyphen, Feature::OutputLength), Some(2_000.0));
    let detailed = score("Give a detailed report on solar power.");
    assert_eq!(value(&detailed, Feature::OutputLength), Some(500.0));
    let plain = score("Give a report on solar power.");
    assert_eq!(value(&plain, Feature::OutputLength), None);
    let capped = assess(
        &[user("Give a report on solar power.")],
        Shape {
            max_tokens: Some(4_000),
            ..Shape::default()
        },
    );
    assert_eq!(value(&capped, Feature::OutputLength), Some(4_000.0));
    assert!(capped.score > plain.score);
}

#[test]
fn images_and_tools_raise_the_score() {
    let shape = Shape {
        unscannable: Unscannable {
            images: 1,
            ..Default::default()
        },
        has_tools: true,
        max_tokens: None,
    };
    let c = assess(&[user("what is in this picture?")], shape);
    assert_eq!(c.task, Task::Multimodal);
    assert!(c.reasons().any(|r| r == "images") && c.reasons().any(|r| r == "tools"));
    assert!(c.score > score("what is in this picture?").score);
}

#[test]
fn earlier_turns_count_at_half_weight() {
    let proof = "prove this theorem step by step";
    let old = Segment {
        message: 0,
        ..user(proof)
    };
    let reply = Segment {
        message: 1,
        role: Role::Assistant,
        ..user("Here is the proof, step by step, analyze compare evaluate.")
    };
    let last = Segment {
        message: 2,
        ..user("thanks!")
    };
    let c = assess(&[old, reply, last], Shape::default());
    let fresh = score(proof);
    let reasoning = |c: &Complexity| value(c, Feature::Reasoning).unwrap_or(0.0);
    assert_eq!(
        reasoning(&c),
        reasoning(&fresh) / 2.0,
        "assistant text gives no cues"
    );
    assert_eq!(value(&c, Feature::Turns), Some(1.0));
}

#[test]
fn cues_match_whole_words_and_stems() {
    // Raw values, whatever their weight.
    let raw = |text: &str, f: Feature| values(&[user(text)], Shape::default()).raw[f as usize];
    // "nothing" and "another" hold "not"; "contracted" is the stem "contract*".
    assert_eq!(raw("nothing another knotted", Feature::Negation), 0.0);
    let text = "She contracted with the defendant and didn't pay.";
    assert_eq!(raw(text, Feature::Legal), 2.0);
    assert_eq!(raw(text, Feature::Negation), 1.0);
    assert_eq!(raw(text, Feature::Narrative), 1.0);
    // Suffix patterns, and numbers in digits and in words.
    assert_eq!(raw("It isn\u{2019}t so.", Feature::Negation), 1.0);
    assert_eq!(raw("three apples and 12.5 pears", Feature::Numbers), 2.0);
}

proptest::proptest! {
    #[test]
    fn any_text_scores_in_range(text in "\\PC{0,300}") {
        let c = score(&text);
        proptest::prop_assert!((0.0..=1.0).contains(&c.score));
    }
}

#[test]
fn long_texts_are_sampled_at_both_ends_on_char_boundaries() {
    let text = format!("{}{}", "é".repeat(5000), "z".repeat(3001));
    let pieces: Vec<&str> = super::sample(&text).collect();
    assert_eq!(pieces.len(), 2);
    assert!(pieces[0].len() <= super::HEAD && pieces[1].len() <= super::TAIL);
    assert!(pieces[1].ends_with('z') && pieces[0].starts_with('é'));
    let short = "short prompt";
    assert_eq!(super::sample(short).collect::<Vec<_>>(), vec![short]);
}

#[test]
fn lettered_options_are_counted_in_order() {
    assert_eq!(
        choices("Pick one.\nA. red\nB. green\nC. blue\nD. grey\nAnswer:"),
        4
    );
    assert_eq!(choices("(A) red\n  (B) green\n(C) blue"), 3);
    assert_eq!(choices("A) red\nB) green\nC)\tblue"), 3);
    // Out of order, a gap, or a letter without its mark is not a run.
    assert_eq!(choices("A. red\nC. blue\nD. grey"), 1);
    assert_eq!(choices("A red\nB green\nC blue"), 0);
    assert_eq!(choices("A. red\nB. green"), 2);
    // A fresh "A." starts a new run; the longest counts.
    assert_eq!(choices("A. x\nB. y\nA. p\nB. q\nC. r"), 3);
    // Abbreviations inside a line are not options.
    assert_eq!(
        choices("See the U.S. report, part A. then B. and C. too"),
        0
    );
}

const MCQ: &str = "Solve for x: 3x + 7 = 22. What is 5 + x squared?\n\
                   A. 15\nB. 20\nC. 30\nD. 35\nAnswer:";

#[test]
fn picking_an_option_cancels_the_answer_priors() {
    let c = score(MCQ);
    assert_eq!(c.task, Task::Math);
    let contribution = |f: Feature| {
        c.features
            .iter()
            .find(|x| x.feature == f)
            .map_or(0.0, |x| x.contribution)
    };
    let priors: f64 = ANSWER_PRIORS.iter().map(|f| contribution(*f)).sum();
    assert!(priors > 0.05, "{c:?}");
    assert_eq!(value(&c, Feature::Choices), Some(4.0));
    assert!(
        (contribution(Feature::Choices) + priors).abs() < 1e-12,
        "{c:?}"
    );
    // The same question asked for a worked answer keeps them, and so
    // does one that leaves room for it.
    let worked = score(&MCQ.replace("Answer:", "Show your working in detail."));
    assert_eq!(value(&worked, Feature::Choices), None);
    assert!(worked.score > c.score + priors - 0.01, "{worked:?}");
    let room = assess(
        &[user(MCQ)],
        Shape {
            max_tokens: Some(400),
            ..Shape::default()
        },
    );
    assert_eq!(value(&room, Feature::Choices), None);
    assert!(room.score > c.score, "{room:?}");
    let explain = score(&MCQ.replace("Answer:", "Explain your answer."));
    assert_eq!(value(&explain, Feature::Choices), None);
    let told = Segment {
        role: Role::System,
        message: 1,
        ..user("Always work step by step before you answer.")
    };
    let told = assess(&[told, user(MCQ)], Shape::default());
    assert_eq!(value(&told, Feature::Choices), None);
    // A one-letter cap is still picking.
    let capped = assess(
        &[user(MCQ)],
        Shape {
            max_tokens: Some(1),
            ..Shape::default()
        },
    );
    assert_eq!(value(&capped, Feature::Choices), Some(4.0));
}

#[test]
fn options_in_the_system_prompt_or_an_earlier_turn_do_not_count() {
    let system = Segment {
        role: Role::System,
        ..user("A. formal\nB. casual\nC. terse")
    };
    let earlier = user("A. one\nB. two\nC. three");
    let last = Segment {
        message: 2,
        ..user("Write a sorting function in Rust.")
    };
    let c = assess(&[system, earlier, last], Shape::default());
    assert_eq!(value(&c, Feature::Choices), None);
}
