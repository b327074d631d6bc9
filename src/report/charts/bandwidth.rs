//! (b) End-to-end latency vs uplink rate on the fixed-rate links, one line per method, the
//! preset rates marked. The lines join the sweep (links without RTT, so that they are one
//! curve per method); each method's pick at a preset, which adds the preset's RTT, is a
//! separate mark on the preset's vertical.

use super::kit::{
    de, extent, font, legend, line_legend, mesh, pos, size, stacked_width, with_legend, Area,
    Chart, DResult, Swatch,
};
use super::palette::{marker, Marker, Palette};
use super::scale::{self, Scale};
use crate::report::{ChannelRole, Study, TradeoffRow};
use plotters::prelude::*;

/// Chart (b): per method its picks on the fixed-rate links.
pub(super) struct Bandwidth<'a> {
    pal: &'a Palette,
    /// Per method (palette order): (Mbps, total ms) sorted by rate.
    lines: Vec<(&'a str, Vec<(f64, f64)>)>,
    /// Per method: its picks at the presets, (Mbps, total ms), when the lines are the sweep.
    picks: Vec<(&'a str, Vec<(f64, f64)>)>,
    /// Preset rates to mark: (name, Mbps).
    presets: Vec<(&'a str, f64)>,
}

/// The short name of a preset link for a chart label: its label's first word (`3G 1.1
/// Mbps` gives `3G`).
fn preset_name(label: &str) -> &str {
    label.split_whitespace().next().unwrap_or(label)
}

/// Grey of the preset rates' verticals.
const PRESET: RGBColor = RGBColor(120, 120, 120);

impl<'a> Bandwidth<'a> {
    /// The chart of `s`'s chosen rows on fixed-rate links, if there are any.
    pub fn new(s: &'a Study, pal: &'a Palette) -> Option<Self> {
        let rows: Vec<&TradeoffRow> = s
            .tradeoff
            .iter()
            .filter(|r| {
                r.chosen
                    && r.channel_kind.eq_ignore_ascii_case("fixed")
                    && pos(r.uplink_mbps)
                    && pos(r.total_ms)
            })
            .collect();
        // Join the sweep when there is one: presets carry their RTT, the sweep none, and
        // one line through both would jump at every preset.
        let sweep = rows.iter().any(|r| r.channel_role == ChannelRole::Sweep);
        let on_line = |r: &TradeoffRow| !sweep || r.channel_role == ChannelRole::Sweep;
        let per_method = |keep: &dyn Fn(&TradeoffRow) -> bool| {
            let mut out = Vec::new();
            for m in pal.names() {
                let mut pts: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| &r.method == m && keep(r))
                    .map(|r| (r.uplink_mbps, r.total_ms))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                pts.dedup_by(|a, b| a.0 == b.0);
                if !pts.is_empty() {
                    out.push((m.as_str(), pts));
                }
            }
            out
        };
        let lines = per_method(&on_line);
        let picks = if sweep {
            per_method(&|r: &TradeoffRow| r.channel_role == ChannelRole::Preset)
        } else {
            Vec::new()
        };
        let mut presets: Vec<(&str, f64)> = Vec::new();
        for r in rows
            .iter()
            .filter(|r| r.channel_role == ChannelRole::Preset)
        {
            let name = preset_name(&r.channel);
            if !presets.iter().any(|(n, _)| *n == name) {
                presets.push((name, r.uplink_mbps));
            }
        }
        presets.sort_by(|a, b| a.1.total_cmp(&b.1));
        (!lines.is_empty()).then_some(Bandwidth {
            pal,
            lines,
            picks,
            presets,
        })
    }
}

impl Chart for Bandwidth<'_> {
    const STEM: &'static str = "latency_vs_bandwidth";
    const WHAT: &'static str = "end-to-end latency vs uplink bandwidth (lines: no RTT)";
    const EMPTY: &'static str = "no chosen rows on fixed-rate channels";

    fn draw<DB: DrawingBackend>(&self, _: &Area<DB>, body: Area<DB>) -> DResult {
        let methods = || self.lines.iter().map(|l| l.0);
        let (plot, side) = with_legend(
            &body,
            methods().chain(["preset rate", "pick at a preset (with its RTT)"]),
        );
        let all = || {
            self.lines
                .iter()
                .chain(&self.picks)
                .flat_map(|(_, p)| p.iter())
        };
        let (x0, x1) = extent(all().map(|p| p.0));
        let (y0, y1) = extent(all().map(|p| p.1));
        let (pw, ph) = plot.dim_in_pixel();
        let xs = Scale::log(x0, x1, 0.04, (pw / 80) as usize);
        let ys = Scale::log(y0, y1, 0.08, (ph / 45) as usize);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(80)
            .y_label_area_size(100)
            .build_cartesian_2d(xs.coord(), ys.coord())
            .map_err(de)?;
        let xf = |v: &f64| scale::num(xs.to_data(*v));
        let yf = |v: &f64| scale::num(ys.to_data(*v));
        let desc = [
            xs.desc("uplink bandwidth", "Mbit/s"),
            ys.desc("end-to-end latency", "ms"),
        ];
        mesh(&mut chart, [&xf, &yf], [&desc[0], &desc[1]])
            .draw()
            .map_err(de)?;

        // Preset rates: dashed verticals labelled at the top.
        for (name, mbps) in &self.presets {
            let x = xs.to_plot(*mbps);
            if x < xs.lo || x > xs.hi {
                continue;
            }
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x, ys.lo), (x, ys.hi)],
                    8,
                    6,
                    PRESET.stroke_width(2),
                ))
                .map_err(de)?;
            let label = font(size::NOTE).color(&RGBColor(90, 90, 90));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, ys.hi)) + Text::new(name.to_string(), (6, 6), label),
                ))
                .map_err(de)?;
        }

        let n = self.lines.len();
        for (j, (m, pts)) in self.lines.iter().enumerate() {
            let (color, mk) = self.pal.get(m);
            let p: Vec<(f64, f64)> = pts
                .iter()
                .map(|(x, y)| (xs.to_plot(*x), ys.to_plot(*y)))
                .collect();
            let w = stacked_width(n, j);
            chart
                .draw_series(LineSeries::new(p.clone(), color.stroke_width(w)))
                .map_err(de)?;
            let every = p.len().div_ceil(14).max(1);
            chart
                .draw_series(
                    p.iter()
                        .skip(j % every)
                        .step_by(every)
                        .map(|q| marker(mk, *q, 6, color, 0.85)),
                )
                .map_err(de)?;
        }
        // Picks at the presets: larger, lighter marks of the method's shape, no line.
        for (m, pts) in &self.picks {
            let (color, mk) = self.pal.get(m);
            chart
                .draw_series(
                    pts.iter()
                        .map(|(x, y)| marker(mk, (xs.to_plot(*x), ys.to_plot(*y)), 9, color, 0.45)),
                )
                .map_err(de)?;
        }
        let bottom = legend(&side, 12, Some("method"), &line_legend(self.pal, methods()))?;
        if !self.presets.is_empty() {
            let mut items = vec![("preset rate".into(), Swatch::dashed(PRESET))];
            if !self.picks.is_empty() {
                items.push((
                    "pick at a preset (with its RTT)".into(),
                    Swatch::Mark(PRESET, Marker::Circle),
                ));
            }
            legend(&side, bottom + 14, None, &items)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_are_the_labels_first_word() {
        assert_eq!(preset_name("3G 1.1 Mbps"), "3G");
        assert_eq!(preset_name("Wi-Fi 18.88 Mbps"), "Wi-Fi");
        assert_eq!(preset_name("fixed"), "fixed");
    }
}
