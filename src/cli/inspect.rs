//! `splitbench inspect`: a model's per-node table, its totals and its split points.

use super::args::ModelArgs;
use anyhow::Result;
use splitbench::model;

/// Flags of `splitbench inspect`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
}

/// Prints the table.
pub fn run(a: &Args) -> Result<()> {
    let p = a.model.prepare(None, 0)?;
    let g = &p.model.graph;
    println!(
        "{} (inference graph: batch norm folded, activations and residual adds fused)",
        g.name
    );
    println!(
        "{:>3}  {:<28} {:<9} {:>14} {:>14} {:>10} {:>12}",
        "id", "node", "op", "out_shape", "flops", "params", "out_bytes"
    );
    for (i, n) in g.nodes.iter().enumerate() {
        println!(
            "{:>3}  {:<28} {:<9} {:>14} {:>14} {:>10} {:>12}",
            i,
            n.name,
            n.op.kind(),
            n.shape.to_string(),
            n.flops(g),
            n.param_count(),
            n.shape.bytes_f32()
        );
    }
    let source = if model::onnx::is_onnx(&a.model.model) {
        "the ONNX file's graph"
    } else {
        "torchvision graph"
    };
    println!(
        "totals: params={} flops={} ({source}, per sample; inference graph: params={} flops={})",
        p.torch.param_count(),
        p.torch.flops(),
        g.param_count(),
        g.flops()
    );
    let paper = model::paper_split_points(g);
    println!("split points (cut after node: tensors crossing, bytes per sample as f32):");
    for c in model::cuts(g) {
        let names: Vec<&str> = c
            .tensors
            .iter()
            .map(|&t| g.nodes[t].name.as_str())
            .collect();
        let tag = paper
            .iter()
            .find(|(_, id)| *id == c.after)
            .map(|(n, _)| format!("  <- paper split point '{n}'"))
            .unwrap_or_default();
        println!(
            "  after {:>3} {:<28} {} tensor(s) [{}] {} bytes{}",
            c.after,
            g.nodes[c.after].name,
            c.tensors.len(),
            names.join(", "),
            c.bytes_per_sample,
            tag
        );
    }
    Ok(())
}
