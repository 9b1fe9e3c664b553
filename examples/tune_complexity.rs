//! Fits the complexity score's text-feature weights on the train split of
//! a routing file and prints them as Rust source for
//! `classify::complexity::WEIGHTS`. Never reads the test split.
//!
//! ```text
//! cargo run --release --example tune_complexity -- ../shared/eval/routing/mmlu_routellm.jsonl
//! ```
//!
//! Method: each text feature enters the score as `w * v / (v + half)`, so
//! the score is linear in the transformed values `t = v / (v + half)`. The
//! weights are a ridge regression (penalty `ALPHA`) of each question's
//! gain, `strong_correct - weak_correct` (+1 when only the strong model was
//! right, -1 when only the weak one was), on those values, with every
//! weight kept to the sign fixed in advance (coordinate descent, clipped at
//! zero). Ranking by predicted gain is what a router needs; fitting it is
//! smooth and stable where climbing APGR directly is not. The fitted
//! weights are in gain units and are multiplied by `SCALE` to sit on the
//! score's scale next to the hand-set priors. Halves are searched (times
//! or divided by 2, refitting each time) and kept when train APGR rises by
//! more than 0.0005.
//!
//! The hand-set priors (length as the scale, steps, reasoning, code, math,
//! output length, turns, tools, images and the task offsets; see the module
//! doc of `classify::complexity`) stay as shipped. Every MMLU prompt picks
//! one of four lettered options, which cancels the answer priors, so only
//! length (and nothing else hand-set) takes part in the score here; what
//! dropping each prior would do on train is printed all the same, to show
//! it.
//!
//! `--validate`: fit on one half of train and report on the other, both
//! ways, to see what fitting is worth on data it did not see.

use airlock::classify::complexity::{Feature, Task, Values, WEIGHTS, Weights, score};
use airlock::eval::routing::{self, Outcome, Split};

/// Fitted features, the sign their weight must keep (+1 or -1) and the
/// half they start from.
const TUNABLE: &[(Feature, f64, f64)] = &[
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

/// Set by hand from what MMLU cannot show; what each costs is printed.
const FIXED: &[Feature] = &[
    Feature::Length,
    Feature::Steps,
    Feature::Reasoning,
    Feature::Code,
    Feature::Math,
    Feature::OutputLength,
    Feature::Turns,
    Feature::Tools,
    Feature::Images,
];

/// Ridge penalty, in the units of the summed squared error over train.
const ALPHA: f64 = 10.0;
/// Gain units to score units: at 2 the fitted features span about as much
/// of the score as length and the priors do, and almost no MMLU question
/// is clamped at 1.
const SCALE: f64 = 2.0;

type Row = (Values, bool, bool, bool);

fn outcomes(rows: &[Row], w: &Weights) -> Vec<Outcome> {
    rows.iter()
        .map(|(v, strong, weak, _)| Outcome {
            score: score(v, w),
            strong: *strong,
            weak: *weak,
        })
        .collect()
}

fn apgr(rows: &[Row], w: &Weights) -> f64 {
    routing::metrics(&outcomes(rows, w)).map_or(0.0, |m| m.apgr)
}

/// Sign-constrained ridge regression of the gain on the transformed values
/// under `halves`: returns the weights in gain units, `TUNABLE` order.
fn ridge(rows: &[Row], halves: &[f64]) -> Vec<f64> {
    let k = TUNABLE.len();
    let n = rows.len().max(1) as f64;
    let x: Vec<Vec<f64>> = rows
        .iter()
        .map(|(v, ..)| {
            TUNABLE
                .iter()
                .zip(halves)
                .map(|(&(f, _, _), &h)| {
                    let x = v.raw[f as usize];
                    if x > 0.0 { x / (x + h) } else { 0.0 }
                })
                .collect()
        })
        .collect();
    let y: Vec<f64> = rows
        .iter()
        .map(|(_, s, w, _)| f64::from(u8::from(*s)) - f64::from(u8::from(*w)))
        .collect();
    // Centre so the intercept drops out.
    let mean_x: Vec<f64> = (0..k)
        .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let mean_y = y.iter().sum::<f64>() / n;
    let xc: Vec<Vec<f64>> = x
        .iter()
        .map(|r| r.iter().zip(&mean_x).map(|(a, m)| a - m).collect())
        .collect();
    let mut resid: Vec<f64> = y.iter().map(|v| v - mean_y).collect();
    let norms: Vec<f64> = (0..k)
        .map(|j| xc.iter().map(|r| r[j] * r[j]).sum())
        .collect();
    let mut c = vec![0.0; k];
    for _ in 0..500 {
        let mut moved = 0.0f64;
        for j in 0..k {
            let rho: f64 =
                xc.iter().zip(&resid).map(|(r, e)| r[j] * e).sum::<f64>() + norms[j] * c[j];
            let sign = TUNABLE[j].1;
            let fitted = (rho / (norms[j] + ALPHA) * sign).max(0.0) * sign;
            let delta = fitted - c[j];
            if delta != 0.0 {
                for (e, r) in resid.iter_mut().zip(&xc) {
                    *e -= delta * r[j];
                }
                c[j] = fitted;
                moved = moved.max(delta.abs());
            }
        }
        if moved < 1e-9 {
            break;
        }
    }
    c
}

/// The shipped weights with the fitted features from `rows` under `halves`.
fn fitted(rows: &[Row], halves: &[f64]) -> Weights {
    let c = ridge(rows, halves);
    let mut w = WEIGHTS;
    for ((&(f, _, _), &h), c) in TUNABLE.iter().zip(halves).zip(c) {
        w.features[f as usize] = (SCALE * c, h);
    }
    w
}

/// Fits on `rows`, searching the halves; returns the weights and their
/// train APGR.
fn tune(rows: &[Row]) -> (Weights, f64) {
    let mut halves: Vec<f64> = TUNABLE.iter().map(|t| t.2).collect();
    let mut w = fitted(rows, &halves);
    let mut best = apgr(rows, &w);
    eprintln!("start: train APGR {best:.4}");
    for _ in 0..2 {
        for j in 0..halves.len() {
            for factor in [0.5, 2.0] {
                let mut trial = halves.clone();
                trial[j] *= factor;
                let tw = fitted(rows, &trial);
                let a = apgr(rows, &tw);
                if a > best + 0.0005 {
                    (halves, w, best) = (trial, tw, a);
                    eprintln!(
                        "{} half {}: train APGR {best:.4}",
                        TUNABLE[j].0.as_str(),
                        halves[j]
                    );
                }
            }
        }
    }
    (w, best)
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: tune_complexity FILE"))?;
    let records = routing::parse(&std::fs::read_to_string(&path)?)?;
    let rows: Vec<Row> = records
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
        // Fit on one half of train, report on the other half: an honest
        // estimate of what fitting is worth.
        let (a, b): (Vec<_>, Vec<_>) = rows.iter().cloned().partition(|(_, _, _, h)| *h);
        for (fit, check, name) in [(&a, &b, "A->B"), (&b, &a, "B->A")] {
            let (tuned, fit_apgr) = tune(fit);
            println!(
                "// {name}: fitted half {fit_apgr:.4}, held-out half {:.4}",
                apgr(check, &tuned),
            );
        }
        return Ok(());
    }
    let (w, best) = tune(&rows);
    println!("// train APGR {best:.4} over {} rows", rows.len());
    // Halves of train (by another digit of the same hash): their gap is
    // the noise to expect on test.
    let (a, b): (Vec<_>, Vec<_>) = rows.iter().cloned().partition(|(_, _, _, h)| *h);
    println!("// train halves: {:.4} / {:.4}", apgr(&a, &w), apgr(&b, &w));
    // Where train prompts land.
    let mut scores: Vec<f64> = rows.iter().map(|(v, ..)| score(v, &w)).collect();
    scores.sort_by(f64::total_cmp);
    let at = |q: f64| scores[((scores.len() - 1) as f64 * q) as usize];
    println!(
        "// score percentiles 10/25/50/75/90: {:.3} {:.3} {:.3} {:.3} {:.3}",
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
