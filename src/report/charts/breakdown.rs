//! (c) Each method's pick at the 3G / 4G / Wi-Fi presets as a stacked bar of its latency
//! components, one panel per preset.

use super::kit::{
    de, distinct, font, legend, mesh, size, with_legend, Area, Chart, DResult, Swatch,
};
use super::palette::{marker, Marker, Palette};
use super::scale::{self, Scale};
use crate::report::{ChannelRole, Family, Study, TradeoffRow};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Latency components of a row, in stacking order, with their colours.
const PARTS: [(&str, RGBColor); 6] = [
    ("device", RGBColor(78, 121, 167)),
    ("encode", RGBColor(242, 142, 43)),
    ("transmit", RGBColor(225, 87, 89)),
    ("decode", RGBColor(118, 183, 178)),
    ("edge", RGBColor(89, 161, 79)),
    ("RTT", RGBColor(186, 176, 172)),
];

/// Colour and legend text of the measured mark (`tradeoff --real-link`).
const MEASURED: RGBColor = RGBColor(20, 20, 20);
const MEASURED_LABEL: &str = "measured (real link)";

/// The text right of a bar: total, split and (when it is not plain) the encoding; the
/// measured total first when there is one.
fn annotation(r: &TradeoffRow) -> String {
    let plain = matches!(r.family, Family::None | Family::F32 | Family::Uint8Input);
    let measured = r.measured_total_ms.map_or(String::new(), |m| {
        format!(", measured {} ms", scale::num(m))
    });
    if plain {
        format!(
            "{} ms{measured}  (split {})",
            scale::num(r.total_ms),
            r.split
        )
    } else {
        format!(
            "{} ms{measured}  (split {}, {})",
            scale::num(r.total_ms),
            r.split,
            r.variant
        )
    }
}

/// A row's components in the order of [`PARTS`], missing or negative ones as 0.
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

/// Chart (c): per preset link, each method's pick there.
pub(super) struct Breakdown<'a> {
    /// Per preset present: channel label and the chosen rows in method order.
    groups: Vec<(&'a str, Vec<&'a TradeoffRow>)>,
    /// Whether any pick is charged a round trip (else the legend leaves RTT out).
    rtt: bool,
    /// Whether any pick was also measured for real.
    measured: bool,
}

impl<'a> Breakdown<'a> {
    /// The chart of `s`'s chosen rows at the preset links, if there are any.
    pub fn new(s: &'a Study, pal: &'a Palette) -> Option<Self> {
        let rows: Vec<&TradeoffRow> = s
            .tradeoff
            .iter()
            .filter(|r| r.chosen && r.channel_role == ChannelRole::Preset)
            .collect();
        let groups: Vec<(&str, Vec<&TradeoffRow>)> =
            distinct(rows.iter().map(|r| r.channel.as_str()))
                .into_iter()
                .map(|label| {
                    let sel = pal
                        .names()
                        .iter()
                        .filter_map(|m| {
                            rows.iter()
                                .find(|r| &r.method == m && r.channel == label)
                                .copied()
                        })
                        .collect();
                    (label, sel)
                })
                .collect();
        let rtt = groups
            .iter()
            .flat_map(|g| g.1.iter())
            .any(|r| r.rtt_ms > 0.0);
        let measured = rows.iter().any(|r| r.measured_total_ms.is_some());
        (!groups.is_empty()).then_some(Breakdown {
            groups,
            rtt,
            measured,
        })
    }
}

impl Chart for Breakdown<'_> {
    const STEM: &'static str = "breakdown";
    const WHAT: &'static str = "latency breakdown of each method's pick at 3G / 4G / Wi-Fi";
    const EMPTY: &'static str = "no chosen rows at the 3G / 4G / Wi-Fi presets";

    fn draw<DB: DrawingBackend>(&self, _: &Area<DB>, body: Area<DB>) -> DResult {
        let names = PARTS
            .iter()
            .map(|p| p.0)
            .chain(self.measured.then_some(MEASURED_LABEL));
        let (plot, side) = with_legend(&body, names);
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
                    let total = parts(r)
                        .iter()
                        .sum::<f64>()
                        .max(r.measured_total_ms.unwrap_or(0.0));
                    let tw = area.estimate_text_size(t, &note).map(|d| d.0).unwrap_or(0);
                    let free = (1.0 - (tw as f64 + 14.0) / plot_w).max(0.3);
                    total / free
                })
                .fold(0.0, f64::max);
            let xs = Scale::from_zero(need, 0.0, 6);
            let ys = Scale::slots(m, 0.6, 1);
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
                scale::slot(*v, m).map_or_else(String::new, |i| rows[m - 1 - i].method.clone())
            };
            let xf = |v: &f64| scale::num(*v);
            let x_desc = if gi == last { "latency (ms)" } else { "" };
            mesh(&mut chart, [&xf, &name_of], [x_desc, ""])
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
                // The measured total: a black diamond on the bar's axis.
                if let Some(mt) = r.measured_total_ms.filter(|v| v.is_finite() && *v >= 0.0) {
                    chart
                        .draw_series(std::iter::once(marker(
                            Marker::Diamond,
                            (mt, y),
                            7,
                            MEASURED,
                            1.0,
                        )))
                        .map_err(de)?;
                    x = x.max(mt);
                }
                let st = font(size::NOTE).pos(Pos::new(HPos::Left, VPos::Center));
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((x, y)) + Text::new(notes[i].clone(), (8, 0), st),
                    ))
                    .map_err(de)?;
            }
        }
        let mut items: Vec<(String, Swatch)> = PARTS
            .iter()
            .filter(|(n, _)| self.rtt || *n != "RTT")
            .map(|(n, c)| (n.to_string(), Swatch::Fill(*c)))
            .collect();
        if self.measured {
            items.push((
                MEASURED_LABEL.into(),
                Swatch::Mark(MEASURED, Marker::Diamond),
            ));
        }
        legend(&side, 12, Some("component"), &items)?;
        Ok(())
    }
}
