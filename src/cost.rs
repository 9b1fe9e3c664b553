//! Economics: when owning beats renting. A local backend costs the same
//! each month whatever it serves (`monthly_cost_usd`); the cloud charges per
//! token (`prices`, USD per million, input and output apart). For a task
//! kind, the break-even is the daily token volume at which a day of cloud
//! tokens costs what a day of the local pool costs:
//!
//! ```text
//! break_even = (Σ monthly_cost_usd of the local pool / 30)
//!            / (input_share × input_price + (1 − input_share) × output_price) × 10⁶
//! ```
//!
//! with the task kind's own input share over the last 30 days (or
//! `economics.input_share` before it has traffic) and the prices of the
//! cloud pool's first priced model. Above break-even and within the local
//! pool's capacity (`tokens_per_second` × 86,400), local is cheaper; rules can
//! say so with `volume_above_break_even = true`.
//!
//! Pure: reads the config and counts, writes nothing.

use crate::classify::Task;
use crate::config::{Config, Price};
use crate::types::Tier;
use crate::volume::{Count, Window};

/// The two sides of the comparison, from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Sides {
    /// `backend/model` of the cloud price used, and the price.
    pub cloud: (String, Price),
    /// USD a day for the local pool (distinct backends counted once).
    pub local_per_day: f64,
    /// Tokens a day the local pool can serve, if every member declares it.
    pub local_capacity: Option<f64>,
}

/// The break-even sides, when the config has both a priced cloud pool and
/// a costed local pool.
pub fn sides(config: &Config) -> Option<Sides> {
    let e = &config.economics;
    let cloud = config.pool(e.cloud_pool?).members.iter().find_map(|t| {
        let b = config.backend(t.backend);
        (b.tier != Tier::Local)
            .then(|| b.prices.get(&t.model))
            .flatten()
            .map(|p| (format!("{}/{}", b.name, t.model), *p))
    })?;
    let mut seen = Vec::new();
    let (mut per_month, mut capacity, mut all_capacity) = (0.0, 0.0, true);
    for t in &config.pool(e.local_pool?).members {
        if seen.contains(&t.backend) {
            continue;
        }
        seen.push(t.backend);
        let b = config.backend(t.backend);
        per_month += b.monthly_cost_usd.unwrap_or(0.0);
        match b.tokens_per_second {
            Some(tps) => capacity += tps * 86_400.0,
            None => all_capacity = false,
        }
    }
    Some(Sides {
        cloud,
        local_per_day: per_month / 30.0,
        local_capacity: all_capacity.then_some(capacity),
    })
}

/// The share of input tokens in `month` (or `default` without traffic).
fn input_share(month: Count, default: f64) -> f64 {
    if month.tokens() == 0 {
        default
    } else {
        month.input_tokens as f64 / month.tokens() as f64
    }
}

/// USD per token on the cloud side for this mix.
fn cloud_per_token(price: &Price, share: f64) -> f64 {
    (share * price.input + (1.0 - share) * price.output) / 1e6
}

/// Daily tokens at which local costs what the cloud costs, for a task kind
/// whose counts are `volume` (`Window` order). `None` without both sides or
/// when the cloud is free.
pub fn break_even(config: &Config, volume: &[Count; 3]) -> Option<f64> {
    let s = sides(config)?;
    let share = input_share(volume[Window::Month as usize], config.economics.input_share);
    let per_token = cloud_per_token(&s.cloud.1, share);
    (per_token > 0.0).then(|| s.local_per_day / per_token)
}

/// One row of `airlock cost`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub task: String,
    /// Tokens in the last 24 hours.
    pub tokens_per_day: u64,
    /// What those tokens cost a day on the cloud side.
    pub cloud_usd_per_day: f64,
    /// What the local pool costs a day, whatever it serves.
    pub local_usd_per_day: f64,
    pub break_even_tokens_per_day: Option<f64>,
    pub recommendation: String,
}

/// The table for every task kind, from counts per task kind.
pub fn table(config: &Config, counts: &dyn Fn(Task) -> [Count; 3]) -> Vec<Row> {
    let sides = sides(config);
    Task::ALL
        .into_iter()
        .map(|task| {
            let v = counts(task);
            let day = v[Window::Day as usize];
            let (cloud_usd, local_usd, be, capacity) = match &sides {
                Some(s) => {
                    let share =
                        input_share(v[Window::Month as usize], config.economics.input_share);
                    let per_token = cloud_per_token(&s.cloud.1, share);
                    (
                        day.input_tokens as f64 * s.cloud.1.input / 1e6
                            + day.output_tokens as f64 * s.cloud.1.output / 1e6,
                        s.local_per_day,
                        (per_token > 0.0).then(|| s.local_per_day / per_token),
                        s.local_capacity,
                    )
                }
                None => (0.0, 0.0, None, None),
            };
            let tokens = day.tokens() as f64;
            let recommendation = match be {
                None => "unknown (set prices and monthly_cost_usd)",
                Some(b) if tokens < b => "cloud",
                Some(_) if capacity.is_some_and(|c| tokens > c) => "local, but over its capacity",
                Some(_) => "local",
            };
            Row {
                task: task.as_str().to_owned(),
                tokens_per_day: day.tokens(),
                cloud_usd_per_day: cloud_usd,
                local_usd_per_day: local_usd,
                break_even_tokens_per_day: be,
                recommendation: recommendation.to_owned(),
            }
        })
        .collect()
}

/// The table as aligned text.
pub fn render(rows: &[Row]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<15} {:>14} {:>12} {:>12} {:>16}  recommendation",
        "task", "tokens/day", "cloud $/day", "local $/day", "break-even/day"
    );
    for r in rows {
        let be = r
            .break_even_tokens_per_day
            .map_or_else(|| "-".to_owned(), |b| format!("{b:.0}"));
        let _ = writeln!(
            s,
            "{:<15} {:>14} {:>12.2} {:>12.2} {:>16}  {}",
            r.task,
            r.tokens_per_day,
            r.cloud_usd_per_day,
            r.local_usd_per_day,
            be,
            r.recommendation
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
[[backends]]
name = "gpu"
protocol = "ollama"
base_url = "http://127.0.0.1:11434"
tier = "local"
models = ["llama3.1:8b", "qwen"]
monthly_cost_usd = 900
tokens_per_second = 100

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "https://api.example.com/v1"
tier = "public_cloud"
models = ["big"]
prices.big = { input = 2.5, output = 10.0 }

[pools]
local = ["gpu/llama3.1:8b", "gpu/qwen"]
frontier = ["cloud/big"]

[[rules]]
name = "default"
pool = "local"
"#;

    fn config() -> Config {
        crate::config::from_toml_str(TOML, &|_| None)
            .expect("valid")
            .config
    }

    fn volume(day_in: u64, day_out: u64) -> [Count; 3] {
        let c = Count {
            requests: 1,
            input_tokens: day_in,
            output_tokens: day_out,
            spend_micro_usd: 0,
        };
        [c, c, c]
    }

    #[test]
    fn break_even_from_prices_and_monthly_cost() {
        let c = config();
        let s = sides(&c).expect("both sides");
        assert_eq!(s.cloud.0, "cloud/big");
        // 900 a month, the backend counted once although two models are in the pool.
        assert!((s.local_per_day - 30.0).abs() < 1e-9);
        assert_eq!(s.local_capacity, Some(8_640_000.0));
        // No traffic: default share 0.75 -> 0.75*2.5 + 0.25*10 = 4.375 $/M.
        let be = break_even(&c, &[Count::default(); 3]).expect("break-even");
        assert!((be - 30.0 / 4.375 * 1e6).abs() < 1.0, "{be}");
        // Output-heavy traffic costs more per token, so it breaks even sooner.
        let heavy = break_even(&c, &volume(100, 900)).expect("break-even");
        assert!(heavy < be);
    }

    #[test]
    fn table_recommends_by_volume_and_capacity() {
        let c = config();
        let rows = table(&c, &|t| match t {
            Task::Extraction => volume(7_500_000, 2_500_000),
            Task::Chat => volume(750, 250),
            _ => [Count::default(); 3],
        });
        let row = |name| rows.iter().find(|r| r.task == name).expect("row");
        assert_eq!(
            row("extraction").recommendation,
            "local, but over its capacity"
        );
        assert!((row("extraction").cloud_usd_per_day - 43.75).abs() < 1e-6);
        assert_eq!(row("chat").recommendation, "cloud");
        assert!(render(&rows).contains("extraction"));
    }

    #[test]
    fn unknown_without_both_sides() {
        let c =
            crate::config::from_toml_str(&TOML.replace("monthly_cost_usd = 900\n", ""), &|_| None)
                .expect("valid")
                .config;
        assert!(sides(&c).is_none());
        assert!(
            table(&c, &|_| [Count::default(); 3])[0]
                .recommendation
                .starts_with("unknown")
        );
    }
}
