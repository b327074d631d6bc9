//! (d) The communication-computation trade-off: device compute vs bytes to send, one
//! point per candidate coloured by variant family, the Pareto front as a step line.

use super::kit::{de, extent, legend, mesh, staircase, with_legend, Area, Chart, DResult, Swatch};
use super::palette::{marker, Palette};
use super::scale::{self, Scale};
use crate::report::{CandidateRow, Family, Study};
use plotters::prelude::*;

/// Chart (d): the candidates that were timed.
pub(super) struct Tradeoff<'a> {
    rows: Vec<&'a CandidateRow>,
    /// Colours of the families present, in [`Family::ALL`] order.
    variants: Palette,
}

impl<'a> Tradeoff<'a> {
    /// The chart of `s`'s candidates with a device time, if there are any.
    pub fn new(s: &'a Study) -> Option<Self> {
        let rows: Vec<&CandidateRow> = s
            .candidates
            .iter()
            .filter(|r| r.device_ms.is_finite())
            .collect();
        // Families in a fixed order, so a family keeps its colour.
        let names: Vec<&str> = Family::ALL
            .iter()
            .filter(|f| rows.iter().any(|r| r.family == **f))
            .map(|f| f.name())
            .collect();
        (!rows.is_empty()).then(|| Tradeoff {
            rows,
            variants: Palette::categories(names),
        })
    }
}

/// Colour of the Pareto step line.
const FRONT: RGBColor = RGBColor(20, 20, 20);

impl Chart for Tradeoff<'_> {
    const STEM: &'static str = "tradeoff";
    const WHAT: &'static str = "communication-computation trade-off per split and variant";
    const EMPTY: &'static str = "no candidate rows";

    fn draw<DB: DrawingBackend>(&self, _: &Area<DB>, body: Area<DB>) -> DResult {
        let families = self.variants.names().iter().map(String::as_str);
        let (plot, side) = with_legend(&body, families.clone().chain(["Pareto front"]));
        let (b0, b1) = extent(
            self.rows
                .iter()
                .filter(|r| r.payload_bytes > 0)
                .map(|r| r.payload_bytes as f64),
        );
        let has_zero = self.rows.iter().any(|r| r.payload_bytes == 0);
        let (b0, b1) = if b0.is_finite() {
            (b0, b1)
        } else {
            (1.0, 10.0)
        };
        let mut xs = Scale::log(b0, b1, 0.08, (plot.dim_in_pixel().0 / 90) as usize);
        // Candidates that send nothing (device-only) sit on a "0 B" tick left of the rest.
        let zero_at = xs.lo - 0.35;
        if has_zero {
            xs.lo = zero_at - 0.2;
            let first = zero_at + 0.175;
            xs.bold.retain(|t| *t > first);
            xs.light.retain(|t| *t > first);
            xs.bold.insert(0, zero_at);
        }
        let (d0, d1) = extent(self.rows.iter().map(|r| r.device_ms.max(0.0)));
        // A little room below 0 so markers at 0 ms (edge-only) are not cut by the axis.
        let mut ys = Scale::linear(d0.min(0.0), d1 * 1.06, 6);
        ys.lo -= 0.03 * (ys.hi - ys.lo);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(80)
            .y_label_area_size(95)
            .build_cartesian_2d(xs.coord(), ys.coord())
            .map_err(de)?;
        let xf = |v: &f64| {
            if has_zero && (v - zero_at).abs() < 1e-9 {
                "0 B".to_string()
            } else {
                scale::bytes(xs.to_data(*v))
            }
        };
        let yf = |v: &f64| scale::num(*v);
        let desc = [
            "bytes sent per inference (log scale)",
            "device compute incl. encoding (ms)",
        ];
        mesh(&mut chart, [&xf, &yf], desc).draw().map_err(de)?;
        let at = |r: &CandidateRow| {
            let x = if r.payload_bytes == 0 {
                zero_at
            } else {
                xs.to_plot(r.payload_bytes as f64)
            };
            (x, r.device_ms)
        };
        if has_zero {
            // Axis break between the "0 B" column and the log axis.
            let xb = zero_at + 0.175;
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(xb, ys.lo), (xb, ys.hi)],
                    4,
                    6,
                    RGBColor(160, 160, 160).stroke_width(1),
                ))
                .map_err(de)?;
        }

        let mut front: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter(|r| r.pareto)
            .map(|r| at(r))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        for name in self.variants.names() {
            let (color, mk) = self.variants.get(name);
            chart
                .draw_series(
                    self.rows
                        .iter()
                        .filter(|r| r.family.name() == name)
                        .map(|r| marker(mk, at(r), 5, color, 0.5)),
                )
                .map_err(de)?;
        }
        if !front.is_empty() {
            chart
                .draw_series(LineSeries::new(staircase(&front), FRONT.stroke_width(2)))
                .map_err(de)?;
            chart
                .draw_series(
                    front.iter().map(|p| {
                        EmptyElement::at(*p) + Circle::new((0, 0), 10, FRONT.stroke_width(2))
                    }),
                )
                .map_err(de)?;
        }

        let mut items: Vec<(String, Swatch)> = families
            .map(|n| {
                let (c, m) = self.variants.get(n);
                (n.to_string(), Swatch::Mark(c, m))
            })
            .collect();
        if !front.is_empty() {
            items.push(("Pareto front".into(), Swatch::line(FRONT)));
        }
        legend(&side, 12, Some("variant family"), &items)?;
        Ok(())
    }
}
