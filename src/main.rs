//! The `airlock` binary: parses the command line, loads the config, sets up
//! logging and runs the gateway until SIGINT or SIGTERM. All behaviour lives
//! in the library; this file only wires it to the process.

use airlock::classify::Floor;
use airlock::classify::sensitivity::Scanner;
use airlock::config::{self, BackendId};
use airlock::openai::ChatRequest;
use airlock::pipeline::{self, Caller};
use airlock::route::BackendState;
use anyhow::Context;

// jemalloc, not glibc's malloc: about 10% less CPU per request in the load
// harness's short mode (16 KB overhead p50 142 -> 130 us, 1 KB 72 -> 64 us)
// for 1.6 MB more RSS at idle (18 MB). mimalloc was faster still but doubled
// idle RSS (35 MB, over the 30 MB target).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "airlock",
    version,
    about = "Privacy-first routing gateway for the OpenAI API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--config`, shared by every command that reads one.
#[derive(clap::Args)]
struct ConfigPath {
    /// The config file.
    #[arg(
        long = "config",
        short = 'c',
        env = "AIRLOCK_CONFIG",
        default_value = "config/airlock.toml"
    )]
    path: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[command(flatten)]
        config: ConfigPath,
        /// Log lines as JSON objects (default) or human-readable text.
        #[arg(long, env = "AIRLOCK_LOG_FORMAT", default_value = "json", value_parser = ["json", "pretty"])]
        log_format: String,
    },
    /// Check a config file; exit 1 on errors (warnings keep exit 0).
    CheckConfig {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Print the routing decision for a chat request body without sending it.
    Explain {
        #[command(flatten)]
        config: ConfigPath,
        /// Minimum sensitivity level, as the x-airlock-min-sensitivity header would set.
        #[arg(long)]
        min_sensitivity: Option<String>,
        /// JSON file with the request body, or - for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Exit 0 when the gateway at the configured address answers /healthz (for container HEALTHCHECK).
    Healthcheck {
        #[command(flatten)]
        config: ConfigPath,
        /// Address to check instead of the config's server.listen.
        #[arg(long)]
        addr: Option<String>,
    },
    /// Per task kind: tokens a day, cloud and local cost, break-even volume
    /// and a recommendation. Counts come from a running gateway
    /// (`--gateway`), from Redis when `[state] redis_url` is set, or are zero.
    Cost {
        #[command(flatten)]
        config: ConfigPath,
        /// Base URL of a running gateway to ask (e.g. http://127.0.0.1:8080).
        #[arg(long)]
        gateway: Option<String>,
        /// Gateway key for `--gateway`.
        #[arg(long, env = "AIRLOCK_KEY", hide_env_values = true)]
        key: Option<String>,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// What went where and what it cost, from the audit database: data
    /// flows by level and tier, cost by tier, backend and task, all-cloud
    /// and all-local what-ifs, latency by backend.
    Report {
        #[command(flatten)]
        config: ConfigPath,
        /// The database, instead of the config's `audit.path`.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Only records this recent: 30m, 24h, 7d, or all.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
        format: String,
    },
    /// The data-flow audit database: check its hash chain, or export it.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Score the sensitivity scanner on labelled JSONL files (PII spans, secret examples or prompts).
    EvalSensitivity {
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// JSONL files to evaluate.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Score complexity routing on strong/weak model results (RouteLLM's
    /// MMLU JSONL): APGR and CPT(50%), CPT(80%) per router.
    EvalRouting {
        /// Rows to evaluate: the tuning half, the held-out half, or both.
        #[arg(long, default_value = "test", value_parser = ["train", "test", "all"])]
        split: String,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// JSONL file with `prompt`, `strong_correct`, `weak_correct`.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the hash chain; exit 1 naming the first record that was
    /// edited, inserted or deleted.
    Verify {
        #[command(flatten)]
        config: ConfigPath,
        /// The database, instead of the config's `audit.path`.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Write the records as JSON Lines (one object each, with its `seq`
    /// and chain `hash`) to standard output, for a SIEM.
    Export {
        #[command(flatten)]
        config: ConfigPath,
        /// The database, instead of the config's `audit.path`.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Only records this recent: 30m, 24h, 7d, or all.
        #[arg(long, default_value = "all")]
        since: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => check_config(&config.path),
        Command::Explain {
            config,
            min_sensitivity,
            file,
        } => report(explain(&config.path, min_sensitivity.as_deref(), &file)),
        Command::Healthcheck { config, addr } => report(healthcheck(&config.path, addr)),
        Command::Serve { config, log_format } => report(serve(&config.path, &log_format)),
        Command::Cost {
            config,
            gateway,
            key,
            format,
        } => report(cost(&config.path, gateway, key, format == "json")),
        Command::Audit { action } => audit(action),
        Command::Report {
            config,
            db,
            since,
            format,
        } => report(audit_report(&config.path, db, &since, &format)),
        Command::EvalSensitivity { format, files } => {
            report(eval_sensitivity(format == "json", &files))
        }
        Command::EvalRouting {
            split,
            format,
            file,
        } => report(eval_routing(&split, format == "json", &file)),
    }
}

fn audit_report(
    config: &std::path::Path,
    db: Option<PathBuf>,
    since: &str,
    format: &str,
) -> anyhow::Result<()> {
    use airlock::audit::{report, store::Store};
    use std::io::IsTerminal;
    let loaded = load(config)?;
    let path = db.unwrap_or_else(|| loaded.config.audit.path.clone());
    if !path.exists() {
        anyhow::bail!("no audit database at {}", path.display());
    }
    let store = Store::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let now = airlock::audit::now_ms();
    let from = airlock::audit::parse_since(since, now).map_err(anyhow::Error::msg)?;
    let mut rows = Vec::new();
    store.rows_since(from, |_, _, r| {
        rows.push(r);
        Ok(())
    })?;
    let r = report::build(
        &loaded.config,
        &rows,
        (from > i64::MIN).then_some(from),
        now,
    );
    let text = match format {
        "json" => serde_json::to_string_pretty(&r)? + "\n",
        "csv" => report::render_csv(&r),
        _ => report::render_table(&r, std::io::stdout().is_terminal()),
    };
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The audit database a command reads: `--db`, else the config's.
fn audit_db(config: &std::path::Path, db: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match db {
        Some(p) => Ok(p),
        None => Ok(load(config)?.config.audit.path),
    }
}

fn audit(action: AuditAction) -> ExitCode {
    use airlock::audit::store::{Store, Verdict};
    let open = |config: &std::path::Path, db: Option<PathBuf>| -> anyhow::Result<Store> {
        let path = audit_db(config, db)?;
        if !path.exists() {
            anyhow::bail!("no audit database at {}", path.display());
        }
        Store::open(&path).with_context(|| format!("cannot open {}", path.display()))
    };
    match action {
        AuditAction::Verify { config, db } => {
            let verdict = open(&config.path, db).and_then(|s| Ok(s.verify()?));
            match verdict {
                Ok(Verdict::Intact {
                    rows,
                    first_seq,
                    last_seq,
                }) => {
                    println!("ok: {rows} records ({first_seq}..{last_seq}), chain intact");
                    ExitCode::SUCCESS
                }
                Ok(Verdict::Broken { seq, reason }) => {
                    println!("broken at record {seq}: {reason}");
                    ExitCode::FAILURE
                }
                Err(e) => report(Err(e)),
            }
        }
        AuditAction::Export { config, db, since } => report((|| {
            use std::io::Write;
            let store = open(&config.path, db)?;
            let from = airlock::audit::parse_since(&since, airlock::audit::now_ms())
                .map_err(anyhow::Error::msg)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut failed = None;
            store.rows_since(from, |seq, hash, row| {
                let mut v = serde_json::to_value(&row).unwrap_or_default();
                v["seq"] = seq.into();
                v["hash"] = hash.into();
                if failed.is_none()
                    && let Err(e) = writeln!(out, "{v}")
                {
                    failed = Some(e);
                }
                Ok(())
            })?;
            match failed.map_or_else(|| out.flush(), Err) {
                // A closed pipe (`| head`) is the reader's choice.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => Ok(r?),
            }
        })()),
    }
}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("airlock: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<config::Loaded> {
    config::load(path).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(|i| format!("  error: {i}")).collect();
        anyhow::anyhow!("invalid config {}:\n{}", path.display(), lines.join("\n"))
    })
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("warning: {w}");
            }
            let c = &loaded.config;
            println!(
                "ok: {} ({} backends, {} pools, {} rules, {} keys)",
                path.display(),
                c.backends.len(),
                c.pools.len(),
                c.rules.len(),
                c.keys.len()
            );
            ExitCode::SUCCESS
        }
        Err(issues) => {
            for i in &issues {
                println!("error: {i}");
            }
            println!("invalid: {} ({} errors)", path.display(), issues.len());
            ExitCode::FAILURE
        }
    }
}

fn explain(path: &std::path::Path, min: Option<&str>, file: &str) -> anyhow::Result<()> {
    let loaded = load(path)?;
    let c = &loaded.config;
    let mut body = Vec::new();
    if file == "-" {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
    }
    let req = ChatRequest::parse(&body).map_err(|e| match e.param {
        Some(p) => anyhow::anyhow!("invalid request ({p}): {}", e.message),
        None => anyhow::anyhow!("invalid request: {}", e.message),
    })?;
    let mut floors = Vec::new();
    if let Some(m) = min {
        let level = airlock::types::Level::parse(m)
            .with_context(|| format!("unknown level {m:?} for --min-sensitivity"))?;
        floors.push(Floor::Header(level));
    }
    // Offline, nothing is probed: configured backends count as unknown (tryable).
    let state = |id: BackendId| {
        if c.backend(id).is_configured() {
            BackendState::Unknown
        } else {
            BackendState::Unconfigured
        }
    };
    let caller = Caller {
        floors: &floors,
        key: None,
        memory: None,
        volume: None,
    };
    let scanner = Scanner::with_options(&c.scan);
    let a = pipeline::assess_chat(c, &scanner, &req, &caller, &state);
    let doc = pipeline::explain_json(c, &a);
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

fn eval_sensitivity(json: bool, files: &[PathBuf]) -> anyhow::Result<()> {
    use airlock::eval;
    let scanner = Scanner::new();
    let mut docs = serde_json::Map::new();
    for path in files {
        let name = path.display().to_string();
        let content =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
        let data = eval::parse(&content).with_context(|| format!("cannot evaluate {name}"))?;
        let report = eval::evaluate(&scanner, &data);
        if json {
            docs.insert(name, serde_json::to_value(&report)?);
        } else {
            println!("{}", report.table(&name));
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
    }
    Ok(())
}

fn eval_routing(split: &str, json: bool, path: &std::path::Path) -> anyhow::Result<()> {
    use airlock::eval::routing;
    let name = path.display().to_string();
    let split = routing::Split::parse(split).with_context(|| format!("unknown split {split:?}"))?;
    let content = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    let records = routing::parse(&content).with_context(|| format!("cannot evaluate {name}"))?;
    let report =
        routing::evaluate(&records, split).with_context(|| format!("cannot evaluate {name}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table(&name));
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn healthcheck(path: &std::path::Path, addr: Option<String>) -> anyhow::Result<()> {
    let addr = match addr {
        Some(a) => a,
        None => {
            let listen = load(path)?.config.server.listen;
            // A wildcard bind is reached on loopback.
            let ip = if listen.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                listen.ip()
            };
            std::net::SocketAddr::new(ip, listen.port()).to_string()
        }
    };
    runtime()?.block_on(async {
        let resp = reqwest::Client::new()
            .get(format!("http://{addr}/healthz"))
            .timeout(std::time::Duration::from_secs(3))
            .send()
            .await
            .with_context(|| format!("cannot reach {addr}"))?;
        anyhow::ensure!(
            resp.status().is_success(),
            "/healthz answered {}",
            resp.status()
        );
        Ok(())
    })
}

fn cost(
    path: &std::path::Path,
    gateway: Option<String>,
    key: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    use airlock::cost::Row;
    use airlock::volume::{Dim, Volume, Window};
    let (rows, from) = runtime()?.block_on(async {
        if let Some(base) = gateway {
            let url = format!("{}/v1/airlock/cost", base.trim_end_matches('/'));
            let mut req = reqwest::Client::new()
                .get(&url)
                .timeout(std::time::Duration::from_secs(10));
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("cannot reach {url}"))?;
            anyhow::ensure!(
                resp.status().is_success(),
                "{url} answered {}",
                resp.status()
            );
            let doc: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
            let rows: Vec<Row> = serde_json::from_value(doc["rows"].clone())?;
            return Ok::<_, anyhow::Error>((rows, format!("gateway {base}")));
        }
        let c = load(path)?.config;
        let redis = airlock::state::Redis::from_settings(&c.state).map_err(anyhow::Error::msg)?;
        let (volume, from) = match redis {
            Some(r) => {
                let v = Volume::shared(r);
                v.sync()
                    .await
                    .context("cannot read the counts from redis")?;
                (v, "redis".to_owned())
            }
            None => (
                Volume::local(),
                "none (no gateway or redis given: volumes are 0)".to_owned(),
            ),
        };
        let counts = |t| Window::ALL.map(|w| volume.count(&Dim::Task(t), w));
        Ok((airlock::cost::table(&c, &counts), from))
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("counts from: {from}");
        print!("{}", airlock::cost::render(&rows));
    }
    Ok(())
}

fn serve(path: &std::path::Path, log_format: &str) -> anyhow::Result<()> {
    let _telemetry = init_tracing(log_format)?;
    let loaded = load(path)?;
    for w in &loaded.warnings {
        tracing::warn!(key = %w.key, "{}", w.message);
    }
    // Build the complexity cue automaton now, not on the first request.
    airlock::classify::complexity::warm();
    runtime()?.block_on(async move {
        let app = airlock::App::build(loaded.config)
            .await
            .context("cannot bind the listen address")?
            .with_source(path.to_path_buf());
        tracing::info!(addr = %app.local_addr()?, config = %path.display(), "airlock listening");
        app.run(shutdown_signal()).await?;
        tracing::info!("airlock stopped");
        Ok(())
    })
}

/// Flushes exported spans when dropped (feature `otel`).
struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    /// The log lines not yet written (see `observe::log_buffer`).
    logs: airlock::observe::log_buffer::LogBuffer,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
        self.logs.flush();
    }
}

fn init_tracing(format: &str) -> anyhow::Result<Telemetry> {
    use airlock::observe::log_buffer;
    use airlock::observe::logging::{self, LogFormat};
    let format = LogFormat::parse(format).unwrap_or_default();
    let spec = std::env::var("AIRLOCK_LOG").unwrap_or_default();
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let interval =
        log_buffer::interval_from_env(std::env::var("AIRLOCK_LOG_FLUSH_MS").ok().as_deref())
            .map_err(anyhow::Error::msg)?;
    let logs = log_buffer::LogBuffer::new(Box::new(std::io::stderr()), interval);
    // A panic's message (the default hook's) comes after the lines before it.
    let on_panic = logs.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        on_panic.flush();
        default_hook(info);
    }));
    #[cfg(feature = "otel")]
    let (extra, telemetry) = if airlock::observe::otel::wanted() {
        let (layer, provider) = airlock::observe::otel::layer().map_err(anyhow::Error::msg)?;
        (
            Some(layer),
            Telemetry {
                provider: Some(provider),
                logs: logs.clone(),
            },
        )
    } else {
        (
            None,
            Telemetry {
                provider: None,
                logs: logs.clone(),
            },
        )
    };
    #[cfg(not(feature = "otel"))]
    let (extra, telemetry) = (None, Telemetry { logs: logs.clone() });
    let subscriber = logging::subscriber(format, &spec, logs, ansi, extra);
    tracing::subscriber::set_global_default(subscriber)
        .context("cannot install the log subscriber")?;
    Ok(telemetry)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}
