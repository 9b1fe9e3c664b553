//! The binary's commands: check-config, explain, and cost against a gateway.

use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_airlock"));
    c.env_remove("AIRLOCK_CONFIG").env_remove("OPENAI_API_KEY");
    c
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn check_config_accepts_the_shipped_config_with_a_warning() {
    let out = bin()
        .args(["check-config", "--config", "config/airlock.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning: backends[3]") && stdout.contains("unconfigured"),
        "{stdout}"
    );
    assert!(stdout.contains("ok: "), "{stdout}");
}

#[test]
fn check_config_names_every_bad_key_and_exits_1() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = write(
        &dir,
        "bad.toml",
        r#"
[server]
listen = "127.0.0.1:8080"
colour = "blue"

[[backends]]
name = "x"
protocol = "openai"
base_url = "not a url"
tier = "local"
models = ["m"]
"#,
    );
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("server.colour"), "{stdout}");

    let path = write(
        &dir,
        "bad2.toml",
        r#"
[policy.levels]
internal = ["local"]
restricted = ["local", "public_cloud"]

[[backends]]
name = "x"
protocol = "openai"
base_url = "not a url"
tier = "local"
models = ["m"]

[pools]
p = ["y/m"]

[[rules]]
name = "r"
pool = "q"
"#,
    );
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for key in [
        "backends[0].base_url",
        "pools.p[0]",
        "rules[0].pool",
        "policy.levels.restricted",
    ] {
        assert!(
            stdout.contains(&format!("error: {key}: ")),
            "{key} in {stdout}"
        );
    }
    let missing = bin()
        .args(["check-config", "--config", "/nonexistent/airlock.toml"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn explain_cli_decides_offline() {
    let mut child = bin()
        .args(["explain", "--config", "config/airlock.toml", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("OPENAI_API_KEY", "sk-test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            br#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"mail bob@example.com"}]}"#,
        )
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["sensitivity"]["level"], "confidential");
    assert_eq!(doc["decision"]["tier"], "local");
    assert_eq!(doc["rerouted"], true);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("bob@example.com"));
}

/// `airlock cost` against a running gateway: the counts it served, priced.
#[tokio::test]
async fn cost_reports_volume_prices_and_break_even_from_a_gateway() {
    let w = crate::World::new().await;
    let priced = w
        .toml("[economics]\ncloud_pool = \"frontier\"\nlocal_pool = \"local\"")
        .replace(
            "models = [\"gpt-4o\", \"gpt-4o-mini\", \"text-embedding-3-small\"]",
            "models = [\"gpt-4o\", \"gpt-4o-mini\", \"text-embedding-3-small\"]\nprices.\"gpt-4o\" = { input = 2.5, output = 10.0 }",
        )
        .replace(
            "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\"]",
            "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\"]\nmonthly_cost_usd = 300",
        );
    let app = crate::spawn(&priced).await;
    let r = app
        .chat(crate::user("Extract the dates from: 3 May, 4 June."))
        .await;
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["cost", "--gateway", &base, "--format", "json"])
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout).expect("json rows");
    let row = |task: &str| {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["task"] == task)
            .cloned()
            .expect("row")
    };
    let ex = row("extraction");
    // The fake upstream reports usage (9 prompt + 5 completion tokens).
    assert_eq!(ex["tokens_per_day"], 14, "{ex}");
    assert!(
        ex["cloud_usd_per_day"].as_f64().unwrap_or(0.0) > 0.0,
        "{ex}"
    );
    assert_eq!(ex["local_usd_per_day"], 10.0);
    // 10 $/day over (0.75 x 2.5 + 0.25 x 10) $/M without a month of traffic
    // would be 2.29M; with this task's own mix it differs, but is finite.
    assert!(
        ex["break_even_tokens_per_day"].as_f64().unwrap_or(0.0) > 0.0,
        "{ex}"
    );
    assert_eq!(ex["recommendation"], "cloud");
    assert_eq!(row("chat")["tokens_per_day"], 0);
}

/// A gateway started with proxy variables in its environment (as many
/// containers have) still talks to its backends directly: restricted text
/// bound for a local model must not pass through a proxy nobody configured.
#[tokio::test(flavor = "multi_thread")]
async fn environment_proxies_are_not_used_for_backends() {
    let w = crate::World::new().await;
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy_addr = proxy.local_addr().expect("addr");
    let proxied = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = proxied.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = proxy.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let port = crate::free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let config = write(
        &dir,
        "airlock.toml",
        &w.toml(&format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[audit]\nenabled = false"
        )),
    );
    let proxy_url = format!("http://{proxy_addr}");
    let mut child = bin()
        .args(["serve", "--config"])
        .arg(&config)
        .env("CLOUD_KEY", "sk-test")
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("HTTPS_PROXY", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let mut answer = None;
    for _ in 0..100 {
        let body = crate::user("Patient Jane Doe, DOB 1984-03-02, MRN 88341207: summarise.");
        if let Ok(r) = http.post(&url).json(&body).send().await {
            answer = Some((
                r.status().as_u16(),
                crate::header(&r, "x-airlock-backend").to_owned(),
            ));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answer, Some((200, "ollama".to_owned())));
    assert_eq!(w.ollama.chat_count(), 1);
    assert_eq!(proxied.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// `airlock audit verify` and `export` on a database written through the
/// library: intact, then with a record edited behind its back.
#[test]
fn audit_verify_finds_tampering_and_export_writes_jsonl() {
    use airlock::audit::AuditRow;
    use airlock::audit::store::Store;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("audit.sqlite");
    let now = airlock::audit::now_ms();
    let rows: Vec<AuditRow> = (0..5)
        .map(|i| AuditRow {
            time_ms: now - (5 - i) * 3_600_000,
            request_id: format!("r{i}"),
            level: "confidential".into(),
            tier: Some("local".into()),
            outcome: "ok".into(),
            status: 200,
            ..AuditRow::default()
        })
        .collect();
    Store::open(&db)
        .expect("open")
        .append(&rows)
        .expect("append");
    let db_arg = db.to_str().expect("utf8 path");

    let out = bin()
        .args(["audit", "verify", "--db", db_arg])
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: 5 records"));

    let out = bin()
        .args(["audit", "export", "--db", db_arg, "--since", "150m"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["request_id"], "r3");
    assert_eq!(lines[0]["seq"], 4);
    assert_eq!(lines[1]["hash"].as_str().map(str::len), Some(64));

    // Someone moves record 2 to the cloud tier.
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    conn.execute(
        "UPDATE records SET record = replace(record, '\"tier\":\"local\"', '\"tier\":\"public_cloud\"') WHERE seq = 2",
        [],
    )
    .expect("tamper");
    let out = bin()
        .args(["audit", "verify", "--db", db_arg])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("broken at record 2"), "{text}");

    let out = bin()
        .args(["audit", "verify", "--db", "/nonexistent/audit.sqlite"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no audit database"));
}

/// `airlock report` over an audit database: the flows, the restricted-to-
/// cloud count, cost and the JSON and CSV forms.
#[test]
fn report_summarises_an_audit_database() {
    use airlock::audit::AuditRow;
    use airlock::audit::store::Store;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("audit.sqlite");
    let now = airlock::audit::now_ms();
    let row = |level: &str, tier: &str, backend: &str, cost: f64| AuditRow {
        time_ms: now - 60_000,
        level: level.into(),
        tier: Some(tier.into()),
        backend: Some(backend.into()),
        task: "chat".into(),
        status: 200,
        outcome: "ok".into(),
        input_tokens: 100,
        output_tokens: 20,
        cost_usd: cost,
        latency_ms: 50.0,
        ..AuditRow::default()
    };
    Store::open(&db)
        .expect("open")
        .append(&[
            row("confidential", "local", "ollama", 0.0),
            row("public", "public_cloud", "openai", 0.25),
            row("public", "public_cloud", "openai", 0.25),
        ])
        .expect("append");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/airlock.toml");
    let run = |format: &str| {
        let out = bin()
            .args(["report", "--config", shipped, "--db"])
            .arg(&db)
            .args(["--since", "1h", "--format", format])
            .output()
            .expect("run");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("utf8")
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).expect("json");
    assert_eq!(json["requests"], 3);
    assert_eq!(json["restricted_to_cloud"], 0);
    assert_eq!(json["cost_by_tier"]["public_cloud"], 0.5);
    let local = json["local_share"].as_f64().expect("share");
    assert!((local - 1.0 / 3.0).abs() < 1e-9, "{local}");
    let table = run("table");
    assert!(
        table.contains("restricted data on a cloud tier: 0 requests"),
        "{table}"
    );
    assert!(table.contains("openai"), "{table}");
    let csv = run("csv");
    assert!(
        csv.starts_with("section,key,subkey,metric,value\n"),
        "{csv}"
    );
    assert!(
        csv.contains("flow,public/public_cloud,openai,requests,2"),
        "{csv}"
    );
}
