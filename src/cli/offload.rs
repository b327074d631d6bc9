//! `splitbench offload`: the device of real co-inference. Runs a configuration's device
//! half here, sends every inference to a `serve` edge, writes one CSV row per request and a
//! manifest, and prints each phase's median and p95 and the link models' errors.

use super::args::{channel, count, AdapterArgs, ModelArgs, WeightsArgs};
use super::progress::Bars;
use anyhow::{Context, Result};
use splitbench::channel::Channel;
use splitbench::compress::Config;
use splitbench::data::{self, DatasetKind, Split};
use splitbench::link::{HOST_ENV, RTT_ENV, UPLINK_ENV};
use splitbench::net::{offload, summarize, OffloadOptions};
use splitbench::report;
use splitbench::study::Progress;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `splitbench offload`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    weights: WeightsArgs,
    /// The edge's address, host:port; `:port` for $SPLITBENCH_LINK_HOST:port (the host as
    /// seen from inside `splitbench link`). Not needed for device-only configurations.
    #[arg(long, default_value = "")]
    connect: String,
    /// The configuration, in the study's grammar (e.g. `layer1.1.conv2/4bit-tensor`,
    /// `input/uint8-input`, `fc/none`).
    #[arg(long, value_parser = config)]
    config: Config,
    /// Timed requests.
    #[arg(long, default_value_t = 20, value_parser = count)]
    requests: usize,
    /// Untimed warm-up requests before them.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Idle gap before every request, ms.
    #[arg(long, default_value_t = 0.0, value_parser = super::args::non_negative)]
    interval_ms: f64,
    /// Send a dataset's test images (and score the replies) instead of random pixels.
    #[arg(long, value_enum)]
    input_data: Option<DatasetKind>,
    /// Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist).
    #[arg(long, requires = "input_data")]
    data: Option<PathBuf>,
    /// The uplink the predictions assume, in the channel grammar (`4g:rtt_ms=40`); inside
    /// `splitbench link` its uplink and RTT by default.
    #[arg(long, value_parser = channel)]
    link: Option<Channel>,
    /// Longest wait for connecting and for each reply, s.
    #[arg(long, default_value_t = 30.0, value_parser = super::args::positive)]
    timeout_s: f64,
    /// Output CSV; the manifest goes to the same path with .json.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    adapter: AdapterArgs,
}

/// A configuration in the study's grammar (`--config`).
fn config(s: &str) -> Result<Config, String> {
    s.parse().map_err(|e: splitbench::Error| e.to_string())
}

/// The link of `--link`, else the one `splitbench link` describes in the environment.
fn link(a: &Args) -> Result<Option<Channel>> {
    if let Some(l) = &a.link {
        return Ok(Some(l.clone()));
    }
    let Ok(spec) = std::env::var(UPLINK_ENV) else {
        return Ok(None);
    };
    let rtt: f64 = std::env::var(RTT_ENV)
        .unwrap_or_else(|_| "0".into())
        .parse()
        .with_context(|| format!("${RTT_ENV}"))?;
    let ch = Channel::parse(&spec).with_context(|| format!("${UPLINK_ENV}"))?;
    Ok(Some(ch.with_rtt_ms(rtt)))
}

/// The edge's address: `--connect` as given, or `:port` completed with the host that
/// `splitbench link` exports.
fn server(connect: &str) -> Result<String> {
    match connect.strip_prefix(':') {
        Some(port) => match std::env::var(HOST_ENV) {
            Ok(host) => Ok(format!("{host}:{port}")),
            Err(_) => anyhow::bail!(
                "--connect {connect}: no ${HOST_ENV} (it is set inside `splitbench link`)"
            ),
        },
        None => Ok(connect.to_string()),
    }
}

/// Connects, offloads, writes, prints.
pub fn run(a: &Args) -> Result<()> {
    let (p, files) = a.weights.prepare(&a.model)?;
    a.config.resolve(&p.model.graph)?;
    let link = link(a)?;
    let data = a
        .input_data
        .map(|k| data::load(k, Split::Test, a.data.as_deref()))
        .transpose()?;
    let server = server(&a.connect)?;
    let ctx = a.adapter.context()?;
    let o = OffloadOptions {
        server: server.clone(),
        config: a.config.clone(),
        requests: a.requests,
        warmup: a.warmup,
        interval_ms: a.interval_ms,
        link,
        timeout: Duration::from_secs_f64(a.timeout_s),
        seed: a.weights.seed,
    };
    let mut bars = Bars::default();
    bars.stage("requests", Some(a.requests));
    let r = offload(&ctx, &p, &files, data.as_ref(), &o, &mut |_| bars.step())?;
    bars.done();
    report::write_csv(&a.out, &r.rows)?;
    let json = a.out.with_extension("json");
    std::fs::write(&json, serde_json::to_string_pretty(&r.manifest)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let s = summarize(&r.rows);
    println!(
        "{} requests of {} to {} ({}), median / p95 ms:",
        r.rows.len(),
        a.config,
        if server.is_empty() { "-" } else { &server },
        r.manifest.server_adapter
    );
    for ph in &s.phases {
        println!(
            "  {:<8} {:>10.3} {:>10.3}",
            ph.phase, ph.median_ms, ph.p95_ms
        );
    }
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}%"));
    if o.link.is_some() {
        println!(
            "prediction error, median abs., of the network time: TCP-aware model {}, naive {}; \
             of the total: {}, {}",
            pct(s.tcp_network_mdape_pct),
            pct(s.naive_network_mdape_pct),
            pct(s.tcp_model_mdape_pct),
            pct(s.naive_model_mdape_pct)
        );
    }
    if let Some((hits, n)) = s.top1 {
        println!("top-1 {:.2}% ({hits}/{n})", 100.0 * hits as f64 / n as f64);
    }
    println!("wrote {} and {}", a.out.display(), json.display());
    Ok(())
}
