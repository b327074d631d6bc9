//! `splitbench serve`: the edge of real co-inference. Prints `listening on ADDR` when
//! ready, then serves until killed, logging each connection on stderr.

use super::args::{AdapterArgs, ModelArgs, WeightsArgs};
use anyhow::{Context, Result};
use splitbench::net::{Edge, ServeEvent, ServeOptions};
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
    #[command(flatten)]
    adapter: AdapterArgs,
}

/// Loads the model, binds, serves.
pub fn run(a: &Args) -> Result<()> {
    let (p, files) = a.weights.prepare(&a.model)?;
    let ctx = a.adapter.context()?;
    let listener =
        TcpListener::bind(&a.listen).with_context(|| format!("listening on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let edge = Edge {
        ctx: &ctx,
        model: &p,
        files: &files,
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
