//! (f) Top-1 accuracy vs end-to-end latency, one panel per preset link: every candidate of
//! known accuracy as a faint dot in its method's colour, each method's Pareto front as a
//! step line, and device-only's accuracy as a dashed reference.

use super::kit::{
    de, distinct, extent, legend, line_legend, pos, staircase, subtitled, with_legend, Area, Chart,
    DResult, Panel, Swatch,
};
use super::palette::{marker, Marker, Palette};
use super::scale::Scale;
use crate::report::{AccuracyLatencyRow, Family, Study};
use plotters::prelude::*;

/// One method's points in one panel: every candidate and the front, (ms, accuracy).
struct FrontSeries<'a> {
    method: &'a str,
    points: Vec<(f64, f64)>,
    /// Sorted by latency (so accuracy rises along it).
    front: Vec<(f64, f64)>,
}

/// Chart (f): per preset link, each method's candidates and front.
pub(super) struct AccuracyLatency<'a> {
    /// Where the accuracies come from (shown under the title).
    source: &'a str,
    pal: &'a Palette,
    /// Per link (in row order): label and per method (palette order) its series.
    panels: Vec<(&'a str, Vec<FrontSeries<'a>>)>,
    /// device-only's accuracy, if known.
    base: Option<f64>,
}

impl<'a> AccuracyLatency<'a> {
    /// The chart of `s`'s accuracy-latency rows, if it has any that can be drawn.
    pub fn new(s: &'a Study, pal: &'a Palette) -> Option<Self> {
        let rows: Vec<&AccuracyLatencyRow> = s
            .accuracy_latency
            .iter()
            .filter(|r| pos(r.total_ms) && r.accuracy.is_finite())
            .collect();
        let series = |link: &str, m: &'a String| {
            let mine = || rows.iter().filter(|r| r.link == link && &r.method == m);
            let points: Vec<(f64, f64)> = mine().map(|r| (r.total_ms, r.accuracy)).collect();
            let mut front: Vec<(f64, f64)> = mine()
                .filter(|r| r.on_front)
                .map(|r| (r.total_ms, r.accuracy))
                .collect();
            front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            (!points.is_empty()).then_some(FrontSeries {
                method: m.as_str(),
                points,
                front,
            })
        };
        let panels: Vec<_> = distinct(rows.iter().map(|r| r.link.as_str()))
            .into_iter()
            .map(|link| {
                let l = pal.names().iter().filter_map(|m| series(link, m));
                (link, l.collect())
            })
            .collect();
        let base = rows
            .iter()
            .find(|r| r.config.variant.family() == Family::None)
            .map(|r| r.accuracy);
        (!panels.is_empty()).then_some(AccuracyLatency {
            source: &s.accuracy_source,
            pal,
            panels,
            base,
        })
    }
}

/// Grey of the base-accuracy reference line.
const BASE: RGBColor = RGBColor(90, 90, 90);

impl Chart for AccuracyLatency<'_> {
    const STEM: &'static str = "f_accuracy_latency";
    const WHAT: &'static str = "top-1 accuracy vs end-to-end latency";
    const EMPTY: &'static str = "no accuracy-latency rows (no --accuracy-table)";

    fn draw<DB: DrawingBackend>(&self, _: &Area<DB>, mut body: Area<DB>) -> DResult {
        if !self.source.is_empty() {
            body = subtitled(&body, &format!("accuracy: {}", self.source))?;
        }
        let methods = self.pal.present(
            self.panels
                .iter()
                .flat_map(|(_, l)| l.iter().map(|s| s.method)),
        );
        let (plot, side) = with_legend(
            &body,
            methods
                .iter()
                .copied()
                .chain(["candidate", "device-only accuracy"]),
        );
        // One accuracy axis for every panel: the accuracies do not depend on the link.
        let all = || {
            self.panels
                .iter()
                .flat_map(|(_, l)| l.iter().flat_map(|s| s.points.iter()))
        };
        let (a0, a1) = extent(all().map(|p| p.1).chain(self.base));
        let pad = ((a1 - a0) * 0.06).max(a1.abs() * 1e-3);
        let ys = Scale::linear(a0 - pad, a1 + pad, (plot.dim_in_pixel().1 / 60) as usize);
        let n = self.panels.len();
        let areas = plot.split_evenly((1, n));
        for (pi, ((label, series), area)) in self.panels.iter().zip(&areas).enumerate() {
            let (x0, x1) = extent(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
            let xs = Scale::auto_x(x0, x1, area.dim_in_pixel().0);
            let panel = Panel {
                caption: label,
                first_col: pi == 0,
                margin_right: 18,
                x: ("latency", "ms"),
                y: "top-1 accuracy",
            };
            let mut chart = panel.build(area, &xs, &ys)?;
            if let Some(b) = self.base {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(xs.lo, b), (xs.hi, b)],
                        8,
                        6,
                        BASE.stroke_width(2),
                    ))
                    .map_err(de)?;
            }
            // Dots of the widest sets first, so a narrower set's dots stay visible on top.
            for s in series.iter().rev() {
                let (color, _) = self.pal.get(s.method);
                chart
                    .draw_series(
                        s.points.iter().map(|&(x, y)| {
                            Circle::new((xs.to_plot(x), y), 3, color.mix(0.3).filled())
                        }),
                    )
                    .map_err(de)?;
            }
            // Fronts in palette order (three-step last, on top), earlier ones wider: a front
            // that coincides with a later one (two-step-pruning's with three-step's) shows as
            // a halo around it.
            let k = series.len();
            let halo = |j: usize| (k - 1 - j).min(3) as u32;
            let fronts: Vec<Vec<(f64, f64)>> = series
                .iter()
                .map(|s| s.front.iter().map(|&(x, y)| (xs.to_plot(x), y)).collect())
                .collect();
            for (j, (s, front)) in series.iter().zip(&fronts).enumerate() {
                if front.is_empty() {
                    continue;
                }
                let (color, _) = self.pal.get(s.method);
                let w = color.stroke_width(3 + 2 * halo(j));
                chart
                    .draw_series(LineSeries::new(staircase(front), w))
                    .map_err(de)?;
            }
            for (j, (s, front)) in series.iter().zip(&fronts).enumerate() {
                let (color, mk) = self.pal.get(s.method);
                let r = 5 + halo(j) as i32;
                chart
                    .draw_series(front.iter().map(|&p| marker(mk, p, r, color, 0.85)))
                    .map_err(de)?;
            }
        }
        let bottom = legend(
            &side,
            12,
            Some("Pareto front"),
            &line_legend(self.pal, methods),
        )?;
        let mut notes = vec![(
            "candidate".to_string(),
            Swatch::Mark(RGBColor(150, 150, 150), Marker::Circle),
        )];
        if self.base.is_some() {
            notes.push(("device-only accuracy".into(), Swatch::dashed(BASE)));
        }
        legend(&side, bottom + 14, None, &notes)?;
        Ok(())
    }
}
