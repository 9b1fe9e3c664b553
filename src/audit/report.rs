//! `airlock report` and the dashboard's data: what went where and what it
//! cost, from the audit records of a time window. Pure: rows and the
//! config in, a [`Report`] out.
//!
//! - **Flows**: requests and tokens per sensitivity level and tier (a
//!   request that was refused has tier `none`). Restricted data that
//!   reached a cloud tier is counted apart and must be zero.
//! - **Cost** (USD, as each answer was priced) by tier, backend and task.
//! - **What-ifs**: the same tokens all priced at the cloud price of
//!   `airlock cost` (the cloud pool's first priced model), and the local
//!   pool's owning cost over the window; the local share of served
//!   requests.
//! - **Latency** percentiles per backend, and a day-by-day series.

use super::AuditRow;
use crate::config::Config;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since_ms: Option<i64>,
    pub until_ms: i64,
    pub requests: u64,
    /// Requests answered by a backend (status 2xx).
    pub served: u64,
    pub flows: Vec<Flow>,
    /// Restricted requests answered from a cloud tier: must be 0.
    pub restricted_to_cloud: u64,
    pub cost_usd: f64,
    pub cost_by_tier: BTreeMap<String, f64>,
    pub cost_by_backend: BTreeMap<String, f64>,
    pub cost_by_task: BTreeMap<String, f64>,
    pub requests_by_task: BTreeMap<String, u64>,
    /// The served tokens at the cloud price, if the config has one.
    pub all_cloud_usd: Option<f64>,
    /// The local pool's owning cost over the window, if configured.
    pub all_local_usd: Option<f64>,
    /// Share of served requests answered on the local tier.
    pub local_share: f64,
    pub latency: Vec<Latency>,
    pub daily: Vec<Day>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flow {
    pub level: String,
    pub tier: String,
    pub backend: String,
    pub requests: u64,
    pub tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub backend: String,
    pub requests: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Time to first token (streams), median.
    pub ttft_p50_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub requests: u64,
    pub cost_usd: f64,
    pub all_cloud_usd: Option<f64>,
}

const CLOUD: [&str; 2] = ["private_cloud", "public_cloud"];

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `YYYY-MM-DD` of Unix milliseconds (UTC).
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Year, month and day of a count of days since 1970-01-01 (UTC), by the
/// civil-from-days rule.
pub(crate) fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Builds the report of `rows` (in time order) between `since_ms` (none:
/// from the first row) and `until_ms`.
pub fn build(config: &Config, rows: &[AuditRow], since_ms: Option<i64>, until_ms: i64) -> Report {
    let sides = crate::cost::sides(config);
    let at_cloud_price = |r: &AuditRow| {
        sides.as_ref().map(|s| {
            (r.input_tokens as f64 * s.cloud.1.input + r.output_tokens as f64 * s.cloud.1.output)
                / 1e6
        })
    };
    let mut flows: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    let mut r = Report {
        since_ms,
        until_ms,
        requests: 0,
        served: 0,
        flows: Vec::new(),
        restricted_to_cloud: 0,
        cost_usd: 0.0,
        cost_by_tier: BTreeMap::new(),
        cost_by_backend: BTreeMap::new(),
        cost_by_task: BTreeMap::new(),
        requests_by_task: BTreeMap::new(),
        all_cloud_usd: sides.as_ref().map(|_| 0.0),
        all_local_usd: None,
        local_share: 0.0,
        latency: Vec::new(),
        daily: Vec::new(),
    };
    let mut local = 0u64;
    let mut lat: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    for row in rows {
        r.requests += 1;
        let served = (200..300).contains(&row.status) && row.backend.is_some();
        let tier = match (&row.tier, served) {
            (Some(t), true) => t.clone(),
            _ => "none".to_owned(),
        };
        let backend = if served {
            row.backend.clone().unwrap_or_default()
        } else {
            "none".to_owned()
        };
        let tokens = row.input_tokens + row.output_tokens;
        let f = flows
            .entry((row.level.clone(), tier.clone(), backend.clone()))
            .or_default();
        f.0 += 1;
        f.1 += tokens;
        *r.requests_by_task.entry(row.task.clone()).or_default() += 1;
        let day = days.entry(date(row.time_ms)).or_insert_with(|| Day {
            date: date(row.time_ms),
            requests: 0,
            cost_usd: 0.0,
            all_cloud_usd: sides.as_ref().map(|_| 0.0),
        });
        day.requests += 1;
        if !served {
            continue;
        }
        r.served += 1;
        if row.level == "restricted" && CLOUD.contains(&tier.as_str()) {
            r.restricted_to_cloud += 1;
        }
        if tier == "local" {
            local += 1;
        }
        r.cost_usd += row.cost_usd;
        *r.cost_by_tier.entry(tier).or_default() += row.cost_usd;
        *r.cost_by_backend.entry(backend.clone()).or_default() += row.cost_usd;
        *r.cost_by_task.entry(row.task.clone()).or_default() += row.cost_usd;
        day.cost_usd += row.cost_usd;
        if let (Some(all), Some(c)) = (&mut r.all_cloud_usd, at_cloud_price(row)) {
            *all += c;
        }
        if let (Some(all), Some(c)) = (&mut day.all_cloud_usd, at_cloud_price(row)) {
            *all += c;
        }
        let l = lat.entry(backend).or_default();
        l.0.push(row.latency_ms);
        if let Some(t) = row.ttft_ms {
            l.1.push(t);
        }
    }
    r.flows = flows
        .into_iter()
        .map(|((level, tier, backend), (requests, tokens))| Flow {
            level,
            tier,
            backend,
            requests,
            tokens,
        })
        .collect();
    r.local_share = if r.served == 0 {
        0.0
    } else {
        local as f64 / r.served as f64
    };
    r.latency = lat
        .into_iter()
        .map(|(backend, (mut all, mut ttft))| {
            all.sort_by(f64::total_cmp);
            ttft.sort_by(f64::total_cmp);
            Latency {
                backend,
                requests: all.len() as u64,
                p50_ms: pct(&all, 0.5),
                p90_ms: pct(&all, 0.9),
                p99_ms: pct(&all, 0.99),
                ttft_p50_ms: (!ttft.is_empty()).then(|| pct(&ttft, 0.5)),
            }
        })
        .collect();
    r.daily = days.into_values().collect();
    // Owning costs the same whatever it serves: the window's days of it.
    let start = since_ms
        .filter(|s| *s > i64::MIN)
        .or_else(|| rows.first().map(|r| r.time_ms));
    if let (Some(s), Some(start)) = (&sides, start) {
        let window_days = (until_ms - start).max(0) as f64 / 86_400_000.0;
        r.all_local_usd = Some(s.local_per_day * window_days);
    }
    r
}

/// The report as text. `color` marks restricted data on a cloud tier red.
pub fn render_table(r: &Report, color: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} requests, {} served; local share {:.1}%",
        r.requests,
        r.served,
        r.local_share * 100.0
    );
    let _ = writeln!(out, "\nData flows (level -> tier -> backend)");
    let _ = writeln!(
        out,
        "{:<13} {:<14} {:<20} {:>9} {:>12}",
        "level", "tier", "backend", "requests", "tokens"
    );
    for f in &r.flows {
        let line = format!(
            "{:<13} {:<14} {:<20} {:>9} {:>12}",
            f.level, f.tier, f.backend, f.requests, f.tokens
        );
        let bad = f.level == "restricted" && CLOUD.contains(&f.tier.as_str());
        if bad && color {
            let _ = writeln!(out, "\x1b[31m{line}\x1b[0m");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    let verdict = format!(
        "restricted data on a cloud tier: {} requests{}",
        r.restricted_to_cloud,
        if r.restricted_to_cloud == 0 {
            ""
        } else {
            " (must be 0)"
        }
    );
    if r.restricted_to_cloud > 0 && color {
        let _ = writeln!(out, "\x1b[31m{verdict}\x1b[0m");
    } else {
        let _ = writeln!(out, "{verdict}");
    }
    let money = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("${v:.4}"));
    let _ = writeln!(out, "\nCost");
    let _ = writeln!(out, "  actual:          {}", money(Some(r.cost_usd)));
    let _ = writeln!(out, "  all at cloud price: {}", money(r.all_cloud_usd));
    let _ = writeln!(out, "  local owning cost:  {}", money(r.all_local_usd));
    for (title, map) in [
        ("by tier", &r.cost_by_tier),
        ("by backend", &r.cost_by_backend),
        ("by task", &r.cost_by_task),
    ] {
        let _ = writeln!(out, "  {title}:");
        for (k, v) in map {
            let _ = writeln!(out, "    {k:<20} ${v:.4}");
        }
    }
    let _ = writeln!(out, "\nLatency by backend (ms)");
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "backend", "requests", "p50", "p90", "p99", "ttft p50"
    );
    for l in &r.latency {
        let _ = writeln!(
            out,
            "{:<20} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>10}",
            l.backend,
            l.requests,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.ttft_p50_ms.map_or("-".to_owned(), |t| format!("{t:.1}"))
        );
    }
    out
}

/// The report as CSV: `section,key,subkey,value` rows.
pub fn render_csv(r: &Report) -> String {
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from("section,key,subkey,metric,value\n");
    let mut line = |section: &str, key: &str, sub: &str, metric: &str, value: String| {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            q(section),
            q(key),
            q(sub),
            q(metric),
            value
        ));
    };
    line("total", "", "", "requests", r.requests.to_string());
    line("total", "", "", "served", r.served.to_string());
    line(
        "total",
        "",
        "",
        "restricted_to_cloud",
        r.restricted_to_cloud.to_string(),
    );
    line(
        "total",
        "",
        "",
        "local_share",
        format!("{:.4}", r.local_share),
    );
    line("total", "", "", "cost_usd", format!("{:.6}", r.cost_usd));
    if let Some(v) = r.all_cloud_usd {
        line("total", "", "", "all_cloud_usd", format!("{v:.6}"));
    }
    if let Some(v) = r.all_local_usd {
        line("total", "", "", "all_local_usd", format!("{v:.6}"));
    }
    for f in &r.flows {
        let key = format!("{}/{}", f.level, f.tier);
        line("flow", &key, &f.backend, "requests", f.requests.to_string());
        line("flow", &key, &f.backend, "tokens", f.tokens.to_string());
    }
    for (section, map) in [
        ("cost_by_tier", &r.cost_by_tier),
        ("cost_by_backend", &r.cost_by_backend),
        ("cost_by_task", &r.cost_by_task),
    ] {
        for (k, v) in map {
            line(section, k, "", "cost_usd", format!("{v:.6}"));
        }
    }
    for l in &r.latency {
        line(
            "latency",
            &l.backend,
            "",
            "p50_ms",
            format!("{:.3}", l.p50_ms),
        );
        line(
            "latency",
            &l.backend,
            "",
            "p90_ms",
            format!("{:.3}", l.p90_ms),
        );
        line(
            "latency",
            &l.backend,
            "",
            "p99_ms",
            format!("{:.3}", l.p99_ms),
        );
    }
    out
}
