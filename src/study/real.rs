//! `tradeoff --real-link`: each method's pick at the preset links run for real. The device
//! half runs on this machine's GPU inside an emulated link of the preset's rate (both ways)
//! and half its RTT each way ([`crate::link`]), against a running `splitbench serve`; the
//! median end-to-end latency goes into the chosen rows' `measured_total_ms`.

use super::StudyChannel;
use crate::channel::Channel;
use crate::compress::Config;
use crate::error::{Error, Result};
use crate::eval::TrainedFiles;
use crate::gpu::GpuContext;
use crate::link::{Link, LinkOptions, Queue};
use crate::model::Prepared;
use crate::net::{offload, OffloadOptions};
use crate::report::{ChannelRole, Study};
use std::net::ToSocketAddrs;
use std::time::Duration;

/// How to run the picks for real.
#[derive(Clone, Debug)]
pub struct RealLinkOptions {
    /// The edge (`splitbench serve`, listening on all addresses): host:port; only the port is
    /// used, the namespace reaches the host at its own address.
    pub edge: String,
    /// Timed requests per configuration.
    pub requests: usize,
    /// Warm-up requests before them.
    pub warmup: usize,
    /// Longest wait for any reply.
    pub timeout: Duration,
    /// Seed of the random pixels.
    pub seed: u64,
}

/// One configuration run for real at one link.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RealRun {
    /// The link's label.
    pub channel: String,
    /// The configuration.
    pub config: String,
    /// Median measured end-to-end latency, ms.
    pub measured_total_ms: f64,
    /// Median measured network time (send to reply, minus the edge's time), ms.
    pub measured_network_ms: f64,
}

/// Runs every distinct pick of `study`'s preset links through an emulated link and fills the
/// chosen rows' `measured_total_ms`; `progress(done, total)` after each configuration.
pub fn measure_real(
    ctx: &GpuContext,
    p: &Prepared,
    files: &TrainedFiles,
    channels: &[StudyChannel],
    study: &mut Study,
    o: &RealLinkOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Vec<RealRun>> {
    let port = o
        .edge
        .to_socket_addrs()
        .map_err(|e| Error::Net(format!("--edge {}: {e}", o.edge)))?
        .next()
        .ok_or_else(|| Error::Net(format!("--edge {}: no address", o.edge)))?
        .port();
    // (link, configuration) pairs to run, each once.
    let mut todo: Vec<(&Channel, Config)> = Vec::new();
    for sc in channels.iter().filter(|c| c.role == ChannelRole::Preset) {
        let label = sc.channel.label();
        for r in study
            .tradeoff
            .iter()
            .filter(|r| r.chosen && r.channel == label)
        {
            let cfg: Config = format!("{}/{}", r.split, r.variant).parse()?;
            if !todo.iter().any(|(c, k)| c.label() == label && *k == cfg) {
                todo.push((&sc.channel, cfg));
            }
        }
    }
    let link = Link::up()?;
    let mut runs = Vec::with_capacity(todo.len());
    for (i, (ch, cfg)) in todo.iter().enumerate() {
        let lo = LinkOptions {
            uplink: (*ch).clone(),
            downlink: (*ch).clone(),
            delay_ms: ch.rtt_ms() / 2.0,
            queue: Queue::Unbounded,
        };
        let oo = OffloadOptions {
            server: format!("{}:{port}", link.host()),
            config: cfg.clone(),
            requests: o.requests,
            warmup: o.warmup,
            interval_ms: 0.0,
            link: Some((*ch).clone()),
            timeout: o.timeout,
            seed: o.seed,
        };
        let (done, _, _) = link.run(&lo, |_| {
            link.inside_thread(|| offload(ctx, p, files, None, &oo, &mut |_| {}))
        })?;
        let done = done?.map_err(|e| e.context(format!("{cfg} at {}", ch.label())))?;
        let median = |f: fn(&crate::report::OffloadRow) -> f64| {
            let mut v: Vec<f64> = done.rows.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            crate::channel::quantile_sorted(&v, 0.5)
        };
        runs.push(RealRun {
            channel: ch.label(),
            config: cfg.to_string(),
            measured_total_ms: median(|r| r.total_ms),
            measured_network_ms: median(|r| r.network_ms),
        });
        progress(i + 1, todo.len());
    }
    for r in study.tradeoff.iter_mut().filter(|r| r.chosen) {
        let cfg = format!("{}/{}", r.split, r.variant);
        if let Some(run) = runs
            .iter()
            .find(|x| x.channel == r.channel && x.config == cfg)
        {
            r.measured_total_ms = Some(run.measured_total_ms);
        }
    }
    Ok(runs)
}
