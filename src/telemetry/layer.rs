//! The one place log events become lines. Each event is rendered once as a
//! JSON object — UTC timestamp with milliseconds, level, target, message, the
//! fields of the spans it happened in (so `request_id` inside a request) and
//! its own fields — with secret-named fields replaced by `[redacted]` and
//! secret-looking values scrubbed. JSON escaping keeps control characters out
//! of the line, so one event is always one line. The line then goes to every
//! sink: the ring buffer, the log file, and stdout (as JSON or as text).

use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::macros::format_description;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::recent::Recent;
use crate::redact;

/// Where rendered lines go. Writers are non-blocking and lossy: a full buffer
/// drops the line (and counts it) rather than stalling a request.
pub struct Sinks<W> {
    pub recent: Arc<Recent>,
    pub file: Option<W>,
    pub stdout: Option<(W, StdoutFormat)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutFormat {
    Human,
    Json,
}

pub struct LineLayer<W> {
    sinks: Sinks<W>,
}

impl<W> LineLayer<W> {
    pub fn new(sinks: Sinks<W>) -> Self {
        LineLayer { sinks }
    }
}

/// The fields a span was created with, kept for the events inside it.
struct SpanFields(Map<String, Value>);

impl<S, W> tracing_subscriber::Layer<S> for LineLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: Clone + Write + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut visitor = FieldVisitor::default();
        attrs.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(visitor.fields));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = FieldVisitor::default();
        values.record(&mut visitor);
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            fields.0.extend(visitor.fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("ts".into(), Value::String(utc_timestamp()));
        line.insert("level".into(), Value::String(meta.level().to_string()));
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        // Events bridged from the `log` crate carry their origin as `log.*` fields.
        let target = match visitor.fields.remove("log.target") {
            Some(Value::String(t)) => t,
            _ => meta.target().to_string(),
        };
        visitor.fields.retain(|k, _| !k.starts_with("log."));
        line.insert("target".into(), Value::String(target));
        let message = visitor
            .fields
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        line.insert("message".into(), message);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        line.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        line.extend(visitor.fields);
        let json = Value::Object(line);
        let rendered = json.to_string();
        self.sinks.recent.push(meta.level(), &rendered);
        if let Some(file) = &self.sinks.file {
            write_line(file.clone(), &rendered);
        }
        if let Some((stdout, format)) = &self.sinks.stdout {
            match format {
                StdoutFormat::Json => write_line(stdout.clone(), &rendered),
                StdoutFormat::Human => write_line(stdout.clone(), &human(&json)),
            }
        }
    }
}

/// One write call per line, so a non-blocking writer queues it whole.
fn write_line<W: Write>(mut writer: W, line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let _ = writer.write(&bytes);
}

fn utc_timestamp() -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// `ts LEVEL target: message key=value …`, control characters escaped.
fn human(json: &Value) -> String {
    let Value::Object(map) = json else {
        return String::new();
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or_default();
    let mut out = format!(
        "{} {:>5} {}: {}",
        text("ts"),
        text("level"),
        text("target"),
        escape_controls(text("message"))
    );
    for (key, value) in map {
        if matches!(key.as_str(), "ts" | "level" | "target" | "message") {
            continue;
        }
        let _ = match value {
            Value::String(s) if s.contains([' ', '"']) || s.is_empty() => {
                write!(out, " {key}={s:?}")
            }
            Value::String(s) => write!(out, " {key}={}", escape_controls(s)),
            other => write!(out, " {key}={other}"),
        };
    }
    out
}

fn escape_controls(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            c if c.is_control() => c.escape_default().collect::<Vec<_>>(),
            c => vec![c],
        })
        .collect()
}

#[derive(Default)]
struct FieldVisitor {
    fields: Map<String, Value>,
}

impl FieldVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let value = if name != "message" && redact::is_secret_name(name) {
            Value::String(redact::REDACTED.to_string())
        } else {
            value
        };
        self.fields.insert(name.to_string(), value);
    }
}

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(
            field,
            Value::String(redact::scrub_value(value).into_owned()),
        );
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_str(field, &format!("{value:#}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(f: impl FnOnce()) -> (String, String) {
        let file = Capture::default();
        let stdout = Capture::default();
        let layer = LineLayer::new(Sinks {
            recent: Arc::new(Recent::default()),
            file: Some(file.clone()),
            stdout: Some((stdout.clone(), StdoutFormat::Human)),
        });
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, f);
        let text = |c: Capture| String::from_utf8(c.0.lock().unwrap().clone()).unwrap();
        (text(file), text(stdout))
    }

    #[test]
    fn secret_named_fields_are_redacted_everywhere() {
        let (file, stdout) = capture(|| {
            tracing::info!(
                password = "hunter2hunter2",
                token = "tok-123",
                user = "ann",
                "signing in"
            );
        });
        for out in [&file, &stdout] {
            assert!(
                !out.contains("hunter2hunter2") && !out.contains("tok-123"),
                "{out}"
            );
            assert!(out.contains("[redacted]"));
        }
        let line: Value = serde_json::from_str(file.trim()).unwrap();
        assert_eq!(line["password"], "[redacted]");
        assert_eq!(line["token"], "[redacted]");
        assert_eq!(line["user"], "ann");
        assert_eq!(line["level"], "INFO");
        assert!(line["ts"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn control_characters_never_split_a_line() {
        let evil = "bob\r\n{\"level\":\"INFO\"}";
        let (file, stdout) = capture(|| tracing::warn!(user = evil, "login for {}", evil));
        assert_eq!(file.lines().count(), 1, "{file}");
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        let line: Value = serde_json::from_str(file.trim()).unwrap();
        assert_eq!(line["user"], evil);
    }

    #[test]
    fn events_carry_the_fields_of_their_spans() {
        let (file, _) = capture(|| {
            let span = tracing::info_span!("request", request_id = "r-1");
            let _guard = span.enter();
            tracing::info!("inside");
        });
        let line: Value = serde_json::from_str(file.trim()).unwrap();
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["message"], "inside");
    }
}
