//! `splitbench validate-link`: the link models against real transfers through the
//! emulator; writes `link_validation.csv`, `.json` and the chart into a folder.

use super::progress::Bars;
use anyhow::{Context, Result};
use splitbench::link::Queue;
use splitbench::report;
use splitbench::study::{check_links, LinkCheckOptions, Progress};
use std::path::PathBuf;

/// Flags of `splitbench validate-link`.
#[derive(clap::Args)]
pub struct Args {
    /// Request payloads, bytes (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = LinkCheckOptions::default().payloads)]
    payloads: Vec<u64>,
    /// Fixed link rates, Mbit/s (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = LinkCheckOptions::default().rates_mbps)]
    rates: Vec<f64>,
    /// One-way delays, ms (comma-separated), crossed with every rate.
    #[arg(long, value_delimiter = ',', default_values_t = LinkCheckOptions::default().delays_ms)]
    delays_ms: Vec<f64>,
    /// A bandwidth trace (`time_s,mbps` CSV) to replay as well (repeatable).
    #[arg(long)]
    trace: Vec<PathBuf>,
    /// One-way delay of the trace cells, ms.
    #[arg(long, default_value_t = LinkCheckOptions::default().trace_delay_ms)]
    trace_delay_ms: f64,
    /// Cold requests per payload, each on a new connection.
    #[arg(long, default_value_t = LinkCheckOptions::default().cold)]
    cold: usize,
    /// Warm requests per payload, back to back on the last connection.
    #[arg(long, default_value_t = LinkCheckOptions::default().warm)]
    warm: usize,
    /// Queue of each direction: `unbounded` or `packets=N`.
    #[arg(long, default_value = "unbounded")]
    queue: Queue,
    /// Output folder (e.g. results/llvmpipe).
    #[arg(long)]
    out: PathBuf,
}

/// Sweeps, writes, prints the error table.
pub fn run(a: &Args) -> Result<()> {
    let o = LinkCheckOptions {
        payloads: a.payloads.clone(),
        rates_mbps: a.rates.clone(),
        delays_ms: a.delays_ms.clone(),
        traces: a.trace.clone(),
        trace_delay_ms: a.trace_delay_ms,
        cold: a.cold,
        warm: a.warm,
        queue: a.queue,
        ..Default::default()
    };
    let mut bars = Bars::default();
    bars.stage("transfers", None);
    let check = check_links(&o, &mut |_, _| bars.step())?;
    bars.done();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let csv = a.out.join("link_validation.csv");
    report::write_csv(&csv, &check.rows)?;
    let json = a.out.join("link_validation.json");
    std::fs::write(&json, serde_json::to_string_pretty(&check)?)
        .with_context(|| format!("writing {}", json.display()))?;
    println!(
        "{} transfers; kernel TCP: congestion control {}, slow start after idle {}",
        check.rows.len(),
        check.tcp.congestion_control.as_deref().unwrap_or("?"),
        check
            .tcp
            .slow_start_after_idle
            .map_or("?".into(), |v| v.to_string())
    );
    println!("|error| %      n   TCP median  TCP p95  naive median  naive p95");
    for e in &check.errors {
        println!(
            "{:<12} {:>4} {:>11.1} {:>8.1} {:>13.1} {:>10.1}",
            e.group, e.n, e.tcp_median_pct, e.tcp_p95_pct, e.naive_median_pct, e.naive_p95_pct
        );
    }
    let charts = report::draw_link_validation(&a.out, &check.rows)?;
    println!("wrote {}, {}", csv.display(), json.display());
    for c in charts {
        println!("wrote {}", c.display());
    }
    Ok(())
}
