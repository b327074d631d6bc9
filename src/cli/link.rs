//! `splitbench link`: run a command behind an emulated link (see [`splitbench::link`]).

use super::args::channel;
use anyhow::Result;
use splitbench::channel::Channel;
use splitbench::link::{Counts, Link, LinkOptions, Queue};

/// Flags of `splitbench link`.
#[derive(clap::Args)]
#[command(
    after_help = "The command runs in a new network namespace. It reaches the host \
    (where `serve` listens, e.g. on 0.0.0.0:PORT) at $SPLITBENCH_LINK_HOST; \
    $SPLITBENCH_LINK_UPLINK, $SPLITBENCH_LINK_DOWNLINK and $SPLITBENCH_LINK_RTT_MS describe \
    the link (offload reads them for its predictions, and takes --connect :PORT for \
    $SPLITBENCH_LINK_HOST:PORT). Needs root or CAP_NET_ADMIN, and iproute2."
)]
pub struct Args {
    /// Device-to-edge link, in the channel grammar (`4g`, `fixed:mbps=5`,
    /// `trace:path=FILE`, `rayleigh:bw_mhz=1,snr_db=10,block_ms=100`, ...).
    #[arg(long, value_parser = channel)]
    uplink: Channel,
    /// Edge-to-device link (default: the uplink's).
    #[arg(long, value_parser = channel)]
    downlink: Option<Channel>,
    /// One-way delay each direction, ms (the RTT it adds is twice this).
    #[arg(long, default_value_t = 0.0, value_parser = super::args::non_negative)]
    delay_ms: f64,
    /// Queue of each direction: `unbounded` or `packets=N` (drop-tail).
    #[arg(long, default_value = "unbounded")]
    queue: Queue,
    /// The command and its arguments.
    #[arg(last = true, required = true, num_args = 1..)]
    command: Vec<String>,
}

/// Sets the link up, runs the command behind it, reports, exits with the command's status.
pub fn run(a: &Args) -> Result<()> {
    let o = LinkOptions {
        uplink: a.uplink.clone(),
        downlink: a.downlink.clone().unwrap_or_else(|| a.uplink.clone()),
        delay_ms: a.delay_ms,
        queue: a.queue,
    };
    let link = Link::up()?;
    let (status, up, down) = link.run(&o, |_| {
        link.command(&a.command[0], &o)
            .args(&a.command[1..])
            .status()
    })?;
    drop(link);
    let status = status.map_err(|e| anyhow::anyhow!("running {}: {e}", a.command[0]))?;
    let line = |c: Counts| {
        format!(
            "{} packets in, {} out ({} bytes), {} dropped",
            c.packets_in, c.packets_out, c.bytes_out, c.dropped
        )
    };
    eprintln!("link: uplink {}; downlink {}", line(up), line(down));
    std::process::exit(status.code().unwrap_or(1))
}
