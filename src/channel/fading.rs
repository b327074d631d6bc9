//! Shannon (AWGN) capacity and Rayleigh block fading: the formulas, their closed forms, and
//! the seeded Monte Carlo draws.
//!
//! Units: bandwidth in MHz, SNR in dB (converted to linear `s = 10^(dB/10)`), rates in Mbit/s,
//! times in ms, payloads in bytes. `eff` scales the rate (a fraction of capacity a real
//! modulation and coding scheme reaches), so `W * eff` acts as an effective bandwidth.

use crate::tensor::Rng;
use std::f64::consts::LN_2;

/// Linear SNR from decibels.
pub fn snr_linear(snr_db: f64) -> f64 {
    10f64.powf(snr_db / 10.0)
}

/// Shannon rate of an AWGN link: `W * log2(1 + SNR) * eff`, in Mbit/s.
pub fn shannon_mbps(bw_mhz: f64, snr_db: f64, eff: f64) -> f64 {
    // ln_1p keeps precision at very low SNR, where log2(1 + s) ~ s / ln 2.
    bw_mhz * eff * snr_linear(snr_db).ln_1p() / LN_2
}

/// Ergodic (mean) rate under Rayleigh block fading, `E[W log2(1 + SNR g)] * eff` with
/// `g ~ Exp(1)`, in Mbit/s.
///
/// Closed form: `E[ln(1 + s g)] = e^{1/s} E1(1/s)` (integrate by parts), with `E1` the
/// exponential integral; the tests check it against direct numerical integration.
pub fn rayleigh_ergodic_mbps(bw_mhz: f64, snr_db: f64, eff: f64) -> f64 {
    let s = snr_linear(snr_db);
    bw_mhz * eff * exp_e1_scaled(1.0 / s) / LN_2
}

/// Exact probability that sending `wire_bytes` over a Rayleigh block-fading link takes longer
/// than `deadline_ms` (transmission only, no RTT):
/// `P(T > d) = 1 - exp(-(2^(bits / (W d)) - 1) / SNR)` with `W` the effective bandwidth in Hz.
pub fn rayleigh_p_miss(
    wire_bytes: f64,
    bw_mhz: f64,
    snr_db: f64,
    eff: f64,
    deadline_ms: f64,
) -> f64 {
    if wire_bytes <= 0.0 {
        return 0.0;
    }
    if deadline_ms <= 0.0 {
        return 1.0;
    }
    // T > d  <=>  log2(1 + s g) < bits / (W d)  <=>  g < (2^x - 1) / s, and P(g < y) = 1 - e^-y.
    let x = wire_bytes * 8.0 / (bw_mhz * eff * 1e6 * deadline_ms * 1e-3);
    let y = (x * LN_2).exp_m1() / snr_linear(snr_db);
    -(-y).exp_m1()
}

/// Exact `q`-quantile (`q` in (0, 1)) of the transmission time in ms of `wire_bytes` over a
/// Rayleigh block-fading link: the inverse of [`rayleigh_p_miss`],
/// `d_q = bits / (W log2(1 - SNR ln q))`.
pub fn rayleigh_quantile_ms(wire_bytes: f64, bw_mhz: f64, snr_db: f64, eff: f64, q: f64) -> f64 {
    // P(T <= d) = q  <=>  exp(-(2^x - 1)/s) = q  <=>  2^x = 1 - s ln q.
    let log2_term = (-snr_linear(snr_db) * q.ln()).ln_1p() / LN_2;
    wire_bytes * 8.0 / (bw_mhz * eff * 1e6 * log2_term) * 1e3
}

/// `n` seeded draws of the per-inference rate in Mbit/s, `W log2(1 + SNR g) eff` with
/// `g ~ Exp(1)`, in draw order (the same seed gives the same draws on every platform up to
/// the last bit of `ln`).
pub fn rayleigh_rates_mbps(bw_mhz: f64, snr_db: f64, eff: f64, n: usize, seed: u64) -> Vec<f64> {
    let s = snr_linear(snr_db);
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            // u in (0, 1) strictly (53 random bits, centred), so g = -ln u is finite and > 0:
            // no draw has rate 0 and every sampled time is finite.
            let u = ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
            let g = -u.ln();
            bw_mhz * eff * (s * g).ln_1p() / LN_2
        })
        .collect()
}

/// `e^z E1(z)` for `z > 0`, with `E1(z) = ∫_z^∞ e^-t / t dt`. Power series for `z <= 1`, the
/// continued fraction of Numerical Recipes (`expint`, n = 1) above; scaled by `e^z` so large
/// `z` (very low SNR) does not overflow.
fn exp_e1_scaled(z: f64) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    if z <= 1.0 {
        // E1(z) = -γ - ln z - Σ_{k>=1} (-z)^k / (k k!)
        let mut sum = 0.0;
        let mut term = 1.0; // (-z)^k / k!
        for k in 1..60 {
            term *= -z / k as f64;
            let add = term / k as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        z.exp() * (-EULER_GAMMA - z.ln() - sum)
    } else {
        // Modified Lentz evaluation of the continued fraction; converges in a few dozen steps.
        let tiny = 1e-300;
        let mut b = z + 1.0;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let a = -((i * i) as f64);
            b += 2.0;
            d = 1.0 / (a * d + b);
            c = b + a / c;
            let del = c * d;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e1_known_values() {
        // E1(1) = 0.219383934395520 (Abramowitz & Stegun table 5.1); E1(0.1) = 1.822923958419390;
        // E1(5) = 0.001148295591275.
        assert!((exp_e1_scaled(1.0) * (-1f64).exp() - 0.219_383_934_395_520).abs() < 1e-14);
        assert!((exp_e1_scaled(0.1) * (-0.1f64).exp() - 1.822_923_958_419_39).abs() < 1e-13);
        assert!((exp_e1_scaled(5.0) * (-5f64).exp() - 0.001_148_295_591_275).abs() < 1e-15);
        // Both branches agree at the seam.
        let a = exp_e1_scaled(1.0);
        let b = exp_e1_scaled(1.0 + 1e-12);
        assert!((a - b).abs() < 1e-10, "{a} vs {b}");
    }

    #[test]
    fn quantile_inverts_p_miss() {
        for q in [0.01, 0.5, 0.95, 0.999] {
            let d = rayleigh_quantile_ms(10_000.0, 1.0, 10.0, 0.8, q);
            let p = rayleigh_p_miss(10_000.0, 1.0, 10.0, 0.8, d);
            assert!((p - (1.0 - q)).abs() < 1e-12, "q={q} d={d} p={p}");
        }
    }
}
