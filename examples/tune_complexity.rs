//! Tunes the complexity score's text-feature weights on the train split of
//! a routing file and prints them as Rust source for
//! `classify::complexity::WEIGHTS`. Never reads the test split.
//!
//! ```text
//! cargo run --release --example tune_complexity -- ../shared/eval/routing/mmlu_routellm.jsonl
//! ```
//!
//! Method: coordinate ascent on train APGR from a neutral start (every
//! tunable weight 0.06 with its sign, the length weight 0.3 as the scale
//! the others are read against). Each round tries, for every tunable
//! feature, its weight plus or minus a step (keeping the sign fixed in
//! advance, at most 0.375) and its half times or divided by 1.5, and keeps
//! any change that raises APGR by more than 0.0005; the step shrinks
//! (0.06, 0.03, 0.015) when a round changes nothing. The hand-set priors
//! (steps, reasoning, code, math, output length, turns, tools, images and
//! the task offsets; see the module doc of `classify::complexity`) are off
//! while tuning, so the tuner cannot inflate text weights to drown a prior
//! that MMLU does not reward, then put back; what each costs on train is
//! printed.
//!
//! `--validate`: tune on one half of train and report on the other, both
//! ways, to see what tuning is worth on data it did not see.

use airlock::classify::complexity::{Feature, Task, Values, WEIGHTS, Weights, score};
use airlock::eval::routing::{self, Outcome, Split};

/// Tunable features, the sign their weight must keep (+1 or -1) and the
/// half they start from.
const TUNABLE: &[(Feature, f64, f64)] = &[
    (Feature::Length, 1.0, 150.0),
    (Feature::Sentences, 1.0, 4.0),
    (Feature::Questions, 1.0, 2.0),
    (Feature::Constraints, 1.0, 3.0),
    (Feature::Negation, 1.0, 2.0),
    (Feature::Comparison, 1.0, 1.0),
    (Feature::Recall, -1.0, 1.0),
    (Feature::Narrative, 1.0, 3.0),
    (Feature::Parts, 1.0, 1.0),
    (Feature::Logic, 1.0, 2.0),
    (Feature::Legal, 1.0, 2.0),
    (Feature::Technical, 1.0, 2.0),
    (Feature::Science, 1.0, 2.0),
    (Feature::Ethics, 1.0, 1.0),
    (Feature::Numbers, 1.0, 4.0),
];

/// Set by hand from what MMLU cannot show; zero while tuning.
const FIXED: &[Feature] = &[
    Feature::Steps,
    Feature::Reasoning,
    Feature::Code,
    Feature::Math,
    Feature::OutputLength,
    Feature::Turns,
    Feature::Tools,
    Feature::Images,
];

/// The largest weight one text feature may get.
const CAP: f64 = 0.375;

fn apgr(rows: &[(Values, bool, bool, bool)], w: &Weights) -> f64 {
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|(v, strong, weak, _)| Outcome {
            score: score(v, w),
            strong: *strong,
            weak: *weak,
        })
        .collect();
    routing::metrics(&outcomes).map_or(0.0, |m| m.apgr)
}

/// Coordinate ascent from `start` with the priors off; returns the text
/// weights (priors still off) and their APGR on `rows`.
fn tune(rows: &[(Values, bool, bool, bool)], start: Weights) -> (Weights, f64) {
    // Tune the text features alone: the hand-set priors are off while
    // tuning, so the tuner cannot inflate text weights to drown a prior
    // that MMLU happens not to reward.
    let mut w = start;
    for f in FIXED {
        w.features[*f as usize].0 = 0.0;
    }
    w.tasks = [0.0; Task::COUNT];
    let mut best = apgr(rows, &w);
    eprintln!("start: train APGR {best:.4}");
    for step in [0.06, 0.03, 0.015] {
        loop {
            let mut changed = false;
            for &(f, sign, _) in TUNABLE {
                let i = f as usize;
                let (weight, half) = w.features[i];
                // The length weight is the scale every other weight is
                // read against; only its half is tuned.
                let moves = if f == Feature::Length { 0.0 } else { step };
                let candidates = [
                    (weight + moves * sign, half),
                    (weight - moves * sign, half),
                    (weight, half * 1.5),
                    (weight, half / 1.5),
                ];
                for (cw, ch) in candidates {
                    if cw * sign < 0.0 || cw.abs() > CAP {
                        continue;
                    }
                    let mut trial = w;
                    trial.features[i] = (cw, ch);
                    let a = apgr(rows, &trial);
                    if a > best + 0.0005 {
                        best = a;
                        w = trial;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
            eprintln!("step {step}: train APGR {best:.4}");
        }
    }
    (w, best)
}

/// The shipped priors put back on tuned text weights.
fn with_priors(mut w: Weights) -> Weights {
    for f in FIXED {
        w.features[*f as usize].0 = WEIGHTS.features[*f as usize].0;
    }
    w.tasks = WEIGHTS.tasks;
    w
}

/// The start: every tunable weight small and of its sign (length 0.3,
/// the scale), halves from `TUNABLE`; nothing from the shipped weights.
fn neutral() -> Weights {
    let mut w = WEIGHTS;
    for &(f, sign, half) in TUNABLE {
        w.features[f as usize] = (
            if f == Feature::Length {
                0.3
            } else {
                0.06 * sign
            },
            half,
        );
    }
    w
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: tune_complexity FILE"))?;
    let records = routing::parse(&std::fs::read_to_string(&path)?)?;
    let rows: Vec<(Values, bool, bool, bool)> = records
        .iter()
        .filter(|r| Split::Train.holds(&r.prompt))
        .filter_map(|r| {
            let half = (routing::fnv1a64(r.prompt.as_bytes()) / 100).is_multiple_of(2);
            Some((
                routing::complexity_values(&r.prompt)?,
                r.strong,
                r.weak,
                half,
            ))
        })
        .collect();
    let validate = std::env::args().any(|a| a == "--validate");
    if validate {
        // Tune on one half of train from a neutral start, report on the
        // other half: an honest estimate of what tuning is worth.
        let (a, b): (Vec<_>, Vec<_>) = rows.iter().cloned().partition(|(_, _, _, h)| *h);
        for (fit, check, name) in [(&a, &b, "A->B"), (&b, &a, "B->A")] {
            let (tuned, fit_apgr) = tune(fit, neutral());
            let with = with_priors(tuned);
            println!(
                "// {name}: tuned half {fit_apgr:.4} (text only), held-out half {:.4} (text only) {:.4} (with priors)",
                apgr(check, &tuned),
                apgr(check, &with)
            );
        }
        return Ok(());
    }
    let (tuned, best) = tune(&rows, neutral());
    let w = with_priors(tuned);
    println!(
        "// text features alone: train APGR {best:.4} over {} rows",
        rows.len()
    );
    println!(
        "// with the hand-set priors: train APGR {:.4}",
        apgr(&rows, &w)
    );
    // Halves of train (by another digit of the same hash): their gap is
    // the noise to expect on test.
    let (a, b): (Vec<_>, Vec<_>) = rows.iter().cloned().partition(|(_, _, _, h)| *h);
    println!("// train halves: {:.4} / {:.4}", apgr(&a, &w), apgr(&b, &w));
    // Where train prompts land, to set the priors against.
    let mut scores: Vec<f64> = rows.iter().map(|(v, ..)| score(v, &tuned)).collect();
    scores.sort_by(f64::total_cmp);
    let at = |q: f64| scores[((scores.len() - 1) as f64 * q) as usize];
    println!(
        "// text-only score percentiles 10/25/50/75/90: {:.3} {:.3} {:.3} {:.3} {:.3}",
        at(0.1),
        at(0.25),
        at(0.5),
        at(0.75),
        at(0.9)
    );
    // What each hand-set prior costs on MMLU train.
    for f in FIXED {
        let mut off = w;
        off.features[*f as usize].0 = 0.0;
        println!(
            "// without {}: train APGR {:.4}",
            f.as_str(),
            apgr(&rows, &off)
        );
    }
    for t in Task::ALL {
        let mut off = w;
        off.tasks[t as usize] = 0.0;
        if off.tasks != w.tasks {
            println!(
                "// without the {} offset: train APGR {:.4}",
                t.as_str(),
                apgr(&rows, &off)
            );
        }
    }
    for f in Feature::ALL {
        let (weight, half) = w.features[f as usize];
        println!("({weight:.2}, {half:.1}), // {}", f.as_str());
    }
    Ok(())
}
