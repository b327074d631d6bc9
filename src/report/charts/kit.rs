//! Drawing kit shared by the charts: the [`Chart`] trait, the embedded font and text sizes,
//! the title, the split of a chart into plot and legend column, the mesh style, the panels
//! of a chart of several, legends, and small helpers over the rows' values.

use super::palette::{marker, Marker, Palette};
use super::scale::{self, Scale, Ticked};
use plotters::chart::{ChartContext, MeshStyle};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A drawing area in pixels (the whole chart or a part of it).
pub(super) type Area<DB> = DrawingArea<DB, Shift>;

/// A plot on the coordinates of two [`Scale`]s.
pub(super) type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// A chart of a study. Its `new` builds it from the rows (filtering, grouping and sorting
/// done once) and gives `None` when there is nothing to draw; it then draws itself on any
/// backend, so the PNG and the SVG are the same picture.
pub(super) trait Chart {
    /// File stem (`layers` gives `layers.png` and `layers.svg`).
    const STEM: &'static str;
    /// What the chart shows: the title after the study's name.
    const WHAT: &'static str;
    /// Why the chart is skipped when its `new` found nothing to draw.
    const EMPTY: &'static str;
    /// Draws the chart in `body`, the area below the title; `root` is the whole chart.
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, body: Area<DB>) -> DResult;
}

/// Error of a drawing call, as text (the caller adds the file name).
pub(super) type DResult<T = ()> = std::result::Result<T, String>;

/// Converts a plotters error into text.
pub(super) fn de<E: std::error::Error + Send + Sync>(
    e: plotters::drawing::DrawingAreaErrorKind<E>,
) -> String {
    e.to_string()
}

/// DejaVu Sans, embedded so the charts render the same on a machine without fonts.
#[cfg(not(target_arch = "wasm32"))]
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Family name the embedded font is registered under.
pub(super) const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters (once per process).
pub(super) fn register_font() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // plotters draws no text of its own on wasm32 (the browser's fonts do): no charts there.
    #[cfg(target_arch = "wasm32")]
    return *OK.get_or_init(|| false);
    #[cfg(not(target_arch = "wasm32"))]
    *OK.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
}

/// Text sizes in plotters units (the em is about size / 1.2 px).
pub(super) mod size {
    /// Chart title.
    pub const TITLE: f64 = 30.0;
    /// Panel caption.
    pub const PANEL: f64 = 25.0;
    /// Axis description.
    pub const DESC: f64 = 25.0;
    /// Tick labels.
    pub const TICK: f64 = 22.0;
    /// Legend entries.
    pub const LEGEND: f64 = 22.0;
    /// Annotations inside the plot.
    pub const NOTE: f64 = 20.0;
}

/// A text style of the embedded font.
pub(super) fn font(px: f64) -> TextStyle<'static> {
    (FAMILY, px).into_font().color(&BLACK)
}

/// Light grid lines.
pub(super) const GRID_LIGHT: RGBColor = RGBColor(238, 238, 238);
/// Labelled grid lines.
pub(super) const GRID_BOLD: RGBColor = RGBColor(205, 205, 205);

/// Axis line and label colour.
pub(super) const AXIS: RGBColor = RGBColor(60, 60, 60);

/// What a legend entry shows left of its text.
#[derive(Clone, Debug)]
pub(super) enum Swatch {
    /// A line, optionally dashed, optionally with a marker on it.
    Line {
        color: RGBColor,
        width: u32,
        marker: Option<Marker>,
        dashed: bool,
    },
    /// A filled box (bars).
    Fill(RGBColor),
    /// A marker alone (scatter).
    Mark(RGBColor, Marker),
}

impl Swatch {
    /// A data series: a 3-pixel line with the series' marker on it.
    pub fn series(color: RGBColor, marker: Marker) -> Swatch {
        Swatch::Line {
            color,
            width: 3,
            marker: Some(marker),
            dashed: false,
        }
    }

    /// A plain 2-pixel line (a front drawn over the points).
    pub fn line(color: RGBColor) -> Swatch {
        Swatch::Line {
            color,
            width: 2,
            marker: None,
            dashed: false,
        }
    }

    /// A dashed 2-pixel line (a reference, not data).
    pub fn dashed(color: RGBColor) -> Swatch {
        Swatch::Line {
            color,
            width: 2,
            marker: None,
            dashed: true,
        }
    }
}

/// One legend entry per name (methods, encodings): its palette colour and marker on a line.
pub(super) fn line_legend<'s>(
    pal: &Palette,
    names: impl IntoIterator<Item = &'s str>,
) -> Vec<(String, Swatch)> {
    names
        .into_iter()
        .map(|n| {
            let (color, mk) = pal.get(n);
            (n.to_string(), Swatch::series(color, mk))
        })
        .collect()
}

/// Draws a legend box with a white background at the top of `area` (a column beside the
/// plot, so it never covers data), starting `top` pixels down. Returns the box's bottom.
pub(super) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    top: i32,
    heading: Option<&str>,
    items: &[(String, Swatch)],
) -> DResult<i32> {
    if items.is_empty() {
        return Ok(top);
    }
    let (w, _) = area.dim_in_pixel();
    let row = (size::LEGEND * 1.3) as i32;
    let pad = 10;
    let x0 = 4;
    let x1 = w as i32 - 8;
    let rows = items.len() as i32 + i32::from(heading.is_some());
    let y1 = top + 2 * pad + rows * row;
    area.draw(&Rectangle::new([(x0, top), (x1, y1)], WHITE.filled()))
        .map_err(de)?;
    area.draw(&Rectangle::new(
        [(x0, top), (x1, y1)],
        RGBColor(150, 150, 150).stroke_width(1),
    ))
    .map_err(de)?;
    let left = Pos::new(HPos::Left, VPos::Center);
    let mut y = top + pad + row / 2;
    let text_x = x0 + 58;
    let max_text = (x1 - text_x - 6).max(10) as u32;
    if let Some(h) = heading {
        let st = font(size::LEGEND).pos(left);
        area.draw(&Text::new(
            fit(area, h, &st, max_text + 50),
            (x0 + pad, y),
            st,
        ))
        .map_err(de)?;
        y += row;
    }
    for (label, sw) in items {
        let (sx0, sx1) = (x0 + 10, x0 + 48);
        let mid = (sx0 + sx1) / 2;
        match *sw {
            Swatch::Line {
                color,
                width,
                marker: mk,
                dashed,
            } => {
                let st = color.stroke_width(width);
                if dashed {
                    let mut x = sx0;
                    while x < sx1 {
                        area.draw(&PathElement::new(vec![(x, y), ((x + 7).min(sx1), y)], st))
                            .map_err(de)?;
                        x += 11;
                    }
                } else {
                    area.draw(&PathElement::new(vec![(sx0, y), (sx1, y)], st))
                        .map_err(de)?;
                }
                if let Some(m) = mk {
                    draw_px_marker(area, m, (mid, y), 6, color, 0.9)?;
                }
            }
            Swatch::Fill(color) => {
                area.draw(&Rectangle::new(
                    [(sx0 + 4, y - row / 3), (sx1 - 4, y + row / 3)],
                    color.filled(),
                ))
                .map_err(de)?;
            }
            Swatch::Mark(color, m) => draw_px_marker(area, m, (mid, y), 6, color, 0.75)?,
        }
        let st = font(size::LEGEND).pos(left);
        area.draw(&Text::new(fit(area, label, &st, max_text), (text_x, y), st))
            .map_err(de)?;
        y += row;
    }
    Ok(y1)
}

/// A marker at a pixel position of a `Shift` area.
fn draw_px_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: Marker,
    at: (i32, i32),
    r: i32,
    color: RGBColor,
    alpha: f64,
) -> DResult {
    area.draw(&marker(m, at, r, color, alpha)).map_err(de)
}

/// `text` shortened with an ellipsis to fit `max_px`.
pub(super) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_px: u32,
) -> String {
    let width = |s: &str| area.estimate_text_size(s, style).map(|d| d.0).unwrap_or(0);
    if width(text) <= max_px {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let s: String = chars.iter().collect::<String>() + "…";
        if width(&s) <= max_px {
            return s;
        }
    }
    "…".into()
}

/// `text` on one line, or on two broken at a space (before a parenthesis where one fits:
/// a study's name stays whole, its edge model goes below) when one is too narrow; a second
/// line still too wide is shortened with an ellipsis.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_px: u32,
) -> Vec<String> {
    let width = |s: &str| area.estimate_text_size(s, style).map(|d| d.0).unwrap_or(0);
    if width(text) <= max_px {
        return vec![text.to_string()];
    }
    let fits = |i: &usize| width(&text[..*i]) <= max_px;
    let spaces: Vec<usize> = text.match_indices(' ').map(|(i, _)| i).collect();
    let before_paren = spaces
        .iter()
        .copied()
        .rev()
        .find(|&i| text[i + 1..].starts_with('(') && fits(&i));
    match before_paren.or_else(|| spaces.iter().copied().rev().find(fits)) {
        Some(i) => vec![
            text[..i].to_string(),
            fit(area, &text[i + 1..], style, max_px),
        ],
        None => vec![fit(area, text, style, max_px)],
    }
}

/// `text` shortened from the left with an ellipsis to fit `max_px` (for paths, whose end
/// says the most).
pub(super) fn fit_tail<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_px: u32,
) -> String {
    let width = |s: &str| area.estimate_text_size(s, style).map(|d| d.0).unwrap_or(0);
    let mut chars: Vec<char> = text.chars().collect();
    let mut s = text.to_string();
    while width(&s) > max_px && !chars.is_empty() {
        chars.remove(0);
        s = std::iter::once('…').chain(chars.iter().copied()).collect();
    }
    s
}

/// Draws one centred line of note-sized text at the top of `area` (a subtitle under the
/// title) and returns the area below it.
pub(super) fn subtitled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
) -> DResult<DrawingArea<DB, Shift>> {
    let (w, _) = area.dim_in_pixel();
    let st = font(size::NOTE)
        .color(&RGBColor(70, 70, 70))
        .pos(Pos::new(HPos::Center, VPos::Top));
    let line = fit_tail(area, text, &st, w.saturating_sub(40));
    area.draw(&Text::new(line, (w as i32 / 2, 0), st))
        .map_err(de)?;
    Ok(area.split_vertically((size::NOTE * 1.2) as i32 + 6).1)
}

/// Draws the chart title (`study` + `what`, on two lines when one is too wide) and returns
/// the area below it.
pub(super) fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    study: &str,
    what: &str,
) -> DResult<DrawingArea<DB, Shift>> {
    let (w, _) = root.dim_in_pixel();
    let st = font(size::TITLE).pos(Pos::new(HPos::Center, VPos::Top));
    let one = if study.is_empty() {
        what.to_string()
    } else {
        format!("{study}: {what}")
    };
    let width = root.estimate_text_size(&one, &st).map_err(de)?.0;
    let lines: Vec<String> = if width + 40 <= w || study.is_empty() {
        vec![one]
    } else {
        let mut lines = wrap(root, study, &st, w - 40);
        lines.push(fit(root, what, &st, w - 40));
        lines
    };
    let line_h = (size::TITLE * 1.15) as i32;
    let mut y = 12;
    for l in &lines {
        root.draw(&Text::new(l.clone(), (w as i32 / 2, y), st.clone()))
            .map_err(de)?;
        y += line_h;
    }
    Ok(root.split_vertically(y + 6).1)
}

/// Narrowest legend column right of a plot.
pub(super) const LEGEND_MIN_W: u32 = 230;
/// Widest legend column (longer labels are shortened with an ellipsis).
pub(super) const LEGEND_MAX_W: u32 = 420;

/// Splits the area below the title into the plot and the legend column.
/// The column is as wide as the longest of `labels` needs, within limits.
pub(super) fn with_legend<'s, DB: DrawingBackend>(
    body: &Area<DB>,
    labels: impl IntoIterator<Item = &'s str>,
) -> (Area<DB>, Area<DB>) {
    let (w, _) = body.dim_in_pixel();
    let st = font(size::LEGEND);
    let text = labels
        .into_iter()
        .map(|l| body.estimate_text_size(l, &st).map(|d| d.0).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let col = (text + 90).clamp(LEGEND_MIN_W, LEGEND_MAX_W);
    let (plot, side) = body.split_horizontally(w.saturating_sub(col));
    (plot, side.margin(0, 0, 12, 0))
}

/// The mesh style every chart shares, with tick labels by `fmt` and axis descriptions
/// `desc` (x, y); the caller may change more before drawing it.
pub(super) fn mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut Plot<'a, DB>,
    fmt: [&'b dyn Fn(&f64) -> String; 2],
    desc: [&str; 2],
) -> MeshStyle<'a, 'b, Ticked, Ticked, DB> {
    let mut m = chart.configure_mesh();
    m.x_desc(desc[0])
        .y_desc(desc[1])
        .x_label_formatter(fmt[0])
        .y_label_formatter(fmt[1])
        .label_style(font(size::TICK))
        .axis_desc_style(font(size::DESC))
        .light_line_style(GRID_LIGHT)
        .bold_line_style(GRID_BOLD)
        .axis_style(AXIS.stroke_width(1));
    m
}

/// One panel of a chart of several side by side (charts e and f): its caption on top,
/// shortened to fit; ticks labelled in data units; the y description and the wide
/// tick-label area in the first column only, so that the plots of a row line up.
pub(super) struct Panel<'s> {
    /// Caption (the panel's link).
    pub caption: &'s str,
    /// Whether the panel is in the first column.
    pub first_col: bool,
    /// Room right of the plot, pixels.
    pub margin_right: u32,
    /// What the x axis shows and its unit (`latency`, `ms`).
    pub x: (&'s str, &'s str),
    /// The y axis description.
    pub y: &'s str,
}

impl Panel<'_> {
    /// Builds the panel on `area` with the scales `xs` and `ys` and draws its mesh.
    pub fn build<'a, DB: DrawingBackend>(
        &self,
        area: &'a Area<DB>,
        xs: &Scale,
        ys: &Scale,
    ) -> DResult<Plot<'a, DB>> {
        let w = area.dim_in_pixel().0;
        let cap = fit(area, self.caption, &font(size::PANEL), w.saturating_sub(20));
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .margin_right(self.margin_right)
            .caption(cap, font(size::PANEL))
            .x_label_area_size(80)
            .y_label_area_size(if self.first_col { 95 } else { 55 })
            .build_cartesian_2d(xs.coord(), ys.coord())
            .map_err(de)?;
        let xf = |v: &f64| scale::num(xs.to_data(*v));
        let yf = |v: &f64| scale::num(ys.to_data(*v));
        let x_desc = xs.desc(self.x.0, self.x.1);
        let y_desc = if self.first_col { self.y } else { "" };
        mesh(&mut chart, [&xf, &yf], [&x_desc, y_desc])
            .draw()
            .map_err(de)?;
        Ok(chart)
    }
}

/// Line width of the `j`-th of `n` series drawn in turn: earlier ones wider, so a later
/// line drawn on top of an earlier one leaves both visible.
pub(super) fn stacked_width(n: usize, j: usize) -> u32 {
    2 + (n - j).min(3) as u32
}

/// The step line through a Pareto front sorted by x: flat from each point to the next
/// one's x (the best y within that x budget), then up or down to it.
pub(super) fn staircase(front: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut step: Vec<(f64, f64)> = front.first().copied().into_iter().collect();
    for w in front.windows(2) {
        step.push((w[1].0, w[0].1));
        step.push(w[1]);
    }
    step
}

/// The distinct items in order of first appearance (links, encodings, methods in row
/// order: the order the study wrote them in).
pub(super) fn distinct<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for it in items {
        if !out.contains(&it) {
            out.push(it);
        }
    }
    out
}

/// Finite and positive (plottable on a log axis).
pub(super) fn pos(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Min and max of values (infinite when there are none).
pub(super) fn extent(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keeps_first_seen_order() {
        assert_eq!(
            distinct(["4G", "3G", "4G", "Wi-Fi", "3G"]),
            ["4G", "3G", "Wi-Fi"]
        );
        assert!(distinct(Vec::<u8>::new()).is_empty());
    }

    #[test]
    fn staircase_steps_between_front_points() {
        let f = [(1.0, 0.5), (2.0, 0.7), (4.0, 0.9)];
        assert_eq!(
            staircase(&f),
            [(1.0, 0.5), (2.0, 0.5), (2.0, 0.7), (4.0, 0.7), (4.0, 0.9)]
        );
        assert!(staircase(&[]).is_empty());
    }

    #[test]
    fn long_titles_wrap_before_a_parenthesis() {
        assert!(register_font());
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, (1200, 750)).into_drawing_area();
        let st = font(size::TITLE);
        let study = "mobilenet_v2 3x224x224 on llvmpipe (LLVM 15.0.6, 256 bits) \
                     (edge: device times / 10 (default --edge-speedup))";
        assert_eq!(wrap(&root, "resnet18-cifar", &st, 1160), ["resnet18-cifar"]);
        let lines = wrap(&root, study, &st, 1160);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines.join(" "), study, "nothing is cut: {lines:?}");
        assert!(lines[1].starts_with('('), "{lines:?}");
        // Too wide for two lines: the second is shortened, the first stays whole.
        let lines = wrap(&root, study, &st, 500);
        assert!(lines[1].ends_with('…'), "{lines:?}");
        assert!(study.starts_with(&lines[0]), "{lines:?}");
    }

    #[test]
    fn extent_of_nothing_is_empty() {
        let (lo, hi) = extent(std::iter::empty());
        assert!(lo > hi);
        assert_eq!(extent([3.0, 1.0, 2.0].into_iter()), (1.0, 3.0));
    }
}
