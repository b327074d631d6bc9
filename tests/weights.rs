//! Weights: seeded init, safetensors round trip, f16/bf16 files, and every error case
//! naming the key or the file. Each test writes its own small files in a temp dir.

use splitbench::model::{
    check, expected_keys, load_safetensors, save_safetensors, seeded, zoo, Conv2d, Graph, Linear,
    Op, Shape, Weights, ZooOptions,
};
use splitbench::tensor::Tensor;
use splitbench::Error;
use std::path::PathBuf;

/// A fresh file path in the temp dir, unique per test and process.
fn temp_file(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("splitbench-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{tag}.safetensors"))
}

/// conv (with BN) + linear: small enough to write files by hand.
fn tiny() -> Graph {
    let mut g = Graph::new("tiny", Shape::new(3, 4, 4));
    let c = g
        .push("conv", Op::Conv2d(Conv2d::new(3, 2, 3, 1, 1, 1)), &[0])
        .unwrap();
    let b = g
        .push("bn", Op::BatchNorm { c: 2, eps: 1e-5 }, &[c])
        .unwrap();
    let f = g.push("flatten", Op::Flatten, &[b]).unwrap();
    let l = Linear {
        in_f: 32,
        out_f: 5,
        bias: true,
        act: Default::default(),
    };
    g.push("fc", Op::Linear(l), &[f]).unwrap();
    g
}

/// Dtype name, shape and little-endian bytes of one tensor.
type Raw = (&'static str, Vec<usize>, Vec<u8>);

/// Writes a safetensors file by hand (as PyTorch does: 8-byte header length, JSON header,
/// data), so files with any dtype, extra keys or damage can be made without Python.
fn write_raw(path: &PathBuf, tensors: &[(String, Raw)]) {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (key, (dtype, shape, bytes))) in tensors.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let begin = data.len();
        data.extend_from_slice(bytes);
        header.push_str(&format!(
            "\"{key}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{begin},{}]}}",
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&data);
    std::fs::write(path, file).unwrap();
}

fn f32_raw(t: &Tensor) -> Raw {
    let b = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    ("F32", t.shape.clone(), b)
}

fn f16_raw(t: &Tensor) -> Raw {
    let b = t
        .data
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    ("F16", t.shape.clone(), b)
}

/// The tiny graph's seeded weights as raw F32 entries, plus whatever `edit` does to them.
fn raw_tiny(edit: impl FnOnce(&mut Vec<(String, Raw)>)) -> Vec<(String, Raw)> {
    let mut v: Vec<(String, Raw)> = seeded(&tiny(), 1)
        .iter()
        .map(|(k, t)| (k.clone(), f32_raw(t)))
        .collect();
    edit(&mut v);
    v
}

fn key_error(err: Error) -> (String, String, String) {
    match err {
        Error::WeightsKey {
            key,
            expected,
            found,
            ..
        } => (key, expected, found),
        other => panic!("expected a WeightsKey error, got {other}"),
    }
}

#[test]
fn seeded_is_deterministic_and_complete() {
    let g = zoo::build("resnet18-cifar", &ZooOptions::default()).unwrap();
    let a = seeded(&g, 7);
    check(&g, &a).unwrap();
    assert_eq!(a, seeded(&g, 7));
    assert_ne!(a, seeded(&g, 8));
    assert_eq!(a.len(), expected_keys(&g).len());
    let var = &a["layer1.0.bn1.running_var"].data;
    assert!(var.iter().all(|v| (0.5..1.5).contains(v)));
    // Kaiming: std of conv weights ~ sqrt(2 / fan_in).
    let w = &a["layer3.0.conv2.weight"].data;
    let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
    let want = (2.0f32 / (256.0 * 9.0)).sqrt();
    assert!((std / want - 1.0).abs() < 0.05, "{std} vs {want}");
}

#[test]
fn check_rejects_missing_wrong_shape_and_extra() {
    let g = tiny();
    let mut w = seeded(&g, 1);
    w.insert("bogus".into(), Tensor::zeros(vec![1]));
    assert!(check(&g, &w).unwrap_err().to_string().contains("bogus"));
    w.remove("bogus");
    w.insert("fc.bias".into(), Tensor::zeros(vec![4]));
    assert!(check(&g, &w).unwrap_err().to_string().contains("fc.bias"));
    w.remove("fc.bias");
    assert!(check(&g, &w).unwrap_err().to_string().contains("fc.bias"));
}

#[test]
fn round_trip_f32() {
    let g = zoo::build(
        "resnet18-cifar",
        &ZooOptions {
            width: Some(8),
            ..Default::default()
        },
    )
    .unwrap();
    let w = seeded(&g, 3);
    let path = temp_file("round_trip");
    save_safetensors(&w, &path).unwrap();
    let back = load_safetensors(&g, &path).unwrap();
    assert_eq!(back, w);
}

#[test]
fn f16_and_bf16_files_load_with_their_rounding() {
    let g = tiny();
    let w = seeded(&g, 1);
    let mut raw: Vec<(String, Raw)> = w.iter().map(|(k, t)| (k.clone(), f16_raw(t))).collect();
    // PyTorch state_dicts carry this I64 scalar for every BN: ignored.
    raw.push((
        "bn.num_batches_tracked".into(),
        ("I64", vec![], 0i64.to_le_bytes().to_vec()),
    ));
    // One tensor in bf16 too.
    let fc = &w["fc.weight"];
    let bf: Vec<u8> = fc
        .data
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
        .collect();
    raw.retain(|(k, _)| k != "fc.weight");
    raw.push(("fc.weight".into(), ("BF16", fc.shape.clone(), bf)));
    let path = temp_file("f16");
    write_raw(&path, &raw);
    let back = load_safetensors(&g, &path).unwrap();
    for (k, t) in &w {
        let got = &back[k];
        assert_eq!(got.shape, t.shape, "{k}");
        for (&a, &b) in got.data.iter().zip(&t.data) {
            let want = if k == "fc.weight" {
                half::bf16::from_f32(b).to_f32()
            } else {
                half::f16::from_f32(b).to_f32()
            };
            assert_eq!(a, want, "{k}");
            // and close to the f32 original: f16 keeps ~11 bits, bf16 ~8.
            assert!((a - b).abs() <= b.abs() * 4e-3 + 1e-7, "{k}: {a} vs {b}");
        }
    }
}

#[test]
fn missing_key_is_named() {
    let path = temp_file("missing");
    write_raw(
        &path,
        &raw_tiny(|v| v.retain(|(k, _)| k != "bn.running_var")),
    );
    let (key, expected, found) = key_error(load_safetensors(&tiny(), &path).unwrap_err());
    assert_eq!(key, "bn.running_var");
    assert!(expected.contains("[2]"), "{expected}");
    assert!(found.contains("no such key"), "{found}");
}

#[test]
fn unexpected_key_is_named() {
    let path = temp_file("unexpected");
    write_raw(
        &path,
        &raw_tiny(|v| v.push(("head.weight".into(), f32_raw(&Tensor::zeros(vec![2, 2]))))),
    );
    let err = load_safetensors(&tiny(), &path).unwrap_err();
    let msg = err.to_string();
    let (key, expected, found) = key_error(err);
    assert_eq!(key, "head.weight");
    assert!(expected.contains("tiny"), "{expected}");
    assert!(found.contains("[2, 2]"), "{found}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn wrong_shape_is_named() {
    let path = temp_file("shape");
    write_raw(
        &path,
        &raw_tiny(|v| {
            for (k, r) in v.iter_mut() {
                if k == "conv.weight" {
                    *r = f32_raw(&Tensor::zeros(vec![2, 3, 1, 1]));
                }
            }
        }),
    );
    let (key, expected, found) = key_error(load_safetensors(&tiny(), &path).unwrap_err());
    assert_eq!(key, "conv.weight");
    assert!(expected.contains("[2, 3, 3, 3]"), "{expected}");
    assert!(found.contains("[2, 3, 1, 1]"), "{found}");
}

#[test]
fn unsupported_dtype_is_named() {
    let path = temp_file("dtype");
    write_raw(
        &path,
        &raw_tiny(|v| {
            for (k, r) in v.iter_mut() {
                if k == "fc.bias" {
                    *r = ("I32", vec![5], vec![0; 20]);
                }
            }
        }),
    );
    let (key, expected, found) = key_error(load_safetensors(&tiny(), &path).unwrap_err());
    assert_eq!(key, "fc.bias");
    assert!(expected.contains("F32"), "{expected}");
    assert!(found.contains("I32"), "{found}");
}

#[test]
fn truncated_and_malformed_files_name_the_file() {
    let g = tiny();
    let good = temp_file("good");
    save_safetensors(&seeded(&g, 1), &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated_data", bytes[..bytes.len() - 3].to_vec()),
        ("truncated_header", bytes[..20].to_vec()),
        ("too_short", vec![1, 2, 3]),
        ("empty", vec![]),
        ("not_json", {
            let mut b = 8u64.to_le_bytes().to_vec();
            b.extend_from_slice(b"not json");
            b
        }),
        ("huge_header_len", u64::MAX.to_le_bytes().to_vec()),
    ];
    for (tag, data) in cases {
        let path = temp_file(tag);
        std::fs::write(&path, data).unwrap();
        let err = load_safetensors(&g, &path).unwrap_err();
        assert!(matches!(err, Error::WeightsFile { .. }), "{tag}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{tag}: {msg}");
    }
}

#[test]
fn unreadable_file_is_an_io_error_naming_it() {
    let path = temp_file("does_not_exist_anywhere");
    let _ = std::fs::remove_file(&path);
    let err = load_safetensors(&tiny(), &path).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("does_not_exist_anywhere"), "{err}");
}

#[test]
fn save_to_a_missing_directory_fails_cleanly() {
    let path = std::env::temp_dir().join("splitbench-no-such-dir-xyz/w.safetensors");
    let w: Weights = seeded(&tiny(), 1);
    let err = save_safetensors(&w, &path).unwrap_err();
    assert!(
        err.to_string().contains("splitbench-no-such-dir-xyz"),
        "{err}"
    );
}

#[test]
fn round_trip_f16_rounds_each_value_once() {
    let g = tiny();
    let w = seeded(&g, 4);
    let path = temp_file("round_trip_f16");
    splitbench::model::save_safetensors_as(&w, &path, true).unwrap();
    let back = load_safetensors(&g, &path).unwrap();
    for (k, t) in &w {
        let b = &back[k];
        assert_eq!(b.shape, t.shape, "{k}");
        for (x, y) in t.data.iter().zip(&b.data) {
            assert_eq!(*y, half::f16::from_f32(*x).to_f32(), "{k}");
        }
    }
    // Two bytes per value fewer than f32, give or take the header's offsets.
    let f16_len = std::fs::metadata(&path).unwrap().len() as i64;
    save_safetensors(&w, &path).unwrap();
    let f32_len = std::fs::metadata(&path).unwrap().len() as i64;
    let values: usize = w.values().map(|t| t.data.len()).sum();
    assert!(
        (f32_len - f16_len - 2 * values as i64).abs() < 64,
        "{f16_len} vs {f32_len} for {values} values"
    );
}
