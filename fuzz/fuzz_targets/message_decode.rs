//! Arbitrary bytes into the co-inference message reader (`net::protocol`): it must return an
//! error or a message that re-encodes to exactly the same bytes, and never panic, overflow
//! or allocate past its limit.
//!
//! The input is read three ways: as a body (`Message::from_body`: kind byte and fields), as
//! a stream of length-prefixed messages (`read_message` over a cursor, until the first
//! error, as the edge reads a connection), and with a correct length prefix put in front
//! (so every input reaches the body parser through `read_message`, which must then agree
//! with `from_body`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use splitbench::net::protocol::{read_message, Message, ProtocolError, LENGTH_BYTES};
use std::io::{Cursor, ErrorKind};

/// Small enough that a message announcing a huge length is refused cheaply.
const MAX_MESSAGE: usize = 1 << 20;

/// Checks an accepted body: canonical, and its encoding parses back to the same message.
/// Messages are compared by their bytes (a NaN in a reply or hello is not `==` itself).
fn accepted(m: &Message, body: &[u8]) {
    let bytes = m.to_bytes();
    let (len, rest) = bytes.split_at(LENGTH_BYTES);
    assert_eq!(rest, body, "accepted {} is not canonical", m.name());
    let n = (body.len() as u32).to_le_bytes();
    assert_eq!(len, n, "length prefix of {}", m.name());
    let back = Message::from_body(rest).expect("own message parses");
    assert_eq!(back.name(), m.name());
    assert_eq!(back.to_bytes(), bytes, "{} does not round-trip", m.name());
}

/// `from_body`, checked.
fn body(data: &[u8]) -> Option<Message> {
    let m = Message::from_body(data).ok()?;
    accepted(&m, data);
    Some(m)
}

/// Every message of a stream, as the edge reads a connection: stops at the first error.
fn stream(data: &[u8]) {
    let mut r = Cursor::new(data);
    loop {
        let at = r.position() as usize;
        match read_message(&mut r, MAX_MESSAGE) {
            Ok(m) => {
                let start = at + LENGTH_BYTES;
                let end = r.position() as usize;
                assert!(end > start && end - start <= MAX_MESSAGE);
                let announced = u32::from_le_bytes(data[at..start].try_into().unwrap());
                assert_eq!(announced as usize, end - start, "read past the message");
                accepted(&m, &data[start..end]);
            }
            Err(ProtocolError::Io(e)) => {
                // Only a short length prefix is an I/O error; a short body is malformed.
                assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
                assert!(data.len() - at < LENGTH_BYTES, "{e} after a whole prefix");
                return;
            }
            Err(ProtocolError::Malformed(_)) => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = body(data);
    stream(data);
    if data.len() <= MAX_MESSAGE {
        let mut framed = (data.len() as u32).to_le_bytes().to_vec();
        framed.extend_from_slice(data);
        let read = read_message(&mut &framed[..], MAX_MESSAGE);
        match (&read, &parsed) {
            (Ok(a), Some(b)) => assert_eq!(a.to_bytes(), b.to_bytes()),
            (Err(ProtocolError::Malformed(_)), None) => {}
            _ => panic!("read_message {read:?} disagrees with from_body {parsed:?}"),
        }
    }
});
