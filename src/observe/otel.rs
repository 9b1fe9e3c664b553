//! OpenTelemetry trace export (cargo feature `otel`): the per-request span
//! goes out over OTLP/HTTP (protobuf) as a server span, continuing the
//! caller's `traceparent`, with the OpenTelemetry GenAI attributes
//! (`gen_ai.operation.name`, `gen_ai.system`, `gen_ai.provider.name`,
//! `gen_ai.request.model`, `gen_ai.usage.input_tokens`,
//! `gen_ai.usage.output_tokens`) and airlock's decision.
//!
//! Export is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; the exporter reads the
//! standard `OTEL_*` variables (service name default `airlock`).
//!
//! Must not: put prompt or completion text into attributes (the GenAI
//! conventions' opt-in content attributes are never set).

use super::{Endpoint, Outcome, Record};
use crate::config::Protocol;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{Layer, Registry};

/// Whether the environment asks for export.
pub fn wanted() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// The export layer and its provider (shut it down at exit to flush).
pub fn layer() -> Result<(Box<dyn Layer<Registry> + Send + Sync>, SdkTracerProvider), String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "airlock".into());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    let tracer = provider.tracer("airlock");
    // Only airlock's request spans (and what happens inside them) are
    // exported, never dependency internals.
    let filter = tracing_subscriber::filter::filter_fn(|m| m.target().starts_with("airlock"));
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(filter)
        .boxed();
    Ok((layer, provider))
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Continues the caller's trace (`traceparent`, `tracestate`), if any.
pub fn set_parent(span: &Span, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let cx = TraceContextPropagator::new().extract(&Headers(headers));
        let _ = span.set_parent(cx);
    }
}

/// `gen_ai.system` / `gen_ai.provider.name` values of the GenAI conventions.
fn system(p: Protocol) -> &'static str {
    match p {
        Protocol::OpenAi => "openai",
        Protocol::Ollama => "ollama",
        Protocol::Anthropic => "anthropic",
        Protocol::Gemini => "gcp.gemini",
        Protocol::AzureOpenAi => "azure.ai.openai",
        Protocol::Bedrock => "aws.bedrock",
    }
}

/// `gen_ai.operation.name`: Anthropic's Messages API is a chat too.
fn operation(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Messages => "chat",
        e => e.as_str(),
    }
}

/// Sets the GenAI and decision attributes of a finished request.
pub fn annotate(span: &Span, r: &Record) {
    span.set_attribute("gen_ai.operation.name", operation(r.endpoint));
    if let Some(p) = r.protocol {
        span.set_attribute("gen_ai.system", system(p));
        span.set_attribute("gen_ai.provider.name", system(p));
    }
    if let Some(m) = &r.model {
        span.set_attribute("gen_ai.request.model", m.clone());
    }
    if r.backend.is_some() {
        span.set_attribute(
            "gen_ai.usage.input_tokens",
            i64::try_from(r.input_tokens).unwrap_or(i64::MAX),
        );
        span.set_attribute(
            "gen_ai.usage.output_tokens",
            i64::try_from(r.output_tokens).unwrap_or(i64::MAX),
        );
    }
    span.set_attribute("http.response.status_code", i64::from(r.status));
    span.set_attribute("airlock.outcome", r.outcome.as_str());
    let names = [
        ("airlock.level", r.level.map(crate::types::Level::as_str)),
        ("airlock.task", r.task.map(crate::classify::Task::as_str)),
        ("airlock.rule", r.rule.as_deref()),
        ("airlock.tier", r.tier.map(crate::types::Tier::as_str)),
        ("airlock.backend", r.backend.as_deref()),
    ];
    for (k, v) in names {
        if let Some(v) = v {
            span.set_attribute(k, v.to_owned());
        }
    }
    span.set_attribute("airlock.cost_usd", r.cost_usd);
    if r.outcome != Outcome::Ok {
        span.set_attribute("error.type", r.outcome.as_str());
        span.record("otel.status_code", "error");
    }
}
