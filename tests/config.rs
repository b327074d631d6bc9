//! The one configuration grammar (`compress::config`): every configuration round-trips
//! through its text form, malformed text is refused naming the problem, and the frame
//! length the planner charges for an encoding equals the bytes `frame::encode` writes.

use proptest::prelude::*;
use splitbench::compress::{
    frame, Config, Encoding, Family, FrameTensor, GroupParams, Payload, PruneConfig, Quantized,
    Scale, Variant, STAGES,
};
use splitbench::model::Shape;
use splitbench::plan::{payload_bytes, CutTensor};

/// A pruning ratio as the study writes them: in [0, 1), often a round value, sometimes
/// any f32 there (its text form must still round-trip exactly).
fn ratio() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        Just(0.25),
        Just(0.5),
        Just(0.75),
        (0u32..1_000_000).prop_map(|k| k as f32 / 1_000_000.0),
        (0.0f32..1.0),
    ]
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        Just(Encoding::Nothing),
        Just(Encoding::Uint8Input),
        Just(Encoding::F32),
        (1u32..=8, any::<bool>()).prop_map(|(bits, channel)| Encoding::Quant {
            bits,
            scale: if channel {
                Scale::Channel
            } else {
                Scale::Tensor
            },
        }),
    ]
}

fn feature_encoding() -> impl Strategy<Value = Encoding> {
    encoding().prop_filter("a feature", |e| e.is_feature())
}

/// Any variant the grammar allows: pruning and bottlenecks only with a feature encoding.
fn variant() -> impl Strategy<Value = Variant> {
    prop_oneof![
        encoding().prop_map(Variant::plain),
        (
            proptest::option::of(proptest::collection::vec(ratio(), STAGES)),
            proptest::option::of(1usize..4096),
            feature_encoding(),
        )
            .prop_map(|(ratios, bottleneck, encoding)| Variant {
                prune: ratios.map(|r| PruneConfig::new(&r).unwrap()),
                bottleneck,
                encoding,
            }),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    ("[a-z][a-z0-9_.]{0,20}", variant()).prop_map(|(split, variant)| Config { split, variant })
}

proptest! {
    #[test]
    fn every_config_round_trips(c in config()) {
        let text = c.to_string();
        let back: Config = text.parse().unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.to_string(), text);
        // The variant column alone round-trips too, and keeps its family.
        let v: Variant = c.variant.to_string().parse().unwrap();
        prop_assert_eq!(v.family(), c.variant.family());
    }

    #[test]
    fn the_planners_frame_length_is_what_encode_writes(
        c in 1usize..40,
        h in 1usize..9,
        w in 1usize..9,
        tensors in 1usize..3,
        enc in feature_encoding(),
        seed in any::<u32>(),
    ) {
        let shape = Shape::new(c, h, w);
        let x: Vec<f32> = (0..shape.numel())
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as f32 / u32::MAX as f32 - 0.5)
            .collect();
        let t = match enc {
            Encoding::F32 => FrameTensor { batch: 1, shape, payload: Payload::RawF32(x) },
            Encoding::Quant { bits, scale } => {
                let (_, group) = scale.groups(1, shape).unwrap();
                let (params, words) = splitbench::cpu::quantize_pack(&x, group, bits);
                FrameTensor {
                    batch: 1,
                    shape,
                    payload: Payload::Quantized(Quantized {
                        bits,
                        scale,
                        params: params.iter().map(GroupParams::from_quant).collect(),
                        words,
                    }),
                }
            }
            _ => unreachable!("feature encodings only"),
        };
        let sent = vec![t; tensors];
        let written = frame::encode(&sent, false).unwrap().bytes.len() as u64;
        let cut = vec![CutTensor::of(shape); tensors];
        prop_assert_eq!(payload_bytes(enc, &cut).unwrap(), written);
    }
}

#[test]
fn families_follow_the_variant() {
    let v = |s: &str| s.parse::<Variant>().unwrap().family();
    assert_eq!(v("f32"), Family::F32);
    assert_eq!(v("2bit-channel"), Family::NBit);
    assert_eq!(v("prune-0.5_0_0_0_0+8bit-tensor"), Family::PrunedNBit);
    assert_eq!(v("prune-0.5_0_0_0_0+bn4+f32"), Family::Bottleneck);
    assert_eq!(v("uint8-input"), Family::Uint8Input);
    assert_eq!(v("none"), Family::None);
    for f in Family::ALL {
        assert_eq!(f.name().parse::<Family>().unwrap(), f);
    }
}

#[test]
fn malformed_text_is_refused_naming_the_problem() {
    for (text, why) in [
        ("conv1", "expected `<split node>/<variant>`"),
        ("/f32", "empty split node"),
        ("conv1/9bit-tensor", "bits `9` not in 1..=8"),
        ("conv1/4bit-row", "unknown scale `row`"),
        ("conv1/bnx+f32", "bottleneck width `x`"),
        ("conv1/bn0+f32", "bottleneck width `0`"),
        ("conv1/prune-a_b+f32", "pruning ratios `a_b`"),
        ("conv1/prune-0.5_0.5+f32", "pruning needs 5 ratios"),
        ("conv1/prune-1_0_0_0_0+f32", "must be in [0, 1)"),
        ("conv1/foo+f32", "unknown part `foo`"),
        ("conv1/bn4+prune-0.5_0_0_0_0+f32", "`prune-` comes first"),
        (
            "conv1/bn4+none",
            "pruning and bottlenecks apply to a feature",
        ),
        ("conv1/", "unknown encoding"),
    ] {
        let e = text.parse::<Config>().unwrap_err().to_string();
        assert!(e.contains(&format!("config `{text}`")), "{text}: {e}");
        assert!(e.contains(why), "{text}: {e}");
        assert_eq!(e.lines().count(), 1);
    }
}

#[test]
fn a_frame_refuses_what_is_not_a_feature() {
    let spec = |encoding| splitbench::compress::TensorSpec {
        batch: 1,
        shape: Shape::new(2, 2, 2),
        encoding,
    };
    for e in [Encoding::Nothing, Encoding::Uint8Input] {
        let err = splitbench::compress::frame_len(&[spec(e)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("a frame carries f32 or n-bit features"),
            "{err}"
        );
    }
}
