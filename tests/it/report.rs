//! `GET /v1/airlock/report` and `GET /dashboard`: the report of the running
//! gateway's audit equals `report::build` over the same records, needs the
//! gateway key like every `/v1` route, is itself not audited, and answers
//! 404 without an audit; the dashboard page is served whole, loading
//! nothing from elsewhere.

use crate::audit::rows;
use crate::{COMPLEX, GW_KEY, World, spawn, user};
use serde_json::Value;

const KEYS: &str = r#"
[[keys]]
name = "team-a"
key_env = "GW_KEY"
"#;

#[tokio::test]
async fn the_report_is_the_audit_report_with_health() {
    let w = World::new().await;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("audit.sqlite");
    let toml = w.toml(&format!("{KEYS}\n[audit]\npath = \"{}\"", db.display()));
    let app = spawn(&toml).await;
    let chat = |body: Value| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(GW_KEY)
            .json(&body)
            .send()
    };
    // Confidential: local. Complex and public: the cloud. A bad request.
    let r = chat(user("mail jane.doe@example.com the notes")).await;
    assert_eq!(r.expect("send").status(), 200);
    assert_eq!(chat(user(COMPLEX)).await.expect("send").status(), 200);
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(GW_KEY)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let got = rows(&db, 3).await;

    // The key is needed, as for /v1/airlock/cost.
    let r = app
        .http
        .get(app.url("/v1/airlock/report?since=all"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .get(app.url("/v1/airlock/report?since=all"))
        .bearer_auth(GW_KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["object"], "airlock.report");
    assert_eq!(body["since"], "all");

    // Every field equals report::build over the same records and window.
    let config = airlock::config::from_toml_str(&toml, &|_| Some("k".into()))
        .expect("config")
        .config;
    let until = body["until_ms"].as_i64().expect("until_ms");
    let want = airlock::audit::report::build(&config, &got, None, until);
    let want = serde_json::to_value(&want).expect("json");
    let fields = want.as_object().expect("object");
    assert!(fields.len() > 10);
    for (k, v) in fields {
        assert_eq!(&body[k], v, "field {k}");
    }
    assert_eq!(body["requests"], 3);
    assert_eq!(body["restricted_to_cloud"], 0);
    let flow = |level: &str, tier: &str, backend: &str| {
        body["flows"]
            .as_array()
            .expect("flows")
            .iter()
            .find(|f| f["level"] == level && f["tier"] == tier && f["backend"] == backend)
            .map(|f| f["requests"].clone())
    };
    assert_eq!(flow("confidential", "local", "ollama"), Some(1.into()));
    assert_eq!(flow("public", "public_cloud", "cloud"), Some(1.into()));

    // Health now, one entry per backend.
    let backends = body["backends"].as_array().expect("backends");
    let names: Vec<_> = backends.iter().map(|b| b["name"].clone()).collect();
    assert_eq!(names, ["ollama", "lmstudio", "cloud"]);
    assert!(backends.iter().all(|b| b["state"].is_string()));
    assert_eq!(backends[2]["tier"], "public_cloud");

    // A window: 7 days by default; a bad one is the caller's fault.
    let get = |path: &str| app.http.get(app.url(path)).bearer_auth(GW_KEY).send();
    let r = get("/v1/airlock/report").await.expect("send");
    let week: Value = r.json().await.expect("json");
    assert_eq!(week["since"], "7d");
    assert_eq!(week["requests"], 3);
    let r = get("/v1/airlock/report?since=soon").await.expect("send");
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["param"], "since");

    // Reading the report is not itself audited.
    let again = rows(&db, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(again.len(), rows(&db, 3).await.len());
    assert_eq!(again.len(), 3);
}

#[tokio::test]
async fn without_an_audit_the_report_is_404() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .http
        .get(app.url("/v1/airlock/report"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["code"], "audit_disabled");
    assert_eq!(e["error"]["type"], "not_found_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("audit is disabled"))
    );
}

#[tokio::test]
async fn the_dashboard_is_one_page_loading_nothing_else() {
    let w = World::new().await;
    // Served without the key (it holds no data); the data needs it.
    let app = spawn(&w.toml(KEYS)).await;
    let r = app
        .http
        .get(app.url("/dashboard"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let h = |name: &str| crate::header(&r, name).to_owned();
    assert!(h("content-type").starts_with("text/html"));
    let csp = h("content-security-policy");
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let page = r.text().await.expect("text");
    assert!(page.contains("/v1/airlock/report"));
    assert!(page.contains("data-metric"));
    for external in ["src=", "href=", "@import", "url(", "https://", "//cdn"] {
        assert!(!page.contains(external), "the page loads {external}");
    }
    let r = app
        .http
        .get(app.url("/v1/airlock/report"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
}
