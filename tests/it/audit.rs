//! The audit database behind a running gateway: one record per request,
//! the decision and counts but no text, conversations linked by a salted
//! hash, the chain intact, and `report` reading it.

use crate::{COMPLEX, World, spawn, user};
use airlock::audit::AuditRow;
use airlock::audit::store::{Store, Verdict};
use serde_json::json;
use std::time::Duration;

pub(crate) async fn rows(db: &std::path::Path, want: usize) -> Vec<AuditRow> {
    for _ in 0..100 {
        if db.exists() {
            let s = Store::open(db).expect("open");
            let mut got = Vec::new();
            s.rows_since(i64::MIN, |_, _, r| {
                got.push(r);
                Ok(())
            })
            .expect("read");
            if got.len() >= want {
                return got;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the audit never held {want} records");
}

#[tokio::test]
async fn every_request_is_audited_without_its_text() {
    let w = World::new().await;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("audit.sqlite");
    let app = spawn(&w.toml(&format!("[audit]\npath = \"{}\"", db.display()))).await;

    let canary = "zebra-canary-7731";
    // Confidential: served locally.
    let r = app
        .chat(user(&format!(
            "{canary}: mail jane.doe@example.com the notes"
        )))
        .await;
    assert_eq!(r.status(), 200);
    // Complex and public: the cloud.
    assert_eq!(app.chat(user(COMPLEX)).await.status(), 200);
    // One conversation, two turns: the second resends the first.
    let opening = json!({"role": "user", "content": format!("{canary} plan a picnic")});
    assert_eq!(
        app.chat(json!({"model": "auto", "messages": [opening.clone()]}))
            .await
            .status(),
        200
    );
    let second = json!({"model": "auto", "messages": [
        opening,
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": "and for ten people?"}]});
    assert_eq!(app.chat(second).await.status(), 200);
    // A bad request is audited too, as what it was.
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);

    let got = rows(&db, 5).await;
    assert_eq!(got.len(), 5);
    assert_eq!(
        (got[4].status, got[4].outcome.as_str()),
        (400, "client_error")
    );
    let local = &got[0];
    assert_eq!(local.level, "confidential");
    assert_eq!(local.tier.as_deref(), Some("local"));
    assert_eq!(local.backend.as_deref(), Some("ollama"));
    assert_eq!(local.categories.get("pii"), Some(&1));
    assert_eq!(local.kinds.get("email"), Some(&1));
    assert_eq!(local.outcome, "ok");
    assert!(local.input_tokens > 0 && local.latency_ms > 0.0);
    let cloud = &got[1];
    assert_eq!(cloud.tier.as_deref(), Some("public_cloud"));
    assert_eq!(cloud.rule.as_deref(), Some("complex-to-frontier"));
    assert!(cloud.cost_usd >= 0.0);
    // The conversation's two turns share a hash; other requests do not.
    assert!(got[2].conversation.is_some());
    assert_eq!(got[2].conversation, got[3].conversation);
    assert_ne!(got[0].conversation, got[2].conversation);

    // No text anywhere in the database files.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for f in std::fs::read_dir(dir.path()).expect("dir") {
        let bytes = std::fs::read(f.expect("entry").path()).expect("read");
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "prompt text reached the audit database"
        );
        assert!(!bytes.windows(8).any(|w| w == b"jane.doe"));
    }
    let s = Store::open(&db).expect("open");
    assert!(matches!(
        s.verify().expect("verify"),
        Verdict::Intact { .. }
    ));
    // The report over it.
    let config = airlock::config::from_toml_str(&w.toml(""), &|_| Some("k".into()))
        .expect("config")
        .config;
    let report = airlock::audit::report::build(&config, &got, None, airlock::audit::now_ms());
    assert_eq!(report.restricted_to_cloud, 0);
    assert!(
        report
            .flows
            .iter()
            .any(|f| f.level == "confidential" && f.tier == "local")
    );
}

/// `audit_content = true` on a rule keeps that rule's prompt and answer in
/// the audit, and only that rule's.
#[tokio::test]
async fn a_rule_may_opt_in_to_keep_its_text() {
    let w = World::new().await;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("audit.sqlite");
    let toml = w
        .toml(&format!("[audit]\npath = \"{}\"", db.display()))
        .replace(
            "name = \"complex-to-frontier\"\nwhen = { complexity_at_least = 0.5 }\npool = \"frontier\"",
            "name = \"complex-to-frontier\"\nwhen = { complexity_at_least = 0.5 }\npool = \"frontier\"\naudit_content = true",
        );
    assert!(toml.contains("audit_content = true"));
    let app = spawn(&toml).await;
    assert_eq!(app.chat(user(COMPLEX)).await.status(), 200);
    assert_eq!(app.chat(user("zebra-canary-1 hello")).await.status(), 200);
    let got = rows(&db, 2).await;
    assert_eq!(got[0].rule.as_deref(), Some("complex-to-frontier"));
    assert!(
        got[0]
            .prompt
            .as_deref()
            .is_some_and(|p| p.contains("trade-offs")),
        "{:?}",
        got[0].prompt
    );
    assert!(got[0].completion.as_deref().is_some_and(|c| !c.is_empty()));
    assert_eq!(got[1].rule.as_deref(), Some("default"));
    assert_eq!(
        (got[1].prompt.as_deref(), got[1].completion.as_deref()),
        (None, None)
    );
    let s = Store::open(&db).expect("open");
    assert!(matches!(
        s.verify().expect("verify"),
        Verdict::Intact { .. }
    ));
}

/// SIGTERM right after a burst: the writer gathers rows for up to
/// `BATCH_WAIT` before storing them, so shutdown must store what is
/// queued. Every answered request is in the database after the exit,
/// and its log line in the log (lines are gathered for
/// `AIRLOCK_LOG_FLUSH_MS`, here longer than the test, so only the flush
/// at exit can write them).
#[tokio::test(flavor = "multi_thread")]
async fn rows_still_queued_at_sigterm_are_stored() {
    let w = World::new().await;
    let port = crate::free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("audit.sqlite");
    let config = dir.path().join("airlock.toml");
    let log = dir.path().join("airlock.log");
    std::fs::write(
        &config,
        w.toml(&format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[audit]\npath = \"{}\"",
            db.display()
        )),
    )
    .expect("write");
    let mut child = crate::Reaped(
        std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("CLOUD_KEY", "sk-test")
            .env("AIRLOCK_LOG", "info")
            .env("AIRLOCK_LOG_FLUSH_MS", "10000")
            .env_remove("AIRLOCK_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn"),
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let mut ready = false;
    for _ in 0..100 {
        if http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the gateway never answered");
    let mut answered = 0;
    for i in 0..20 {
        let r = http
            .post(&url)
            .json(&user(&format!("plan picnic number {i}")))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        answered += 1;
    }
    let status = child.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    // Read at once: nothing is running any more that could still store.
    let s = Store::open(&db).expect("open");
    let mut stored = 0;
    s.rows_since(i64::MIN, |_, _, _| {
        stored += 1;
        Ok(())
    })
    .expect("read");
    assert_eq!(stored, answered);
    assert!(matches!(
        s.verify().expect("verify"),
        Verdict::Intact { .. }
    ));
    let logged = std::fs::read_to_string(&log).expect("read log");
    let lines = logged
        .lines()
        .filter(|l| l.contains("\"message\":\"request\""))
        .count();
    assert_eq!(lines, answered, "{logged}");
}
