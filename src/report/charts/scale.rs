//! Axis scales with hand-picked ticks: plotters' own log axis puts no tick at all on a range
//! inside one decade and labels every 2..9 mantissa, so every axis here is a linear f64
//! coordinate (in log10 space for log axes) with explicit key points.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use std::ops::Range;

/// One axis: its range in plot space, whether plot space is log10 of the data, and ticks.
#[derive(Clone, Debug)]
pub(super) struct Scale {
    /// Lower end in plot space.
    pub lo: f64,
    /// Upper end in plot space.
    pub hi: f64,
    /// Plot space is `log10(value)`.
    pub log: bool,
    /// Labelled ticks, plot space.
    pub bold: Vec<f64>,
    /// Unlabelled grid lines, plot space.
    pub light: Vec<f64>,
}

impl Scale {
    /// Linear axis from `lo` to `hi` (data units) with about `target` ticks at 1-2-5 steps;
    /// the ends are rounded outwards to a tick.
    pub fn linear(lo: f64, hi: f64, target: usize) -> Scale {
        let (mut lo, mut hi) = sane(lo, hi);
        if hi - lo < 1e-12 * hi.abs().max(1.0) {
            let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
            lo -= pad;
            hi += pad;
        }
        let step = nice_step((hi - lo) / target.max(2) as f64);
        // Round outwards, but not past a tick the end already sits on.
        let lo = (lo / step + 1e-9).floor() * step;
        let hi = (hi / step - 1e-9).ceil() * step;
        let bold = ticks(lo, hi, step);
        let light = ticks(lo, hi, step / 2.0);
        Scale {
            lo,
            hi,
            log: false,
            bold,
            light,
        }
    }

    /// Linear axis starting at 0 (bars) up to `hi` plus `headroom` (a fraction).
    pub fn from_zero(hi: f64, headroom: f64, target: usize) -> Scale {
        let hi = if hi.is_finite() && hi > 0.0 { hi } else { 1.0 };
        Scale::linear(0.0, hi * (1.0 + headroom), target)
    }

    /// Log axis covering `lo..hi` (data units, both > 0), padded by `pad` decades each side,
    /// with at most `max_ticks` labels (what fits the axis length). An end within 0.12
    /// decades of a 1-2-5 value is moved onto it. Ticks: decades, made denser (1-2-5,
    /// 1-2-3-5-7, 1..9 mantissas) while there are fewer than four and the denser set still
    /// fits; every k-th decade when even decades do not fit.
    pub fn log(lo: f64, hi: f64, pad: f64, max_ticks: usize) -> Scale {
        let max_ticks = max_ticks.max(2);
        let (lo, hi) = sane_pos(lo, hi);
        let mut a = lo.log10() - pad;
        let mut b = hi.log10() + pad;
        if b - a < 0.3 {
            let mid = (a + b) / 2.0;
            a = mid - 0.15;
            b = mid + 0.15;
        }
        // Extend an end to a nearby 1-2-5 value so the axis ends on a label.
        let near = log_ticks(a - 0.12, b + 0.12, &[1.0, 2.0, 5.0]);
        if let Some(t) = near.iter().copied().rfind(|t| *t <= a) {
            a = t;
        }
        if let Some(t) = near.iter().copied().find(|t| *t >= b) {
            b = t;
        }
        let denser: [&[f64]; 3] = [
            &[1.0, 2.0, 5.0],
            &[1.0, 2.0, 3.0, 5.0, 7.0],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        ];
        let mut bold = log_ticks(a, b, &[1.0]);
        for set in denser {
            if bold.len() >= 4 {
                break;
            }
            let t = log_ticks(a, b, set);
            if t.len() > max_ticks {
                // One decade tick is no axis: thin the 1-2-5 ticks (below) rather than
                // falling back to linear ticks (200, 400 on a 17..450 axis).
                if bold.len() < 2 {
                    bold = t;
                }
                break;
            }
            bold = t;
        }
        if bold.len() > max_ticks {
            let k = bold.len().div_ceil(max_ticks);
            bold = bold.into_iter().step_by(k).collect();
        }
        if bold.len() < 2 {
            // Narrower than the 1..9 grid: linear ticks inside the range, still labelled in
            // data units.
            let s = Scale::linear(10f64.powf(a), 10f64.powf(b), 4);
            bold = s
                .bold
                .iter()
                .filter(|v| **v > 0.0)
                .map(|v| v.log10())
                .filter(|v| *v >= a && *v <= b)
                .collect();
        }
        let light_set = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let light = if b - a <= 6.0 {
            log_ticks(a, b, &light_set)
        } else {
            log_ticks(a, b, &[1.0])
        };
        Scale {
            lo: a,
            hi: b,
            log: true,
            bold,
            light,
        }
    }

    /// Log axis when the positive data `lo..hi` want one ([`wants_log`]), else linear from
    /// zero with about `target` ticks.
    pub fn auto(lo: f64, hi: f64, target: usize) -> Scale {
        let (l, h) = sane_pos(lo, hi);
        if wants_log(l, h) {
            Scale::log(l, h, 0.08, 2 * target)
        } else {
            Scale::from_zero(h, 0.08, target)
        }
    }

    /// An x axis `width_px` wide for the positive data `lo..hi`: log when they want one
    /// ([`wants_log`]), padded 0.04 decades, a label per 75 pixels; else linear, padded 5%
    /// of the span (at least of 5% of `hi`), a label per 90 pixels.
    pub fn auto_x(lo: f64, hi: f64, width_px: u32) -> Scale {
        if wants_log(lo, hi) {
            Scale::log(lo, hi, 0.04, (width_px / 75) as usize)
        } else {
            let pad = (hi - lo).max(hi * 0.05) * 0.05;
            Scale::linear(
                (lo - pad).max(0.0),
                hi + pad,
                (width_px / 90).max(2) as usize,
            )
        }
    }

    /// Categories at `0, 1, .., n-1` with `half` a slot of room outside the first and the
    /// last; every `every`-th one labelled.
    pub fn slots(n: usize, half: f64, every: usize) -> Scale {
        Scale {
            lo: -half,
            hi: n as f64 - (1.0 - half),
            log: false,
            bold: (0..n).step_by(every.max(1)).map(|i| i as f64).collect(),
            light: Vec::new(),
        }
    }

    /// An axis description with its unit, and `log scale` on a log axis:
    /// `latency (ms, log scale)`.
    pub fn desc(&self, what: &str, unit: &str) -> String {
        if self.log {
            format!("{what} ({unit}, log scale)")
        } else {
            format!("{what} ({unit})")
        }
    }

    /// Data value to plot space.
    pub fn to_plot(&self, v: f64) -> f64 {
        if self.log {
            v.max(1e-300).log10()
        } else {
            v
        }
    }

    /// Plot space to data value (for tick labels).
    pub fn to_data(&self, p: f64) -> f64 {
        if self.log {
            10f64.powf(p)
        } else {
            p
        }
    }

    /// The plotters coordinate with these ticks.
    pub fn coord(&self) -> Ticked {
        Ticked {
            inner: (self.lo..self.hi).into(),
            bold: self.bold.clone(),
            light: self.light.clone(),
        }
    }
}

/// Whether data from `lo` to `hi` (both > 0) are drawn on a log axis: when they span more
/// than 8x, a little under a decade. From there a linear axis squeezes the low end, where
/// the fast configurations sit, into the first eighth of the plot, while a log axis still
/// gets three or more 1-2-5 labels. One rule for every axis that chooses, so that the
/// charts of a study agree; 8x rather than a full decade keeps the committed studies'
/// latency CDFs of trace links (spanning 9.5x to 9.9x) on the log axis they were drawn on.
pub(super) fn wants_log(lo: f64, hi: f64) -> bool {
    hi / lo > 8.0
}

/// The category a tick at `v` stands for on a [`Scale::slots`] axis of `n`, if any.
pub(super) fn slot(v: f64, n: usize) -> Option<usize> {
    let i = v.round();
    ((v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n).then_some(i as usize)
}

/// A linear f64 coordinate with explicit key points. (plotters' own `WithKeyPoints` over
/// `RangedCoordf64` cannot be given a label formatter: it inherits `NoDefaultFormatting`.)
pub(super) struct Ticked {
    inner: RangedCoordf64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// `lo..hi` with NaN/inf replaced and the ends in order.
fn sane(lo: f64, hi: f64) -> (f64, f64) {
    let lo = if lo.is_finite() { lo } else { 0.0 };
    let hi = if hi.is_finite() { hi } else { lo + 1.0 };
    if lo <= hi {
        (lo, hi)
    } else {
        (hi, lo)
    }
}

/// `lo..hi` made positive and ordered (for log axes).
fn sane_pos(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = sane(lo, hi);
    let hi = if hi > 0.0 { hi } else { 1.0 };
    let lo = if lo > 0.0 { lo } else { hi / 10.0 };
    (lo, hi)
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        1.0
    };
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= raw * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

/// Multiples of `step` in `lo..=hi`, snapped to the step's precision.
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    if last - first > 1000 {
        return Vec::new();
    }
    (first..=last).map(|i| i as f64 * step).collect()
}

/// `log10(m * 10^k)` for every mantissa `m` in `set` that lies in `a..=b`.
fn log_ticks(a: f64, b: f64, set: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let (k0, k1) = (a.floor() as i64 - 1, b.ceil() as i64 + 1);
    if k1 - k0 > 400 {
        return out;
    }
    for k in k0..=k1 {
        for m in set {
            let v = m.log10() + k as f64;
            if v >= a - 1e-9 && v <= b + 1e-9 {
                out.push(v);
            }
        }
    }
    out
}

/// A number with at most three significant digits and no trailing zeros (`0.05`, `1.5`,
/// `20`, `1500`, `12k`).
pub(super) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        return format!("{}M", num(v / 1e6));
    }
    if a >= 1e4 {
        return format!("{}k", num(v / 1e3));
    }
    if a == 0.0 {
        return "0".into();
    }
    let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Bytes with a decimal unit (`500 B`, `2 kB`, `1.5 MB`).
pub(super) fn bytes(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{} GB", num(v / 1e9))
    } else if a >= 1e6 {
        format!("{} MB", num(v / 1e6))
    } else if a >= 1e3 {
        format!("{} kB", num(v / 1e3))
    } else {
        format!("{} B", num(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_inside_one_decade() {
        let s = Scale::log(12.0, 18.0, 0.0, 10);
        assert!(s.bold.len() >= 2, "{:?}", s.bold);
        let s = Scale::log(1.0, 1e6, 0.05, 10);
        let labels: Vec<String> = s.bold.iter().map(|p| num(s.to_data(*p))).collect();
        assert_eq!(labels, ["1", "10", "100", "1000", "10k", "100k", "1M"]);
        let s = Scale::log(3.0, 70.0, 0.0, 10);
        let labels: Vec<String> = s.bold.iter().map(|p| num(s.to_data(*p))).collect();
        assert_eq!(labels, ["5", "10", "20", "50"]);
        // Too many decades for the axis: every other one.
        let s = Scale::log(1e-3, 1e6, 0.0, 5);
        let labels: Vec<String> = s.bold.iter().map(|p| num(s.to_data(*p))).collect();
        assert_eq!(labels, ["0.001", "0.1", "10", "1000", "100k"]);
        // One power of ten inside and too many 1-2-5 ticks for the axis: every other 1-2-5
        // tick, not linear ticks.
        let s = Scale::log(17.0, 450.0, 0.05, 4);
        let labels: Vec<String> = s.bold.iter().map(|p| num(s.to_data(*p))).collect();
        assert_eq!(labels, ["20", "100", "500"]);
    }

    #[test]
    fn linear_ticks_are_round() {
        let s = Scale::linear(0.0, 9.3, 5);
        assert_eq!(s.bold, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let s = Scale::linear(0.0, 1.62, 6);
        assert_eq!((s.lo, s.hi), (0.0, 2.0));
        let s = Scale::linear(f64::NAN, f64::INFINITY, 5);
        assert!(!s.bold.is_empty());
        let s = Scale::linear(3.0, 3.0, 5);
        assert!(s.lo < 3.0 && s.hi > 3.0);
    }

    #[test]
    fn one_rule_chooses_log_axes() {
        // A trace link's latencies in a committed study span 9.5x: log, like the rest.
        assert!(wants_log(11.2, 106.7));
        assert!(!wants_log(10.0, 75.0));
        assert!(Scale::auto_x(11.2, 106.7, 450).log);
        let lin = Scale::auto_x(10.0, 75.0, 450);
        assert!(!lin.log && lin.lo <= 10.0 && lin.hi >= 75.0);
        assert!(Scale::auto(1.0, 9.0, 6).log);
        assert!(!Scale::auto(1.0, 7.0, 6).log);
    }

    #[test]
    fn slots_hold_categories() {
        let s = Scale::slots(5, 0.6, 2);
        assert_eq!((s.lo, s.hi), (-0.6, 4.6));
        assert_eq!(s.bold, [0.0, 2.0, 4.0]);
        assert_eq!(slot(2.0, 5), Some(2));
        assert_eq!(slot(2.5, 5), None);
        assert_eq!(slot(5.0, 5), None);
        assert_eq!(slot(-1.0, 5), None);
    }

    #[test]
    fn descriptions_name_a_log_scale() {
        let s = Scale::log(1.0, 100.0, 0.0, 5);
        assert_eq!(s.desc("latency", "ms"), "latency (ms, log scale)");
        let s = Scale::linear(1.0, 100.0, 5);
        assert_eq!(s.desc("latency", "ms"), "latency (ms)");
    }

    #[test]
    fn formats() {
        assert_eq!(num(0.05), "0.05");
        assert_eq!(num(1.25), "1.25");
        assert_eq!(num(20.0), "20");
        assert_eq!(num(1500.0), "1500");
        assert_eq!(num(12000.0), "12k");
        assert_eq!(bytes(2048.0), "2.05 kB");
        assert_eq!(bytes(100.0), "100 B");
    }
}
