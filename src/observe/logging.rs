//! Log output: JSON lines by default (one object per event, the request
//! span's fields under `span`), or human-readable lines (`pretty`). The
//! filter is `AIRLOCK_LOG` (default `info`) with the HTTP, TLS and Redis
//! crates capped at `info`, since their debug output can carry header or
//! body bytes. `main` installs [`subscriber`]; tests install the same one
//! with their own writer.

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
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
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
    let filter = EnvFilter::try_new(log_filter(spec)).unwrap_or_else(|_| EnvFilter::new("info"));
    let mut layers = vec![fmt_layer(format, writer, ansi)];
    layers.extend(extra);
    tracing_subscriber::registry().with(layers).with(filter)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn formats_parse() {
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("pretty"), Some(LogFormat::Pretty));
        assert_eq!(LogFormat::parse("xml"), None);
    }
}
