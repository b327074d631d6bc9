//! Training (feature `train`): a smoke run whose loss must fall, and exported weights that
//! the engine's loader reads and that give the same logits on the CPU reference and the GPU
//! engine as in candle.
#![cfg(feature = "train")]

mod common;

use splitbench::data::{Dataset, DatasetKind, Normalization};
use splitbench::model::{self, zoo, Shape, ZooOptions};
use splitbench::tensor::{Rng, Tensor};
use splitbench::train::{self, Mode, Net, TrainConfig};

/// A tiny separable dataset: class k has a bright horizontal bar at rows 2k..2k+3 plus
/// noise, so a few steps are enough to see the loss fall.
fn bars(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let shape = Shape::new(1, 28, 28);
    let mut px = Vec::with_capacity(n * 784);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let k = (i % 10) as u8;
        for y in 0..28 {
            for _ in 0..28 {
                let bar = y >= 2 * k as usize + 4 && y < 2 * k as usize + 7;
                let base = if bar { 200.0 } else { 30.0 };
                px.push((base + rng.range(0.0, 50.0)) as u8);
            }
        }
        labels.push(k);
    }
    Dataset::from_bytes(
        "bars".as_ref(),
        &px,
        labels,
        shape,
        10,
        Normalization::FASHION_MNIST,
    )
    .unwrap()
}

fn small_graph(width: usize) -> model::Graph {
    zoo::build(
        "resnet18-cifar",
        &ZooOptions {
            input: Some(DatasetKind::FashionMnist.shape()),
            classes: Some(10),
            width: Some(width),
        },
    )
    .unwrap()
}

#[test]
fn smoke_loss_falls() {
    let ds = bars(40, 1);
    let graph = small_graph(4);
    let mut net = Net::new(&graph, 7).unwrap();
    let cfg = TrainConfig {
        epochs: 10,
        batch: 20,
        lr: 0.05,
        warmup_epochs: 0.0,
        crop_pad: 0,
        flip: false,
        seed: 3,
        ..Default::default()
    };
    let mut losses = Vec::new();
    let stats = train::train(
        &mut net,
        &ds,
        &cfg,
        &mut |s| losses.push(s.loss),
        &mut |_, _| Ok(()),
    )
    .unwrap();
    assert_eq!(stats.len(), 10);
    assert_eq!(losses.len(), 20);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let first = (losses[0] + losses[1]) / 2.0;
    let last = (losses[18] + losses[19]) / 2.0;
    eprintln!("smoke losses: {losses:?}");
    assert!(
        last < 0.6 * first,
        "loss did not fall: first {first}, last {last} ({losses:?})"
    );
}

#[test]
fn max_steps_and_bad_batch() {
    let ds = bars(20, 2);
    let mut net = Net::new(&small_graph(2), 0).unwrap();
    let cfg = TrainConfig {
        epochs: 5,
        batch: 10,
        max_steps: Some(3),
        ..Default::default()
    };
    let mut n = 0;
    train::train(&mut net, &ds, &cfg, &mut |_| n += 1, &mut |_, _| Ok(())).unwrap();
    assert_eq!(n, 3);
    let bad = TrainConfig {
        batch: 21,
        ..cfg.clone()
    };
    assert!(train::train(&mut net, &ds, &bad, &mut |_| {}, &mut |_, _| Ok(())).is_err());
}

#[test]
fn lr_schedule_warms_up_then_decays_to_zero() {
    let cfg = TrainConfig {
        lr: 0.1,
        warmup_epochs: 1.0,
        ..Default::default()
    };
    // 10 steps per epoch, 100 in all.
    assert!((train::lr_at(&cfg, 0, 100, 10) - 0.01).abs() < 1e-12);
    assert!((train::lr_at(&cfg, 9, 100, 10) - 0.1).abs() < 1e-12);
    assert!((train::lr_at(&cfg, 10, 100, 10) - 0.1).abs() < 1e-12);
    assert!(train::lr_at(&cfg, 99, 100, 10) < 1e-3);
}

#[test]
fn augmentation_crops_with_black_padding_and_flips() {
    let ds = bars(1, 4);
    let mut rng = Rng::new(0);
    let same = train::augmented_batch(&ds, &[0], 0, false, &mut rng);
    assert_eq!(same, ds.image(0));
    let zero = Normalization::FASHION_MNIST.zero(0);
    let mut saw_pad = false;
    for _ in 0..20 {
        let a = train::augmented_batch(&ds, &[0], 2, true, &mut rng);
        assert_eq!(a.len(), 784);
        saw_pad |= a.contains(&zero);
        // Every value is either padding or a pixel of the image.
        assert!(a.iter().all(|v| *v == zero || ds.image(0).contains(v)));
    }
    assert!(saw_pad, "20 random crops with padding 2 never padded");
}

/// Train a few steps (so batch-norm running statistics move), export, reload through the
/// engine's loader, and compare eval-mode logits: candle vs the CPU reference on the
/// unfused graph, and vs the GPU engine on the fused model, within 1e-3.
#[test]
fn exported_weights_match_reference_and_gpu_engine() {
    let ds = bars(40, 5);
    let graph = small_graph(4);
    let mut net = Net::new(&graph, 11).unwrap();
    let cfg = TrainConfig {
        epochs: 2,
        batch: 20,
        lr: 0.05,
        crop_pad: 2,
        seed: 9,
        ..Default::default()
    };
    train::train(&mut net, &ds, &cfg, &mut |_| {}, &mut |_, _| Ok(())).unwrap();

    let dir = std::env::temp_dir().join(format!("splitbench-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("w.safetensors");
    model::save_safetensors(&net.weights().unwrap(), &path).unwrap();
    let loaded = model::load_safetensors(&graph, &path).unwrap();
    // Running statistics really moved away from their initial 0 / 1.
    let rv = &loaded["layer1.0.bn1.running_var"].data;
    assert!(rv.iter().any(|v| (v - 1.0).abs() > 1e-3), "{rv:?}");

    let n = 4;
    let images: Vec<f32> = (0..n).flat_map(|i| ds.image(i).to_vec()).collect();
    let x = net.input(&images, n).unwrap();
    let logits = net.forward(&x, n, Mode::Eval).unwrap();
    let want: Vec<f32> = train::logits_to_vec(&logits).unwrap().concat();

    let input = Tensor::new(vec![n, 1, 28, 28], images.clone()).unwrap();
    let cpu = splitbench::cpu::run(&graph, &loaded, &input).unwrap();
    let cpu_logits = &cpu.last().unwrap().data;
    common::assert_close(cpu_logits, &want, 1e-3, "CPU reference vs candle");

    // A reloaded Net gives the same logits (fine-tuning starts from exported weights).
    let mut again = Net::from_weights(&graph, &loaded).unwrap();
    let re = again.forward(&x, n, Mode::Eval).unwrap();
    common::assert_close(
        &train::logits_to_vec(&re).unwrap().concat(),
        &want,
        1e-5,
        "reloaded Net vs candle",
    );

    let Some(ctx) = common::gpu() else { return };
    let fused = model::load_fused(&graph, Some(&path), 0).unwrap();
    let exec =
        splitbench::gpu::Executor::new(&ctx, &fused, 1..fused.graph.nodes.len(), n, &[]).unwrap();
    exec.set_input(0, &images).unwrap();
    let gpu = exec.run().unwrap();
    common::assert_close(&gpu[0].data, &want, 1e-3, "GPU engine vs candle");
}

#[test]
fn fake_quantize_matches_the_codec_and_passes_gradients_straight_through() {
    use candle_core::{Device, Var};
    let x: Vec<f32> = Rng::new(4).vec(2 * 37, -1.5, 2.5);
    let v = Var::from_vec(x.clone(), (2, 37), &Device::Cpu).unwrap();
    for bits in [2u32, 4, 8] {
        let y = train::fake_quantize(v.as_tensor(), bits).unwrap();
        let got: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        // The engine's per-tensor codec: one group per sample.
        let (params, words) = splitbench::cpu::quantize_pack(&x, 37, bits);
        let want = splitbench::cpu::dequantize_unpack(&words, &params, 37, bits, x.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{bits} bits: {g} vs {w}");
        }
        let grads = (y * 3.0).unwrap().sum_all().unwrap().backward().unwrap();
        let g: Vec<f32> = grads
            .get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(
            g.iter().all(|&d| (d - 3.0).abs() < 1e-6),
            "straight-through"
        );
    }
}

#[test]
fn bottleneck_training_on_a_frozen_backbone_lowers_the_loss() {
    use splitbench::compress::Bottleneck;
    let ds = bars(40, 2);
    let graph = small_graph(4);
    // A backbone that has learnt the task a little, then frozen.
    let mut net = Net::new(&graph, 7).unwrap();
    let cfg = TrainConfig {
        epochs: 30,
        batch: 20,
        lr: 0.05,
        warmup_epochs: 0.0,
        crop_pad: 0,
        flip: false,
        seed: 3,
        ..Default::default()
    };
    train::train(&mut net, &ds, &cfg, &mut |_| {}, &mut |_, _| Ok(())).unwrap();
    // Running statistics have settled: the frozen backbone (eval mode) knows the task.
    let acc = train::accuracy(&mut net, &ds, 20, None).unwrap();
    assert!(acc > 0.5, "backbone accuracy {acc}");
    let before = net.weights().unwrap();
    let (_, split) = model::paper_split_points(&graph)[2];
    let spec = Bottleneck::new(graph.nodes[split].shape, 2).unwrap();
    let mut bn = train::BottleneckNets::new(spec, 1).unwrap();
    let cfg = TrainConfig {
        epochs: 10,
        batch: 20,
        lr: 0.01,
        warmup_epochs: 0.0,
        crop_pad: 0,
        flip: false,
        weight_decay: 0.0,
        optimizer: train::Optimizer::AdamW,
        ..Default::default()
    };
    let mut losses = Vec::new();
    let bn0 = bn.weights().unwrap();
    train::train_bottleneck(
        &mut net,
        &mut bn,
        split,
        &[8, 4, 2],
        &ds,
        &cfg,
        None,
        &mut |s| losses.push(s.loss),
        &mut |_, _| Ok(()),
    )
    .unwrap();
    let first: f32 = losses[..2].iter().sum::<f32>() / 2.0;
    let last: f32 = losses[losses.len() - 2..].iter().sum::<f32>() / 2.0;
    assert!(last < 0.7 * first, "loss {first} -> {last} ({losses:?})");
    // Only the bottleneck changed; the backbone (weights and BN statistics) is frozen.
    assert_eq!(net.weights().unwrap(), before);
    assert_ne!(bn.weights().unwrap(), bn0);
    // Keys the engine's loader expects.
    let keys: Vec<String> = bn.weights().unwrap().into_keys().collect();
    assert_eq!(
        keys,
        [
            "decoder.bias",
            "decoder.weight",
            "encoder.bias",
            "encoder.weight"
        ]
    );
    assert!(train::train_bottleneck(
        &mut net,
        &mut bn,
        split,
        &[9],
        &ds,
        &cfg,
        None,
        &mut |_| {},
        &mut |_, _| Ok(())
    )
    .is_err());
    // A saved pair loads back (training continues from it with `--init`).
    let dir = std::env::temp_dir().join(format!("splitbench-bn-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bn.safetensors");
    model::save_safetensors(&bn.weights().unwrap(), &path).unwrap();
    let mut again = train::BottleneckNets::load(spec, &path).unwrap();
    assert_eq!(again.weights().unwrap(), bn.weights().unwrap());
    // Distillation from the frozen base model: the mixed loss falls too, the backbone
    // stays frozen, and asking for it without a teacher is an error.
    let kd = TrainConfig {
        distill: Some(train::Distill::new(2.0, 0.7).unwrap()),
        ..cfg.clone()
    };
    let mut teacher = Net::from_weights(&graph, &before).unwrap();
    let mut fresh = train::BottleneckNets::new(spec, 5).unwrap();
    let mut kd_losses = Vec::new();
    train::train_bottleneck(
        &mut net,
        &mut fresh,
        split,
        &[4],
        &ds,
        &kd,
        Some(&mut teacher),
        &mut |s| kd_losses.push(s.loss),
        &mut |_, _| Ok(()),
    )
    .unwrap();
    let first: f32 = kd_losses[..2].iter().sum::<f32>() / 2.0;
    let last: f32 = kd_losses[kd_losses.len() - 2..].iter().sum::<f32>() / 2.0;
    assert!(
        last < 0.7 * first,
        "KD loss {first} -> {last} ({kd_losses:?})"
    );
    assert_eq!(net.weights().unwrap(), before);
    assert_eq!(teacher.weights().unwrap(), before);
    assert!(train::train_bottleneck(
        &mut net,
        &mut again,
        split,
        &[4],
        &ds,
        &kd,
        None,
        &mut |_| {},
        &mut |_, _| Ok(())
    )
    .is_err());
}

#[test]
fn distillation_loss_mixes_cross_entropy_and_kl_to_the_teacher() {
    use candle_core::{Device, Tensor as T};
    let logits = T::new(&[[2.0f32, 0.5, -1.0], [0.1, 0.2, 0.3]], &Device::Cpu).unwrap();
    let teacher = T::new(&[[1.0f32, 1.5, -0.5], [0.3, -0.2, 0.9]], &Device::Cpu).unwrap();
    let labels = T::new(&[0u32, 2], &Device::Cpu).unwrap();
    let scalar = |t: T| t.to_scalar::<f32>().unwrap() as f64;
    let ce = scalar(candle_nn::loss::cross_entropy(&logits, &labels).unwrap());
    // Weight 0: plain cross-entropy.
    let d0 = train::Distill::new(3.0, 0.0).unwrap();
    assert!((scalar(d0.loss(&logits, &teacher, &labels).unwrap()) - ce).abs() < 1e-6);
    // Weight 1: T^2 * KL(p_t || p_s), computed by hand; zero when the student is the teacher.
    let t = 3.0f64;
    let soft = |row: &[f64]| -> Vec<f64> {
        let m = row.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = row.iter().map(|v| ((v - m) / t).exp()).collect();
        let z: f64 = e.iter().sum();
        e.iter().map(|v| v / z).collect()
    };
    let (s_rows, t_rows) = (
        [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]],
        [[1.0, 1.5, -0.5], [0.3, -0.2, 0.9]],
    );
    let mut kl = 0.0;
    for (sr, tr) in s_rows.iter().zip(&t_rows) {
        let (ps, pt) = (soft(sr), soft(tr));
        kl += pt
            .iter()
            .zip(&ps)
            .map(|(a, b)| a * (a / b).ln())
            .sum::<f64>();
    }
    let want = t * t * kl / 2.0;
    let d1 = train::Distill::new(t, 1.0).unwrap();
    let got = scalar(d1.loss(&logits, &teacher, &labels).unwrap());
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    assert!(scalar(d1.loss(&logits, &logits, &labels).unwrap()).abs() < 1e-6);
    // A mix is the weighted sum.
    let dm = train::Distill::new(t, 0.25).unwrap();
    let mix = scalar(dm.loss(&logits, &teacher, &labels).unwrap());
    assert!((mix - (0.75 * ce + 0.25 * want)).abs() < 1e-5);
    assert!(train::Distill::new(0.0, 0.5).is_err());
    assert!(train::Distill::new(2.0, 1.5).is_err());
}

#[test]
fn compacted_unfused_model_fuses_to_the_engines_compaction() {
    use splitbench::compress::{compact, PruneConfig};
    let graph = small_graph(8);
    let m = model::Model {
        weights: model::seeded(&graph, 3),
        graph,
    };
    let cfg = PruneConfig::new(&[0.25, 0.5, 0.0, 0.5, 0.0]).unwrap();
    let small = train::compact_unfused(&m, &cfg).unwrap();
    let via_unfused = model::fuse(&small).unwrap();
    let via_fused = compact(&model::fuse(&m).unwrap(), &cfg).unwrap();
    assert_eq!(via_unfused.graph.nodes.len(), via_fused.graph.nodes.len());
    for (k, t) in &via_fused.weights {
        let u = &via_unfused.weights[k];
        assert_eq!(u.shape, t.shape, "{k}");
        let d = u
            .data
            .iter()
            .zip(&t.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-4, "{k}: {d}");
    }
    // And it trains as it is.
    Net::from_weights(&small.graph, &small.weights).unwrap();
}
