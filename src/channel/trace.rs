//! Throughput traces: parsing `time_s,mbps` CSV files, exact piecewise integration of the
//! rate, and the synthetic Markov trace shipped in `results/traces/`.
//!
//! # Semantics
//! - Row `i` says the rate is `mbps[i]` from `time_s[i]` until `time_s[i+1]`.
//! - Times are shifted so the first row starts at 0 (a trace need not start at 0).
//! - The last row has no successor, so it lasts as long as the interval before it; the trace
//!   period is therefore `t_last - t_first + (t_last - t_prev)`. A trace sampled every second
//!   for 600 rows has a period of exactly 600 s.
//! - After the period the trace **wraps around** (it is cyclic), so any payload is eventually
//!   delivered. A trace whose rate is 0 everywhere would never deliver anything and is
//!   rejected when it is read; stretches of 0 elsewhere are fine (an outage: the time spent
//!   in it counts).

use crate::tensor::Rng;
use crate::{Error, Result};
use std::path::Path;

/// A parsed throughput trace, ready for O(log n) transmission-time queries.
#[derive(Clone, Debug)]
pub struct Trace {
    name: String,
    /// Start of each row in s, shifted so `times_s[0] == 0`.
    times_s: Vec<f64>,
    /// Rate of each row in Mbit/s (>= 0).
    mbps: Vec<f64>,
    /// `cum_mbit[i]`: Mbit delivered from 0 to `times_s[i]`; `cum_mbit[n]` is one period's total.
    cum_mbit: Vec<f64>,
    period_s: f64,
}

/// The header every trace file must have.
pub const TRACE_HEADER: &str = "time_s,mbps";

impl Trace {
    /// Reads a trace file. Errors: [`Error::Io`] if it cannot be read, [`Error::BadFile`]
    /// (naming the line) if it is malformed.
    pub fn load(path: impl AsRef<Path>) -> Result<Trace> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::BadFile {
            file: path.to_path_buf(),
            msg: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })?;
        Trace::from_csv_str(path, &text)
    }

    /// Parses trace CSV text; `file` names the source in errors and gives the trace its name
    /// (the file stem, `_` shown as `-`). Blank lines are skipped; line numbers in errors are
    /// 1-based lines of the text.
    pub fn from_csv_str(file: impl AsRef<Path>, text: &str) -> Result<Trace> {
        let file = file.as_ref();
        let bad = |msg: String| Error::BadFile {
            file: file.to_path_buf(),
            msg,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty());
        let Some((hline, header)) = lines.next() else {
            return Err(bad(
                "empty file (expected a header 'time_s,mbps' and rows)".into()
            ));
        };
        // Strip a UTF-8 byte-order mark some spreadsheet exports add.
        let header = header.trim_start_matches('\u{feff}');
        let cols: Vec<&str> = header.split(',').map(str::trim).collect();
        if cols != ["time_s", "mbps"] {
            return Err(bad(format!(
                "line {hline}: header must be '{TRACE_HEADER}', found '{header}'"
            )));
        }
        let mut times = Vec::new();
        let mut rates = Vec::new();
        for (ln, line) in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 2 {
                return Err(bad(format!(
                    "line {ln}: expected 2 fields (time_s,mbps), found {}: '{line}'",
                    fields.len()
                )));
            }
            let num = |name: &str, v: &str| -> Result<f64> {
                match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    _ => Err(bad(format!(
                        "line {ln}: {name} '{v}' is not a finite number"
                    ))),
                }
            };
            let t = num("time_s", fields[0])?;
            let r = num("mbps", fields[1])?;
            if r < 0.0 {
                return Err(bad(format!("line {ln}: mbps {r} is negative")));
            }
            if let Some(&prev) = times.last() {
                if t <= prev {
                    return Err(bad(format!(
                        "line {ln}: time_s {t} is not after the previous row's {prev} \
                         (times must strictly increase)"
                    )));
                }
            }
            times.push(t);
            rates.push(r);
        }
        if times.len() < 2 {
            return Err(bad(format!(
                "{} data row(s): a trace needs at least 2 (the last row's duration is the \
                 interval before it)",
                times.len()
            )));
        }
        if rates.iter().all(|&r| r == 0.0) {
            return Err(bad(
                "every rate is 0: no data could ever be delivered over this trace".into(),
            ));
        }
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().replace('_', "-"))
            .unwrap_or_else(|| "trace".into());
        Ok(Trace::build(name, times, rates))
    }

    /// Builds from validated rows (times strictly increasing, >= 2 rows, some rate > 0).
    pub(crate) fn build(name: String, times: Vec<f64>, mbps: Vec<f64>) -> Trace {
        let n = times.len();
        let t0 = times[0];
        let last_dt = times[n - 1] - times[n - 2];
        let times_s: Vec<f64> = times.iter().map(|t| t - t0).collect();
        let period_s = times_s[n - 1] + last_dt;
        let mut cum_mbit = Vec::with_capacity(n + 1);
        cum_mbit.push(0.0);
        for i in 0..n {
            let end = if i + 1 < n { times_s[i + 1] } else { period_s };
            let prev = cum_mbit[i];
            cum_mbit.push(prev + mbps[i] * (end - times_s[i]));
        }
        Trace {
            name,
            times_s,
            mbps,
            cum_mbit,
            period_s,
        }
    }

    /// Returns a copy with every rate multiplied by `factor` (> 0).
    pub(crate) fn scaled(&self, factor: f64) -> Trace {
        let rates = self.mbps.iter().map(|r| r * factor).collect();
        Trace::build(self.name.clone(), self.times_s.clone(), rates)
    }

    /// The trace's name (file stem with `_` shown as `-`), for labels.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.times_s.len()
    }

    /// Always false: a trace has at least 2 rows.
    pub fn is_empty(&self) -> bool {
        self.times_s.is_empty()
    }

    /// The rows as `(time_s, mbps)`, times shifted so the first is 0.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.times_s.iter().copied().zip(self.mbps.iter().copied())
    }

    /// Length of one cycle in s (see the module docs for the last row's duration).
    pub fn period_s(&self) -> f64 {
        self.period_s
    }

    /// Time-weighted mean rate over one period, Mbit/s.
    pub fn mean_mbps(&self) -> f64 {
        self.total_mbit() / self.period_s
    }

    pub(crate) fn total_mbit(&self) -> f64 {
        self.cum_mbit[self.cum_mbit.len() - 1]
    }

    /// Mbit delivered from time 0 to `t_s`, for `t_s` in `[0, period)`.
    pub(crate) fn mbit_at(&self, t_s: f64) -> f64 {
        // times_s[0] == 0 <= t_s, so the row index is at least 0.
        let i = self
            .times_s
            .partition_point(|&x| x <= t_s)
            .saturating_sub(1);
        self.cum_mbit[i] + self.mbps[i] * (t_s - self.times_s[i])
    }

    /// Seconds needed to deliver `mbit` starting at `start_s` (any value; taken modulo the
    /// period), integrating the piecewise-constant rate exactly and wrapping around.
    pub fn tx_s(&self, start_s: f64, mbit: f64) -> f64 {
        let s = start_s.rem_euclid(self.period_s);
        self.tx_s_from(s, self.mbit_at(s), mbit)
    }

    /// [`Trace::tx_s`] with the start already reduced to `[0, period)` and `C(start)` given.
    pub(crate) fn tx_s_from(&self, start_s: f64, start_mbit: f64, mbit: f64) -> f64 {
        if mbit <= 0.0 {
            return 0.0;
        }
        let total = self.total_mbit();
        // Find the first time t with C(t) = start_mbit + mbit, where C counts whole periods:
        // `wraps` full cycles, then `rem` Mbit into the next one.
        let target = start_mbit + mbit;
        let wraps = (target / total).floor();
        let rem = (target - wraps * total).clamp(0.0, total);
        // First row boundary with cum >= rem; the row before it has a positive rate (its cum
        // rises strictly to reach rem), so the division below is safe.
        let j = self.cum_mbit.partition_point(|&c| c < rem);
        let t_rem = if j == 0 {
            0.0
        } else {
            let i = j - 1;
            self.times_s[i] + (rem - self.cum_mbit[i]) / self.mbps[i]
        };
        (wraps * self.period_s + t_rem - start_s).max(0.0)
    }
}

/// Parameters of the synthetic Markov trace model (see [`synthetic_markov_trace`]).
pub mod markov {
    /// Rate of each state's level, Mbit/s: outage-like, poor, fair, good.
    pub const LEVELS_MBPS: [f64; 4] = [0.3, 1.0, 3.0, 6.0];
    /// Row-stochastic transition matrix between levels per 1 s step: sticky states that move
    /// only to neighbouring levels, like a Gilbert-Elliott channel with more than two states.
    pub const TRANSITIONS: [[f64; 4]; 4] = [
        [0.80, 0.20, 0.00, 0.00],
        [0.05, 0.85, 0.10, 0.00],
        [0.00, 0.10, 0.85, 0.05],
        [0.00, 0.00, 0.15, 0.85],
    ];
    /// Standard deviation of the log of the per-step jitter factor.
    pub const JITTER_SIGMA: f64 = 0.3;
    /// The state of the first step (index into [`LEVELS_MBPS`]).
    pub const START_STATE: usize = 2;
    /// Seed of the committed file `results/traces/synthetic-markov.csv`.
    pub const COMMITTED_SEED: u64 = 1;
    /// Length of the committed file in seconds (rows at 1 s steps).
    pub const COMMITTED_DURATION_S: usize = 600;
}

/// A synthetic throughput trace: `duration_s` rows at 1 s steps from a 4-state Markov chain
/// over the rate levels [`markov::LEVELS_MBPS`] with transitions [`markov::TRANSITIONS`],
/// starting in [`markov::START_STATE`], each row's rate multiplied by a (nearly) mean-one log-normal
/// jitter `exp(σ z - σ²/2)`, `σ =` [`markov::JITTER_SIGMA`].
///
/// Returns `(time_s, mbps)` rows. Reproducible bit for bit on every platform: it uses only
/// IEEE basic arithmetic (`z` is the Irwin-Hall approximation of a standard normal, the sum of
/// 12 uniforms minus 6, and `exp` is a fixed Taylor series), never the platform's `libm`.
pub fn synthetic_markov_trace(seed: u64, duration_s: usize) -> Vec<(f64, f64)> {
    use markov::*;
    let mut rng = Rng::new(seed);
    let mut uniform = move || (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    let mut state = START_STATE;
    let mut rows = Vec::with_capacity(duration_s);
    for step in 0..duration_s {
        if step > 0 {
            let u = uniform();
            let mut acc = 0.0;
            // Fall back to the last state if rounding leaves the row sum just below u.
            let mut next = LEVELS_MBPS.len() - 1;
            for (k, p) in TRANSITIONS[state].iter().enumerate() {
                acc += p;
                if u < acc {
                    next = k;
                    break;
                }
            }
            state = next;
        }
        let z: f64 = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
        let jitter = exp_taylor(JITTER_SIGMA * z - JITTER_SIGMA * JITTER_SIGMA / 2.0);
        rows.push((step as f64, LEVELS_MBPS[state] * jitter));
    }
    rows
}

/// `e^x` by its Taylor series, for the small |x| (< 2) the generator needs; basic arithmetic
/// only, so the result is identical on every IEEE-754 platform.
fn exp_taylor(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    for k in 1..40 {
        term *= x / k as f64;
        sum += term;
    }
    sum
}

/// Formats rows as trace CSV: the header, then `time_s` with 3 decimals and `mbps` with 6.
pub fn trace_csv(rows: &[(f64, f64)]) -> String {
    let mut out = String::with_capacity(24 * (rows.len() + 1));
    out.push_str(TRACE_HEADER);
    out.push('\n');
    for (t, r) in rows {
        out.push_str(&format!("{t:.3},{r:.6}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_taylor_matches_libm() {
        for x in [-1.9, -0.5, 0.0, 0.3, 1.9] {
            let (a, b) = (exp_taylor(x), f64::exp(x));
            assert!((a - b).abs() <= 4.0 * f64::EPSILON * b, "{x}: {a} vs {b}");
        }
    }

    #[test]
    fn markov_rows_are_stochastic() {
        for row in markov::TRANSITIONS {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }
}
