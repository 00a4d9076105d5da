//! How tracing events become lines. Each event's fields are collected once —
//! with the fields of the spans it happened in and the `request_id` of the
//! request it happened in — with secret-named fields replaced by `[redacted]`
//! and secret-looking values scrubbed, then rendered (see `line.rs`) and
//! queued for every output: the ring buffer, the log file, and stdout.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::line::{FieldValue, Fields, Line};
use super::recent::Recent;
use super::sink::LineSink;
use crate::redact;

/// Where rendered lines go: the sink's outputs, and per-level counts.
pub struct Sinks {
    pub recent: Arc<Recent>,
    pub lines: LineSink,
    /// Sink slot that takes JSON lines for the ring and the log file (teed).
    pub json: usize,
    /// Sink slot of standard output, and its format.
    pub stdout: Option<(usize, StdoutFormat)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutFormat {
    Human,
    Json,
}

pub struct LineLayer {
    sinks: Arc<Sinks>,
}

impl LineLayer {
    pub fn new(sinks: Arc<Sinks>) -> Self {
        LineLayer { sinks }
    }
}

/// The fields a span was created with, kept for the events inside it.
struct SpanFields(Fields<'static>);

impl<S> tracing_subscriber::Layer<S> for LineLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
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
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        let mut fields = visitor.fields;
        // Events bridged from the `log` crate carry their origin as `log.*` fields.
        let mut target = meta.target().to_string();
        fields.retain(|(name, value)| match (*name, value) {
            ("log.target", FieldValue::Text(t)) => {
                target = t.to_string();
                false
            }
            (name, _) => !name.starts_with("log."),
        });
        let message = take_message(&mut fields);
        let mut span_fields = Fields::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(own) = span.extensions().get::<SpanFields>() {
                    span_fields.extend(
                        own.0
                            .iter()
                            .filter(|(n, _)| !fields.iter().any(|(f, _)| f == n))
                            .cloned(),
                    );
                }
            }
        }
        span_fields.append(&mut fields);
        let id = super::current_request_id()
            .filter(|_| !span_fields.iter().any(|(n, _)| *n == "request_id"));
        self.sinks.write(
            &Line::new(
                meta.level().as_str(),
                target,
                message,
                id.as_deref(),
                &span_fields,
            ),
            meta.level(),
            true,
        );
    }
}

impl Sinks {
    /// Renders `line` once per format, straight into the writer's buffers:
    /// for the ring and the file, and for stdout when `to_stdout`.
    pub fn write(&self, line: &Line, level: &tracing::Level, to_stdout: bool) {
        match self.stdout {
            Some((slot, StdoutFormat::Json)) if to_stdout => {
                self.lines
                    .push_with(self.json, Some(slot), |out| line.json_into(out));
            }
            Some((slot, StdoutFormat::Human)) if to_stdout => {
                self.lines
                    .push_with(self.json, None, |out| line.json_into(out));
                self.lines.push_with(slot, None, |out| line.human_into(out));
            }
            _ => self
                .lines
                .push_with(self.json, None, |out| line.json_into(out)),
        }
        self.recent.count(level);
    }
}

fn take_message(fields: &mut Fields<'static>) -> String {
    match fields.iter().position(|(n, _)| *n == "message") {
        Some(i) => match fields.remove(i).1 {
            FieldValue::Text(t) => t.into_owned(),
            other => other.to_string(),
        },
        None => String::new(),
    }
}

#[derive(Default)]
struct FieldVisitor {
    fields: Fields<'static>,
}

thread_local! {
    /// Field names are `&'static str`s fixed at each call site, so whether one
    /// is secret is decided once per name (keyed by its address) per thread.
    static SECRET_NAMES: RefCell<HashMap<(usize, usize), bool>> = RefCell::new(HashMap::new());
}

fn is_secret_field(name: &'static str) -> bool {
    SECRET_NAMES.with(|cache| {
        *cache
            .borrow_mut()
            .entry((name.as_ptr() as usize, name.len()))
            .or_insert_with(|| redact::is_secret_name(name))
    })
}

impl FieldVisitor {
    fn put(&mut self, field: &Field, value: FieldValue<'static>) {
        let name = field.name();
        let value = if name != "message" && is_secret_field(name) {
            FieldValue::Text(Cow::Borrowed(redact::REDACTED))
        } else {
            value
        };
        self.fields.push((name, value));
    }
}

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(
            field,
            FieldValue::Text(Cow::Owned(redact::scrub_value(value).into_owned())),
        );
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, FieldValue::Signed(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, FieldValue::Unsigned(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, FieldValue::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, FieldValue::Bool(value));
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
    use crate::telemetry::capture::Capture;
    use std::io::Write;
    use tracing_subscriber::layer::SubscriberExt;

    fn capture(f: impl FnOnce()) -> (String, String) {
        let file = Capture::default();
        let stdout = Capture::default();
        let recent = Arc::new(Recent::default());
        let json = super::super::sink::Tee(vec![
            Box::new(file.clone()),
            Box::new(super::super::recent::RecentLines(recent.clone())),
        ]);
        let outputs: Vec<Box<dyn Write + Send>> = vec![Box::new(json), Box::new(stdout.clone())];
        let (lines, guard) = LineSink::start(outputs, 1 << 20).unwrap();
        let layer = LineLayer::new(Arc::new(Sinks {
            recent,
            lines,
            json: 0,
            stdout: Some((1, StdoutFormat::Human)),
        }));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, f);
        drop(guard);
        (file.text(), stdout.text())
    }

    #[test]
    fn secret_named_fields_are_redacted_everywhere() {
        let (file, stdout) = capture(|| {
            tracing::info!(
                password = "hunter2hunter2",
                token = "tok-123",
                user = "ann",
                n = 5,
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
        let line: serde_json::Value = serde_json::from_str(file.trim()).unwrap();
        assert_eq!(line["password"], "[redacted]");
        assert_eq!(line["token"], "[redacted]");
        assert_eq!(line["user"], "ann");
        assert_eq!(line["n"], 5);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "signing in");
        assert!(line["ts"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn control_characters_never_split_a_line() {
        let evil = "bob\r\n{\"level\":\"INFO\"}";
        let (file, stdout) = capture(|| tracing::warn!(user = evil, "login for {}", evil));
        assert_eq!(file.lines().count(), 1, "{file}");
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        let line: serde_json::Value = serde_json::from_str(file.trim()).unwrap();
        assert_eq!(line["user"], evil);
        assert_eq!(line["message"], format!("login for {evil}"));
    }

    #[test]
    fn hot_path_lines_can_skip_stdout_but_never_the_file() {
        let file = Capture::default();
        let stdout = Capture::default();
        let recent = Arc::new(Recent::default());
        let json = super::super::sink::Tee(vec![Box::new(file.clone())]);
        let outputs: Vec<Box<dyn Write + Send>> = vec![Box::new(json), Box::new(stdout.clone())];
        let (lines, guard) = LineSink::start(outputs, 1 << 20).unwrap();
        let sinks = Sinks {
            recent,
            lines,
            json: 0,
            stdout: Some((1, StdoutFormat::Json)),
        };
        let line = Line::new("INFO", "watchpost::access", "request", None, &[]);
        sinks.write(&line, &tracing::Level::INFO, false);
        sinks.write(&line, &tracing::Level::INFO, true);
        drop(guard);
        assert_eq!(file.text().lines().count(), 2);
        assert_eq!(stdout.text().lines().count(), 1);
        assert_eq!(sinks.recent.counts().info, 2);
    }

    #[test]
    fn events_carry_the_fields_of_their_spans() {
        let (file, _) = capture(|| {
            let span = tracing::info_span!("request", request_id = "r-1");
            let _guard = span.enter();
            tracing::info!("inside");
        });
        let line: serde_json::Value = serde_json::from_str(file.trim()).unwrap();
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["message"], "inside");
    }
}
