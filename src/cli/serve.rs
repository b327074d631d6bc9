//! `splitbench serve`: the edge of real co-inference. Prints `listening on ADDR` when
//! ready, then serves until killed, logging each connection on stderr.

use super::args::{AdapterArgs, ModelArgs, WeightsArgs};
use anyhow::{Context, Result};
use splitbench::net::{Edge, ServeEvent, ServeOptions};
use splitbench::report;
use splitbench::study::profile::{self, ProfileOptions};
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;

/// Flags of `splitbench serve`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    weights: WeightsArgs,
    /// Address to listen on, e.g. 0.0.0.0:7878 (port 0: any free port).
    #[arg(long)]
    listen: String,
    /// Largest message accepted, MiB.
    #[arg(long, default_value_t = 64, value_parser = super::args::count)]
    max_message_mib: usize,
    /// Repetitions of the edge's own per-node profile of the model, taken before serving
    /// and sent to `tradeoff --edge` (0: no profile).
    #[arg(long, default_value_t = 10)]
    profile_reps: usize,
    #[command(flatten)]
    adapter: AdapterArgs,
}

/// Loads the model, binds, serves.
pub fn run(a: &Args) -> Result<()> {
    let (p, files) = a.weights.prepare(&a.model)?;
    let ctx = a.adapter.context()?;
    let own_profile = if a.profile_reps > 0 {
        let o = ProfileOptions {
            batch: 1,
            reps: a.profile_reps,
            warmup: 2,
            timing: None,
            seed: a.weights.seed,
        };
        let prof = profile::profile(&ctx, &p, &o)?;
        eprintln!(
            "profiled {} nodes ({}): whole graph {:.3} ms",
            prof.rows.len(),
            prof.manifest.timing,
            prof.manifest.whole_graph_ms_median
        );
        Some(report::csv_string(&prof.rows)?)
    } else {
        None
    };
    let listener =
        TcpListener::bind(&a.listen).with_context(|| format!("listening on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let edge = Edge {
        ctx: &ctx,
        model: &p,
        files: &files,
        profile: own_profile.as_deref(),
    };
    let opts = ServeOptions {
        max_message: a.max_message_mib << 20,
        ..Default::default()
    };
    eprintln!(
        "serving {} {} (hash {}) on {} ({})",
        p.model.graph.name,
        p.model.graph.input_shape(),
        p.model.hash(),
        ctx.summary.name,
        ctx.summary.backend
    );
    println!("listening on {addr}");
    std::io::stdout().flush()?;
    let log = |e: ServeEvent| match e {
        ServeEvent::Accepted { peer, config } => eprintln!("{peer}: {config}"),
        ServeEvent::Closed {
            peer,
            requests,
            error: None,
        } => eprintln!("{peer}: closed after {requests} requests"),
        ServeEvent::Closed {
            peer,
            requests,
            error: Some(why),
        } => eprintln!("{peer}: closed after {requests} requests: {why}"),
    };
    edge.serve(&listener, &opts, &AtomicBool::new(false), &log)?;
    Ok(())
}
