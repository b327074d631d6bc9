//! Delivery opportunities: when a link, replayed in real time, can send its next packet.
//!
//! This is the link description a packet-level emulator needs (Mahimahi's semantics): the
//! link delivers `bytes` (one MTU) at each opportunity, and opportunity `k` (k = 1, 2, ...)
//! comes when the link's cumulative capacity since the start reaches `k * bytes * 8` bits.
//! Every model is a piecewise-constant rate that loops: a fixed or Shannon rate is one
//! segment; a trace is its rows (looping at its period, as in the study); Rayleigh fading
//! draws a new rate every `block_ms` from the same seeded draws as the study, looping after
//! the last draw. Times are continuous (not rounded to Mahimahi's whole milliseconds).

use super::{Channel, Model, Trace, Transport};
use std::sync::Arc;

/// The opportunity times of one link, in seconds since it started. A cursor: opportunities
/// are consumed in order and never revisited.
#[derive(Clone, Debug)]
pub struct Opportunities {
    rate: Arc<Trace>,
    /// Capacity of one opportunity, Mbit.
    mbit: f64,
    /// Index of the next unused opportunity (the first is 1).
    k: u64,
    /// Its time.
    at: f64,
}

impl Opportunities {
    /// Opportunities of `bytes` each on a looping piecewise-constant rate.
    fn new(rate: Arc<Trace>, bytes: u64) -> Opportunities {
        let mut o = Opportunities {
            rate,
            mbit: bytes as f64 * 8e-6,
            k: 1,
            at: 0.0,
        };
        o.at = o.time_of(1);
        o
    }

    /// Bytes one opportunity carries.
    pub fn bytes(&self) -> u64 {
        (self.mbit / 8e-6).round() as u64
    }

    /// The first time the cumulative capacity reaches `k` opportunities.
    fn time_of(&self, k: u64) -> f64 {
        self.rate.tx_s(0.0, k as f64 * self.mbit)
    }

    /// Capacity delivered from 0 to `t_s`, Mbit (whole periods included).
    fn mbit_by(&self, t_s: f64) -> f64 {
        let period = self.rate.period_s();
        let wraps = (t_s / period).floor();
        let total = self.rate.total_mbit();
        wraps * total + self.rate.mbit_at(t_s - wraps * period)
    }

    /// The next unused opportunity's time.
    pub fn peek(&self) -> f64 {
        self.at
    }

    /// Uses the next opportunity; returns its time.
    pub fn take(&mut self) -> f64 {
        let t = self.at;
        self.k += 1;
        self.at = self.time_of(self.k);
        t
    }

    /// Drops the opportunities before `t_s` unused (an idle link banks nothing), so that
    /// [`Self::peek`] is the first at or after `t_s`.
    pub fn skip_to(&mut self, t_s: f64) {
        if self.at >= t_s - EPS_S {
            return;
        }
        // The first k whose time is >= t_s: capacity by then is at least k opportunities.
        let k = (self.mbit_by(t_s) / self.mbit).ceil().max(1.0) as u64;
        self.k = k.max(self.k + 1);
        self.at = self.time_of(self.k);
        // Rounding can leave the estimate one short or long: settle it (to a nanosecond, so
        // an opportunity at exactly `t_s` is not lost to the last bit of a float).
        while self.at < t_s - EPS_S {
            self.k += 1;
            self.at = self.time_of(self.k);
        }
        while self.k > 1 && self.time_of(self.k - 1) >= t_s - EPS_S {
            self.k -= 1;
            self.at = self.time_of(self.k);
        }
    }
}

/// Times closer than this are equal, s.
const EPS_S: f64 = 1e-9;

/// Default Rayleigh block for emulation (coherence time), ms.
pub const DEFAULT_BLOCK_MS: f64 = 100.0;

impl Channel {
    /// The link's rate as a looping piecewise-constant function (a trace of one period).
    fn rate_trace(&self) -> Arc<Trace> {
        match &self.model {
            Model::Fixed { mbps, .. } | Model::Awgn { mbps, .. } => Arc::new(Trace::build(
                self.spec.clone(),
                vec![0.0, 1.0],
                vec![*mbps; 2],
            )),
            Model::Rayleigh {
                ms_per_byte,
                block_ms,
                ..
            } => {
                let n = ms_per_byte.len().max(2);
                let times = (0..n).map(|i| i as f64 * block_ms * 1e-3).collect();
                let rates = (0..n)
                    .map(|i| 8e-3 / ms_per_byte[i % ms_per_byte.len()])
                    .collect();
                Arc::new(Trace::build(self.spec.clone(), times, rates))
            }
            Model::Trace { trace, .. } => trace.clone(),
        }
    }

    /// The link's delivery opportunities of `bytes` each, for an emulator.
    pub fn opportunities(&self, bytes: u64) -> Opportunities {
        Opportunities::new(self.rate_trace(), bytes)
    }

    /// Transmission time, ms (no RTT), of `payload_bytes` that reach the link `start_s`
    /// seconds into its replay as the emulator plays it (a trace's phase, a Rayleigh block):
    /// the prediction for one real transfer. With this channel's transport.
    pub fn tx_ms_from(&self, payload_bytes: u64, start_s: f64) -> f64 {
        let rate = self.rate_trace();
        let at = |after_ms: f64, wire: f64| rate.tx_s(start_s + after_ms * 1e-3, wire * 8e-6) * 1e3;
        match self.transport {
            Transport::Tcp(tcp) => {
                tcp.transfer_ms(payload_bytes, self.rtt_ms, |t, b| t + at(t, b as f64))
            }
            Transport::Naive => at(0.0, self.wire_bytes(payload_bytes) as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_mbps_is_one_mtu_per_millisecond() {
        let mut o = Channel::parse("fixed:mbps=12").unwrap().opportunities(1500);
        for k in 1..=5 {
            assert!((o.take() - k as f64 * 1e-3).abs() < 1e-12);
        }
        o.skip_to(0.0105);
        assert!((o.peek() - 0.011).abs() < 1e-12);
        // An opportunity exactly at the skip time is still usable.
        o.skip_to(0.011);
        assert!((o.peek() - 0.011).abs() < 1e-12);
        // A long idle (many periods of the one-segment rate) lands on the right one.
        o.skip_to(3600.0000004);
        assert!((o.peek() - 3600.001).abs() < 1e-9, "{}", o.peek());
    }

    /// A trace link: `a` Mbit/s for 1 s, then `b` for 1 s, looping.
    fn two_steps(a: f64, b: f64) -> Channel {
        let text = format!("time_s,mbps\n0,{a}\n1,{b}\n");
        let t = Trace::from_csv_str("t.csv", &text).unwrap();
        Channel {
            model: Model::Trace {
                trace: Arc::new(t),
                scale: 1.0,
                starts: vec![],
            },
            ..Channel::parse("fixed:mbps=1").unwrap()
        }
    }

    #[test]
    fn a_trace_replays_its_rates_and_loops() {
        // 12 Mbit/s for 1 s, then 1.2 Mbit/s for 1 s (period 2 s).
        let ch = two_steps(12.0, 1.2);
        let mut o = ch.opportunities(1500);
        o.skip_to(0.9995);
        assert!((o.take() - 1.0).abs() < 1e-9);
        // Now one per 10 ms.
        assert!((o.take() - 1.01).abs() < 1e-9);
        o.skip_to(2.0);
        assert!((o.peek() - 2.0).abs() < 1e-9, "{}", o.peek());
        o.take();
        assert!((o.peek() - 2.001).abs() < 1e-9);
    }

    #[test]
    fn a_transfer_meets_the_rate_at_its_start() {
        let ch = two_steps(8.0, 0.8);
        // 10 kB = 0.08 Mbit: 10 ms at 8 Mbit/s, 100 ms at 0.8; across the change, both.
        assert!((ch.tx_ms_from(10_000, 0.5) - 10.0).abs() < 1e-9);
        assert!((ch.tx_ms_from(10_000, 1.5) - 100.0).abs() < 1e-9);
        assert!((ch.tx_ms_from(10_000, 0.995) - (5.0 + 50.0)).abs() < 1e-9);
        // Looping: 2.5 s is 0.5 s into the second period.
        assert!((ch.tx_ms_from(10_000, 2.5) - 10.0).abs() < 1e-9);
        // A fixed link is the same whenever; TCP adds its rounds like in tx_ms.
        let f = Channel::parse("4g:rtt_ms=40,transport=tcp").unwrap();
        assert!((f.tx_ms_from(100_000, 7.3) - f.tx_ms_in_state(100_000, 0)).abs() < 1e-9);
    }

    #[test]
    fn rayleigh_changes_rate_per_block() {
        let ch = Channel::parse("rayleigh:bw_mhz=10,snr_db=10,draws=4,seed=3,block_ms=50").unwrap();
        let rates = super::super::rayleigh_rates_mbps(10.0, 10.0, 1.0, 4, 3);
        let mut o = ch.opportunities(1500);
        for (b, r) in rates.iter().enumerate() {
            // Two opportunities well inside block b are one packet time at its rate apart.
            o.skip_to(b as f64 * 0.05 + 0.01);
            let gap = -o.take() + o.peek();
            if o.peek() < (b + 1) as f64 * 0.05 {
                assert!(
                    (gap - 0.012 / r).abs() < 1e-9,
                    "block {b}: {gap} s at {r} Mbit/s"
                );
            }
        }
    }
}
