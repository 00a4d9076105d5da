//! Request bodies as SDKs send them: `Content-Encoding` `gzip`, `deflate`
//! (zlib or raw), `br`, or none. The decompressed size is capped while
//! reading, so a small bomb cannot grow past the cap in memory.

use std::io::Read;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("Content-Encoding {0:?} is not supported; send gzip, deflate, br or none")]
    Unsupported(String),
    #[error("the body decompresses to more than {0} bytes")]
    TooLarge(usize),
    #[error("the body is not valid {0} data")]
    Corrupt(&'static str),
}

/// The body decoded per `encoding` (the header's value, or None), at most `cap` bytes.
pub fn decode(encoding: Option<&str>, body: &[u8], cap: usize) -> Result<Vec<u8>, DecodeError> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase());
    let (name, reader): (&'static str, Box<dyn Read + '_>) = match encoding.as_deref() {
        None | Some("") | Some("identity") => {
            return if body.len() > cap {
                Err(DecodeError::TooLarge(cap))
            } else {
                Ok(body.to_vec())
            };
        }
        Some("gzip" | "x-gzip") => ("gzip", Box::new(flate2::read::MultiGzDecoder::new(body))),
        Some("deflate") => {
            // RFC 9110 says zlib; some clients send raw deflate.
            let zlib = body.first().is_some_and(|b| b & 0x0f == 8) && body.len() > 1 && {
                let header = u16::from(body[0]) << 8 | u16::from(body[1]);
                header % 31 == 0
            };
            if zlib {
                ("deflate", Box::new(flate2::read::ZlibDecoder::new(body)))
            } else {
                ("deflate", Box::new(flate2::read::DeflateDecoder::new(body)))
            }
        }
        Some("br") => (
            "br",
            Box::new(brotli_decompressor::Decompressor::new(body, 4096)),
        ),
        Some(other) => return Err(DecodeError::Unsupported(other.to_string())),
    };
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Corrupt(name))?;
    if out.len() > cap {
        return Err(DecodeError::TooLarge(cap));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn each_encoding_round_trips_and_the_cap_holds() {
        let data = b"{\"message\":\"hello\"}".repeat(100);
        assert_eq!(decode(None, &data, 1 << 20).unwrap(), data);
        assert_eq!(decode(Some("GZIP"), &gzip(&data), 1 << 20).unwrap(), data);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&data).unwrap();
        assert_eq!(
            decode(Some("deflate"), &z.finish().unwrap(), 1 << 20).unwrap(),
            data
        );
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&data).unwrap();
        assert_eq!(
            decode(Some("deflate"), &raw.finish().unwrap(), 1 << 20).unwrap(),
            data
        );
        // A brotli stream of "hello" (one uncompressed meta-block).
        let br = [0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(decode(Some("br"), &br, 100).unwrap(), b"hello");

        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            decode(Some("gzip"), &bomb, 1 << 20),
            Err(DecodeError::TooLarge(1 << 20))
        );
        assert_eq!(decode(None, &data, 10), Err(DecodeError::TooLarge(10)));
        assert_eq!(
            decode(Some("gzip"), b"not gzip", 100),
            Err(DecodeError::Corrupt("gzip"))
        );
        assert!(matches!(
            decode(Some("zstd2"), b"", 1),
            Err(DecodeError::Unsupported(_))
        ));
    }
}
