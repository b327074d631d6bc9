//! The links of a study: the fixed-rate bandwidth sweep (chart b), the 3G / 4G / Wi-Fi
//! presets (chart c) and the extra links (given by the user, else a Rayleigh link and the
//! synthetic Markov trace; chart e).

use crate::channel::{Channel, LinkKind, Transport};
use crate::error::{Error, Result};
use crate::report::{ChannelInfo, ChannelRole};
use std::path::{Path, PathBuf};

/// Points of the fixed-rate bandwidth sweep (chart b).
pub const SWEEP_POINTS: usize = 25;
/// Lowest rate of the sweep, Mbit/s.
pub const SWEEP_MIN_MBPS: f64 = 0.1;
/// Highest rate of the sweep, Mbit/s.
pub const SWEEP_MAX_MBPS: f64 = 1000.0;
/// The presets of chart (c).
pub const PRESETS: [&str; 3] = ["3g", "4g", "wifi"];
/// The Rayleigh link used when no extra link is given.
pub const DEFAULT_RAYLEIGH: &str = "rayleigh:bw_mhz=1,snr_db=10,draws=10000,seed=1";
/// The synthetic trace (relative to the repository root) used when no extra link is given.
pub const DEFAULT_TRACE: &str = "results/traces/synthetic-markov.csv";
/// `n` fixed-rate links, log-spaced from `lo` to `hi` Mbit/s, with `rtt_ms`.
pub fn sweep_channels(n: usize, lo: f64, hi: f64, rtt_ms: f64) -> Result<Vec<Channel>> {
    if n < 2 || !(lo > 0.0 && hi > lo) {
        return Err(Error::InvalidArg(format!(
            "sweep of {n} points from {lo} to {hi} Mbit/s"
        )));
    }
    (0..n)
        .map(|i| {
            let mbps = lo * (hi / lo).powf(i as f64 / (n - 1) as f64);
            // Four significant digits keep labels short and specs round-trippable.
            let mbps: f64 = format!("{mbps:.4e}").parse().unwrap_or(mbps);
            Channel::fixed(mbps, rtt_ms)
        })
        .collect()
}

/// A link of the study and its role.
#[derive(Clone, Debug)]
pub struct StudyChannel {
    /// The link.
    pub channel: Channel,
    /// Its role.
    pub role: ChannelRole,
}

/// The default trace: relative to the working directory, else to the repository.
pub fn default_trace() -> PathBuf {
    let local = PathBuf::from(DEFAULT_TRACE);
    if local.exists() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_TRACE)
    }
}

/// The links of a study: the sweep with `rtt_ms`, the presets with `rtt_ms` if it is > 0
/// (else their own RTTs), then `extra` (empty: the default Rayleigh link and the synthetic
/// trace); every link carried by `transport` unless its spec names one.
pub fn study_channels(
    rtt_ms: f64,
    transport: Transport,
    extra: &[Channel],
) -> Result<Vec<StudyChannel>> {
    let mut out: Vec<StudyChannel> =
        sweep_channels(SWEEP_POINTS, SWEEP_MIN_MBPS, SWEEP_MAX_MBPS, rtt_ms)?
            .into_iter()
            .map(|channel| StudyChannel {
                channel,
                role: ChannelRole::Sweep,
            })
            .collect();
    for p in PRESETS {
        let spec = if rtt_ms > 0.0 {
            format!("{p}:rtt_ms={rtt_ms}")
        } else {
            p.to_string()
        };
        out.push(StudyChannel {
            channel: Channel::parse(&spec)?,
            role: ChannelRole::Preset,
        });
    }
    let defaults = || -> Result<Vec<Channel>> {
        Ok(vec![
            Channel::parse(DEFAULT_RAYLEIGH)?,
            Channel::parse(&format!("trace:path={}", default_trace().display()))?,
        ])
    };
    let extra = if extra.is_empty() {
        defaults()?
    } else {
        extra.to_vec()
    };
    out.extend(extra.into_iter().map(|channel| StudyChannel {
        channel,
        role: ChannelRole::Extra,
    }));
    for sc in &mut out {
        sc.channel = sc.channel.clone().with_default_transport(transport);
    }
    Ok(out)
}

/// The name of a link kind in CSVs and manifests.
pub(super) fn kind_name(k: LinkKind) -> &'static str {
    match k {
        LinkKind::Fixed => "fixed",
        LinkKind::Awgn => "awgn",
        LinkKind::Rayleigh => "rayleigh",
        LinkKind::Trace => "trace",
    }
}

/// A study link as recorded in the manifest.
pub fn channel_info(sc: &StudyChannel) -> ChannelInfo {
    let ch = &sc.channel;
    ChannelInfo {
        spec: ch.spec().into(),
        label: ch.label(),
        kind: kind_name(ch.kind()).into(),
        role: sc.role,
        nominal_mbps: ch.nominal_mbps(),
        rtt_ms: ch.rtt_ms(),
        transport: ch.transport().name(),
        states: ch.n_states(),
    }
}
