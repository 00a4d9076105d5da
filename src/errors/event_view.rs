//! One stored (already scrubbed) event, shaped for the issue page: the
//! exception chain with the raised exception first and each stack trace
//! most recent call first (in-app frames marked, with their context lines
//! and local variables), the message, breadcrumbs, request, user, contexts
//! and extra data. Every field is read leniently; odd shapes are shown as
//! JSON rather than dropped.

use serde_json::Value;

use super::event::{self, values};

pub struct Frame {
    pub location: String,
    pub function: String,
    pub lineno: Option<i64>,
    pub in_app: bool,
    /// (line number, text, is the current line)
    pub context: Vec<(i64, String, bool)>,
    pub vars: Vec<(String, String)>,
}

pub struct Exception {
    pub kind: String,
    pub value: String,
    pub module: Option<String>,
    pub mechanism: Option<String>,
    pub handled: Option<bool>,
    pub frames: Vec<Frame>,
}

pub struct Crumb {
    pub time: String,
    pub category: String,
    pub level: String,
    pub message: String,
}

pub struct RequestView {
    pub method: String,
    pub url: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub data: Option<String>,
}

pub struct EventView {
    pub exceptions: Vec<Exception>,
    pub message: Option<String>,
    pub breadcrumbs: Vec<Crumb>,
    pub request: Option<RequestView>,
    pub user: Vec<(String, String)>,
    pub contexts: Vec<(String, String)>,
    pub extra: Option<String>,
    pub sdk: Option<String>,
    pub platform: Option<String>,
    pub transaction: Option<String>,
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn s(v: &Value, key: &str) -> String {
    v.get(key).map(shown).unwrap_or_default()
}

/// A map, or a list of `[key, value]` pairs, as pairs.
fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), shown(v))).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), shown(p.get(1)?))))
            .collect(),
        _ => Vec::new(),
    }
}

fn frame(f: &Value, in_app: bool) -> Frame {
    let lineno = f.get("lineno").and_then(Value::as_i64);
    let mut context = Vec::new();
    if let Some(line) = f.get("context_line").and_then(Value::as_str) {
        let at = lineno.unwrap_or(0);
        let pre = f
            .get("pre_context")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, l) in pre.iter().enumerate() {
            context.push((at - (pre.len() - i) as i64, shown(l), false));
        }
        context.push((at, line.to_string(), true));
        let post = f
            .get("post_context")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, l) in post.iter().enumerate() {
            context.push((at + 1 + i as i64, shown(l), false));
        }
    }
    let location = ["filename", "abs_path", "module"]
        .iter()
        .map(|k| s(f, k))
        .find(|l| !l.is_empty())
        .unwrap_or_else(|| "?".into());
    Frame {
        location,
        function: s(f, "function"),
        lineno,
        in_app,
        context,
        vars: pairs(f.get("vars")),
    }
}

fn exception(e: &Value) -> Exception {
    let frames = e
        .pointer("/stacktrace/frames")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    Exception {
        kind: s(e, "type"),
        value: s(e, "value"),
        module: event::text(e, "module", 200),
        mechanism: e
            .pointer("/mechanism/type")
            .and_then(Value::as_str)
            .map(String::from),
        handled: e.pointer("/mechanism/handled").and_then(Value::as_bool),
        frames: frames
            .iter()
            .zip(super::grouping::in_app_flags(frames))
            .rev()
            .map(|(f, app)| frame(f, app))
            .collect(),
    }
}

fn message(v: &Value) -> Option<String> {
    let text = v
        .pointer("/logentry/formatted")
        .or_else(|| v.pointer("/logentry/message"))
        .or_else(|| {
            v.get("message")
                .and_then(|m| m.get("formatted").or(Some(m)))
        })
        .map(shown)?;
    (!text.trim().is_empty()).then_some(text)
}

fn crumb(c: &Value) -> Crumb {
    let time = event::time_ms(c.get("timestamp"))
        .map(|ms| crate::auth::when(Some(ms)))
        .unwrap_or_default();
    let mut message = s(c, "message");
    if message.is_empty() {
        message = c.get("data").map(shown).unwrap_or_default();
    }
    Crumb {
        time,
        category: s(c, "category"),
        level: c
            .get("level")
            .and_then(Value::as_str)
            .unwrap_or("info")
            .to_string(),
        message,
    }
}

fn request(r: &Value) -> RequestView {
    let query = match r.get("query_string") {
        Some(Value::String(q)) => q.clone(),
        other => pairs(other)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
    };
    RequestView {
        method: s(r, "method"),
        url: s(r, "url"),
        query,
        headers: pairs(r.get("headers")),
        data: r.get("data").filter(|d| !d.is_null()).map(shown),
    }
}

pub fn view(v: &Value) -> EventView {
    let user = pairs(v.get("user"));
    EventView {
        exceptions: values(v.get("exception"))
            .iter()
            .rev()
            .map(exception)
            .collect(),
        message: message(v),
        breadcrumbs: values(v.get("breadcrumbs")).iter().map(crumb).collect(),
        request: v.get("request").filter(|r| r.is_object()).map(request),
        user,
        contexts: pairs(v.get("contexts")),
        extra: v
            .get("extra")
            .filter(|e| e.as_object().is_some_and(|o| !o.is_empty()))
            .map(shown),
        sdk: v.get("sdk").map(|sdk| {
            format!("{} {}", s(sdk, "name"), s(sdk, "version"))
                .trim()
                .to_string()
        }),
        platform: event::text(v, "platform", 64),
        transaction: event::text(v, "transaction", 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_raised_exception_and_the_latest_call_come_first() {
        let v = json!({
            "exception": {"values": [
                {"type": "KeyError", "value": "'a'"},
                {"type": "ValueError", "value": "bad", "mechanism": {"type": "django", "handled": false},
                 "stacktrace": {"frames": [
                    {"filename": "django/core.py", "function": "run", "lineno": 10, "in_app": false},
                    {"filename": "shop/views.py", "function": "checkout", "lineno": 42, "in_app": true,
                     "context_line": "    total = 1 / 0", "pre_context": ["def checkout():"], "post_context": ["    return total"],
                     "vars": {"cart": "[Filtered]"}}
                 ]}}
            ]},
            "breadcrumbs": [{"timestamp": 1_795_341_600.0, "category": "query", "message": "SELECT 1"}],
            "request": {"method": "GET", "url": "http://shop/checkout", "query_string": [["a", "1"]],
                        "headers": [["Host", "shop"]], "data": {"x": 1}},
            "user": {"id": "7"},
            "contexts": {"os": {"name": "Linux"}},
            "extra": {}
        });
        let e = view(&v);
        assert_eq!(e.exceptions[0].kind, "ValueError");
        assert_eq!(e.exceptions[0].handled, Some(false));
        assert_eq!(e.exceptions[1].kind, "KeyError");
        let top = &e.exceptions[0].frames[0];
        assert!(top.in_app);
        assert_eq!(top.function, "checkout");
        assert_eq!(
            top.context,
            vec![
                (41, "def checkout():".into(), false),
                (42, "    total = 1 / 0".into(), true),
                (43, "    return total".into(), false)
            ]
        );
        assert_eq!(top.vars, vec![("cart".into(), "[Filtered]".into())]);
        assert_eq!(e.breadcrumbs[0].message, "SELECT 1");
        let r = e.request.unwrap();
        assert_eq!((r.query.as_str(), r.headers.len()), ("a=1", 1));
        assert_eq!(e.user, vec![("id".into(), "7".into())]);
        assert_eq!(e.contexts[0].0, "os");
        assert!(e.extra.is_none());
    }

    #[test]
    fn messages_and_odd_shapes_still_show() {
        let e = view(
            &json!({"logentry": {"message": "user %s failed", "formatted": "user 7 failed"},
            "exception": "not a list", "breadcrumbs": {"values": "no"}}),
        );
        assert_eq!(e.message.as_deref(), Some("user 7 failed"));
        assert!(e.exceptions.is_empty() && e.breadcrumbs.is_empty());
        assert_eq!(
            view(&json!({"message": "plain"})).message.as_deref(),
            Some("plain")
        );
        assert!(view(&json!(null)).message.is_none());
    }
}
