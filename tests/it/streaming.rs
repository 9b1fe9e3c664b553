//! Streaming: OpenAI SSE passed through, Ollama NDJSON translated, include_usage,
//! broken upstream streams ending with an in-band error event.

use crate::fakes::Fault;
use crate::{World, header, spawn, user};
use serde_json::{Value, json};
use std::time::Duration;

/// Reads an SSE body into its `data:` payloads.
pub(crate) async fn events(r: reqwest::Response) -> Vec<String> {
    let text = r.text().await.expect("body");
    text.split("\n\n")
        .filter_map(|ev| {
            let data: Vec<&str> = ev
                .lines()
                .filter_map(|l| l.strip_prefix("data:").map(str::trim_start))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

fn content(events: &[String]) -> String {
    events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn stream_req(model: &str, usage: bool) -> Value {
    let mut v = json!({"model": model, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    if usage {
        v["stream_options"] = json!({"include_usage": true});
    }
    v
}

#[tokio::test]
async fn openai_stream_passes_through_with_headers() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app.chat(stream_req("lm", true)).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    let ev = events(r).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(content(&ev), "Hello from the fake upstream.");
    let usage: Value = serde_json::from_str(&ev[ev.len() - 2]).expect("usage chunk");
    assert_eq!(usage["usage"]["total_tokens"], 14);
    assert_eq!(
        w.lmstudio.last().body["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn ollama_stream_is_translated_to_openai_chunks() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app.chat(stream_req("local", true)).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let ev = events(r).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(content(&ev), "Hi from ollama.");
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk json"))
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let last = chunks.last().expect("usage");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 7);
    assert_eq!(last["usage"]["completion_tokens"], 3);
    let sent = w.ollama.last();
    assert_eq!(sent.path, "/api/chat");
    assert_eq!(sent.body["model"], "llama3.1:8b");
}

#[tokio::test]
async fn ollama_non_streaming_is_a_chat_completion() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .chat(json!({"model": "local", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hi from ollama.");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 10);
    assert_eq!(w.ollama.last().body["stream"], false);
}

#[tokio::test]
async fn ollama_refuses_what_it_cannot_honour() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    for (extra, param) in [
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
    ] {
        let mut body = json!({"model": "local", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().expect("obj") {
            body[k] = v.clone();
        }
        let r = app.chat(body).await;
        assert_eq!(r.status(), 400, "{param}");
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["error"]["code"], "unsupported_parameter");
        assert_eq!(b["error"]["param"], param);
    }
    assert_eq!(w.ollama.chat_count(), 0);
}

#[tokio::test]
async fn cut_stream_ends_with_an_error_event() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    for (fake, model) in [(&w.lmstudio, "lm"), (&w.ollama, "local")] {
        fake.set_fault(Fault::CutAfter(3));
        let r = app.chat(stream_req(model, false)).await;
        assert_eq!(r.status(), 200, "committed after the first event");
        let ev = events(r).await;
        assert_ne!(ev.last().map(String::as_str), Some("[DONE]"), "{model}");
        let last: Value = serde_json::from_str(ev.last().expect("an event")).expect("json");
        assert_eq!(last["error"]["code"], "upstream_error", "{model}: {last}");
    }
}

#[tokio::test]
async fn stream_failing_before_first_event_falls_back() {
    let w = World::new().await;
    let toml = w.toml("").replace(
        "lm = [\"lmstudio/qwen\"]",
        "lm = [\"lmstudio/qwen\", \"ollama/llama3.1:8b\"]",
    );
    let app = spawn(&toml).await;
    // The OpenAI fake sends a comment first, then is cut: no meaningful frame yet.
    w.lmstudio.set_fault(Fault::CutAfter(1));
    let r = app.chat(stream_req("auto", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    let ev = events(r).await;
    assert_eq!(content(&ev), "Hi from ollama.");
}

#[tokio::test]
async fn embeddings_through_ollama_are_translated() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .http
        .post(app.url("/v1/embeddings"))
        .json(&json!({"model": "ollama/nomic-embed-text", "input": "hello"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"][0]["object"], "embedding");
    assert_eq!(body["data"][0]["embedding"], json!([0.5, -0.5, 0.25]));
    assert_eq!(w.ollama.last().path, "/api/embed");
}

/// `first_byte` runs from sending: a head that comes late and a first event
/// that comes late again add up, and together they are a timeout (the
/// budget is not restarted when the head arrives).
#[tokio::test]
async fn first_byte_counts_from_sending_not_from_the_response_head() {
    let w = World::new().await;
    let app = spawn(&w.toml("[timeouts]\nfirst_byte_ms = 400")).await;
    w.lmstudio.set_fault(Fault::Stall {
        head: Duration::from_millis(250),
        first: Duration::from_millis(250),
    });
    let mut body = user("hi");
    body["stream"] = json!(true);
    let r = app.chat(body.clone()).await;
    assert_eq!(r.status(), 504);
    let err: Value = r.json().await.expect("json");
    assert_eq!(err["error"]["code"], "upstream_timeout");
    // Within the budget the same stream is served.
    w.lmstudio.set_fault(Fault::Stall {
        head: Duration::from_millis(50),
        first: Duration::from_millis(50),
    });
    let r = app.chat(body).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("text").contains("[DONE]"));
}

/// A stream whose first event is slow gets a 200 head and SSE comments
/// after `sse_keepalive_ms`, then its events; a backend that times out
/// meanwhile is still passed over for the next candidate, since a comment
/// is not an event.
#[tokio::test]
async fn a_slow_first_event_gets_keep_alives_and_fallback_still_works() {
    let w = World::new().await;
    let toml = w
        .toml("[server]\nsse_keepalive_ms = 150\n[timeouts]\nfirst_byte_ms = 700\n[retries]\nattempts = 1")
        .replace(
            "lm = [\"lmstudio/qwen\"]",
            "lm = [\"lmstudio/qwen\", \"ollama/llama3.1:8b\"]",
        );
    let app = spawn(&toml).await;
    let mut body = user("hi");
    body["stream"] = json!(true);

    // Slow but within first_byte: comments, then lmstudio's events.
    w.lmstudio.set_fault(Fault::Stall {
        head: Duration::from_millis(50),
        first: Duration::from_millis(450),
    });
    let r = app.chat(body.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-keepalive"), "true");
    let text = r.text().await.expect("text");
    assert!(text.starts_with(": keep-alive\n\n"), "{text:?}");
    // Ours (every 150 ms for 450 ms) and the one the fake sends first.
    assert!(text.matches(": keep-alive").count() >= 3, "{text:?}");
    assert!(text.contains("\"chat.completion.chunk\""), "{text:?}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text:?}");

    // lmstudio never sends its first event in time: after the comments,
    // ollama answers the same stream.
    w.lmstudio.set_fault(Fault::Stall {
        head: Duration::from_millis(50),
        first: Duration::from_secs(5),
    });
    let before = w.ollama.chat_count();
    let r = app.chat(body.clone()).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    assert!(text.starts_with(": keep-alive\n\n"), "{text:?}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text:?}");
    assert_eq!(w.ollama.chat_count(), before + 1);

    // A quick stream is untouched: the usual headers, and no comment but
    // the one the fake itself sends first. (A new conversation: the last
    // one sticks to ollama now.)
    w.lmstudio.set_fault(Fault::None);
    let mut body = user("hello there");
    body["stream"] = json!(true);
    let r = app.chat(body).await;
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    assert_eq!(header(&r, "x-airlock-keepalive"), "");
    let text = r.text().await.expect("text");
    assert_eq!(text.matches(": keep-alive").count(), 1, "{text:?}");
}

/// After the head went out, a stream that finds no backend ends with the
/// in-band error event, not a status.
#[tokio::test]
async fn a_stream_that_fails_after_keep_alives_ends_with_an_error_event() {
    let w = World::new().await;
    let app = spawn(&w.toml(
        "[server]\nsse_keepalive_ms = 100\n[timeouts]\nfirst_byte_ms = 400\n[retries]\nattempts = 1",
    ))
    .await;
    w.lmstudio.set_fault(Fault::Stall {
        head: Duration::from_millis(10),
        first: Duration::from_secs(5),
    });
    let mut body = user("hi");
    body["stream"] = json!(true);
    let r = app.chat(body).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    let event = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("an error event");
    let err: Value = serde_json::from_str(event).expect("json");
    assert_eq!(err["error"]["code"], "upstream_timeout", "{text:?}");
    assert!(!text.contains("[DONE]"));
}
