//! Link models (layer 1, uses `tensor`): how long the device needs to send a payload to
//! the edge server.
//!
//! A [`Channel`] is built from a spec string ([`Channel::parse`]) and answers, for a payload
//! size in bytes, the transmission time in ms: one value for a deterministic link, or one per
//! link state (fading draw, trace start offset) for a random one. Every model is a pure
//! function of the payload and state fixed at parse time, so results are reproducible.
//!
//! | spec | model |
//! |---|---|
//! | `fixed:mbps=5` | constant rate |
//! | `3g`, `4g`, `wifi` | constant 1.1, 5.85, 18.88 Mbit/s (the rates BottleNet used), RTT 100, 50, 10 ms unless `rtt_ms=` says otherwise |
//! | `awgn:bw_mhz=1,snr_db=10[,eff=0.8]` | Shannon rate `W log2(1 + SNR) eff` |
//! | `rayleigh:bw_mhz=1,snr_db=10[,draws=10000][,seed=1][,eff=..][,block_ms=100]` | block fading, `g ~ Exp(1)` per inference, rate `W log2(1 + SNR g) eff`; emulated, a new draw every `block_ms` |
//! | `trace:path=FILE[,offsets=1000][,scale=1.0]` | replay of a `time_s,mbps` CSV from evenly spaced start offsets |
//!
//! Every kind also takes `rtt_ms=` (default 0; the presets' own, see [`PRESET_3G_RTT_MS`]), `transport=naive|tcp` (default naive; see
//! [`transport`]) with `tcp_window=cold|warm|new|<segments>` (default cold), and the
//! protocol overhead keys `mss=` (payload bytes per packet) and `hdr=` (header bytes per
//! packet). With the naive transport, giving either enables a per-packet overhead, the other
//! defaulting to 1460 / 40; without them, wire bytes = payload. With TCP they are the
//! segment's payload and header, 1448 / 52 by default.
//! A trace path is read when the spec is parsed, relative to the working directory, and
//! cannot contain `,` (the key separator).
//!
//! ```
//! use splitbench::channel::Channel;
//! let ch = Channel::parse("4g:rtt_ms=30")?;
//! // 100,000 B = 0.8 Mbit at 5.85 Mbit/s = 136.75 ms, plus 30 ms RTT added by the caller.
//! assert!((ch.tx_ms(100_000).mean_ms() - 136.75).abs() < 0.01);
//! assert_eq!(ch.label(), "4G 5.85 Mbps, RTT 30 ms");
//!
//! let fading = Channel::parse("rayleigh:bw_mhz=1,snr_db=10,draws=1000,seed=1")?;
//! let s = fading.tx_ms(10_000).summary(Some(100.0));
//! assert!(s.p50_ms < s.p95_ms && s.p_miss.is_some());
//! # Ok::<(), splitbench::Error>(())
//! ```
//!
//! # Conventions
//! - [`Channel::tx_ms`] is the time to push the bytes through the link **without** the RTT;
//!   a cost model adds [`Channel::rtt_ms`] once per offloaded inference (and not at all when
//!   nothing is sent).
//! - **Rayleigh mean.** With `g ~ Exp(1)`, `1/rate ~ 1/g` near `g = 0`, so the exact expected
//!   transmission time is infinite. The sampled times are all finite (no draw is exactly 0)
//!   and [`Summary::mean_ms`] reports their plain average: a finite-sample statistic that
//!   grows (slowly, like `ln N`) with the number of draws. Use the quantiles or the deadline
//!   miss probability to compare fading links; [`Channel::nominal_mbps`] is the exact ergodic
//!   rate. No outage cap is applied.
//! - **Trace wrap.** A trace is cyclic: after its last row (which lasts as long as the interval
//!   before it) it starts again from its first, so every payload is delivered; see
//!   [`Trace`] for the details.
//! - Draws are fixed at parse time and the same for every payload, so comparisons between
//!   payloads (split points) are paired.

mod fading;
mod schedule;
mod spec;
mod stats;
mod trace;
pub mod transport;

pub use fading::{
    rayleigh_ergodic_mbps, rayleigh_p_miss, rayleigh_quantile_ms, rayleigh_rates_mbps,
    shannon_mbps, snr_linear,
};
pub use schedule::Opportunities;
pub use stats::{quantile_sorted, summary, Summary};
pub use trace::{markov, synthetic_markov_trace, trace_csv, Trace, TRACE_HEADER};
pub use transport::{Overhead, Tcp, Transport, Window};

use crate::Result;
use spec::{rate_ok, shannon_params, Spec};
use std::fmt;
use std::sync::Arc;

/// BottleNet's 3G uplink rate, Mbit/s.
pub const PRESET_3G_MBPS: f64 = 1.1;
/// BottleNet's 4G uplink rate, Mbit/s.
pub const PRESET_4G_MBPS: f64 = 5.85;
/// BottleNet's Wi-Fi uplink rate, Mbit/s.
pub const PRESET_WIFI_MBPS: f64 = 18.88;

/// Default round-trip times of the presets, ms, used when a preset's spec gives no
/// `rtt_ms=`: round figures of the order that measurement studies of deployed networks
/// report for a phone's path to a nearby server (3G/HSPA on the order of 100 ms, LTE some
/// tens of ms, e.g. Huang et al., "A Close Examination of Performance and Power
/// Characteristics of 4G LTE Networks", MobiSys 2012; a home Wi-Fi hop a few to ~20 ms).
/// They are representative defaults, not measurements of any one network: give `rtt_ms=` for
/// yours.
pub const PRESET_3G_RTT_MS: f64 = 100.0;
/// See [`PRESET_3G_RTT_MS`].
pub const PRESET_4G_RTT_MS: f64 = 50.0;
/// See [`PRESET_3G_RTT_MS`].
pub const PRESET_WIFI_RTT_MS: f64 = 10.0;

/// Default number of Rayleigh draws.
pub const DEFAULT_DRAWS: u64 = 10_000;
/// Default Rayleigh seed.
pub const DEFAULT_SEED: u64 = 1;
/// Default number of trace start offsets.
pub const DEFAULT_OFFSETS: u64 = 1000;
/// Upper limit on draws and offsets (memory: 8 bytes each).
pub const MAX_SAMPLES: u64 = 10_000_000;

/// Which model a [`Channel`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// Constant rate (including the 3G/4G/Wi-Fi presets).
    Fixed,
    /// Shannon capacity of an AWGN link.
    Awgn,
    /// Rayleigh block fading, Monte Carlo.
    Rayleigh,
    /// Trace replay.
    Trace,
}

/// Transmission times of one payload, ms: one sample for a deterministic link, one per link
/// state (in draw / offset order) for a random one.
#[derive(Clone, Debug, PartialEq)]
pub enum TxTimes {
    /// A deterministic link's single time.
    One(f64),
    /// One time per link state.
    Many(Vec<f64>),
}

impl TxTimes {
    /// The samples, ms.
    pub fn samples_ms(&self) -> &[f64] {
        match self {
            TxTimes::One(x) => std::slice::from_ref(x),
            TxTimes::Many(v) => v,
        }
    }

    /// Sample mean, ms (see the module docs on the Rayleigh mean).
    pub fn mean_ms(&self) -> f64 {
        let s = self.samples_ms();
        s.iter().sum::<f64>() / s.len() as f64
    }

    /// [`summary`] of the samples.
    pub fn summary(&self, deadline_ms: Option<f64>) -> Summary {
        summary(self.samples_ms(), deadline_ms)
    }
}

/// The model and its precomputed state.
#[derive(Clone, Debug)]
enum Model {
    Fixed {
        /// Preset label (`3G`, ...), if made from one.
        preset: Option<&'static str>,
        mbps: f64,
    },
    Awgn {
        bw_mhz: f64,
        snr_db: f64,
        eff: f64,
        mbps: f64,
    },
    Rayleigh {
        bw_mhz: f64,
        snr_db: f64,
        eff: f64,
        ergodic_mbps: f64,
        /// Per draw: ms per wire byte, `8e-3 / rate_mbps`.
        ms_per_byte: Vec<f64>,
        /// How long one draw lasts when the link is emulated, ms.
        block_ms: f64,
    },
    Trace {
        trace: Arc<Trace>,
        scale: f64,
        /// Per offset: (start s in [0, period), Mbit delivered before it in the period).
        starts: Vec<(f64, f64)>,
    },
}

/// A link model with its parameters, ready to answer transmission times.
#[derive(Clone, Debug)]
pub struct Channel {
    spec: String,
    model: Model,
    rtt_ms: f64,
    overhead: Option<Overhead>,
    transport: Transport,
    /// Whether the spec named the transport (a study's default does not override it).
    transport_given: bool,
    /// ms per wire byte for deterministic models (`8e-3 / mbps`); unused otherwise.
    ms_per_byte: f64,
}

/// Keys every kind accepts.
const COMMON_KEYS: [&str; 5] = ["rtt_ms", "mss", "hdr", "transport", "tcp_window"];

impl Channel {
    /// Parses a spec string (see the module docs). Errors: [`crate::Error::InvalidArg`] naming
    /// the spec and the problem for an unknown kind or key, a missing key, a bad number or a
    /// non-positive rate; for `trace:`, the errors of [`Trace::load`].
    pub fn parse(spec_text: &str) -> Result<Channel> {
        let spec = Spec::split(spec_text)?;
        let mut default_rtt = 0.0;
        let with = |extra: &[&'static str]| -> Vec<&'static str> {
            extra.iter().chain(COMMON_KEYS.iter()).copied().collect()
        };
        let model = match spec.kind.as_str() {
            "3g" | "4g" | "wifi" => {
                spec.check_keys(&COMMON_KEYS)?;
                let (preset, mbps, rtt) = match spec.kind.as_str() {
                    "3g" => ("3G", PRESET_3G_MBPS, PRESET_3G_RTT_MS),
                    "4g" => ("4G", PRESET_4G_MBPS, PRESET_4G_RTT_MS),
                    _ => ("Wi-Fi", PRESET_WIFI_MBPS, PRESET_WIFI_RTT_MS),
                };
                default_rtt = rtt;
                Model::Fixed {
                    preset: Some(preset),
                    mbps,
                }
            }
            "fixed" => {
                spec.check_keys(&with(&["mbps"]))?;
                Model::Fixed {
                    preset: None,
                    mbps: spec.positive("mbps")?,
                }
            }
            "awgn" => {
                spec.check_keys(&with(&["bw_mhz", "snr_db", "eff"]))?;
                let (bw_mhz, snr_db, eff) = shannon_params(&spec)?;
                let mbps = shannon_mbps(bw_mhz, snr_db, eff);
                rate_ok(&spec, mbps)?;
                Model::Awgn {
                    bw_mhz,
                    snr_db,
                    eff,
                    mbps,
                }
            }
            "rayleigh" => {
                spec.check_keys(&with(&[
                    "bw_mhz", "snr_db", "eff", "draws", "seed", "block_ms",
                ]))?;
                let (bw_mhz, snr_db, eff) = shannon_params(&spec)?;
                let draws = spec.u64_in("draws", DEFAULT_DRAWS, 1, MAX_SAMPLES)? as usize;
                let seed = spec.u64_in("seed", DEFAULT_SEED, 0, u64::MAX)?;
                let block_ms = spec.positive_or("block_ms", schedule::DEFAULT_BLOCK_MS)?;
                let ergodic_mbps = rayleigh_ergodic_mbps(bw_mhz, snr_db, eff);
                rate_ok(&spec, ergodic_mbps)?;
                let ms_per_byte = rayleigh_rates_mbps(bw_mhz, snr_db, eff, draws, seed)
                    .into_iter()
                    .map(|r| 8e-3 / r)
                    .collect();
                Model::Rayleigh {
                    bw_mhz,
                    snr_db,
                    eff,
                    ergodic_mbps,
                    ms_per_byte,
                    block_ms,
                }
            }
            "trace" => {
                spec.check_keys(&with(&["path", "offsets", "scale"]))?;
                let path = spec.req("path")?;
                let offsets = spec.u64_in("offsets", DEFAULT_OFFSETS, 1, MAX_SAMPLES)? as usize;
                let scale = spec.positive_or("scale", 1.0)?;
                let loaded = Trace::load(path)?;
                let trace = if scale == 1.0 {
                    loaded
                } else {
                    loaded.scaled(scale)
                };
                Channel::trace_model(Arc::new(trace), scale, offsets)
            }
            other => {
                return Err(spec.err(format!(
                    "unknown kind '{other}' (known: fixed, 3g, 4g, wifi, awgn, rayleigh, trace)"
                )))
            }
        };
        let rtt_ms = spec.non_negative_or("rtt_ms", default_rtt)?;
        let transport = match spec.get("transport") {
            None | Some("naive") => {
                if spec.get("tcp_window").is_some() {
                    return Err(spec.err("tcp_window needs transport=tcp"));
                }
                Transport::Naive
            }
            Some("tcp") => {
                let window = match spec.get("tcp_window") {
                    None => Window::Cold,
                    Some(w) => Window::parse(w).ok_or_else(|| {
                        spec.err(format!(
                            "tcp_window '{w}': expected cold, warm, new or a number of segments"
                        ))
                    })?,
                };
                Transport::Tcp(Tcp {
                    mss: spec.u64_in("mss", transport::TCP_MSS, 1, u64::MAX)?,
                    hdr: spec.u64_in("hdr", transport::TCP_HDR, 0, u64::MAX)?,
                    window,
                    ..Tcp::default()
                })
            }
            Some(t) => {
                return Err(spec.err(format!("transport '{t}': expected naive or tcp")));
            }
        };
        let naive = transport == Transport::Naive;
        let overhead = if naive && (spec.get("mss").is_some() || spec.get("hdr").is_some()) {
            Some(Overhead {
                mss_bytes: spec.u64_in("mss", 1460, 1, u64::MAX)?,
                hdr_bytes: spec.u64_in("hdr", 40, 0, u64::MAX)?,
            })
        } else {
            None
        };
        let mut ch = Channel::new(spec_text.trim().to_string(), model, rtt_ms, overhead);
        ch.transport = transport;
        ch.transport_given = spec.get("transport").is_some();
        Ok(ch)
    }

    /// A constant-rate link (e.g. for a bandwidth sweep). Errors if `mbps` is not > 0 or
    /// `rtt_ms` not >= 0.
    pub fn fixed(mbps: f64, rtt_ms: f64) -> Result<Channel> {
        Channel::parse(&format!("fixed:mbps={mbps},rtt_ms={rtt_ms}"))
    }

    fn trace_model(trace: Arc<Trace>, scale: f64, offsets: usize) -> Model {
        // Evenly spaced starts k * period / N, with C(start) precomputed so a query is one
        // binary search.
        let period = trace.period_s();
        let starts = (0..offsets)
            .map(|k| {
                let s = period * k as f64 / offsets as f64;
                (s, trace.mbit_at(s))
            })
            .collect();
        Model::Trace {
            trace,
            scale,
            starts,
        }
    }

    fn new(spec: String, model: Model, rtt_ms: f64, overhead: Option<Overhead>) -> Channel {
        let ms_per_byte = match &model {
            Model::Fixed { mbps, .. } | Model::Awgn { mbps, .. } => 8e-3 / mbps,
            _ => f64::NAN,
        };
        Channel {
            spec,
            model,
            rtt_ms,
            overhead,
            transport: Transport::Naive,
            transport_given: false,
            ms_per_byte,
        }
    }

    /// The transport that carries payloads (see [`transport`]).
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// This link carried by `transport`, whatever its spec said.
    pub fn with_transport(mut self, transport: Transport) -> Channel {
        self.transport_given = false;
        self.with_default_transport(transport)
    }

    /// This link with round-trip time `rtt_ms` (e.g. the one an emulated link adds).
    pub fn with_rtt_ms(mut self, rtt_ms: f64) -> Channel {
        self.rtt_ms = rtt_ms.max(0.0);
        self
    }

    /// This link with `transport` unless its spec named one (a study's default transport).
    pub fn with_default_transport(mut self, transport: Transport) -> Channel {
        if !self.transport_given {
            self.transport = transport;
            if let Transport::Tcp(_) = transport {
                self.overhead = None;
            }
        }
        self.transport_given = true;
        self
    }

    /// The spec this channel was parsed from (for manifests).
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Which model this is.
    pub fn kind(&self) -> LinkKind {
        match self.model {
            Model::Fixed { .. } => LinkKind::Fixed,
            Model::Awgn { .. } => LinkKind::Awgn,
            Model::Rayleigh { .. } => LinkKind::Rayleigh,
            Model::Trace { .. } => LinkKind::Trace,
        }
    }

    /// A short legend label, e.g. `4G 5.85 Mbps`, `AWGN 1 MHz 10 dB`,
    /// `trace norway-bus-1 (mean 1.35 Mbps)`; `, RTT 20 ms` is appended when the RTT is not 0.
    pub fn label(&self) -> String {
        let mut s = match &self.model {
            Model::Fixed {
                preset: Some(p),
                mbps,
            } => format!("{p} {mbps} Mbps"),
            Model::Fixed { preset: None, mbps } => format!("fixed {mbps} Mbps"),
            Model::Awgn {
                bw_mhz,
                snr_db,
                eff,
                ..
            } => format!("AWGN {bw_mhz} MHz {snr_db} dB{}", eff_suffix(*eff)),
            Model::Rayleigh {
                bw_mhz,
                snr_db,
                eff,
                ..
            } => format!("Rayleigh {bw_mhz} MHz {snr_db} dB{}", eff_suffix(*eff)),
            Model::Trace { trace, scale, .. } => {
                let scale = if *scale == 1.0 {
                    String::new()
                } else {
                    format!(" x{scale}")
                };
                format!(
                    "trace {}{scale} (mean {} Mbps)",
                    trace.name(),
                    sig3(trace.mean_mbps())
                )
            }
        };
        if self.rtt_ms != 0.0 {
            s.push_str(&format!(", RTT {} ms", self.rtt_ms));
        }
        s
    }

    /// A representative rate for a bandwidth axis, Mbit/s: the fixed rate, the Shannon rate,
    /// the exact ergodic rate under fading, or the trace's time-weighted mean (after `scale`).
    pub fn nominal_mbps(&self) -> f64 {
        match &self.model {
            Model::Fixed { mbps, .. } | Model::Awgn { mbps, .. } => *mbps,
            Model::Rayleigh { ergodic_mbps, .. } => *ergodic_mbps,
            Model::Trace { trace, .. } => trace.mean_mbps(),
        }
    }

    /// Round-trip time, ms, to add once per offloaded inference (not part of [`Self::tx_ms`]).
    pub fn rtt_ms(&self) -> f64 {
        self.rtt_ms
    }

    /// The protocol overhead, if enabled.
    pub fn overhead(&self) -> Option<Overhead> {
        self.overhead
    }

    /// True for models with more than one link state (Rayleigh, trace).
    pub fn is_random(&self) -> bool {
        matches!(self.model, Model::Rayleigh { .. } | Model::Trace { .. })
    }

    /// Number of link states: 1 for deterministic links, the draws or offsets otherwise.
    pub fn n_states(&self) -> usize {
        match &self.model {
            Model::Fixed { .. } | Model::Awgn { .. } => 1,
            Model::Rayleigh { ms_per_byte, .. } => ms_per_byte.len(),
            Model::Trace { starts, .. } => starts.len(),
        }
    }

    /// Bytes on the wire for a payload (payload plus protocol headers, if enabled).
    #[inline]
    pub fn wire_bytes(&self, payload_bytes: u64) -> u64 {
        match (self.transport, self.overhead) {
            (Transport::Tcp(t), _) => payload_bytes + t.segments(payload_bytes) * t.hdr,
            (_, Some(o)) => o.wire_bytes(payload_bytes),
            (_, None) => payload_bytes,
        }
    }

    /// Transmission time, ms (no RTT), of `payload_bytes` in link state `state` (taken modulo
    /// [`Self::n_states`]). Allocation-free; for a deterministic link a multiply.
    #[inline]
    pub fn tx_ms_in_state(&self, payload_bytes: u64, state: usize) -> f64 {
        if let Transport::Tcp(tcp) = self.transport {
            return tcp.transfer_ms(payload_bytes, self.rtt_ms, |t, b| {
                t + self.naive_ms_at(b as f64, state, t)
            });
        }
        self.naive_ms_at(self.wire_bytes(payload_bytes) as f64, state, 0.0)
    }

    /// Time to push `wire` bytes through the link in `state`, starting `after_ms` into the
    /// transmission (only a trace's rate depends on when).
    #[inline]
    fn naive_ms_at(&self, wire: f64, state: usize, after_ms: f64) -> f64 {
        match &self.model {
            Model::Fixed { .. } | Model::Awgn { .. } => wire * self.ms_per_byte,
            Model::Rayleigh { ms_per_byte, .. } => wire * ms_per_byte[state % ms_per_byte.len()],
            Model::Trace { trace, starts, .. } => {
                let (s, c) = starts[state % starts.len()];
                if after_ms == 0.0 {
                    trace.tx_s_from(s, c, wire * 8e-6) * 1e3
                } else {
                    trace.tx_s(s + after_ms * 1e-3, wire * 8e-6) * 1e3
                }
            }
        }
    }

    /// Transmission times, ms (no RTT), of `payload_bytes`: one per link state, the same
    /// states for every payload.
    pub fn tx_ms(&self, payload_bytes: u64) -> TxTimes {
        if self.is_random() {
            let mut v = Vec::with_capacity(self.n_states());
            self.tx_ms_into(payload_bytes, &mut v);
            TxTimes::Many(v)
        } else {
            TxTimes::One(self.tx_ms_in_state(payload_bytes, 0))
        }
    }

    /// Like [`Self::tx_ms`] but writes into `out` (cleared first), reusing its allocation.
    pub fn tx_ms_into(&self, payload_bytes: u64, out: &mut Vec<f64>) {
        out.clear();
        out.extend((0..self.n_states()).map(|i| self.tx_ms_in_state(payload_bytes, i)));
    }

    /// The exact (not sampled) probability that transmitting `payload_bytes` takes longer than
    /// `deadline_ms`, where a closed form exists (the naive transport): 0 or 1 for
    /// deterministic links, the Rayleigh formula of [`rayleigh_p_miss`]; `None` for traces and
    /// TCP (use the samples).
    pub fn exact_p_miss(&self, payload_bytes: u64, deadline_ms: f64) -> Option<f64> {
        if self.transport != Transport::Naive {
            return None;
        }
        let wire = self.wire_bytes(payload_bytes) as f64;
        match &self.model {
            Model::Fixed { .. } | Model::Awgn { .. } => {
                Some(if wire * self.ms_per_byte > deadline_ms {
                    1.0
                } else {
                    0.0
                })
            }
            Model::Rayleigh {
                bw_mhz,
                snr_db,
                eff,
                ..
            } => Some(rayleigh_p_miss(wire, *bw_mhz, *snr_db, *eff, deadline_ms)),
            Model::Trace { .. } => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

fn eff_suffix(eff: f64) -> String {
    if eff == 1.0 {
        String::new()
    } else {
        format!(" eff {eff}")
    }
}

/// Three significant digits, trailing zeros trimmed (1.35, 0.19, 18.9, 120).
fn sig3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig3_formats() {
        assert_eq!(sig3(1.3457), "1.35");
        assert_eq!(sig3(0.19), "0.19");
        assert_eq!(sig3(18.88), "18.9");
        assert_eq!(sig3(120.4), "120");
        assert_eq!(sig3(2.0), "2");
    }
}
