//! (a) Per-node device time (bars, left axis) and the size of the feature a cut after each
//! node would send (line, right axis).

use super::kit::{self, de, font, legend, mesh, size, with_legend, Area, Chart, DResult, Swatch};
use super::palette::{marker, Marker};
use super::scale::{self, Scale};
use crate::report::{LayerRow, Study};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Chart (a): the layer rows in node order.
pub(super) struct Layers<'a> {
    rows: Vec<&'a LayerRow>,
}

impl<'a> Layers<'a> {
    /// The chart of `s`'s layer rows, if it has any.
    pub fn new(s: &'a Study) -> Option<Self> {
        let mut rows: Vec<&LayerRow> = s.layers.iter().collect();
        rows.sort_by_key(|r| r.index);
        (!rows.is_empty()).then_some(Layers { rows })
    }
}

/// Fill of the per-layer bars.
const BAR: RGBColor = RGBColor(78, 121, 167);
/// Line of the feature size.
const FEATURE: RGBColor = RGBColor(225, 87, 89);

impl Chart for Layers<'_> {
    const STEM: &'static str = "layers";
    const WHAT: &'static str = "per-node device time and feature size";
    const EMPTY: &'static str = "no layer rows (per-node device times)";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, body: Area<DB>) -> DResult {
        let (plot, side) = with_legend(&body, ["feature at cut", "line: right axis"]);
        let n = self.rows.len();
        let (pw, _) = plot.dim_in_pixel();

        // X labels: node names rotated, every k-th when they would not fit.
        let tick = font(size::TICK);
        let slot = (size::TICK * 1.05) as u32;
        let avail = pw.saturating_sub(200).max(slot);
        let k = (n as u32 * slot).div_ceil(avail).max(1) as usize;
        let max_label = 190;
        let names: Vec<String> = self
            .rows
            .iter()
            .map(|r| kit::fit(&plot, &r.node, &tick, max_label))
            .collect();
        let label_h = names
            .iter()
            .step_by(k)
            .map(|s| plot.estimate_text_size(s, &tick).map(|d| d.0).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let xs = Scale::slots(n, 0.6, k);
        let max_ms = self.rows.iter().map(|r| r.device_ms).fold(0.0, f64::max);
        let ys = Scale::from_zero(max_ms, 0.08, 6);
        let kib: Vec<f64> = self
            .rows
            .iter()
            .map(|r| r.cut_bytes as f64 / 1024.0)
            .collect();
        let (kmin, kmax) = kit::extent(kib.iter().copied().filter(|v| *v > 0.0));
        let ks = if kmax > 0.0 {
            Scale::auto(kmin, kmax, 6)
        } else {
            Scale::from_zero(1.0, 0.0, 5)
        };

        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(4)
            .x_label_area_size(label_h + 50)
            .y_label_area_size(95)
            .right_y_label_area_size(105)
            .build_cartesian_2d(xs.coord(), ys.coord())
            .map_err(de)?
            .set_secondary_coord(xs.coord(), ks.coord());
        // Names are drawn below (plotters centres rotated tick labels on the tick, which
        // pushes them into the plot); the mesh only draws the tick marks.
        let no_label = |_: &f64| String::new();
        let ms_fmt = |v: &f64| scale::num(*v);
        let x_desc = if k > 1 {
            format!("node (every {k}th of {n} named)")
        } else {
            "node (cut after it)".to_string()
        };
        mesh(
            &mut chart,
            [&no_label, &ms_fmt],
            [&x_desc, "device time per node (ms)"],
        )
        .disable_x_mesh()
        .draw()
        .map_err(de)?;
        let kfmt = |v: &f64| scale::num(ks.to_data(*v));
        chart
            .configure_secondary_axes()
            .y_desc(if ks.log {
                "feature size at cut (KiB, log)"
            } else {
                "feature size at cut (KiB)"
            })
            .y_label_formatter(&kfmt)
            .label_style(font(size::TICK))
            .axis_desc_style(font(size::DESC))
            .axis_style(kit::AXIS.stroke_width(1))
            .draw()
            .map_err(de)?;

        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.38, 0.0), (x + 0.38, r.device_ms.max(0.0))],
                    BAR.filled(),
                )
            }))
            .map_err(de)?;
        let pts: Vec<(f64, f64)> = kib
            .iter()
            .enumerate()
            .filter(|(_, v)| !ks.log || **v > 0.0)
            .map(|(i, v)| (i as f64, ks.to_plot(*v)))
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(pts.clone(), FEATURE.stroke_width(3)))
            .map_err(de)?;
        let r = if n > 60 { 3 } else { 5 };
        chart
            .draw_secondary_series(
                pts.iter()
                    .map(|p| marker(Marker::Circle, *p, r, FEATURE, 1.0)),
            )
            .map_err(de)?;

        // Rotated names reading upwards, ending just below each tick.
        let up = font(size::TICK)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for i in (0..n).step_by(k) {
            let (px, py) = chart.borrow_secondary().backend_coord(&(i as f64, ks.lo));
            root.draw(&Text::new(names[i].clone(), (px, py + 12), up.clone()))
                .map_err(de)?;
        }

        let total: f64 = self.rows.iter().map(|r| r.device_ms).sum();
        legend(
            &side,
            60,
            None,
            &[
                ("device time".into(), Swatch::Fill(BAR)),
                (
                    "feature at cut".into(),
                    Swatch::series(FEATURE, Marker::Circle),
                ),
            ],
        )?;
        let note = font(size::NOTE).pos(Pos::new(HPos::Left, VPos::Top));
        for (j, line) in [
            format!("{n} nodes"),
            format!("sum {} ms", scale::num(total)),
            "bars: left axis".to_string(),
            "line: right axis".to_string(),
        ]
        .into_iter()
        .enumerate()
        {
            side.draw(&Text::new(line, (14, 160 + 26 * j as i32), note.clone()))
                .map_err(de)?;
        }
        Ok(())
    }
}
