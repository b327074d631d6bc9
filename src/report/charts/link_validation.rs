//! The link models against real transfers through the emulated link (`splitbench
//! validate-link`): the signed relative error of the TCP-aware and the naive prediction vs
//! the payload, one panel per window (cold: a new connection; warm: its window open). Each
//! transfer is a faint dot (a cross on a trace link), the TCP-aware model's left of its
//! payload and the naive model's right of it; a line through each model's median per payload.

use super::kit::{
    de, distinct, extent, legend, subtitled, with_legend, Area, Chart, DResult, Panel, Swatch,
};
use super::palette::{marker, Marker, Palette};
use super::scale::Scale;
use crate::report::LinkCheckRow;
use plotters::prelude::*;

/// How a row gives one model's error, percent.
type ErrorOf = fn(&LinkCheckRow) -> f64;

/// The two models, in legend order: name and error.
const MODELS: [(&str, ErrorOf); 2] = [
    ("TCP-aware", |r| r.tcp_error_pct),
    ("naive: size / rate + RTT", |r| r.naive_error_pct),
];

/// Grey of the legend's shape-only entries.
const SHAPE: RGBColor = RGBColor(120, 120, 120);

/// One transfer's error under one model.
#[derive(Clone, Copy, Debug)]
struct Point {
    payload: f64,
    pct: f64,
    trace: bool,
}

/// One model's transfers in one panel and the line through its medians.
struct Series {
    points: Vec<Point>,
    /// (payload, median error), by payload.
    line: Vec<(f64, f64)>,
}

/// One window's panel: its caption and per model (in [`MODELS`] order) its series.
struct WindowPanel {
    caption: String,
    models: Vec<Series>,
}

/// The link-validation chart: per window, both models' errors per transfer.
pub(super) struct LinkValidation {
    pal: Palette,
    panels: Vec<WindowPanel>,
    /// Whether any transfer ran over a trace link.
    trace: bool,
    /// What the median lines are over: `fixed-rate` (or `trace` when there is no fixed link).
    median_of: &'static str,
}

/// The caption of a window's panel.
fn caption(window: &str) -> String {
    match window {
        "cold" => "cold (new connection)".into(),
        "warm" => "warm (window open)".into(),
        w => w.to_string(),
    }
}

/// The median of `v` (sorted in place); NaN when empty.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The `q`-quantile of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

impl LinkValidation {
    /// The chart of `rows`, if any of them has a positive payload and finite errors.
    pub fn new(rows: &[LinkCheckRow]) -> Option<Self> {
        let rows: Vec<&LinkCheckRow> = rows
            .iter()
            .filter(|r| {
                r.payload_bytes > 0 && r.tcp_error_pct.is_finite() && r.naive_error_pct.is_finite()
            })
            .collect();
        let is_trace = |r: &LinkCheckRow| r.kind.eq_ignore_ascii_case("trace");
        let trace = rows.iter().any(|r| is_trace(r));
        let fixed = rows.iter().any(|r| !is_trace(r));
        // Cold before warm whatever the row order, any other window after them.
        let mut windows = distinct(rows.iter().map(|r| r.window.as_str()));
        windows.sort_by_key(|w| match *w {
            "cold" => 0,
            "warm" => 1,
            _ => 2,
        });
        let panels: Vec<WindowPanel> = windows
            .into_iter()
            .map(|w| {
                let mine: Vec<&&LinkCheckRow> = rows.iter().filter(|r| r.window == w).collect();
                let mut payloads: Vec<u64> = distinct(mine.iter().map(|r| r.payload_bytes));
                payloads.sort_unstable();
                let models = MODELS
                    .iter()
                    .map(|(_, err)| {
                        let points = mine
                            .iter()
                            .map(|r| Point {
                                payload: r.payload_bytes as f64,
                                pct: err(r),
                                trace: is_trace(r),
                            })
                            .collect();
                        // The median over the fixed-rate links' transfers (the trace links'
                        // when there are none): one line per model.
                        let line = payloads
                            .iter()
                            .filter_map(|&p| {
                                let mut v: Vec<f64> = mine
                                    .iter()
                                    .filter(|r| r.payload_bytes == p && is_trace(r) != fixed)
                                    .map(|r| err(r))
                                    .collect();
                                (!v.is_empty()).then(|| (p as f64, median(&mut v)))
                            })
                            .collect();
                        Series { points, line }
                    })
                    .collect();
                WindowPanel {
                    caption: caption(w),
                    models,
                }
            })
            .collect();
        (!panels.is_empty()).then(|| LinkValidation {
            pal: Palette::categories(MODELS.iter().map(|m| m.0)),
            panels,
            trace,
            median_of: if fixed { "fixed-rate" } else { "trace" },
        })
    }

    /// The error axis, shared by the panels: zero, every median and the transfers' errors,
    /// unless a few lie far outside the rest: then the 1st to 99th percentile (and zero and
    /// the medians) plus half that span each side, the transfers beyond drawn on
    /// the axis' edge.
    fn error_scale(&self, height_px: u32) -> Scale {
        let mut all: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| p.models.iter().flat_map(|m| m.points.iter().map(|q| q.pct)))
            .collect();
        all.sort_by(f64::total_cmp);
        let medians = || {
            self.panels
                .iter()
                .flat_map(|p| p.models.iter().flat_map(|m| m.line.iter().map(|q| q.1)))
                .chain([0.0])
        };
        let (lo, hi) = extent(all.iter().copied().chain(medians()));
        let (rlo, rhi) = extent(
            [quantile(&all, 0.01), quantile(&all, 0.99)]
                .into_iter()
                .chain(medians()),
        );
        let reach = (rhi - rlo).max(10.0) * 0.5;
        let (lo, hi) = (lo.max(rlo - reach), hi.min(rhi + reach));
        let pad = (hi - lo) * 0.03;
        Scale::linear(lo - pad, hi + pad, (height_px / 55).max(4) as usize)
    }
}

impl Chart for LinkValidation {
    const STEM: &'static str = "link_validation";
    const WHAT: &'static str = "Link model vs emulated link: prediction error per transfer";
    const EMPTY: &'static str = "no link-check rows with a payload and finite errors";

    fn draw<DB: DrawingBackend>(&self, _: &Area<DB>, body: Area<DB>) -> DResult {
        let body = subtitled(
            &body,
            &format!(
                "error = (predicted - measured) / measured; dots: single transfers, \
                 lines: median over the {} links",
                self.median_of
            ),
        )?;
        let names: Vec<&str> = self.pal.names().iter().map(String::as_str).collect();
        let (plot, side) = with_legend(
            &body,
            names
                .iter()
                .copied()
                .chain(["fixed-rate link", "trace link", "999 beyond the axis"]),
        );
        let ys = self.error_scale(plot.dim_in_pixel().1);
        // Sideways offsets of the models' dots and lines, decades: a fraction of the
        // narrowest gap between payloads, so neighbouring payloads' dots never mix.
        let mut payloads: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| p.models.iter().flat_map(|m| m.points.iter()))
            .map(|q| q.payload.log10())
            .collect();
        payloads.sort_by(f64::total_cmp);
        payloads.dedup();
        let gap = payloads
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(1.0f64, f64::min);
        let side_off = (gap * 0.16).min(0.08);
        let spread = (gap * 0.12).min(0.06);
        let (x0, x1) = (
            10f64.powf(payloads[0]),
            10f64.powf(payloads[payloads.len() - 1]),
        );
        let n = self.panels.len();
        let areas = plot.split_evenly((1, n));
        let mut clamped = 0usize;
        for (pi, (wp, area)) in self.panels.iter().zip(&areas).enumerate() {
            let max_ticks = (area.dim_in_pixel().0 / 90).max(2) as usize;
            let xs = Scale::log(x0, x1, side_off + spread + 0.05, max_ticks);
            let panel = Panel {
                caption: &wp.caption,
                first_col: pi == 0,
                margin_right: 18,
                x: ("payload", "bytes"),
                y: "prediction error (%)",
            };
            let mut chart = panel.build(area, &xs, &ys)?;
            // Zero: a perfect prediction.
            chart
                .draw_series(LineSeries::new(
                    vec![(xs.lo, 0.0), (xs.hi, 0.0)],
                    BLACK.stroke_width(2),
                ))
                .map_err(de)?;
            let side = |j: usize| if j == 0 { -side_off } else { side_off };
            for (j, (name, series)) in names.iter().zip(&wp.models).enumerate() {
                let (color, _) = self.pal.get(name);
                // Dots of one payload spread evenly (golden-ratio steps) across a narrow
                // strip, so a column of equal errors still shows how many there are.
                let mut seen: Vec<(f64, usize)> = Vec::new();
                for q in &series.points {
                    let k = match seen.iter_mut().find(|s| s.0 == q.payload) {
                        Some(s) => {
                            s.1 += 1;
                            s.1
                        }
                        None => {
                            seen.push((q.payload, 0));
                            0
                        }
                    };
                    let jitter = ((k as f64 * 0.618_034).fract() - 0.5) * 2.0 * spread;
                    let x = xs.to_plot(q.payload) + side(j) + jitter;
                    let y = q.pct.clamp(ys.lo, ys.hi);
                    if y != q.pct {
                        clamped += 1;
                        let mk = if q.pct > ys.hi {
                            Marker::Up
                        } else {
                            Marker::Down
                        };
                        chart
                            .draw_series(std::iter::once(marker(mk, (x, y), 5, color, 0.6)))
                            .map_err(de)?;
                    } else if q.trace {
                        chart
                            .draw_series(std::iter::once(Cross::new(
                                (x, y),
                                4,
                                color.mix(0.55).stroke_width(2),
                            )))
                            .map_err(de)?;
                    } else {
                        chart
                            .draw_series(std::iter::once(Circle::new(
                                (x, y),
                                3,
                                color.mix(0.3).filled(),
                            )))
                            .map_err(de)?;
                    }
                }
            }
            // The median lines on top of the dots.
            for (j, (name, series)) in names.iter().zip(&wp.models).enumerate() {
                let (color, mk) = self.pal.get(name);
                let p: Vec<(f64, f64)> = series
                    .line
                    .iter()
                    .map(|&(x, y)| (xs.to_plot(x) + side(j), y.clamp(ys.lo, ys.hi)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(p.clone(), color.stroke_width(3)))
                    .map_err(de)?;
                chart
                    .draw_series(p.iter().map(|&q| marker(mk, q, 6, color, 0.85)))
                    .map_err(de)?;
            }
        }
        let items: Vec<(String, Swatch)> = names
            .iter()
            .map(|n| {
                let (color, mk) = self.pal.get(n);
                (n.to_string(), Swatch::series(color, mk))
            })
            .collect();
        let bottom = legend(&side, 12, Some("median error"), &items)?;
        let mut dots = vec![(
            "fixed-rate link".to_string(),
            Swatch::Mark(SHAPE, Marker::Circle),
        )];
        if self.trace {
            dots.push(("trace link".into(), Swatch::Mark(SHAPE, Marker::Cross)));
        }
        if clamped > 0 {
            dots.push((
                format!("{clamped} beyond the axis"),
                Swatch::Mark(SHAPE, Marker::Up),
            ));
        }
        legend(&side, bottom + 14, Some("single transfer"), &dots)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.0), 1.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 1.0), 5.0);
    }

    #[test]
    fn captions_name_the_window() {
        assert_eq!(caption("cold"), "cold (new connection)");
        assert_eq!(caption("other"), "other");
    }
}
