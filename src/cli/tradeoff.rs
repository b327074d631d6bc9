//! `splitbench tradeoff`: the trade-off study of a model on the local GPU (or from a
//! device's profile files, `--device-profile`), written into a folder (CSVs, charts,
//! manifest), with a summary on stdout.

use super::args::{
    channel, count, finite, positive, prune_ratios, AdapterArgs, ModelArgs, PruneRatios,
};
use super::progress::Bars;
use anyhow::{Context, Result};
use splitbench::channel::{Channel, Tcp, Transport, Window};
use splitbench::compress::BOTTLENECK_WEIGHTS_NOTE;
use splitbench::eval::TrainedFiles;
use splitbench::net::edge_profile;
use splitbench::plan::{EdgeSource, DEFAULT_EDGE_SPEEDUP, DOWNLINK_NOTE, STUDY_RATIOS};
use splitbench::report::{RunInfo, ACCURACY_LATENCY_CSV};
use splitbench::study::{
    self, summary_text, AccuracyTable, DeviceProfile, Progress, RealLinkOptions, TradeoffOptions,
};
use std::path::PathBuf;
use std::time::Duration;

/// A transport model (`--transport`).
fn transport(s: &str) -> Result<Transport, String> {
    let window = match s {
        "naive" => return Ok(Transport::Naive),
        "tcp" => Window::Cold,
        _ => s
            .strip_prefix("tcp-")
            .and_then(Window::parse)
            .ok_or_else(|| {
                format!("'{s}': expected naive, tcp, tcp-warm, tcp-new or tcp-<segments>")
            })?,
    };
    Ok(Transport::Tcp(Tcp {
        window,
        ..Tcp::default()
    }))
}

/// Flags of `splitbench tradeoff`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Extra link (repeatable), e.g. `rayleigh:bw_mhz=1,snr_db=10` or `trace:path=FILE`;
    /// default: a Rayleigh link and the synthetic Markov trace.
    #[arg(long = "channel", value_name = "SPEC", value_parser = channel)]
    channels: Vec<Channel>,
    /// Edge per-node times from a CSV of `splitbench profile` run on the edge machine
    /// (batch 1, same model and input).
    #[arg(long, conflicts_with = "edge_speedup")]
    edge_profile: Option<PathBuf>,
    /// Edge per-node times from a running `splitbench serve` at ADDR (host:port), which
    /// profiles the same model on its own GPU; saved as OUT/edge_profile.csv.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["edge_speedup", "edge_profile"])]
    edge: Option<String>,
    /// Also run each method's pick at the 3G / 4G / Wi-Fi presets for real: this GPU as the
    /// device, behind an emulated link of the preset's rate and RTT (`splitbench link`,
    /// needs root), against the `--edge` server (listening on all addresses); adds
    /// `measured_total_ms` to tradeoff.csv and measured marks to the breakdown chart.
    #[arg(long, requires = "edge")]
    real_link: bool,
    /// Timed requests per configuration with --real-link.
    #[arg(long, default_value_t = 10, value_parser = count)]
    real_requests: usize,
    /// Device times from files measured on the device instead of the local GPU (which is
    /// then not opened): a batch-1 CSV of `splitbench profile --kernels` of the same model
    /// (natively or in a browser), its manifest (F.json) beside it for the adapter. Pruned
    /// prefixes are FLOP-scaled from it, missing kernel keys scaled, feature bytes computed
    /// on the CPU; the manifest's `device_profile` says what was approximated. --reps and
    /// --warmup do not apply (nothing is timed here).
    #[arg(long, value_name = "F.csv", conflicts_with_all = ["real_link", "adapter", "no_autotune"])]
    device_profile: Option<PathBuf>,
    /// Bottleneck and codec times with --device-profile (default: `<F stem>_kernels.csv`
    /// beside F when it exists; without any, they are scaled from the profile's rates).
    #[arg(long, value_name = "K.csv", requires = "device_profile")]
    device_kernels: Option<PathBuf>,
    /// Edge per-node times = device times / X (default 10).
    #[arg(long, allow_negative_numbers = true, value_parser = positive)]
    edge_speedup: Option<f64>,
    /// Timed repetitions of the device profile and of each codec measurement.
    #[arg(long, default_value_t = TradeoffOptions::default().reps, value_parser = count)]
    reps: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = TradeoffOptions::default().warmup)]
    warmup: usize,
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Deadline for the miss probability of random links, ms.
    #[arg(long, allow_negative_numbers = true, value_parser = positive)]
    deadline_ms: Option<f64>,
    /// RTT of the sweep links, ms; of the 3G/4G/Wi-Fi presets too when > 0 (else their own:
    /// 100, 50, 10 ms).
    #[arg(long, default_value_t = 0.0, value_parser = finite)]
    rtt_ms: f64,
    /// Transport model of every link whose spec names none: `tcp` (slow start from the
    /// initial window, as after an idle gap), `tcp-warm` (window open), `tcp-new` (plus the
    /// handshake) or `naive` (bytes * 8 / rate).
    #[arg(long, default_value = "tcp", value_parser = transport)]
    transport: Transport,
    /// Seed of the random weights and input.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write every candidate's row for the bandwidth sweep too (large).
    #[arg(long)]
    all_points: bool,
    /// A note on the choice of input, recorded in the manifest.
    #[arg(long)]
    input_note: Option<String>,
    /// Pruning ratios of the three-step search (uniform over the on-device stages and on
    /// the last on-device stage only), comma-separated in (0, 1), or `none`.
    #[arg(long, default_value_t = PruneRatios(STUDY_RATIOS.to_vec()), value_parser = prune_ratios)]
    prune_ratios: PruneRatios,
    /// Leave the learned bottleneck out of the three-step search.
    #[arg(long)]
    no_bottleneck: bool,
    /// CSV `config,accuracy` of known accuracies (config: `<split node>/<variant>`, e.g.
    /// `layer1.1.conv2/prune-0.5_0.5_0_0_0+bn16+4bit-tensor`).
    #[arg(long)]
    accuracy_table: Option<PathBuf>,
    /// Three-step and two-step-pruning only choose configurations whose accuracy in
    /// --accuracy-table is at least this (same unit as the table).
    #[arg(long, requires = "accuracy_table", allow_negative_numbers = true, value_parser = finite)]
    min_accuracy: Option<f64>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

impl Args {
    /// The study's options; reads the accuracy table.
    fn options(&self) -> Result<TradeoffOptions> {
        let edge = match (&self.edge_profile, self.edge_speedup) {
            (Some(path), _) => EdgeSource::Profile { path: path.clone() },
            (None, Some(factor)) => EdgeSource::Speedup {
                factor,
                default: false,
            },
            (None, None) => EdgeSource::Speedup {
                factor: DEFAULT_EDGE_SPEEDUP,
                default: true,
            },
        };
        Ok(TradeoffOptions {
            channels: self.channels.clone(),
            edge,
            reps: self.reps,
            warmup: self.warmup,
            seed: self.seed,
            deadline_ms: self.deadline_ms,
            rtt_ms: self.rtt_ms,
            transport: self.transport,
            all_points: self.all_points,
            input_note: self.input_note.clone(),
            prune_ratios: self.prune_ratios.0.clone(),
            bottleneck: !self.no_bottleneck,
            accuracy: self
                .accuracy_table
                .as_deref()
                .map(AccuracyTable::read)
                .transpose()?,
            min_accuracy: self.min_accuracy,
        })
    }
}

/// Measures, plans, writes, prints the summary.
pub fn run(a: &Args) -> Result<()> {
    let mut opts = a.options()?;
    let p = a.model.prepare(None, a.seed)?;
    if let Some(addr) = &a.edge {
        let got = edge_profile(addr, &p, Duration::from_secs(60))?;
        std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        let path = a.out.join("edge_profile.csv");
        std::fs::write(&path, &got.csv).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "edge: {} at {addr}, its profile in {}",
            got.adapter,
            path.display()
        );
        opts.edge = EdgeSource::Profile { path };
    }
    // Everything the user gave is checked before the GPU work.
    opts.check(&p.model.graph)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let g = &p.model.graph;
    let (m, ctx) = match &a.device_profile {
        Some(f) => {
            let dev = DeviceProfile::new(f.clone(), a.device_kernels.clone());
            let m = study::measure_from_profile(&p, &opts, &dev, &mut Bars::default())?;
            println!(
                "{} {}: device times from {} (no local GPU)",
                g.name,
                g.input_shape(),
                m.device_source()
            );
            (m, None)
        }
        None => {
            let ctx = a.adapter.context()?;
            println!(
                "{} {} on {} ({}), {} reps after {} warm-up",
                g.name,
                g.input_shape(),
                ctx.summary.name,
                ctx.summary.backend,
                a.reps,
                a.warmup
            );
            let m = study::measure(&ctx, &p, &opts, &mut Bars::default())?;
            (m, Some(ctx))
        }
    };
    if let Some(note) = RunInfo::cpu_note(&m.run.adapter) {
        println!("note: {note}");
    }
    println!(
        "device: sum of node medians {:.3} ms, whole graph {:.3} ms ({}); edge: {} (speed-up {:.3})",
        m.sum_of_node_medians_ms,
        m.whole_graph_ms_median,
        m.device_timing.as_str(),
        m.edge.source,
        m.edge.speedup
    );
    if let Some(d) = &m.device_profile {
        println!(
            "device kernels: {} bottlenecks measured, {} scaled; {} codec keys measured, {} scaled ({}); \
             {} pruned prefixes measured, {} FLOP-scaled ({})",
            d.bottlenecks_measured,
            d.bottlenecks_scaled,
            d.codec_measured,
            d.codec_scaled,
            d.kernels.as_deref().unwrap_or("no kernel-times file"),
            d.pruned_measured,
            d.pruned_scaled,
            d.pruned.as_deref().unwrap_or("no pruned-prefix file")
        );
        for a in &d.approximations {
            println!("approximated: {a}");
        }
    }
    let mut r = study::plan(&m, &opts)?;
    if let Some(t) = &opts.accuracy {
        if r.study.accuracy_latency.is_empty() {
            println!(
                "note: no configuration of {} is a candidate of this study: no {} and no chart (f)",
                t.path.display(),
                ACCURACY_LATENCY_CSV
            );
        }
    }
    if let (true, Some(ctx)) = (a.real_link, &ctx) {
        let o = RealLinkOptions {
            edge: a.edge.clone().unwrap_or_default(),
            requests: a.real_requests,
            warmup: 2,
            timeout: Duration::from_secs(60),
            seed: a.seed,
        };
        let mut bars = Bars::default();
        bars.stage("real runs", None);
        let files = TrainedFiles::seeded(a.seed);
        let runs = study::measure_real(
            ctx,
            &p,
            &files,
            &r.channels,
            &mut r.study,
            &o,
            &mut |_, _| bars.step(),
        )?;
        bars.done();
        println!(
            "measured for real (median of {} requests):",
            a.real_requests
        );
        for run in &runs {
            println!(
                "  {:<28} {:<48} total {:>9.3} ms (network {:.3} ms)",
                run.channel, run.config, run.measured_total_ms, run.measured_network_ms
            );
        }
    }
    let spin = Bars::spinner("drawing charts");
    let w = study::write(&a.out, &m, &r, &opts)?;
    spin.finish_and_clear();
    for s in &w.skipped_charts {
        println!("chart skipped: {s}");
    }
    if let Some(why) = splitbench::compress::pruning_skipped(&p.model.graph) {
        println!("{why}");
    }
    println!(
        "{} candidates ({} pruned prefixes, {} bottlenecks, {} codec measurements, {}); {} links",
        r.space.candidates.len(),
        m.pruned.len(),
        m.bottleneck_keys.len(),
        m.codec_measured,
        m.codec_timing.map_or("none", |t| t.as_str()),
        r.channels.len()
    );
    println!("Neurosurgeon predictor, median abs. error per op type (device / edge):");
    for e in &r.predictor_error {
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}%"));
        println!(
            "  {:<10} {:>3} layers  {:>8} / {:>8}",
            e.op,
            e.layers,
            pct(e.device_mdape_pct),
            pct(e.edge_mdape_pct)
        );
    }
    print!("{}", summary_text(&r.summaries));
    println!("edge: {}; {}", m.edge.source, DOWNLINK_NOTE);
    let known = r.accuracy_known;
    match opts.min_accuracy {
        Some(min) => println!(
            "accuracy: {known} candidates known; three-step and two-step-pruning keep those >= {min}"
        ),
        None => println!(
            "accuracy: {}; three-step minimises latency only",
            if opts.accuracy.is_some() {
                format!("{known} candidates known, no --min-accuracy")
            } else {
                "not known for the compressed variants".into()
            }
        ),
    }
    if !m.bottleneck_keys.is_empty() {
        println!("{BOTTLENECK_WEIGHTS_NOTE}");
    }
    println!("wrote {} files to {}", w.files.len(), a.out.display());
    Ok(())
}
