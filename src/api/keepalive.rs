//! SSE keep-alives while a stream waits for its first event.
//!
//! Serving a stream holds the response head back until the backend's first
//! event, so that a backend failing before then can be retried or passed
//! over and the caller still gets a real HTTP status. A local model that is
//! slow to start (loading weights, a long prompt to read) can take longer
//! than an idle proxy or load balancer waits (often 60 s). So after
//! `server.sse_keepalive_ms` without an answer the head goes out (200,
//! `text/event-stream`) and an SSE comment (`: keep-alive`, which SSE
//! clients ignore) follows every `sse_keepalive_ms` until serving is done.
//! Serving goes on exactly as before, fallback included, because a comment
//! is not an event. Its answer is then forwarded as it is, or, if it was an
//! error, sent as the in-band `data: {"error": ...}` event that a stream
//! failing later gets. Dropping the body (the client went away) drops
//! serving with it, which cancels the upstream call. Whoever would have
//! read serving's response (the request's record) hears of it through
//! `late`: with the response once it comes, or with nothing if the body
//! was dropped first.

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The comment sent while waiting.
pub const COMMENT: &[u8] = b": keep-alive\n\n";

/// Largest error body turned into an in-band event.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Header on a response whose head went out before serving was done: the
/// backend and model headers are then missing.
pub const H_KEEPALIVE: &str = "x-airlock-keepalive";

/// Told of serving's late answer (`None`: the client left before it).
type LateFn = Box<dyn FnOnce(Option<&mut Response>) + Send>;

/// Runs `serve`; if it has not answered within `every`, answers 200 at
/// once (with [`H_KEEPALIVE`]) and keeps the stream alive with comments
/// until it has. `late` is called exactly once if, and only if, the head
/// went out early: with serving's response before it is forwarded, or with
/// `None` when the body is dropped before serving answered.
pub async fn hold<F, L>(serve: F, every: Duration, late: L) -> Response
where
    F: Future<Output = Response> + Send + 'static,
    L: FnOnce(Option<&mut Response>) + Send + 'static,
{
    let mut serve = Box::pin(serve);
    tokio::select! {
        r = &mut serve => return r,
        _ = tokio::time::sleep(every) => {}
    }
    let body = stream(serve, every, Late(Some(Box::new(late))));
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
            (
                HeaderName::from_static(H_KEEPALIVE),
                HeaderValue::from_static("true"),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

type Serving = Pin<Box<dyn Future<Output = Response> + Send>>;
type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, std::convert::Infallible>> + Send>>;

/// Calls its function with `None` if dropped before [`Late::answered`].
struct Late(Option<LateFn>);

impl Late {
    fn answered(&mut self, r: &mut Response) {
        if let Some(f) = self.0.take() {
            f(Some(r));
        }
    }
}

impl Drop for Late {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f(None);
        }
    }
}

enum State {
    /// Serving is still running: a comment each tick.
    Waiting(Serving, tokio::time::Interval, Late),
    /// Its answer, forwarded.
    Forwarding(Chunks),
}

/// The body: comments until `serve` answers, then its answer as SSE.
fn stream(
    serve: Pin<Box<impl Future<Output = Response> + Send + 'static>>,
    every: Duration,
    late: Late,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now: the first comment goes out with the head.
    let serving: Serving = serve;
    futures_util::stream::unfold(State::Waiting(serving, tick, late), |state| async move {
        match state {
            State::Waiting(mut serve, mut tick, mut late) => {
                tokio::select! {
                    mut r = &mut serve => {
                        late.answered(&mut r);
                        let mut chunks = answer(r).await;
                        let first = chunks.next().await;
                        first.map(|c| (c, State::Forwarding(chunks)))
                    }
                    _ = tick.tick() => Some((Ok(Bytes::from_static(COMMENT)), State::Waiting(serve, tick, late))),
                }
            }
            State::Forwarding(mut chunks) => {
                chunks.next().await.map(|c| (c, State::Forwarding(chunks)))
            }
        }
    })
}

/// Serving's response as SSE chunks: a stream's body as it is; anything
/// else (an error) as one in-band error event, without `[DONE]`.
async fn answer(r: Response) -> Chunks {
    let is_sse = r.status() == StatusCode::OK
        && r.headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if is_sse {
        return Box::pin(
            r.into_body()
                .into_data_stream()
                .filter_map(|c| async move { c.ok().map(Ok) }),
        );
    }
    let status = r.status();
    let body = axum::body::to_bytes(r.into_body(), MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    // An OpenAI-shaped error body is passed on as it is; anything else is
    // wrapped as one.
    let error = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) if v.get("error").is_some() => v,
        _ => serde_json::json!({"error": {
            "message": format!("the request failed with HTTP {}", status.as_u16()),
            "type": "api_error",
            "param": null,
            "code": "upstream_error",
        }}),
    };
    let event = format!("data: {error}\n\n");
    Box::pin(futures_util::stream::iter([Ok(Bytes::from(event))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(b.to_vec()).expect("utf8")
    }

    fn sse(chunks: &'static [&'static str]) -> Response {
        let s = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, std::convert::Infallible>(Bytes::from_static(c.as_bytes()))),
        );
        (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from_stream(s),
        )
            .into_response()
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_answer_is_returned_as_it_is() {
        let r = hold(
            async { (StatusCode::BAD_REQUEST, "no").into_response() },
            Duration::from_secs(5),
            |_| panic!("answered in time: nothing is late"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(H_KEEPALIVE).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_stream_gets_comments_until_its_events() {
        let r = hold(
            async {
                tokio::time::sleep(Duration::from_millis(3_500)).await;
                sse(&["data: {\"x\":1}\n\n", "data: [DONE]\n\n"])
            },
            Duration::from_secs(1),
            |_| {},
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[H_KEEPALIVE], "true");
        let text = body_of(r).await;
        let comments = text.matches(": keep-alive\n\n").count();
        assert!((3..=4).contains(&comments), "{text:?}");
        assert!(
            text.ends_with("data: {\"x\":1}\n\ndata: [DONE]\n\n"),
            "{text:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_error_becomes_an_in_band_event() {
        let r = hold(
            async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                crate::api::error::ApiError::Upstream {
                    message: "backend x answered HTTP 500".into(),
                }
                .into_response()
            },
            Duration::from_secs(1),
            |_| {},
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let text = body_of(r).await;
        let event = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("an event");
        let v: serde_json::Value = serde_json::from_str(event).expect("json");
        assert_eq!(v["error"]["code"], "upstream_error");
        assert!(!text.contains("[DONE]"));
    }

    #[tokio::test(start_paused = true)]
    async fn late_hears_of_the_answer_or_of_the_client_leaving() {
        use std::sync::{Arc, Mutex};
        let heard: Arc<Mutex<Vec<Option<u16>>>> = Arc::default();
        let tell = |heard: &Arc<Mutex<Vec<Option<u16>>>>| {
            let heard = Arc::clone(heard);
            move |r: Option<&mut Response>| {
                heard
                    .lock()
                    .expect("lock")
                    .push(r.map(|r| r.status().as_u16()));
            }
        };
        let slow = |status: StatusCode| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            (status, "late").into_response()
        };
        let r = hold(
            slow(StatusCode::BAD_GATEWAY),
            Duration::from_secs(1),
            tell(&heard),
        )
        .await;
        let _ = body_of(r).await;
        assert_eq!(*heard.lock().expect("lock"), [Some(502)]);
        // The body is dropped while serving still runs: told once, with nothing.
        let r = hold(slow(StatusCode::OK), Duration::from_secs(1), tell(&heard)).await;
        let mut body = r.into_body().into_data_stream();
        assert_eq!(
            body.next().await.and_then(Result::ok).as_deref(),
            Some(COMMENT)
        );
        drop(body);
        assert_eq!(*heard.lock().expect("lock"), [Some(502), None]);
    }
}
