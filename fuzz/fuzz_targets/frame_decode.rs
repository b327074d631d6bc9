//! Arbitrary bytes into the frame decoder: it must return an error or a frame that
//! re-encodes to exactly the same bytes, and never panic, overflow or run away.
//!
//! The input is decoded twice: as is (exercises the fixed header, lengths and checksum),
//! and with its length field and CRC-32 trailer patched to be right (so the fuzzer gets
//! past the checksum into descriptors, params, padding and the entropy decoder).
#![no_main]

use libfuzzer_sys::fuzz_target;
use splitbench::compress::frame::{self, DecodeLimits, CHECKSUM_LEN, FIXED_HEADER_LEN};

/// Small enough that a 40-byte frame claiming a huge entropy-coded tensor is cheap.
const LIMITS: DecodeLimits = DecodeLimits {
    max_elements: 1 << 18,
};

fn check(data: &[u8]) {
    if let Ok(d) = frame::decode(data, &LIMITS) {
        let plain = frame::encode(&d.tensors, false).expect("decoded frame re-encodes");
        if plain.bytes != data {
            let coded = frame::encode(&d.tensors, true).expect("decoded frame re-encodes");
            assert_eq!(coded.bytes, data, "accepted frame is not canonical");
        }
        for (t, c) in d.tensors.iter().zip(&d.codecs) {
            let _ = (t.dequantize(), c);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= FIXED_HEADER_LEN + CHECKSUM_LEN {
        let mut fixed = data.to_vec();
        let n = fixed.len();
        fixed[6..10].copy_from_slice(&(n as u32).to_le_bytes());
        let crc = crc32fast::hash(&fixed[..n - CHECKSUM_LEN]);
        fixed[n - CHECKSUM_LEN..].copy_from_slice(&crc.to_le_bytes());
        check(&fixed);
    }
});
