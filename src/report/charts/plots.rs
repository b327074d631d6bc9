//! The charts of a study. Each is a struct built from the rows (filtering, grouping and
//! sorting done once) that draws itself on any plotters backend, so the PNG and the SVG are
//! the same picture.

use super::kit::{self, de, font, legend, marker, size, titled, DResult, Marker, Palette, Swatch};
use super::scale::{self, Scale};
use crate::report::{
    AccuracyLatencyRow, BytesRow, CandidateRow, CdfRow, ChannelRole, Family, LayerRow, Study,
    TradeoffRow,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A chart that can draw itself on any backend.
pub(super) trait Chart {
    /// File stem (`layers` gives `layers.png` and `layers.svg`).
    fn stem(&self) -> &'static str;
    /// Why the chart cannot be drawn (no rows), if so.
    fn skip(&self) -> Option<String>;
    /// Draws on a white root area.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult;
}

/// Axis line and label colour.
const AXIS: RGBColor = RGBColor(60, 60, 60);

/// Splits the area below the title into the plot and the legend column.
/// The column is as wide as the longest of `labels` needs, within limits.
fn with_legend<'s, DB: DrawingBackend>(
    body: &DrawingArea<DB, Shift>,
    labels: impl IntoIterator<Item = &'s str>,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (w, _) = body.dim_in_pixel();
    let st = font(size::LEGEND);
    let text = labels
        .into_iter()
        .map(|l| body.estimate_text_size(l, &st).map(|d| d.0).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let col = (text + 90).clamp(kit::LEGEND_MIN_W, kit::LEGEND_MAX_W);
    let (plot, side) = body.split_horizontally(w.saturating_sub(col));
    (plot, side.margin(0, 0, 12, 0))
}

/// The mesh style every chart shares.
macro_rules! mesh {
    ($chart:expr, $xs:expr, $ys:expr, $xfmt:expr, $yfmt:expr, $xdesc:expr, $ydesc:expr) => {
        $chart
            .configure_mesh()
            .x_desc($xdesc)
            .y_desc($ydesc)
            .x_label_formatter($xfmt)
            .y_label_formatter($yfmt)
            .label_style(font(size::TICK))
            .axis_desc_style(font(size::DESC))
            .light_line_style(kit::GRID_LIGHT)
            .bold_line_style(kit::GRID_BOLD)
            .axis_style(AXIS.stroke_width(1))
    };
}

// ---------------------------------------------------------------- (a) layers

/// (a) Per-layer device time (bars, left axis) and feature size at each cut (line, right).
pub(super) struct Layers<'a> {
    title: &'a str,
    rows: Vec<&'a LayerRow>,
}

impl<'a> Layers<'a> {
    pub fn new(s: &'a Study) -> Self {
        let mut rows: Vec<&LayerRow> = s.layers.iter().collect();
        rows.sort_by_key(|r| r.index);
        Layers {
            title: &s.title,
            rows,
        }
    }
}

/// Fill of the per-layer bars.
const BAR: RGBColor = RGBColor(78, 121, 167);
/// Line of the feature size.
const FEATURE: RGBColor = RGBColor(225, 87, 89);

impl Chart for Layers<'_> {
    fn stem(&self) -> &'static str {
        "layers"
    }

    fn skip(&self) -> Option<String> {
        self.rows
            .is_empty()
            .then(|| "no layer rows (per-node device times)".into())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult {
        let body = titled(root, self.title, "per-node device time and feature size")?;
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
        let xs = Scale {
            lo: -0.6,
            hi: n as f64 - 0.4,
            log: false,
            bold: (0..n).step_by(k).map(|i| i as f64).collect(),
            light: Vec::new(),
        };
        let max_ms = self.rows.iter().map(|r| r.device_ms).fold(0.0, f64::max);
        let ys = Scale::from_zero(max_ms, 0.08, 6);
        let kib: Vec<f64> = self
            .rows
            .iter()
            .map(|r| r.cut_bytes as f64 / 1024.0)
            .collect();
        let kpos: Vec<f64> = kib.iter().copied().filter(|v| *v > 0.0).collect();
        let (kmin, kmax) = (
            kpos.iter().copied().fold(f64::INFINITY, f64::min),
            kpos.iter().copied().fold(0.0, f64::max),
        );
        let ks = if kpos.is_empty() {
            Scale::from_zero(1.0, 0.0, 5)
        } else {
            Scale::auto(kmin, kmax, 30.0, 6)
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
        mesh!(
            chart,
            xs,
            ys,
            &no_label,
            &ms_fmt,
            if k > 1 {
                format!("node (every {k}th of {n} named)")
            } else {
                "node (cut after it)".to_string()
            },
            "device time per node (ms)"
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
            .axis_style(AXIS.stroke_width(1))
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
                    Swatch::Line {
                        color: FEATURE,
                        width: 3,
                        marker: Some(Marker::Circle),
                        dashed: false,
                    },
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

// ---------------------------------------------------------------- (b) latency vs bandwidth

/// The short name of a preset link for a chart label: its label's first word (`3G 1.1
/// Mbps` gives `3G`).
fn preset_name(label: &str) -> &str {
    label.split_whitespace().next().unwrap_or(label)
}

/// (b) End-to-end latency vs uplink rate, one line per method, fixed-rate channels.
pub(super) struct Bandwidth<'a> {
    title: &'a str,
    pal: &'a Palette,
    /// Per method (palette order): (Mbps, total ms) sorted by rate.
    lines: Vec<(&'a str, Vec<(f64, f64)>)>,
    /// Preset rates to mark: (name, Mbps).
    presets: Vec<(&'a str, f64)>,
}

impl<'a> Bandwidth<'a> {
    pub fn new(s: &'a Study, pal: &'a Palette) -> Self {
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
        let mut lines = Vec::new();
        for m in pal.names() {
            let mut pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| &r.method == m)
                .map(|r| (r.uplink_mbps, r.total_ms))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts.dedup_by(|a, b| a.0 == b.0);
            if !pts.is_empty() {
                lines.push((m.as_str(), pts));
            }
        }
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
        Bandwidth {
            title: &s.title,
            pal,
            lines,
            presets,
        }
    }
}

/// Finite and positive (plottable on a log axis).
fn pos(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Min and max of an iterator of values (infinite when empty).
fn extent(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    })
}

impl Chart for Bandwidth<'_> {
    fn stem(&self) -> &'static str {
        "latency_vs_bandwidth"
    }

    fn skip(&self) -> Option<String> {
        self.lines
            .is_empty()
            .then(|| "no chosen rows on fixed-rate channels".into())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult {
        let body = titled(root, self.title, "end-to-end latency vs uplink bandwidth")?;
        let (plot, side) =
            with_legend(&body, self.lines.iter().map(|l| l.0).chain(["preset rate"]));
        let all = || self.lines.iter().flat_map(|(_, p)| p.iter());
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
        mesh!(
            chart,
            xs,
            ys,
            &xf,
            &yf,
            "uplink bandwidth (Mbit/s, log scale)",
            "end-to-end latency (ms, log scale)"
        )
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
                    RGBColor(120, 120, 120).stroke_width(2),
                ))
                .map_err(de)?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, ys.hi))
                        + Text::new(
                            name.to_string(),
                            (6, 6),
                            font(size::NOTE).color(&RGBColor(90, 90, 90)),
                        ),
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
            // Earlier lines wider, so a later line drawn on top leaves both visible.
            let w = 2 + (n - j).min(3) as u32;
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
        let items: Vec<(String, Swatch)> = self
            .lines
            .iter()
            .map(|(m, _)| {
                let (color, mk) = self.pal.get(m);
                (
                    m.to_string(),
                    Swatch::Line {
                        color,
                        width: 3,
                        marker: Some(mk),
                        dashed: false,
                    },
                )
            })
            .collect();
        let bottom = legend(&side, 12, Some("method"), &items)?;
        if !self.presets.is_empty() {
            legend(
                &side,
                bottom + 14,
                None,
                &[(
                    "preset rate".into(),
                    Swatch::Line {
                        color: RGBColor(120, 120, 120),
                        width: 2,
                        marker: None,
                        dashed: true,
                    },
                )],
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- (c) breakdown

/// Latency components of a row, in stacking order, with their colours.
const PARTS: [(&str, RGBColor); 6] = [
    ("device", RGBColor(78, 121, 167)),
    ("encode", RGBColor(242, 142, 43)),
    ("transmit", RGBColor(225, 87, 89)),
    ("decode", RGBColor(118, 183, 178)),
    ("edge", RGBColor(89, 161, 79)),
    ("RTT", RGBColor(186, 176, 172)),
];

/// The text right of a bar: total, split and (when it is not plain) the encoding.
fn annotation(r: &TradeoffRow) -> String {
    let plain = ["none", "f32", "uint8-input", ""].contains(&r.variant.as_str());
    if plain {
        format!("{} ms  (split {})", scale::num(r.total_ms), r.split)
    } else {
        format!(
            "{} ms  (split {}, {})",
            scale::num(r.total_ms),
            r.split,
            r.variant
        )
    }
}

fn parts(r: &TradeoffRow) -> [f64; 6] {
    [
        r.device_ms,
        r.encode_ms,
        r.tx_ms,
        r.decode_ms,
        r.edge_ms,
        r.rtt_ms,
    ]
    .map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 })
}

/// (c) Stacked latency breakdown per method at the 3G / 4G / Wi-Fi presets.
pub(super) struct Breakdown<'a> {
    title: &'a str,
    /// Per preset present: channel label and the chosen rows in method order.
    groups: Vec<(&'a str, Vec<&'a TradeoffRow>)>,
    rtt: bool,
}

impl<'a> Breakdown<'a> {
    pub fn new(s: &'a Study, pal: &'a Palette) -> Self {
        let rows: Vec<&TradeoffRow> = s
            .tradeoff
            .iter()
            .filter(|r| r.chosen && r.channel_role == ChannelRole::Preset)
            .collect();
        let mut labels: Vec<&str> = Vec::new();
        for r in &rows {
            if !labels.contains(&r.channel.as_str()) {
                labels.push(&r.channel);
            }
        }
        let mut groups = Vec::new();
        for label in labels {
            let mut sel = Vec::new();
            for m in pal.names() {
                if let Some(r) = rows.iter().find(|r| &r.method == m && r.channel == label) {
                    sel.push(*r);
                }
            }
            groups.push((label, sel));
        }
        let rtt = groups
            .iter()
            .flat_map(|g| g.1.iter())
            .any(|r| r.rtt_ms > 0.0);
        Breakdown {
            title: &s.title,
            groups,
            rtt,
        }
    }
}

impl Chart for Breakdown<'_> {
    fn stem(&self) -> &'static str {
        "breakdown"
    }

    fn skip(&self) -> Option<String> {
        self.groups
            .is_empty()
            .then(|| "no chosen rows at the 3G / 4G / Wi-Fi presets".into())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult {
        let body = titled(
            root,
            self.title,
            "latency breakdown of each method's pick at 3G / 4G / Wi-Fi",
        )?;
        let (plot, side) = with_legend(&body, PARTS.iter().map(|p| p.0));
        // Equal plot heights: the last panel also holds the axis description.
        let (_, ph) = plot.dim_in_pixel();
        let extra = 36;
        let g = self.groups.len() as u32;
        let each = ph.saturating_sub(extra) / g;
        let breaks: Vec<u32> = (1..g).map(|i| i * each).collect();
        let panels = plot.split_by_breakpoints([] as [u32; 0], breaks);
        let tick = font(size::TICK);
        let names_w = self
            .groups
            .iter()
            .flat_map(|g| g.1.iter())
            .map(|r| {
                plot.estimate_text_size(&r.method, &tick)
                    .map(|d| d.0)
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        let last = self.groups.len() - 1;
        for (gi, ((label, rows), area)) in self.groups.iter().zip(&panels).enumerate() {
            let m = rows.len();
            // Leave room right of each bar for its annotation.
            let note = font(size::NOTE);
            let plot_w = area.dim_in_pixel().0.saturating_sub(names_w + 60).max(100) as f64;
            let notes: Vec<String> = rows.iter().map(|r| annotation(r)).collect();
            let need = rows
                .iter()
                .zip(&notes)
                .map(|(r, t)| {
                    let total = parts(r).iter().sum::<f64>();
                    let tw = area.estimate_text_size(t, &note).map(|d| d.0).unwrap_or(0);
                    let free = (1.0 - (tw as f64 + 14.0) / plot_w).max(0.3);
                    total / free
                })
                .fold(0.0, f64::max);
            let xs = Scale::from_zero(need, 0.0, 6);
            let ys = Scale {
                lo: -0.6,
                hi: m as f64 - 0.4,
                log: false,
                bold: (0..m).map(|i| i as f64).collect(),
                light: Vec::new(),
            };
            let mut chart = ChartBuilder::on(area)
                .margin(8)
                .margin_right(24)
                .caption(*label, font(size::PANEL))
                .x_label_area_size(if gi == last { 34 + extra } else { 34 })
                .y_label_area_size(names_w + 24)
                .build_cartesian_2d(xs.coord(), ys.coord())
                .map_err(de)?;
            // Row i from the top holds rows[i].
            let name_of = |v: &f64| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < m {
                    rows[m - 1 - i as usize].method.clone()
                } else {
                    String::new()
                }
            };
            let xf = |v: &f64| scale::num(*v);
            mesh!(
                chart,
                xs,
                ys,
                &xf,
                &name_of,
                if gi == last { "latency (ms)" } else { "" },
                ""
            )
            .disable_y_mesh()
            .draw()
            .map_err(de)?;
            for (i, r) in rows.iter().enumerate() {
                let y = (m - 1 - i) as f64;
                let mut x = 0.0;
                for (v, (_, color)) in parts(r).iter().zip(PARTS) {
                    if *v > 0.0 {
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(x, y - 0.34), (x + v, y + 0.34)],
                                color.filled(),
                            )))
                            .map_err(de)?;
                    }
                    x += v;
                }
                let text = notes[i].clone();
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((x, y))
                            + Text::new(
                                text,
                                (8, 0),
                                font(size::NOTE).pos(Pos::new(HPos::Left, VPos::Center)),
                            ),
                    ))
                    .map_err(de)?;
            }
        }
        let items: Vec<(String, Swatch)> = PARTS
            .iter()
            .filter(|(n, _)| self.rtt || *n != "RTT")
            .map(|(n, c)| (n.to_string(), Swatch::Fill(*c)))
            .collect();
        legend(&side, 12, Some("component"), &items)?;
        Ok(())
    }
}

// ---------------------------------------------------------------- (d) trade-off

/// (d) Device compute vs bytes to send, one point per candidate, Pareto front as a step.
pub(super) struct Tradeoff<'a> {
    title: &'a str,
    rows: Vec<&'a CandidateRow>,
    variants: Palette,
}

impl<'a> Tradeoff<'a> {
    pub fn new(s: &'a Study) -> Self {
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
        Tradeoff {
            title: &s.title,
            rows,
            variants: Palette::categories(names),
        }
    }
}

/// Colour of the Pareto step line.
const FRONT: RGBColor = RGBColor(20, 20, 20);

impl Chart for Tradeoff<'_> {
    fn stem(&self) -> &'static str {
        "tradeoff"
    }

    fn skip(&self) -> Option<String> {
        self.rows.is_empty().then(|| "no candidate rows".into())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult {
        let body = titled(
            root,
            self.title,
            "communication-computation trade-off per split and variant",
        )?;
        let (plot, side) = with_legend(
            &body,
            self.variants
                .names()
                .iter()
                .map(|n| n.as_str())
                .chain(["Pareto front"]),
        );
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
        mesh!(
            chart,
            xs,
            ys,
            &xf,
            &yf,
            "bytes sent per inference (log scale)",
            "device compute incl. encoding (ms)"
        )
        .draw()
        .map_err(de)?;
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
            let mut step = vec![front[0]];
            for w in front.windows(2) {
                step.push((w[1].0, w[0].1));
                step.push(w[1]);
            }
            chart
                .draw_series(LineSeries::new(step, FRONT.stroke_width(2)))
                .map_err(de)?;
            chart
                .draw_series(
                    front.iter().map(|p| {
                        EmptyElement::at(*p) + Circle::new((0, 0), 10, FRONT.stroke_width(2))
                    }),
                )
                .map_err(de)?;
        }

        let mut items: Vec<(String, Swatch)> = self
            .variants
            .names()
            .iter()
            .map(|n| {
                let (c, m) = self.variants.get(n);
                (n.clone(), Swatch::Mark(c, m))
            })
            .collect();
        if !front.is_empty() {
            items.push((
                "Pareto front".into(),
                Swatch::Line {
                    color: FRONT,
                    width: 2,
                    marker: None,
                    dashed: false,
                },
            ));
        }
        legend(&side, 12, Some("variant family"), &items)?;
        Ok(())
    }
}

// ---------------------------------------------------------------- bytes per split

/// Bytes on the wire per split point, one line per encoding (log y).
pub(super) struct BytesPerSplit<'a> {
    title: &'a str,
    /// Split labels in node order, with their node index.
    splits: Vec<(&'a str, usize)>,
    /// Series in first-seen order.
    series: Palette,
    rows: &'a [BytesRow],
}

impl<'a> BytesPerSplit<'a> {
    pub fn new(s: &'a Study) -> Self {
        let mut splits: Vec<(&str, usize)> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for r in &s.bytes {
            if !splits.iter().any(|(_, k)| *k == r.split_index) {
                splits.push((&r.split, r.split_index));
            }
            if !names.contains(&r.encoding.as_str()) {
                names.push(&r.encoding);
            }
        }
        splits.sort_by_key(|s| s.1);
        BytesPerSplit {
            title: &s.title,
            splits,
            series: Palette::categories(names),
            rows: &s.bytes,
        }
    }
}

impl Chart for BytesPerSplit<'_> {
    fn stem(&self) -> &'static str {
        "bytes_per_split"
    }

    fn skip(&self) -> Option<String> {
        self.rows
            .is_empty()
            .then(|| "no bytes-per-split rows".into())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult {
        let body = titled(
            root,
            self.title,
            "bytes on the wire per split point (exact frame length)",
        )?;
        let (plot, side) = with_legend(&body, self.series.names().iter().map(|n| n.as_str()));
        let n = self.splits.len();
        let (y0, y1) = extent(
            self.rows
                .iter()
                .map(|r| r.payload_bytes as f64)
                .filter(|v| pos(*v)),
        );
        let (_, ph) = plot.dim_in_pixel();
        let ys = Scale::log(y0, y1, 0.08, (ph / 45) as usize);
        let xs = Scale {
            lo: -0.5,
            hi: n as f64 - 0.5,
            log: false,
            bold: (0..n).map(|i| i as f64).collect(),
            light: Vec::new(),
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(if n > 6 { 150 } else { 80 })
            .y_label_area_size(100)
            .build_cartesian_2d(xs.coord(), ys.coord())
            .map_err(de)?;
        let xf = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                self.splits[i as usize].0.to_string()
            } else {
                String::new()
            }
        };
        let yf = |v: &f64| scale::bytes(ys.to_data(*v));
        let xstyle = if n > 6 {
            font(size::TICK)
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center))
        } else {
            font(size::TICK)
        };
        mesh!(
            chart,
            xs,
            ys,
            &xf,
            &yf,
            "split point",
            "bytes sent per inference (log scale)"
        )
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
        let items: Vec<(String, Swatch)> = self
            .series
            .names()
            .iter()
            .map(|n| {
                let (color, mk) = self.series.get(n);
                (
                    n.clone(),
                    Swatch::Line {
                        color,
                        width: 3,
                        marker: Some(mk),
                        dashed: false,
                    },
                )
            })
            .collect();
        legend(&side, 12, Some("encoding"), &items)?;
        Ok(())
    }
}

// ---------------------------------------------------------------- (e) CDF

/// A method's curve: its name and (latency ms, cumulative probability) points.
type Curve<'a> = (&'a str, Vec<(f64, f64)>);

/// (e) Latency CDF per method, one panel per random channel.
pub(super) struct Cdf<'a> {
    title: &'a str,
    pal: &'a Palette,
    /// Per channel: label and per method (palette order) the (ms, probability) points.
    panels: Vec<(&'a str, Vec<Curve<'a>>)>,
}

impl<'a> Cdf<'a> {
    pub fn new(s: &'a Study, pal: &'a Palette) -> Self {
        let mut channels: Vec<&str> = Vec::new();
        for r in &s.cdf {
            if !channels.contains(&r.channel.as_str()) {
                channels.push(&r.channel);
            }
        }
        let panels = channels
            .into_iter()
            .map(|ch| {
                let lines = pal
                    .names()
                    .iter()
                    .filter_map(|m| {
                        let mut pts: Vec<(f64, f64)> = s
                            .cdf
                            .iter()
                            .filter(|r: &&CdfRow| r.channel == ch && &r.method == m)
                            .filter(|r| pos(r.total_ms) && r.quantile.is_finite())
                            .map(|r| (r.total_ms, r.quantile.clamp(0.0, 1.0)))
                            .collect();
                        pts.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)));
                        (!pts.is_empty()).then_some((m.as_str(), pts))
                    })
                    .collect::<Vec<_>>();
                (ch, lines)
            })
            .filter(|(_, l)| !l.is_empty())
            .collect();
        Cdf {
            title: &s.title,
            pal,
            panels,
        }
    }
}

impl Chart for Cdf<'_> {
    fn stem(&self) -> &'static str {
        "cdf"
    }

    fn skip(&self) -> Option<String> {
        self.panels
            .is_empty()
            .then(|| "no CDF rows (no Rayleigh or trace channel)".into())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult {
        let body = titled(
            root,
            self.title,
            "end-to-end latency CDF under random links",
        )?;
        let (plot, side) = with_legend(
            &body,
            self.panels
                .iter()
                .flat_map(|(_, l)| l.iter().map(|(m, _)| *m)),
        );
        let n = self.panels.len();
        let cols = if n == 4 { 2 } else { n.min(3) };
        let rows = n.div_ceil(cols);
        let areas = plot.split_evenly((rows, cols));
        for (pi, ((label, lines), area)) in self.panels.iter().zip(&areas).enumerate() {
            let all = || lines.iter().flat_map(|(_, p)| p.iter());
            let (x0, x1) = extent(all().map(|p| p.0));
            let xs = if x1 / x0 > 8.0 {
                Scale::log(x0, x1, 0.04, (area.dim_in_pixel().0 / 75) as usize)
            } else {
                let pad = (x1 - x0).max(x1 * 0.05) * 0.05;
                Scale::linear((x0 - pad).max(0.0), x1 + pad, 5)
            };
            let ys = Scale {
                lo: 0.0,
                hi: 1.02,
                log: false,
                bold: vec![0.0, 0.25, 0.5, 0.75, 1.0],
                light: vec![0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9],
            };
            let cap = kit::fit(
                area,
                label,
                &font(size::PANEL),
                area.dim_in_pixel().0.saturating_sub(20),
            );
            let first_col = pi % cols == 0;
            let mut chart = ChartBuilder::on(area)
                .margin(10)
                .margin_right(24)
                .caption(cap, font(size::PANEL))
                .x_label_area_size(80)
                .y_label_area_size(if first_col { 95 } else { 55 })
                .build_cartesian_2d(xs.coord(), ys.coord())
                .map_err(de)?;
            let xf = |v: &f64| scale::num(xs.to_data(*v));
            let yf = |v: &f64| scale::num(*v);
            mesh!(
                chart,
                xs,
                ys,
                &xf,
                &yf,
                if xs.log {
                    "end-to-end latency (ms, log scale)"
                } else {
                    "end-to-end latency (ms)"
                },
                if first_col {
                    "cumulative probability"
                } else {
                    ""
                }
            )
            .draw()
            .map_err(de)?;
            let k = lines.len();
            for (j, (m, pts)) in lines.iter().enumerate() {
                let (color, mk) = self.pal.get(m);
                let p: Vec<(f64, f64)> = pts.iter().map(|(x, q)| (xs.to_plot(*x), *q)).collect();
                let w = 2 + (k - j).min(3) as u32;
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
        let items: Vec<(String, Swatch)> = self
            .pal
            .names()
            .iter()
            .filter(|m| {
                self.panels
                    .iter()
                    .any(|(_, l)| l.iter().any(|(n, _)| n == &m.as_str()))
            })
            .map(|m| {
                let (color, mk) = self.pal.get(m);
                (
                    m.clone(),
                    Swatch::Line {
                        color,
                        width: 3,
                        marker: Some(mk),
                        dashed: false,
                    },
                )
            })
            .collect();
        legend(&side, 12, Some("method"), &items)?;
        Ok(())
    }
}

// ---------------------------------------------------------------- (f) accuracy vs latency

/// One method's points in one panel: every candidate and the front, (ms, accuracy).
struct FrontSeries<'a> {
    method: &'a str,
    points: Vec<(f64, f64)>,
    /// Sorted by latency (so accuracy rises along it).
    front: Vec<(f64, f64)>,
}

/// (f) Accuracy vs end-to-end latency, one panel per preset link: every candidate of known
/// accuracy as a faint dot in its method's colour, each method's Pareto front as a step
/// line, and device-only's accuracy as a dashed reference.
pub(super) struct AccuracyLatency<'a> {
    title: &'a str,
    source: &'a str,
    pal: &'a Palette,
    /// Per link (in row order): label and per method (palette order) its series.
    panels: Vec<(&'a str, Vec<FrontSeries<'a>>)>,
    /// device-only's accuracy, if known.
    base: Option<f64>,
}

impl<'a> AccuracyLatency<'a> {
    pub fn new(s: &'a Study, pal: &'a Palette) -> Self {
        let rows: Vec<&AccuracyLatencyRow> = s
            .accuracy_latency
            .iter()
            .filter(|r| pos(r.total_ms) && r.accuracy.is_finite())
            .collect();
        let mut links: Vec<&str> = Vec::new();
        for r in &rows {
            if !links.contains(&r.link.as_str()) {
                links.push(&r.link);
            }
        }
        let panels = links
            .into_iter()
            .map(|link| {
                let series = pal
                    .names()
                    .iter()
                    .filter_map(|m| {
                        let mine = || rows.iter().filter(|r| r.link == link && &r.method == m);
                        let points: Vec<(f64, f64)> =
                            mine().map(|r| (r.total_ms, r.accuracy)).collect();
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
                    })
                    .collect::<Vec<_>>();
                (link, series)
            })
            .collect();
        let base = rows
            .iter()
            .find(|r| r.method == "device-only")
            .map(|r| r.accuracy);
        AccuracyLatency {
            title: &s.title,
            source: &s.accuracy_source,
            pal,
            panels,
            base,
        }
    }
}

/// Grey of the base-accuracy reference line.
const BASE: RGBColor = RGBColor(90, 90, 90);

impl Chart for AccuracyLatency<'_> {
    fn stem(&self) -> &'static str {
        "f_accuracy_latency"
    }

    fn skip(&self) -> Option<String> {
        self.panels
            .is_empty()
            .then(|| "no accuracy-latency rows (no --accuracy-table)".into())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult {
        let mut body = titled(root, self.title, "top-1 accuracy vs end-to-end latency")?;
        if !self.source.is_empty() {
            body = kit::subtitled(&body, &format!("accuracy: {}", self.source))?;
        }
        let methods: Vec<&str> = self
            .pal
            .names()
            .iter()
            .map(String::as_str)
            .filter(|m| {
                self.panels
                    .iter()
                    .any(|(_, l)| l.iter().any(|s| s.method == *m))
            })
            .collect();
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
            let pw = area.dim_in_pixel().0;
            let xs = if x1 / x0 > 10.0 {
                Scale::log(x0, x1, 0.05, (pw / 70) as usize)
            } else {
                let pad = (x1 - x0).max(x1 * 0.05) * 0.06;
                Scale::linear((x0 - pad).max(0.0), x1 + pad, (pw / 90).max(2) as usize)
            };
            let cap = kit::fit(area, label, &font(size::PANEL), pw.saturating_sub(20));
            let first = pi == 0;
            let mut chart = ChartBuilder::on(area)
                .margin(10)
                .margin_right(18)
                .caption(cap, font(size::PANEL))
                .x_label_area_size(80)
                .y_label_area_size(if first { 95 } else { 55 })
                .build_cartesian_2d(xs.coord(), ys.coord())
                .map_err(de)?;
            let xf = |v: &f64| scale::num(xs.to_data(*v));
            let yf = |v: &f64| scale::num(*v);
            mesh!(
                chart,
                xs,
                ys,
                &xf,
                &yf,
                if xs.log {
                    "latency (ms, log scale)"
                } else {
                    "latency (ms)"
                },
                if first { "top-1 accuracy" } else { "" }
            )
            .draw()
            .map_err(de)?;
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
                let Some(&start) = front.first() else {
                    continue;
                };
                // Best accuracy within a latency budget: flat until the next front point.
                let mut step = vec![start];
                for w in front.windows(2) {
                    step.push((w[1].0, w[0].1));
                    step.push(w[1]);
                }
                let (color, _) = self.pal.get(s.method);
                chart
                    .draw_series(LineSeries::new(step, color.stroke_width(3 + 2 * halo(j))))
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
        let items: Vec<(String, Swatch)> = methods
            .iter()
            .map(|m| {
                let (color, mk) = self.pal.get(m);
                (
                    m.to_string(),
                    Swatch::Line {
                        color,
                        width: 3,
                        marker: Some(mk),
                        dashed: false,
                    },
                )
            })
            .collect();
        let bottom = legend(&side, 12, Some("Pareto front"), &items)?;
        let mut notes = vec![(
            "candidate".to_string(),
            Swatch::Mark(RGBColor(150, 150, 150), Marker::Circle),
        )];
        if self.base.is_some() {
            notes.push((
                "device-only accuracy".into(),
                Swatch::Line {
                    color: BASE,
                    width: 2,
                    marker: None,
                    dashed: true,
                },
            ));
        }
        legend(&side, bottom + 14, None, &notes)?;
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
