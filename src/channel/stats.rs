//! Summary statistics of a set of transmission-time samples.

use serde::Serialize;

/// Mean, quantiles and deadline-miss probability of a set of time samples (milliseconds).
///
/// Quantiles interpolate linearly between order statistics (the "type 7" rule of R and
/// NumPy's default), so a single sample gives that sample for every quantile.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Sample mean. For Rayleigh fading this is a finite-sample statistic: the exact
    /// expectation of the time is infinite (see the module docs), so prefer the quantiles.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Fraction of samples strictly greater than the deadline; `None` without a deadline.
    pub p_miss: Option<f64>,
}

/// Summarises `samples_ms`. An empty slice gives `n = 0` and NaN statistics; NaN samples are
/// not expected (no link model produces them) and would sort last.
pub fn summary(samples_ms: &[f64], deadline_ms: Option<f64>) -> Summary {
    let n = samples_ms.len();
    if n == 0 {
        return Summary {
            n,
            mean_ms: f64::NAN,
            p50_ms: f64::NAN,
            p95_ms: f64::NAN,
            p99_ms: f64::NAN,
            p_miss: deadline_ms.map(|_| f64::NAN),
        };
    }
    let mut sorted = samples_ms.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mean_ms = sorted.iter().sum::<f64>() / n as f64;
    let p_miss = deadline_ms.map(|d| {
        // Samples above the deadline are the tail after the last one <= d.
        let within = sorted.partition_point(|&x| x <= d);
        (n - within) as f64 / n as f64
    });
    Summary {
        n,
        mean_ms,
        p50_ms: quantile_sorted(&sorted, 0.50),
        p95_ms: quantile_sorted(&sorted, 0.95),
        p99_ms: quantile_sorted(&sorted, 0.99),
        p_miss,
    }
}

/// The `q`-quantile (`q` in [0, 1]) of an ascending, non-empty slice, interpolating linearly.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    if lo + 1 >= sorted.len() {
        return last;
    }
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    // Equal neighbours (possibly both infinite) need no interpolation, and inf - inf is NaN.
    if a == b {
        a
    } else {
        a + (h - lo as f64) * (b - a)
    }
}
