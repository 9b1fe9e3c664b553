//! JSON log lines, written straight into the line buffer: one object per
//! event, `{"timestamp", "level", <the event's fields>, "target", "span":
//! {<the span's fields>, "name"}}`, the same shape as tracing-subscriber's
//! JSON format with `flatten_event(true)` and `with_current_span(true)`.
//!
//! Why not that format: it serialises every field through a serde map,
//! formats each `%`/`?` field into a fresh `String` first, and re-parses
//! the current span's stored fields (a JSON string) into a `serde_json`
//! map on every event. With the request span and the one `request` event
//! per request, that was about 9 us a request on the serving path here
//! (logs to a file or to `/dev/null` alike), the largest single cost after
//! classification. This writes each value once, escaping as it goes, and
//! stores a span's fields as a ready JSON fragment that events copy.
//!
//! Must not: write anything but valid JSON, one object per line.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

/// The span-field format: `"key":value` pairs joined by commas, no braces.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        w.write_str("{\"timestamp\":\"")?;
        timestamp(&mut w, SystemTime::now())?;
        write!(w, "\",\"level\":\"{}\"", meta.level())?;
        let mut fields = Fields {
            w: &mut w,
            first: false,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        w.write_str(",\"target\":")?;
        string(&mut w, meta.target())?;
        if let Some(span) = ctx.parent_span() {
            w.write_str(",\"span\":{")?;
            let ext = span.extensions();
            if let Some(f) = ext.get::<FormattedFields<N>>()
                && !f.fields.is_empty()
            {
                w.write_str(&f.fields)?;
                w.write_char(',')?;
            }
            w.write_str("\"name\":")?;
            string(&mut w, span.name())?;
            w.write_char('}')?;
        }
        w.write_str("}\n")
    }
}

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut w: Writer<'writer>, fields: R) -> fmt::Result {
        let mut v = Fields {
            w: &mut w,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut w = current.as_writer();
        let mut v = Fields {
            w: &mut w,
            first,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

/// Writes each field as `,"name":value` (no comma before the first when
/// `first`).
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.w.write_char(',')?;
        }
        string(self.w, field.name())?;
        self.w.write_char(':')
    }

    fn put(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| value(self.w));
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |w| string(w, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity (serde_json writes null too).
        self.put(field, |w| {
            if value.is_finite() {
                write!(w, "{value:?}")
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, |w| quoted(w, format_args!("{value}")));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |w| quoted(w, format_args!("{value:?}")));
    }
}

/// `s` as a JSON string.
fn string(w: &mut impl Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escape(w).write_str(s)?;
    w.write_char('"')
}

/// Formatted text as a JSON string, escaped as it is written.
fn quoted(w: &mut impl Write, args: fmt::Arguments<'_>) -> fmt::Result {
    w.write_char('"')?;
    Escape(&mut *w).write_fmt(args)?;
    w.write_char('"')
}

/// Escapes what JSON strings cannot hold as is: `"`, `\` and control
/// characters (as serde_json does).
struct Escape<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escape<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        let mut from = 0;
        for (i, &c) in b.iter().enumerate() {
            let esc = match c {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            // Only ASCII bytes are escaped, so these are char boundaries.
            self.0.write_str(&s[from..i])?;
            if esc.is_empty() {
                write!(self.0, "\\u{c:04x}")?;
            } else {
                self.0.write_str(esc)?;
            }
            from = i + 1;
        }
        self.0.write_str(&s[from..])
    }
}

/// `2026-11-24T21:16:04.973096Z`: UTC, microseconds.
fn timestamp(w: &mut impl Write, now: SystemTime) -> fmt::Result {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = crate::audit::report::civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    write!(
        w,
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `f` logs through the JSON subscriber airlock installs
    /// (everything down to `trace`), one parsed object per line.
    fn lines(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let text = crate::observe::logging::tests::logged("trace", f);
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn events_and_span_fields_are_json_of_the_usual_shape() {
        let got = lines(|| {
            let span = tracing::info_span!(
                "request",
                request_id = %"ab\"c",
                endpoint = "chat",
                key = None::<&str>,
                late = tracing::field::Empty,
            );
            let _in = span.enter();
            span.record("late", 7u64);
            tracing::info!(
                n = 3u64,
                neg = -2i64,
                ok = true,
                ratio = 0.25f64,
                nan = f64::NAN,
                text = "tab\there \u{1}",
                dbg = ?vec!["x"],
                missing = None::<u64>,
                "hello {}", "world"
            );
        });
        assert_eq!(got.len(), 1);
        let e = &got[0];
        assert_eq!(e["level"], "INFO");
        assert_eq!(e["message"], "hello world");
        assert_eq!(e["n"], 3);
        assert_eq!(e["neg"], -2);
        assert_eq!(e["ok"], true);
        assert_eq!(e["ratio"], 0.25);
        assert!(e["nan"].is_null());
        assert_eq!(e["text"], "tab\there \u{1}");
        assert_eq!(e["dbg"], "[\"x\"]");
        assert!(e.get("missing").is_none());
        assert_eq!(e["target"], module_path!());
        assert_eq!(
            e["span"],
            serde_json::json!({"request_id": "ab\"c", "endpoint": "chat", "late": 7, "name": "request"})
        );
        let ts = e["timestamp"].as_str().expect("timestamp");
        assert_eq!(ts.len(), "2026-11-24T21:16:04.973096Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    }

    #[test]
    fn events_outside_a_span_have_none() {
        let got = lines(|| tracing::warn!("plain"));
        assert_eq!(got[0]["level"], "WARN");
        assert!(got[0].get("span").is_none());
    }

    #[test]
    fn timestamps_are_utc_dates() {
        let mut s = String::new();
        let t = UNIX_EPOCH + std::time::Duration::from_micros(1_795_900_564_973_096);
        timestamp(&mut s, t).expect("write");
        assert_eq!(s, "2026-11-28T21:16:04.973096Z");
        s.clear();
        timestamp(&mut s, UNIX_EPOCH).expect("write");
        assert_eq!(s, "1970-01-01T00:00:00.000000Z");
    }
}
