//! Fault injection: upstreams that reset the connection, send malformed
//! SSE, trickle slower than the idle timeout or never finish. Each test
//! checks what the client gets, exactly, and that a request was sent again
//! (retry or fallback) only while nothing had reached the client.

use crate::{fakes, spawn};
use axum::http::header;
use axum::routing::post;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Counts the requests a fake received.
#[derive(Clone, Default)]
struct Hits(Arc<AtomicUsize>);

impl Hits {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn chunk(text: &str) -> String {
    let c = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    format!("data: {c}\n\n")
}

/// A streaming OpenAI-protocol backend sending `script`: each item is a
/// wait, then bytes to send.
async fn scripted(script: Vec<(u64, String)>, hits: Hits) -> SocketAddr {
    let router = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            hits.0.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            async move {
                let body = futures_util::stream::unfold(script.into_iter(), |mut it| async move {
                    let (wait, bytes) = it.next()?;
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    Some((Ok::<_, std::convert::Infallible>(bytes), it))
                });
                (
                    [(header::CONTENT_TYPE, "text/event-stream")],
                    axum::body::Body::from_stream(body),
                )
            }
        }),
    );
    fakes::serve(router).await
}

/// A backend that accepts each connection, reads the request head and
/// resets the connection without answering; counts the POSTs.
async fn resetting(hits: Hits) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = l.accept().await {
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                // Health probes (GET) do not count.
                if buf[..n].starts_with(b"POST ") {
                    hits.0.fetch_add(1, Ordering::SeqCst);
                }
                // SO_LINGER 0: close with RST, not FIN.
                let _ = conn.set_zero_linger();
                drop(conn);
            });
        }
    });
    addr
}

/// `first` and, when given, `second` as OpenAI-protocol local backends,
/// in that order in the default pool.
fn config(first: SocketAddr, second: Option<SocketAddr>, extra: &str) -> String {
    let mut toml = format!(
        r#"
[retries]
attempts = 1
[health]
interval_ms = 60000
{extra}
[[backends]]
name = "first"
protocol = "openai"
base_url = "http://{first}/v1"
tier = "local"
models = ["m"]
"#
    );
    let mut pool = vec!["\"first/m\""];
    if let Some(second) = second {
        toml.push_str(&format!(
            "[[backends]]\nname = \"second\"\nprotocol = \"openai\"\nbase_url = \"http://{second}/v1\"\ntier = \"local\"\nmodels = [\"m\"]\n"
        ));
        pool.push("\"second/m\"");
    }
    toml.push_str(&format!(
        "[pools]\np = [{}]\n[[rules]]\nname = \"default\"\npool = \"p\"\n",
        pool.join(", ")
    ));
    toml
}

fn stream(text: &str) -> Value {
    json!({"model": "auto", "stream": true, "messages": [{"role": "user", "content": text}]})
}

/// The data of each event of an SSE body.
fn events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// The error event a stream ended with.
fn error_event(body: &str) -> Value {
    let last = events(body).pop().expect("an event");
    assert_ne!(last, "[DONE]", "{body}");
    serde_json::from_str(&last).expect("json error event")
}

fn good_stream() -> Vec<(u64, String)> {
    vec![
        (0, chunk("fine")),
        (0, chunk(" answer")),
        (0, "data: [DONE]\n\n".into()),
    ]
}

#[tokio::test]
async fn a_reset_connection_is_passed_over_and_alone_is_a_502() {
    let (reset_hits, ok_hits) = (Hits::default(), Hits::default());
    let reset = resetting(reset_hits.clone()).await;
    let ok = scripted(good_stream(), ok_hits.clone()).await;
    let app = spawn(&config(reset, Some(ok), "")).await;
    let r = app.chat(stream("hi")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(crate::header(&r, "x-airlock-backend"), "second");
    let body = r.text().await.expect("body");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    assert_eq!((reset_hits.get(), ok_hits.get()), (1, 1));

    let app = spawn(&config(reset, None, "")).await;
    let r = app.chat(stream("hi")).await;
    assert_eq!(r.status(), 502);
    let err: Value = r.json().await.expect("json");
    assert_eq!(err["error"]["code"], "upstream_error");
    assert_eq!(reset_hits.get(), 2);
}

#[tokio::test]
async fn malformed_sse_mid_stream_ends_it_with_an_error_and_is_not_resent() {
    let (bad_hits, ok_hits) = (Hits::default(), Hits::default());
    let bad = scripted(
        vec![
            (0, chunk("half")),
            (20, "data: {\"choices\": [oops\n\n".into()),
            (0, chunk(" never")),
            (0, "data: [DONE]\n\n".into()),
        ],
        bad_hits.clone(),
    )
    .await;
    let ok = scripted(good_stream(), ok_hits.clone()).await;
    let app = spawn(&config(bad, Some(ok), "")).await;
    let r = app.chat(stream("hi")).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    // The good event went out whole, the bad one not at all.
    assert!(body.contains("\"half\""), "{body}");
    assert!(!body.contains("oops") && !body.contains("never"), "{body}");
    let err = error_event(&body);
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not JSON")),
        "{err}"
    );
    // After the first event, nothing is sent anywhere again.
    assert_eq!((bad_hits.get(), ok_hits.get()), (1, 0));
}

#[tokio::test]
async fn malformed_sse_before_the_first_event_falls_back() {
    let (bad_hits, ok_hits) = (Hits::default(), Hits::default());
    let bad = scripted(vec![(0, "data: <html>\n\n".into())], bad_hits.clone()).await;
    let ok = scripted(good_stream(), ok_hits.clone()).await;
    let app = spawn(&config(bad, Some(ok), "")).await;
    let r = app.chat(stream("hi")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(crate::header(&r, "x-airlock-backend"), "second");
    let body = r.text().await.expect("body");
    assert_eq!(
        events(&body).concat(),
        events(
            &good_stream()
                .into_iter()
                .map(|(_, s)| s)
                .collect::<String>()
        )
        .concat()
    );
    assert_eq!((bad_hits.get(), ok_hits.get()), (1, 1));
}

#[tokio::test]
async fn a_stream_trickling_slower_than_the_idle_timeout_is_cut() {
    let hits = Hits::default();
    let slow = scripted(
        vec![
            (0, chunk("one")),
            (100, chunk(" two")),
            (800, chunk(" three")),
            (0, "data: [DONE]\n\n".into()),
        ],
        hits.clone(),
    )
    .await;
    let app = spawn(&config(slow, None, "[timeouts]\nidle_ms = 400")).await;
    let r = app.chat(stream("hi")).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("\"one\"") && body.contains("\" two\""),
        "{body}"
    );
    assert!(!body.contains("three"), "{body}");
    let err = error_event(&body);
    assert_eq!(err["error"]["code"], "upstream_timeout", "{err}");
    assert_eq!(hits.get(), 1);
}

#[tokio::test]
async fn a_stream_that_never_finishes_ends_at_the_total_timeout() {
    let hits = Hits::default();
    let endless: Vec<(u64, String)> = (0..1000).map(|i| (30, chunk(&format!("w{i} ")))).collect();
    let never = scripted(endless, hits.clone()).await;
    let app = spawn(&config(never, None, "[timeouts]\ntotal_ms = 600")).await;
    let started = std::time::Instant::now();
    let r = app.chat(stream("hi")).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(body.contains("\"w0 \""), "{body}");
    let err = error_event(&body);
    assert_eq!(err["error"]["code"], "upstream_timeout", "{err}");
    assert_eq!(hits.get(), 1);
}

#[tokio::test]
async fn upstream_comments_are_passed_on_as_keep_alives() {
    let hits = Hits::default();
    let pinging = scripted(
        vec![
            (0, ": OPENROUTER PROCESSING\n\n".into()),
            (0, chunk("a")),
            (0, ":\n\n".into()),
            (0, chunk("b")),
            (0, "data: [DONE]\n\n".into()),
        ],
        hits.clone(),
    )
    .await;
    let app = spawn(&config(pinging, None, "")).await;
    let body = app.chat(stream("hi")).await.text().await.expect("body");
    assert_eq!(body.matches(": keep-alive\n\n").count(), 2, "{body}");
    assert!(!body.contains("OPENROUTER"), "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
}
