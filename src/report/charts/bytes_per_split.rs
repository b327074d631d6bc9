//! Bytes on the wire per split point, one line per encoding (log y): the exact frame
//! length, so the charts of two studies can be compared byte for byte.

use super::kit::{
    de, distinct, extent, font, legend, line_legend, mesh, pos, size, with_legend, Area, Chart,
    DResult,
};
use super::palette::{marker, Palette};
use super::scale::{self, Scale};
use crate::report::{BytesRow, Study};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The chart of the bytes-per-split rows.
pub(super) struct BytesPerSplit<'a> {
    /// Split labels in node order, with their node index.
    splits: Vec<(&'a str, usize)>,
    /// Series in first-seen order.
    series: Palette,
    rows: &'a [BytesRow],
}

impl<'a> BytesPerSplit<'a> {
    /// The chart of `s`'s bytes-per-split rows, if it has any.
    pub fn new(s: &'a Study) -> Option<Self> {
        let rows = &s.bytes;
        // A split's label is that of its first row.
        let mut splits: Vec<(&str, usize)> = distinct(rows.iter().map(|r| r.split_index))
            .into_iter()
            .filter_map(|k| rows.iter().find(|r| r.split_index == k))
            .map(|r| (r.split.as_str(), r.split_index))
            .collect();
        splits.sort_by_key(|s| s.1);
        let series = Palette::categories(rows.iter().map(|r| r.encoding.as_str()));
        (!rows.is_empty()).then_some(BytesPerSplit {
            splits,
            series,
            rows,
        })
    }
}

impl Chart for BytesPerSplit<'_> {
    const STEM: &'static str = "bytes_per_split";
    const WHAT: &'static str = "bytes on the wire per split point (exact frame length)";
    const EMPTY: &'static str = "no bytes-per-split rows";

    fn draw<DB: DrawingBackend>(&self, _: &Area<DB>, body: Area<DB>) -> DResult {
        let encodings = || self.series.names().iter().map(String::as_str);
        let (plot, side) = with_legend(&body, encodings());
        let n = self.splits.len();
        let (y0, y1) = extent(
            self.rows
                .iter()
                .map(|r| r.payload_bytes as f64)
                .filter(|v| pos(*v)),
        );
        let (_, ph) = plot.dim_in_pixel();
        let ys = Scale::log(y0, y1, 0.08, (ph / 45) as usize);
        let xs = Scale::slots(n, 0.5, 1);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(if n > 6 { 150 } else { 80 })
            .y_label_area_size(100)
            .build_cartesian_2d(xs.coord(), ys.coord())
            .map_err(de)?;
        let xf = |v: &f64| scale::slot(*v, n).map_or_else(String::new, |i| self.splits[i].0.into());
        let yf = |v: &f64| scale::bytes(ys.to_data(*v));
        // Many split names only fit turned upright.
        let xstyle = if n > 6 {
            font(size::TICK)
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center))
        } else {
            font(size::TICK)
        };
        let desc = ["split point", "bytes sent per inference (log scale)"];
        mesh(&mut chart, [&xf, &yf], desc)
            .x_label_style(xstyle)
            .draw()
            .map_err(de)?;
        for name in self.series.names() {
            let (color, mk) = self.series.get(name);
            let pts: Vec<(f64, f64)> = self
                .splits
                .iter()
                .enumerate()
                .filter_map(|(i, (_, k))| {
                    self.rows
                        .iter()
                        .find(|r| r.split_index == *k && &r.encoding == name)
                        .filter(|r| pos(r.payload_bytes as f64))
                        .map(|r| (i as f64, ys.to_plot(r.payload_bytes as f64)))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(3)))
                .map_err(de)?;
            chart
                .draw_series(pts.iter().map(|p| marker(mk, *p, 7, color, 0.9)))
                .map_err(de)?;
        }
        let items = line_legend(&self.series, encodings());
        legend(&side, 12, Some("encoding"), &items)?;
        Ok(())
    }
}
