//! Parses web server access-log lines (nginx, apache) into [`AccessLine`]s:
//! the "combined" format with or without a trailing `$request_time`, or any
//! nginx `log_format` compiled with [`LineFormat::parse`]. A format is a list
//! of literals and variables; each variable's field runs up to the first place
//! where the next literal matches (skipping backslash-escaped characters in a
//! quoted field), so there is no backtracking and a line costs time linear in
//! its length times the length of the literals.
//!
//! A request line that is not `METHOD TARGET [HTTP/x.y]` (TLS bytes sent to a
//! plain port, `-`, scanner garbage) still gives an [`AccessLine`], with method
//! `""` and the raw text as the path, because the threats detector wants to
//! see the IP. The quoted fields' `\"` and `\\` escapes (apache) are undone;
//! nginx's `\xHH` escapes are kept as they are.
//!
//! Lines are untrusted input: this module must never panic on any line or
//! format string, and never allocate more than a few copies of the line.

use std::net::IpAddr;

use time::OffsetDateTime;
use time::macros::format_description;

/// One parsed access-log line.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLine {
    pub ip: IpAddr,
    /// From `$time_local` (`[01/Dec/2026:10:00:00 +0000]`), UTC milliseconds.
    pub ts_ms: Option<i64>,
    /// `""` when the request line was not an HTTP request line.
    pub method: String,
    /// The request target without the query (still percent-encoded).
    pub path: String,
    /// After `?`, without it.
    pub query: Option<String>,
    pub status: u16,
    /// `-` = 0.
    pub bytes: u64,
    /// `-` = None.
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    /// `$request_time` (seconds with ms resolution) in milliseconds.
    pub request_time_ms: Option<f64>,
}

/// The nginx (and apache) "combined" format.
const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// The variables whose fields are used, in the order [`build`] takes them;
/// any other variable (`$remote_user`, `$host`, `$upstream_response_time`, …)
/// matches one field and is ignored.
const USED: [&str; 9] = [
    "remote_addr",
    "time_local",
    "request",
    "status",
    "body_bytes_sent",
    "bytes_sent",
    "http_referer",
    "http_user_agent",
    "request_time",
];

/// The fields of one line, indexed like [`USED`].
type Fields<'a> = [Option<&'a str>; USED.len()];

#[derive(Debug, Clone)]
enum Token {
    Literal(String),
    /// The index into [`USED`], or None for an ignored variable.
    Var(Option<usize>),
}

/// A compiled line format. `LineFormat::combined()` is nginx/apache
/// "combined" optionally followed by ` $request_time`.
#[derive(Debug, Clone)]
pub struct LineFormat {
    /// Tried in order; the first that fits the line wins.
    variants: Vec<Vec<Token>>,
}

impl LineFormat {
    /// "combined", with or without a trailing ` $request_time`.
    pub fn combined() -> LineFormat {
        let timed = compile(&format!("{COMBINED} $request_time"));
        LineFormat {
            variants: timed.into_iter().chain(compile(COMBINED)).collect(),
        }
    }

    /// Compiles an nginx `log_format` string (see the module documentation).
    pub fn parse(fmt: &str) -> Result<LineFormat, String> {
        Ok(LineFormat {
            variants: vec![compile(fmt)?],
        })
    }

    /// None for a line that does not fit the format.
    pub fn parse_line(&self, line: &str) -> Option<AccessLine> {
        self.variants
            .iter()
            .find_map(|tokens| build(split(tokens, line)?))
    }
}

fn compile(fmt: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut chars = fmt.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '$' {
            literal.push(c);
            continue;
        }
        let braced = chars.next_if(|&(_, c)| c == '{').is_some();
        let mut name = String::new();
        while let Some((_, c)) = chars.next_if(|&(_, c)| c.is_ascii_alphanumeric() || c == '_') {
            name.push(c);
        }
        if name.is_empty() {
            return Err(format!(
                "the `$` at byte {at} is not followed by a variable name; write variables as $remote_addr or ${{remote_addr}}"
            ));
        }
        if braced && chars.next_if(|&(_, c)| c == '}').is_none() {
            return Err(format!(
                "`${{{name}` at byte {at} is not closed; write ${{{name}}}"
            ));
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(&mut literal)));
        } else if matches!(tokens.last(), Some(Token::Var(_))) {
            return Err(format!(
                "${name} follows another variable with nothing between them, so their fields cannot be told apart; put a space or other text between them"
            ));
        }
        tokens.push(Token::Var(USED.iter().position(|used| *used == name)));
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    let has = |i: usize| {
        tokens
            .iter()
            .any(|t| matches!(t, Token::Var(Some(v)) if *v == i))
    };
    let lacks: Vec<String> = [0, 2, 3]
        .into_iter()
        .filter(|&i| !has(i))
        .map(|i| format!("${}", USED[i]))
        .collect();
    if !lacks.is_empty() {
        return Err(format!(
            "the format needs $remote_addr, $request and $status (other variables are fine and ignored); it lacks {}",
            lacks.join(", ")
        ));
    }
    Ok(tokens)
}

/// Splits a line into the fields of the format's variables; None if it does not fit.
fn split<'a>(tokens: &[Token], line: &'a str) -> Option<Fields<'a>> {
    let bytes = line.as_bytes();
    let mut pos = 0;
    let mut fields = [None; USED.len()];
    for (k, token) in tokens.iter().enumerate() {
        match token {
            Token::Literal(lit) => {
                if !bytes.get(pos..)?.starts_with(lit.as_bytes()) {
                    return None;
                }
                pos += lit.len();
            }
            Token::Var(slot) => {
                let end = match tokens.get(k + 1) {
                    None => bytes.len(),
                    Some(Token::Literal(next)) => {
                        let quoted =
                            pos > 0 && bytes.get(pos - 1) == Some(&b'"') && next.starts_with('"');
                        field_end(bytes, pos, next.as_bytes(), quoted, k + 2 == tokens.len())?
                    }
                    Some(Token::Var(_)) => return None,
                };
                if let Some(i) = slot {
                    *fields.get_mut(*i)? = Some(line.get(pos..end)?);
                }
                pos = end;
            }
        }
    }
    (pos == bytes.len()).then_some(fields)
}

/// Where a field starting at `from` ends: the first place `next` matches (and,
/// if `next` is the format's last literal, ends the line). In a quoted field a
/// backslash escapes the byte after it.
fn field_end(bytes: &[u8], from: usize, next: &[u8], quoted: bool, last: bool) -> Option<usize> {
    let mut i = from;
    while i + next.len() <= bytes.len() {
        if quoted && bytes.get(i) == Some(&b'\\') {
            i += 2;
            continue;
        }
        if (!last || i + next.len() == bytes.len()) && bytes.get(i..)?.starts_with(next) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn build(fields: Fields<'_>) -> Option<AccessLine> {
    let [
        addr,
        time,
        request,
        status,
        body,
        sent,
        referer,
        agent,
        seconds,
    ] = fields;
    let (method, path, query) = split_request(&unescape(request?));
    Some(AccessLine {
        ip: addr?.parse::<IpAddr>().ok()?.to_canonical(),
        ts_ms: time.and_then(parse_time_local),
        method,
        path,
        query,
        status: digits(status?)?.parse().ok()?,
        bytes: body.or(sent).map_or(Some(0), parse_bytes)?,
        referer: referer.and_then(optional),
        user_agent: agent.and_then(optional),
        request_time_ms: seconds.map_or(Some(None), parse_seconds)?,
    })
}

fn digits(text: &str) -> Option<&str> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// `-` is 0; None (the line does not fit) for anything but a number.
fn parse_bytes(text: &str) -> Option<u64> {
    if text == "-" {
        return Some(0);
    }
    digits(text)?.parse().ok()
}

/// Seconds to milliseconds; `Some(None)` for `-`, None (the line does not
/// fit) for anything but a plain decimal number.
fn parse_seconds(text: &str) -> Option<Option<f64>> {
    if text == "-" {
        return Some(None);
    }
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let seconds: f64 = text.parse().ok().filter(|_| plain)?;
    Some(Some(seconds * 1000.0))
}

fn parse_time_local(text: &str) -> Option<i64> {
    let fmt = format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    );
    let at = OffsetDateTime::parse(text, fmt).ok()?;
    at.unix_timestamp().checked_mul(1000)
}

fn optional(text: &str) -> Option<String> {
    (!text.is_empty() && text != "-").then(|| unescape(text))
}

/// Undoes the `\"` and `\\` escapes of a quoted field.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&e @ ('"' | '\\')) if c == '\\' => {
                out.push(e);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `METHOD TARGET [HTTP/x.y]` → (method, path, query); anything else →
/// ("", raw text, None).
fn split_request(raw: &str) -> (String, String, Option<String>) {
    if let Some((method, rest)) = raw.split_once(' ')
        && (1..=32).contains(&method.len())
        && method
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
    {
        let target = match rest.rsplit_once(' ') {
            Some((target, proto)) if proto.starts_with("HTTP/") => target,
            _ => rest,
        };
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (target, None),
        };
        return (method.to_owned(), path.to_owned(), query);
    }
    (String::new(), raw.to_owned(), None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    // The sample logs in tests/fixtures/logs are checked field by field in mod.rs.
    const NGINX: &str = include_str!("../../tests/fixtures/logs/nginx-combined.log");
    const TEN_O_CLOCK_MS: i64 = 1_796_119_200_000; // 2026-12-01T10:00:00Z

    #[test]
    fn a_custom_format_matches_its_literals_and_ignores_unknown_variables() {
        let format = LineFormat::parse(
            r#"$host $remote_addr [$time_local] "$request" $status $bytes_sent rt=$request_time uct="$upstream_connect_time" xff="${http_x_forwarded_for}""#,
        )
        .unwrap();
        let line = r#"example.com 192.0.2.9 [01/Dec/2026:10:00:00 +0000] "GET /a b?c=d HTTP/1.1" 502 612 rt=0.250 uct="0.001, -" xff="203.0.113.1, 10.0.0.2""#;
        let expected = AccessLine {
            ip: "192.0.2.9".parse().unwrap(),
            ts_ms: Some(TEN_O_CLOCK_MS),
            method: "GET".into(),
            path: "/a b".into(),
            query: Some("c=d".into()),
            status: 502,
            bytes: 612,
            referer: None,
            user_agent: None,
            request_time_ms: Some(250.0),
        };
        assert_eq!(format.parse_line(line), Some(expected));
        assert_eq!(format.parse_line(&line.replace("rt=", "rt:")), None);
    }

    #[test]
    fn formats_that_cannot_work_are_refused_with_the_reason() {
        let refusal = |fmt: &str| LineFormat::parse(fmt).unwrap_err();
        let missing = refusal("$remote_addr $foo [$time_local]");
        assert!(missing.contains("needs $remote_addr, $request and $status"));
        assert!(missing.ends_with("lacks $request, $status"), "{missing}");
        assert!(refusal("$remote_addr$status $request").contains("nothing between them"));
        assert!(refusal("$remote_addr $ $request $status").contains("byte 13"));
        assert!(refusal("${remote_addr $request $status").contains("not closed"));
    }

    #[test]
    fn lines_that_do_not_fit_are_none() {
        let format = LineFormat::combined();
        let good = NGINX.lines().next().unwrap();
        for line in [
            String::new(),
            "-".into(),
            good.replace("203.0.113.5", "unix:"),
            good.replace(" 200 ", " OK "),
            good.replace(" 5123 ", " 99999999999999999999999 "),
            good[..good.len() - 1].into(),
            format!("{good} trailing"),
            format!("{good} 1e3"),
        ] {
            assert_eq!(format.parse_line(&line), None, "{line}");
        }
        // A time that does not parse leaves ts_ms empty but keeps the line.
        let odd = format.parse_line(&good.replace("/Dec/", "/Foo/")).unwrap();
        assert_eq!(odd.ts_ms, None);
    }

    proptest! {
        #[test]
        fn no_line_panics_the_parser(line in any::<String>(), near in r#"[0-9a-f:. \-\[\]"\\/A-Z?+é]{0,120}"#) {
            let combined = LineFormat::combined();
            for l in [&line, &near, &format!(r#"1.2.3.4 - - [{near}] "{near}" 200 1 "{near}" "{line}""#)] {
                let _ = combined.parse_line(l);
            }
        }

        #[test]
        fn no_format_string_panics(fmt in any::<String>(), line in any::<String>()) {
            for f in [fmt.clone(), format!("$remote_addr {fmt} $request $status")] {
                if let Ok(format) = LineFormat::parse(&f) {
                    let _ = format.parse_line(&line);
                }
            }
        }
    }
}
