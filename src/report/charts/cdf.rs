//! (e) The distribution of end-to-end latency under random links (Rayleigh fading, traces):
//! one CDF per method, one panel per link.

use super::kit::{
    de, distinct, extent, legend, line_legend, pos, stacked_width, with_legend, Area, Chart,
    DResult, Panel,
};
use super::palette::{marker, Palette};
use super::scale::Scale;
use crate::report::Study;
use plotters::prelude::*;

/// A method's curve: its name and (latency ms, cumulative probability) points.
type Curve<'a> = (&'a str, Vec<(f64, f64)>);

/// Chart (e): per random link, each method's latency distribution.
pub(super) struct Cdf<'a> {
    pal: &'a Palette,
    /// Per channel: label and per method (palette order) the (ms, probability) points.
    panels: Vec<(&'a str, Vec<Curve<'a>>)>,
}

impl<'a> Cdf<'a> {
    /// The chart of `s`'s CDF rows, if it has any that can be drawn.
    pub fn new(s: &'a Study, pal: &'a Palette) -> Option<Self> {
        let curve = |ch: &str, m: &'a String| {
            let mut pts: Vec<(f64, f64)> = s
                .cdf
                .iter()
                .filter(|r| r.channel == ch && &r.method == m)
                .filter(|r| pos(r.total_ms) && r.quantile.is_finite())
                .map(|r| (r.total_ms, r.quantile.clamp(0.0, 1.0)))
                .collect();
            pts.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)));
            (!pts.is_empty()).then_some((m.as_str(), pts))
        };
        let panels: Vec<_> = distinct(s.cdf.iter().map(|r| r.channel.as_str()))
            .into_iter()
            .map(|ch| {
                (
                    ch,
                    pal.names().iter().filter_map(|m| curve(ch, m)).collect(),
                )
            })
            .filter(|(_, l): &(_, Vec<_>)| !l.is_empty())
            .collect();
        (!panels.is_empty()).then_some(Cdf { pal, panels })
    }
}

impl Chart for Cdf<'_> {
    const STEM: &'static str = "cdf";
    const WHAT: &'static str = "end-to-end latency CDF under random links";
    const EMPTY: &'static str = "no CDF rows (no Rayleigh or trace channel)";

    fn draw<DB: DrawingBackend>(&self, _: &Area<DB>, body: Area<DB>) -> DResult {
        let methods = self.pal.present(
            self.panels
                .iter()
                .flat_map(|(_, l)| l.iter().map(|(m, _)| *m)),
        );
        let (plot, side) = with_legend(&body, methods.iter().copied());
        let n = self.panels.len();
        let cols = if n == 4 { 2 } else { n.min(3) };
        let rows = n.div_ceil(cols);
        let areas = plot.split_evenly((rows, cols));
        for (pi, ((label, lines), area)) in self.panels.iter().zip(&areas).enumerate() {
            let (x0, x1) = extent(lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)));
            let xs = Scale::auto_x(x0, x1, area.dim_in_pixel().0);
            let ys = Scale {
                lo: 0.0,
                hi: 1.02,
                log: false,
                bold: vec![0.0, 0.25, 0.5, 0.75, 1.0],
                light: vec![0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9],
            };
            let panel = Panel {
                caption: label,
                first_col: pi % cols == 0,
                margin_right: 24,
                x: ("end-to-end latency", "ms"),
                y: "cumulative probability",
            };
            let mut chart = panel.build(area, &xs, &ys)?;
            let k = lines.len();
            for (j, (m, pts)) in lines.iter().enumerate() {
                let (color, mk) = self.pal.get(m);
                let p: Vec<(f64, f64)> = pts.iter().map(|(x, q)| (xs.to_plot(*x), *q)).collect();
                let w = stacked_width(k, j);
                chart
                    .draw_series(LineSeries::new(p.clone(), color.stroke_width(w)))
                    .map_err(de)?;
                // A few markers per curve, staggered so coinciding curves stay tellable.
                let picks = (0..5).map(|t| (0.1 + 0.2 * t as f64 + 0.03 * j as f64).min(0.99));
                chart
                    .draw_series(picks.filter_map(|q| {
                        let i = p.iter().position(|pt| pt.1 >= q)?;
                        Some(marker(mk, p[i], 6, color, 0.85))
                    }))
                    .map_err(de)?;
            }
        }
        let items = line_legend(self.pal, methods);
        legend(&side, 12, Some("method"), &items)?;
        Ok(())
    }
}
