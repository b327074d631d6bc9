//! The messages between `splitbench offload` (the device) and `splitbench serve` (the edge)
//! on one persistent TCP connection (`docs/wire-format.md`, "Co-inference messages").
//!
//! Every message is `length u32 LE` (bytes after these four) + `kind u8` + body; a message
//! is written with one `write_all` of a buffer that holds all of it (with `TCP_NODELAY`, one
//! burst of segments, never a header waiting for Nagle's timer). Strings are `u16 LE` length
//! + UTF-8, floats f32/f64 LE.
//!
//! | kind | name | body |
//! |---|---|---|
//! | 1 | hello (device) | version u8, model hash (16 hex digits, string), input C,H,W (3 x u32), batch u32, configuration (string), input normalization (3 means, 3 stds, f32) |
//! | 2 | welcome (edge) | adapter (string), timing method (string) |
//! | 3 | refuse (edge) | reason (string); the edge closes the connection |
//! | 4 | request (device) | request id u64, payload: a wire frame, or for `input/uint8-input` the C*H*W pixels |
//! | 5 | reply (edge) | request id u64, decode ms f64, suffix ms f64, server ms f64, logits count u32, logits f32 |
//! | 6 | error (edge) | request id u64, reason (string); the edge closes the connection |
//! | 7 | profile request (device) | version u8, model hash (string), input C,H,W (3 x u32); instead of hello |
//! | 8 | profile (edge) | adapter (string), timing method (string), the rest: the edge's per-node profile of the model at batch 1, CSV as `splitbench profile` writes it (UTF-8); the edge closes the connection |
//!
//! A reader never trusts a length: a message longer than the reader's limit, a truncated
//! one, an unknown kind, a string that is not UTF-8 or a body with bytes left over is a
//! [`ProtocolError`] (never a panic, never an allocation of the announced size before the
//! limit is checked).

use std::fmt;
use std::io::{Read, Write};

/// Protocol version written in hello and accepted.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes of a message's length prefix.
pub const LENGTH_BYTES: usize = 4;
/// Default largest message a reader accepts (a frame of a large feature fits).
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

/// Message kinds.
mod kind {
    pub const HELLO: u8 = 1;
    pub const WELCOME: u8 = 2;
    pub const REFUSE: u8 = 3;
    pub const REQUEST: u8 = 4;
    pub const REPLY: u8 = 5;
    pub const ERROR: u8 = 6;
    pub const PROFILE_REQUEST: u8 = 7;
    pub const PROFILE: u8 = 8;
}

/// What the device asks for when it connects.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub version: u8,
    /// `Model::hash` of the fused model with its weights.
    pub model_hash: String,
    /// Per-sample input shape (C, H, W).
    pub input: [u32; 3],
    /// Images per request.
    pub batch: u32,
    /// The configuration, in the study's grammar.
    pub config: String,
    /// Per-channel mean and standard deviation that turn uint8 pixels into the model's
    /// input (edge-only); unused for features.
    pub normalization: [f32; 6],
}

/// The edge's answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The request's id.
    pub id: u64,
    /// Parsing, unpacking and the bottleneck decoder, ms.
    pub decode_ms: f64,
    /// The suffix, ms.
    pub suffix_ms: f64,
    /// From the request fully read to the reply ready, on the edge's clock, ms.
    pub server_ms: f64,
    /// The logits, row after row.
    pub logits: Vec<f32>,
}

/// One message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Device: who it is and what it wants.
    Hello(Hello),
    /// Edge: ready.
    Welcome {
        /// The edge's adapter.
        adapter: String,
        /// How the edge times its GPU work.
        timing: String,
    },
    /// Edge: not this model or configuration, and why.
    Refuse(String),
    /// Device: one inference's payload.
    Request {
        /// Chosen by the device, echoed in the reply.
        id: u64,
        /// The wire frame (or the uint8 pixels).
        payload: Vec<u8>,
    },
    /// Edge: the result.
    Reply(Reply),
    /// Device: the edge's per-node times of this model, instead of a hello.
    ProfileRequest {
        /// [`PROTOCOL_VERSION`].
        version: u8,
        /// `Model::hash` of the fused model with its weights.
        model_hash: String,
        /// Per-sample input shape (C, H, W).
        input: [u32; 3],
    },
    /// Edge: its profile of the model.
    Profile {
        /// The edge's adapter.
        adapter: String,
        /// How it timed each node.
        timing: String,
        /// The rows, CSV with a header (`splitbench profile`'s format).
        csv: String,
    },
    /// Edge: this request failed, and why.
    Error {
        /// The request's id.
        id: u64,
        /// What went wrong.
        reason: String,
    },
}

/// Why a message could not be read or written.
#[derive(Debug)]
pub enum ProtocolError {
    /// The connection failed or closed (`UnexpectedEof` at a message boundary: the peer
    /// closed cleanly).
    Io(std::io::Error),
    /// The bytes are not a valid message.
    Malformed(String),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Io(e) => write!(f, "connection: {e}"),
            ProtocolError::Malformed(m) => write!(f, "malformed message: {m}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        ProtocolError::Io(e)
    }
}

fn malformed<T>(msg: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError::Malformed(msg.into()))
}

/// Appends little-endian fields to a message body.
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    fn f32(&mut self, v: f32) -> &mut Self {
        self.u32(v.to_bits())
    }
    fn f64(&mut self, v: f64) -> &mut Self {
        self.u64(v.to_bits())
    }
    fn str(&mut self, s: &str) -> &mut Self {
        // Longer strings are cut at a character boundary: reasons and names are short.
        let mut end = s.len().min(u16::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes(&(end as u16).to_le_bytes())
            .bytes(&s.as_bytes()[..end])
    }
}

/// Reads little-endian fields from a message body, refusing to read past its end.
struct In<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            return malformed(format!("{what}: body ends at byte {}", self.b.len()));
        };
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, ProtocolError> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, ProtocolError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(a))
    }
    fn f32(&mut self, what: &str) -> Result<f32, ProtocolError> {
        Ok(f32::from_bits(self.u32(what)?))
    }
    fn f64(&mut self, what: &str) -> Result<f64, ProtocolError> {
        Ok(f64::from_bits(self.u64(what)?))
    }
    fn str(&mut self, what: &str) -> Result<String, ProtocolError> {
        let s = self.take(2, what)?;
        let n = u16::from_le_bytes([s[0], s[1]]) as usize;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec()).or_else(|_| malformed(format!("{what}: not UTF-8")))
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.at..];
        self.at = self.b.len();
        s
    }
    fn done(&self, what: &str) -> Result<(), ProtocolError> {
        if self.at == self.b.len() {
            Ok(())
        } else {
            malformed(format!(
                "{what}: {} bytes after the last field",
                self.b.len() - self.at
            ))
        }
    }
}

impl Message {
    /// The whole message as it goes on the wire: length prefix, kind, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Out(vec![0; LENGTH_BYTES]);
        match self {
            Message::Hello(h) => {
                o.u8(kind::HELLO).u8(h.version).str(&h.model_hash);
                for d in h.input {
                    o.u32(d);
                }
                o.u32(h.batch).str(&h.config);
                for v in h.normalization {
                    o.f32(v);
                }
            }
            Message::Welcome { adapter, timing } => {
                o.u8(kind::WELCOME).str(adapter).str(timing);
            }
            Message::Refuse(reason) => {
                o.u8(kind::REFUSE).str(reason);
            }
            Message::Request { id, payload } => {
                o.u8(kind::REQUEST).u64(*id).0.extend_from_slice(payload);
            }
            Message::Reply(r) => {
                o.u8(kind::REPLY)
                    .u64(r.id)
                    .f64(r.decode_ms)
                    .f64(r.suffix_ms)
                    .f64(r.server_ms)
                    .u32(r.logits.len() as u32);
                for &v in &r.logits {
                    o.f32(v);
                }
            }
            Message::Error { id, reason } => {
                o.u8(kind::ERROR).u64(*id).str(reason);
            }
            Message::ProfileRequest {
                version,
                model_hash,
                input,
            } => {
                o.u8(kind::PROFILE_REQUEST).u8(*version).str(model_hash);
                for d in input {
                    o.u32(*d);
                }
            }
            Message::Profile {
                adapter,
                timing,
                csv,
            } => {
                o.u8(kind::PROFILE)
                    .str(adapter)
                    .str(timing)
                    .bytes(csv.as_bytes());
            }
        }
        let len = (o.0.len() - LENGTH_BYTES) as u32;
        o.0[..LENGTH_BYTES].copy_from_slice(&len.to_le_bytes());
        o.0
    }

    /// Parses one message's kind and body (the bytes after the length prefix).
    pub fn from_body(body: &[u8]) -> Result<Message, ProtocolError> {
        let mut r = In { b: body, at: 0 };
        let k = r.u8("kind")?;
        let m = match k {
            kind::HELLO => {
                let version = r.u8("hello version")?;
                let model_hash = r.str("hello model hash")?;
                let input = [r.u32("hello C")?, r.u32("hello H")?, r.u32("hello W")?];
                let batch = r.u32("hello batch")?;
                let config = r.str("hello configuration")?;
                let mut normalization = [0f32; 6];
                for v in &mut normalization {
                    *v = r.f32("hello normalization")?;
                }
                Message::Hello(Hello {
                    version,
                    model_hash,
                    input,
                    batch,
                    config,
                    normalization,
                })
            }
            kind::WELCOME => Message::Welcome {
                adapter: r.str("welcome adapter")?,
                timing: r.str("welcome timing")?,
            },
            kind::REFUSE => Message::Refuse(r.str("refuse reason")?),
            kind::REQUEST => Message::Request {
                id: r.u64("request id")?,
                payload: r.rest().to_vec(),
            },
            kind::REPLY => {
                let id = r.u64("reply id")?;
                let decode_ms = r.f64("reply decode ms")?;
                let suffix_ms = r.f64("reply suffix ms")?;
                let server_ms = r.f64("reply server ms")?;
                let n = r.u32("reply logits count")? as usize;
                let bytes = r.take(n.saturating_mul(4), "reply logits")?;
                let logits = bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                Message::Reply(Reply {
                    id,
                    decode_ms,
                    suffix_ms,
                    server_ms,
                    logits,
                })
            }
            kind::ERROR => Message::Error {
                id: r.u64("error id")?,
                reason: r.str("error reason")?,
            },
            kind::PROFILE_REQUEST => Message::ProfileRequest {
                version: r.u8("profile request version")?,
                model_hash: r.str("profile request model hash")?,
                input: [
                    r.u32("profile request C")?,
                    r.u32("profile request H")?,
                    r.u32("profile request W")?,
                ],
            },
            kind::PROFILE => Message::Profile {
                adapter: r.str("profile adapter")?,
                timing: r.str("profile timing")?,
                csv: String::from_utf8(r.rest().to_vec())
                    .or_else(|_| malformed("profile CSV: not UTF-8"))?,
            },
            k => return malformed(format!("unknown kind {k}")),
        };
        r.done("message")?;
        Ok(m)
    }

    /// A short name for errors (`hello`, `request`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello(_) => "hello",
            Message::Welcome { .. } => "welcome",
            Message::Refuse(_) => "refuse",
            Message::Request { .. } => "request",
            Message::Reply(_) => "reply",
            Message::Error { .. } => "error",
            Message::ProfileRequest { .. } => "profile request",
            Message::Profile { .. } => "profile",
        }
    }
}

/// Writes one message with a single `write_all`.
pub fn write_message(w: &mut impl Write, m: &Message) -> Result<(), ProtocolError> {
    let bytes = m.to_bytes();
    // The length field is 32 bits: a bigger message would desynchronise the stream.
    if bytes.len() - LENGTH_BYTES > u32::MAX as usize {
        return malformed(format!("{} of {} bytes: over 4 GiB", m.name(), bytes.len()));
    }
    w.write_all(&bytes)?;
    Ok(())
}

/// Reads one message of at most `max` bytes after the length prefix.
pub fn read_message(r: &mut impl Read, max: usize) -> Result<Message, ProtocolError> {
    let mut len = [0u8; LENGTH_BYTES];
    r.read_exact(&mut len)?;
    let n = u32::from_le_bytes(len) as usize;
    if n == 0 {
        return malformed("empty message");
    }
    if n > max {
        return malformed(format!("{n} bytes, the limit is {max}"));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ProtocolError::Malformed(format!("truncated: {n} bytes announced"))
        } else {
            ProtocolError::Io(e)
        }
    })?;
    Message::from_body(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Message> {
        vec![
            Message::Hello(Hello {
                version: PROTOCOL_VERSION,
                model_hash: "0123456789abcdef".into(),
                input: [1, 28, 28],
                batch: 1,
                config: "layer1.1.conv2/4bit-tensor".into(),
                normalization: [0.286, 0.286, 0.286, 0.353, 0.353, 0.353],
            }),
            Message::Welcome {
                adapter: "llvmpipe".into(),
                timing: "timestamp-pass".into(),
            },
            Message::Refuse("no such node".into()),
            Message::Request {
                id: 7,
                payload: vec![1, 2, 3],
            },
            Message::Reply(Reply {
                id: 7,
                decode_ms: 1.5,
                suffix_ms: 2.25,
                server_ms: 4.0,
                logits: vec![0.5, -1.0],
            }),
            Message::Error {
                id: 7,
                reason: "bad frame".into(),
            },
            Message::ProfileRequest {
                version: PROTOCOL_VERSION,
                model_hash: "0123456789abcdef".into(),
                input: [3, 32, 32],
            },
            Message::Profile {
                adapter: "llvmpipe".into(),
                timing: "timestamp-pass".into(),
                csv: "node,op\nconv1,conv\n".into(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in every_kind() {
            let bytes = m.to_bytes();
            let back = read_message(&mut &bytes[..], DEFAULT_MAX_MESSAGE).unwrap();
            assert_eq!(back, m);
        }
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let ok = every_kind()[4].to_bytes();
        let mut long = ok.clone();
        long[..4].copy_from_slice(&(u32::MAX).to_le_bytes());
        let mut extra = ok.clone();
        extra.push(0);
        let n = (extra.len() - 4) as u32;
        extra[..4].copy_from_slice(&n.to_le_bytes());
        let mut unknown = ok.clone();
        unknown[4] = 99;
        for (bytes, why) in [
            (&ok[..ok.len() - 1], "truncated"),
            (&long[..], "the limit is"),
            (&extra[..], "after the last field"),
            (&unknown[..], "unknown kind 99"),
            (&[0u8, 0, 0, 0][..], "empty message"),
        ] {
            let e = read_message(&mut &bytes[..], DEFAULT_MAX_MESSAGE).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
