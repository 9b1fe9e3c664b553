//! The `ollama` protocol through the real gateway, beyond plain text
//! (`streaming.rs`): a tool-call round trip, JSON and streamed, images as
//! bare base64, and a model Ollama has not pulled relayed as 404.

use crate::streaming::events;
use crate::{World, spawn};
use serde_json::{Value, json};

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";

fn weather() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
}

#[tokio::test]
async fn tool_calls_round_trip_through_ollama() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let mut messages = json!([{"role": "user", "content": "Weather in Paris?"}]);
    let r = app
        .chat(json!({"model": "ollama/llama3.1:8b", "messages": messages, "tools": weather()}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().expect("string"))
        .expect("json");
    assert_eq!(args, json!({"city": "Paris"}));
    assert_eq!(
        w.ollama.last().body["tools"][0]["function"]["name"],
        "get_weather"
    );

    let id = call["id"].clone();
    let list = messages.as_array_mut().expect("array");
    list.push(choice["message"].clone());
    list.push(json!({"role": "tool", "tool_call_id": id, "content": "18C"}));
    let r = app
        .chat(
            json!({"model": "ollama/llama3.1:8b", "messages": messages, "tools": weather(),
            "stream": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let text: String = events(r)
        .await
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Tool said: 18C.");
    let sent = w.ollama.last().body;
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["arguments"],
        args
    );
    assert_eq!(sent["messages"][2]["role"], "tool");
    assert_eq!(sent["messages"][2]["tool_name"], "get_weather");
}

#[tokio::test]
async fn streamed_tool_calls_from_ollama() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .chat(
            json!({"model": "ollama/llama3.1:8b", "stream": true, "tools": weather(),
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let chunks: Vec<Value> = events(r)
        .await
        .iter()
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(calls.len(), 1, "{chunks:?}");
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| f.is_string())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")]);
}

#[tokio::test]
async fn images_reach_ollama_as_bare_base64() {
    let w = World::new().await;
    let toml = w.toml("").replace(
        "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\"]",
        "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\"]\n\
         capabilities.\"llama3.1:8b\" = { modalities = [\"text\", \"image\"] }",
    );
    let app = spawn(&toml).await;
    let url = format!("data:image/png;base64,{PNG}");
    let r = app
        .chat(
            json!({"model": "ollama/llama3.1:8b", "stream": false, "messages": [{"role": "user",
            "content": [{"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": url}}]}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "I see 1 images.");
    assert_eq!(w.ollama.last().body["messages"][0]["images"], json!([PNG]));
}

#[tokio::test]
async fn a_model_ollama_has_not_pulled_is_relayed_as_not_found() {
    let w = World::new().await;
    let toml = w.toml("").replace(
        "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\"]",
        "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\", \"mistral:7b\"]",
    );
    let app = spawn(&toml).await;
    let r = app
        .chat(
            json!({"model": "ollama/mistral:7b", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "upstream_rejected");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not found")),
        "{body}"
    );
}
