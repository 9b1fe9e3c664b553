//! Plain-text tables for evaluation reports (`--format table`): one block
//! per file, one row per gold entity type, then the per-text rows.
//!
//! Must not: compute metrics (the parent module does).

use std::fmt::Write as _;

use super::{Report, TextRow, scores};

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

impl Report {
    /// A plain-text table headed by `name` (the file it came from).
    pub fn table(&self, name: &str) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_table(name, &mut s);
        s
    }

    fn write_table(&self, name: &str, s: &mut String) -> std::fmt::Result {
        match self {
            Report::Pii(r) => {
                writeln!(s, "== {name}: {} texts (PII spans)", r.texts)?;
                writeln!(
                    s,
                    "{:<34} {:<22} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
                    "gold type",
                    "airlock kind",
                    "gold",
                    "hit",
                    "found",
                    "match",
                    "P",
                    "R",
                    "F1",
                    "F2"
                )?;
                for e in &r.entities {
                    writeln!(
                        s,
                        "{:<34} {:<22} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
                        e.entity,
                        e.kind.unwrap_or("(unmapped)"),
                        e.gold,
                        e.gold_hit,
                        e.findings,
                        e.findings_hit,
                        num(e.scores.precision),
                        num(e.scores.recall),
                        num(e.scores.f1),
                        num(e.scores.f2)
                    )?;
                }
                for t in &r.any {
                    write_text_row(s, t)?;
                }
            }
            Report::Secrets(r) => {
                let rate = |a, b| num(scores(a, b, 0, 0).precision);
                writeln!(s, "== {name}: secret examples")?;
                writeln!(
                    s,
                    "tp rows: {} hit {} (recall {}); by a secret-category kind {} ({})",
                    r.tp_rows,
                    r.tp_hit,
                    rate(r.tp_hit, r.tp_rows),
                    r.tp_hit_secret_kind,
                    rate(r.tp_hit_secret_kind, r.tp_rows)
                )?;
                writeln!(
                    s,
                    "fp rows (text is no rule's tp): {} hit {} (hit rate {})",
                    r.fp_rows,
                    r.fp_hit,
                    rate(r.fp_hit, r.fp_rows)
                )?;
                writeln!(
                    s,
                    "fp rows whose text is another rule's tp: {} hit {}",
                    r.fp_rows_other_tp, r.fp_other_tp_hit
                )?;
                write_text_row(s, &r.any)?;
                for (rule, h, n) in &r.missed_rules {
                    writeln!(s, "  missed in rule {rule}: {h}/{n} hit")?;
                }
            }
            Report::Prompts(r) => {
                writeln!(s, "== {name}: {} ordinary prompts", r.prompts)?;
                writeln!(
                    s,
                    "flagged above public: {} ({:.2}%)",
                    r.above_public,
                    r.share_above_public * 100.0
                )?;
                writeln!(
                    s,
                    "flagged above public by identifier and secret detectors: {} ({:.2}%)",
                    r.above_public_identifiers,
                    r.share_above_public_identifiers * 100.0
                )?;
                for (level, n) in &r.by_level {
                    writeln!(s, "  level {level}: {n}")?;
                }
                for (kind, n) in &r.by_kind {
                    writeln!(s, "  prompts with {kind}: {n}")?;
                }
            }
        }
        Ok(())
    }
}

fn write_text_row(s: &mut String, t: &TextRow) -> std::fmt::Result {
    writeln!(
        s,
        "any finding per text ({}): positives {}, flagged {}, flagged positives {}: P {} R {} F1 {} F2 {}",
        t.name,
        t.positives,
        t.flagged,
        t.flagged_positive,
        num(t.scores.precision),
        num(t.scores.recall),
        num(t.scores.f1),
        num(t.scores.f2)
    )
}
