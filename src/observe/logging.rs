//! Log output: JSON lines by default (one object per event, the request
//! span's fields under `span`; see [`super::json_log`]), or human-readable
//! lines (`pretty`). The filter is `AIRLOCK_LOG` (default `info`) with
//! the HTTP, TLS and Redis crates capped at `info`, since their debug
//! output can carry header or body bytes. `main` installs [`subscriber`];
//! tests install the same one with their own writer.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// One human-readable line per event (colours on a terminal).
    Pretty,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Some(LogFormat::Json),
            "pretty" | "text" => Some(LogFormat::Pretty),
            _ => None,
        }
    }
}

/// Crates whose debug and trace output can carry header or body bytes
/// (an upstream's `Authorization`, a prompt): they stay at `info` unless
/// `AIRLOCK_LOG` names them itself.
const QUIET_CRATES: [&str; 7] = [
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tower_http",
    "redis",
];

/// The filter for `AIRLOCK_LOG` (default `info`) with `QUIET_CRATES` capped.
pub fn log_filter(spec: &str) -> String {
    let spec = spec.trim();
    let mut out = if spec.is_empty() {
        "info".to_owned()
    } else {
        spec.to_owned()
    };
    for c in QUIET_CRATES {
        let named = out.split(',').any(|d| {
            let target = d.split('=').next().unwrap_or("").trim();
            target == c || target.starts_with(&format!("{c}::"))
        });
        if !named {
            out.push_str(&format!(",{c}=info"));
        }
    }
    out
}

/// The formatting layer for `format`, writing to `writer`.
pub fn fmt_layer<W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Json => layer
            .event_format(super::json_log::JsonLines)
            .fmt_fields(super::json_log::JsonFields)
            .boxed(),
        LogFormat::Pretty => layer.with_ansi(ansi).boxed(),
    }
}

/// The subscriber airlock logs through: `spec` filtered (see
/// [`log_filter`]), `format` to `writer`, plus `extra` layers (OpenTelemetry).
pub fn subscriber<W>(
    format: LogFormat,
    spec: &str,
    writer: W,
    ansi: bool,
    extra: Option<Box<dyn Layer<Registry> + Send + Sync>>,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut layers = vec![fmt_layer(format, writer, ansi)];
    layers.extend(extra);
    tracing_subscriber::registry()
        .with(layers)
        .with(filter(&log_filter(spec)))
}

/// The filter for a spec: `Targets` when the spec is only target=level
/// directives (the usual case), else `EnvFilter` (span and field
/// directives). `EnvFilter` takes a lock and a map look-up on every span
/// enter and exit to support those; the request span is entered on every
/// poll of a request's future, a few microseconds a request for nothing.
/// A spec neither can read falls back to `info`.
fn filter<S>(spec: &str) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    // `Targets` reads `[span]` as a target name: anything with brackets
    // (spans, fields) or quotes (field values) goes to `EnvFilter`.
    let plain = !spec.contains(['[', ']', '{', '}', '"']);
    match spec.parse::<Targets>() {
        Ok(t) if plain => t.boxed(),
        _ => EnvFilter::try_new(spec)
            .unwrap_or_else(|_| EnvFilter::new("info"))
            .boxed(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn dependency_logs_stay_at_info_unless_named() {
        let f = log_filter("debug");
        assert!(f.starts_with("debug,"), "{f}");
        assert!(
            f.contains(",hyper=info") && f.contains(",reqwest=info") && f.contains(",h2=info"),
            "{f}"
        );
        assert_eq!(log_filter("").split(',').next(), Some("info"));
        // Named by the operator: left as asked.
        let f = log_filter("debug,reqwest=trace");
        assert!(
            f.contains("reqwest=trace") && !f.contains("reqwest=info"),
            "{f}"
        );
        assert!(EnvFilter::try_new(log_filter("airlock=debug")).is_ok());
    }

    /// Writes into a shared buffer.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `f` logs through the JSON subscriber for `spec`.
    pub(crate) fn logged(spec: &str, f: impl FnOnce()) -> String {
        let buf = Buf::default();
        let out = buf.clone();
        let sub = subscriber(LogFormat::Json, spec, move || out.clone(), false, None);
        tracing::subscriber::with_default(sub, f);
        String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf-8")
    }

    #[test]
    fn target_directives_and_span_directives_both_filter() {
        // Target and level only (the cheap filter).
        let text = logged("warn,chatty=debug", || {
            tracing::info!(target: "quiet", "q-info");
            tracing::warn!(target: "quiet", "q-warn");
            tracing::debug!(target: "chatty::inner", "c-debug");
            tracing::trace!(target: "chatty", "c-trace");
        });
        assert!(
            !text.contains("q-info") && text.contains("q-warn"),
            "{text}"
        );
        assert!(
            text.contains("c-debug") && !text.contains("c-trace"),
            "{text}"
        );
        // A span directive: debug inside `request` spans only.
        let text = logged("info,[request]=debug", || {
            tracing::debug!("outside");
            let span = tracing::info_span!("request", request_id = "r1");
            span.in_scope(|| tracing::debug!("inside"));
        });
        assert!(
            text.contains("inside") && !text.contains("outside"),
            "{text}"
        );
        // A spec that is neither: `info`.
        let text = logged("[[[", || {
            tracing::debug!("d");
            tracing::info!("i");
        });
        assert!(text.contains("\"i\"") && !text.contains("\"d\""), "{text}");
    }

    #[test]
    fn formats_parse() {
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("pretty"), Some(LogFormat::Pretty));
        assert_eq!(LogFormat::parse("xml"), None);
    }
}
