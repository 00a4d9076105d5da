//! The Sentry envelope, parsed leniently: a JSON header line, then items,
//! each a JSON header line (`type` required, `length` optional) and a
//! payload — exactly `length` bytes when given (then `\n` or the end),
//! else up to the next `\n`. Unknown item types are kept for the caller to
//! skip; blank lines between items are tolerated. Nothing here panics on
//! any input; what cannot be read is an [`EnvelopeError`] saying where.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub headers: Map<String, Value>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: String,
    pub headers: Map<String, Value>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the envelope is empty")]
    Empty,
    #[error("the envelope header is not a JSON object")]
    BadHeader,
    #[error("item {0}: its header is not a JSON object with a string \"type\"")]
    BadItemHeader(usize),
    #[error("item {index}: \"length\" is {length} but only {left} bytes follow")]
    Truncated {
        index: usize,
        length: u64,
        left: usize,
    },
    #[error("item {0}: the payload is not followed by a newline")]
    NoNewline(usize),
}

impl Envelope {
    /// The envelope's `event_id`, if it has a well-formed one.
    pub fn event_id(&self) -> Option<String> {
        self.headers
            .get("event_id")
            .and_then(Value::as_str)
            .map(|id| id.replace('-', "").to_ascii_lowercase())
            .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// The `dsn` in the envelope header, if any.
    pub fn dsn(&self) -> Option<&str> {
        self.headers.get("dsn").and_then(Value::as_str)
    }
}

/// The line starting at `at` (without its `\n`) and where the next begins.
fn line(bytes: &[u8], at: usize) -> (&[u8], usize) {
    let rest = bytes.get(at..).unwrap_or_default();
    match rest.iter().position(|b| *b == b'\n') {
        Some(end) => (&rest[..end], at + end + 1),
        None => (rest, bytes.len()),
    }
}

fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.is_empty() {
        return Some(Map::new());
    }
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError::Empty);
    }
    let (first, mut at) = line(bytes, 0);
    let headers = object(first).ok_or(EnvelopeError::BadHeader)?;
    let mut items = Vec::new();
    while at < bytes.len() {
        let (header, next) = line(bytes, at);
        if header.iter().all(u8::is_ascii_whitespace) {
            at = next;
            continue;
        }
        let index = items.len();
        let item_headers = object(header).ok_or(EnvelopeError::BadItemHeader(index))?;
        let kind = item_headers
            .get("type")
            .and_then(Value::as_str)
            .ok_or(EnvelopeError::BadItemHeader(index))?
            .to_string();
        at = next;
        let payload = match item_headers.get("length").and_then(Value::as_u64) {
            Some(length) => {
                let left = bytes.len().saturating_sub(at);
                let n = usize::try_from(length).ok().filter(|n| *n <= left).ok_or(
                    EnvelopeError::Truncated {
                        index,
                        length,
                        left,
                    },
                )?;
                let payload = bytes[at..at + n].to_vec();
                at += n;
                match bytes.get(at) {
                    None => {}
                    Some(b'\n') => at += 1,
                    Some(_) => return Err(EnvelopeError::NoNewline(index)),
                }
                payload
            }
            None => {
                let (payload, next) = line(bytes, at);
                at = next;
                payload.to_vec()
            }
        };
        items.push(Item {
            kind,
            headers: item_headers,
            payload,
        });
    }
    Ok(Envelope { headers, items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each item's type and payload.
    type Parsed<'a> = Vec<(&'a str, &'a [u8])>;

    fn kinds(e: &Envelope) -> Parsed<'_> {
        e.items
            .iter()
            .map(|i| (i.kind.as_str(), i.payload.as_slice()))
            .collect()
    }

    #[test]
    fn items_with_and_without_length_and_either_ending() {
        let table: [(&[u8], Parsed<'_>); 6] = [
            (
                b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\",\"length\":16}\n{\"message\":\"hi\"}\n",
                vec![("event", b"{\"message\":\"hi\"}")],
            ),
            (
                b"{}\n{\"type\":\"event\",\"length\":16}\n{\"message\":\"hi\"}",
                vec![("event", b"{\"message\":\"hi\"}")],
            ),
            (
                b"{}\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n{\"type\":\"client_report\"}\n{}\n",
                vec![("event", b"{\"message\":\"hi\"}"), ("client_report", b"{}")],
            ),
            (
                b"{}\n{\"type\":\"attachment\",\"length\":3}\na\nb\n{\"type\":\"sessions\"}\n{\"x\":1}",
                vec![("attachment", b"a\nb"), ("sessions", b"{\"x\":1}")],
            ),
            (b"\n{\"type\":\"replay_event\"}\n\n", vec![("replay_event", b"")]),
            (b"{}\n", vec![]),
        ];
        for (bytes, want) in table {
            let e = parse(bytes)
                .unwrap_or_else(|err| panic!("{err}: {:?}", String::from_utf8_lossy(bytes)));
            assert_eq!(kinds(&e), want, "{:?}", String::from_utf8_lossy(bytes));
        }
        let e = parse(
            b"{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\",\"dsn\":\"http://k@h/1\"}\n",
        )
        .unwrap();
        assert_eq!(
            e.event_id().as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(e.dsn(), Some("http://k@h/1"));
    }

    #[test]
    fn what_cannot_be_read_says_where() {
        assert_eq!(parse(b"  \n"), Err(EnvelopeError::Empty));
        assert_eq!(parse(b"[1]\n"), Err(EnvelopeError::BadHeader));
        assert_eq!(
            parse(b"{}\n{\"length\":2}\nab"),
            Err(EnvelopeError::BadItemHeader(0))
        );
        assert_eq!(
            parse(b"{}\n{\"type\":\"event\",\"length\":10}\nabc"),
            Err(EnvelopeError::Truncated {
                index: 0,
                length: 10,
                left: 3
            })
        );
        assert_eq!(
            parse(b"{}\n{\"type\":\"event\",\"length\":2}\nabc\n"),
            Err(EnvelopeError::NoNewline(0))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn envelope_shaped_bytes_never_panic(
            parts in prop::collection::vec((0u8..4, prop::collection::vec(any::<u8>(), 0..40), 0u64..60), 0..6)
        ) {
            let mut bytes = b"{}\n".to_vec();
            for (shape, payload, length) in parts {
                match shape {
                    0 => bytes.extend_from_slice(format!("{{\"type\":\"event\",\"length\":{length}}}\n").as_bytes()),
                    1 => bytes.extend_from_slice(b"{\"type\":\"event\"}\n"),
                    2 => bytes.push(b'\n'),
                    _ => {}
                }
                bytes.extend_from_slice(&payload);
            }
            let _ = parse(&bytes);
        }
    }
}
