//! The `splitbench` command line: one file per subcommand, each a thin layer that parses
//! typed flags (shared groups and value parsers in [`args`]), calls the library and prints.
//! Errors, clap's included, are printed as one `error:` line.

mod accuracy;
mod args;
mod devices;
mod eval;
mod inspect;
mod kernels;
mod link;
mod offload;
mod predict;
mod profile;
mod progress;
#[cfg(feature = "train")]
mod prune_finetune;
mod serve;
mod tradeoff;
#[cfg(feature = "train")]
mod train;
#[cfg(feature = "train")]
mod train_bottleneck;
#[cfg(feature = "train")]
mod tune;
mod validate_link;
mod web;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "splitbench",
    version,
    about = "GPU benchmarking harness for device-edge co-inference (split computing)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List every GPU adapter with its backend, type, driver, timing features and limits.
    Devices,
    /// Per-node table of a model, its totals and its split points.
    Inspect(inspect::Args),
    /// Time every node of a model on the GPU; write a CSV and a JSON manifest.
    Profile(Box<profile::Args>),
    /// Run a whole model (zoo or ONNX) on the GPU for the batch in an .npy file and write
    /// its outputs as .npy (to compare with another framework).
    Predict(Box<predict::Args>),
    /// The kernel efficiency table: every conv, depthwise and FC shape of the study timed
    /// on the GPU against the best conv rate and the copy bandwidth; write a CSV and a
    /// manifest.
    Kernels(Box<kernels::Args>),
    /// Profile a model on the GPU and compare split methods (device-only, edge-only,
    /// Neurosurgeon, best split, two-step pruning, three-step) over a bandwidth sweep, the
    /// 3G/4G/Wi-Fi presets and random links; write CSVs, a manifest and charts into a folder.
    Tradeoff(Box<tradeoff::Args>),
    /// Top-1 accuracy of trained weights on a test set, through the GPU engine.
    Eval(Box<eval::Args>),
    /// The edge of real co-inference: serve a model's edge half to `offload` devices.
    Serve(Box<serve::Args>),
    /// The device of real co-inference: run a configuration's device half here, send each
    /// inference to a `serve` edge, time every phase, compare with the link models.
    Offload(Box<offload::Args>),
    /// Run a command behind a packet-level emulated link (a network namespace whose traffic
    /// to the host crosses the link models of the study, with a one-way delay).
    Link(Box<link::Args>),
    /// Check the link models against real transfers: requests of many sizes through the
    /// emulated link (fixed rates x delays, traces), measured beside the TCP-aware and the
    /// naive predictions; writes link_validation.csv/.json. Needs what `link` needs.
    ValidateLink(Box<validate_link::Args>),
    /// Serve the browser profiler (a phone's GPU through WebGPU; build it with
    /// scripts/build-web.sh) and save the profiles it sends back.
    Web(Box<web::Args>),
    /// Accuracy of every configuration of the study (paper split points x plain, pruned and
    /// bottleneck variants) through the GPU split pipeline: the table for `tradeoff`.
    Accuracy(Box<accuracy::Args>),
    /// Train a model on the CPU (candle) and write safetensors with torchvision keys.
    #[cfg(feature = "train")]
    Train(Box<train::Args>),
    /// Prune a trained model (per-stage ratios, compacted) and fine-tune it on the CPU.
    #[cfg(feature = "train")]
    PruneFinetune(Box<prune_finetune::Args>),
    /// Train a bottleneck encoder/decoder at a split point of a frozen trained model.
    #[cfg(feature = "train")]
    TrainBottleneck(Box<train_bottleneck::Args>),
}

/// Parses the command line, runs the subcommand, prints an error as one line.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{}", one_line(&e.render().to_string()));
            return ExitCode::from(e.exit_code().clamp(1, 255) as u8);
        }
    };
    match run(cli.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, outermost first; a cause that its parent's message
            // already ends with (errors that print their source) is not repeated.
            let mut msg: Vec<String> = Vec::new();
            for c in e.chain().map(|c| c.to_string()) {
                if !msg.last().is_some_and(|m| m.ends_with(&c)) {
                    msg.push(c);
                }
            }
            eprintln!("error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}

/// clap's multi-line message as one line: its lines joined, without the usage and the
/// "try --help" hint.
fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Devices => devices::run(),
        Cmd::Inspect(a) => inspect::run(&a),
        Cmd::Profile(a) => profile::run(&a),
        Cmd::Predict(a) => predict::run(&a),
        Cmd::Kernels(a) => kernels::run(&a),
        Cmd::Tradeoff(a) => tradeoff::run(&a),
        Cmd::Eval(a) => eval::run(&a),
        Cmd::Accuracy(a) => accuracy::run(&a),
        Cmd::Serve(a) => serve::run(&a),
        Cmd::Offload(a) => offload::run(&a),
        Cmd::Link(a) => link::run(&a),
        Cmd::ValidateLink(a) => validate_link::run(&a),
        Cmd::Web(a) => web::run(&a),
        #[cfg(feature = "train")]
        Cmd::Train(a) => train::run(&a),
        #[cfg(feature = "train")]
        Cmd::PruneFinetune(a) => prune_finetune::run(&a),
        #[cfg(feature = "train")]
        Cmd::TrainBottleneck(a) => train_bottleneck::run(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line() {
        let e = Cli::try_parse_from([
            "splitbench",
            "profile",
            "--model",
            "resnet18",
            "--out",
            "x",
            "--timing",
            "sundial",
        ])
        .err()
        .expect("sundial is not a timing method");
        let line = one_line(&e.render().to_string());
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.starts_with("error: invalid value 'sundial' for '--timing <TIMING>'"),
            "{line}"
        );
        assert!(
            line.contains("auto, inside-pass, pass, wall-clock"),
            "{line}"
        );
    }

    #[test]
    fn timing_accepts_the_manifest_names() {
        for name in [
            "timestamp-inside-pass",
            "timestamp-pass",
            "wall-clock",
            "inside-pass",
            "pass",
            "auto",
        ] {
            let r = Cli::try_parse_from([
                "splitbench",
                "profile",
                "--model",
                "resnet18",
                "--out",
                "x",
                "--timing",
                name,
            ]);
            assert!(r.is_ok(), "{name}: {:?}", r.err().map(|e| e.to_string()));
        }
    }
}
