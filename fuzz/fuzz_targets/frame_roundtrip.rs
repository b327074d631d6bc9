//! Arbitrary tensors (shape, bits, granularity, params, symbols) through encode then
//! decode: the decoded tensors must equal the input, with and without entropy coding,
//! and the frame length must match `frame_len` when entropy coding is off.
#![no_main]

use libfuzzer_sys::fuzz_target;
use splitbench::compress::frame::{self, DecodeLimits};
use splitbench::compress::{FrameTensor, Scale, GroupParams, Payload, Quantized, TensorSpec};
use splitbench::cpu;
use splitbench::model::Shape;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn f32(&mut self) -> f32 {
        f32::from_bits(u32::from_le_bytes([
            self.u8(),
            self.u8(),
            self.u8(),
            self.u8(),
        ]))
    }
}

fn tensor(b: &mut Bytes) -> FrameTensor {
    let batch = 1 + (b.u8() % 3) as usize;
    let shape = Shape::new(
        1 + (b.u8() % 9) as usize,
        1 + (b.u8() % 7) as usize,
        1 + (b.u8() % 5) as usize,
    );
    let numel = batch * shape.numel();
    let mode = b.u8();
    if mode % 5 == 0 {
        let v = (0..numel).map(|_| b.f32()).collect();
        return FrameTensor {
            batch,
            shape,
            payload: Payload::RawF32(v),
        };
    }
    let bits = 1 + (b.u8() % 8) as u32;
    let granularity = if mode & 0x80 != 0 {
        Scale::Channel
    } else {
        Scale::Tensor
    };
    let (groups, _) = granularity.groups(batch, shape).unwrap();
    let params = (0..groups)
        .map(|_| {
            let (min, scale) = (b.f32(), b.f32().abs());
            GroupParams {
                min: if min.is_finite() { min } else { 0.0 },
                scale: if scale.is_finite() { scale } else { 1.0 },
            }
        })
        .collect();
    // Skewed symbols (like ReLU features) when the selector byte is small.
    let skew = b.u8();
    let mask = (1u32 << bits) - 1;
    let symbols: Vec<u32> = (0..numel)
        .map(|_| {
            let v = b.u8() as u32;
            if v < skew as u32 {
                0
            } else {
                v & mask
            }
        })
        .collect();
    let words = cpu::pack_symbols(&symbols, bits);
    FrameTensor {
        batch,
        shape,
        payload: Payload::Quantized(Quantized {
            bits,
            scale: granularity,
            params,
            words,
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let n = 1 + (b.u8() % 3) as usize;
    let tensors: Vec<FrameTensor> = (0..n).map(|_| tensor(&mut b)).collect();
    for entropy in [false, true] {
        let enc = frame::encode(&tensors, entropy).expect("valid tensors encode");
        let dec = frame::decode(&enc.bytes, &DecodeLimits::default()).expect("own frame decodes");
        assert_eq!(dec.tensors.len(), tensors.len());
        for (d, t) in dec.tensors.iter().zip(&tensors) {
            // Compare raw f32 by bits (NaN payloads included).
            match (&d.payload, &t.payload) {
                (Payload::RawF32(a), Payload::RawF32(b)) => {
                    assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
                    assert_eq!(a.len(), b.len());
                }
                _ => assert_eq!(d, t),
            }
        }
        if !entropy {
            let specs: Vec<TensorSpec> = tensors
                .iter()
                .map(|t| TensorSpec {
                    batch: t.batch,
                    shape: t.shape,
                    encoding: t.encoding(),
                })
                .collect();
            assert_eq!(frame::frame_len(&specs).unwrap(), enc.bytes.len());
        }
    }
});
