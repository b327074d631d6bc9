//! Drawing kit shared by the charts: the embedded font, text sizes, colours keyed by method,
//! markers, the legend column and the title.

use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendCoord, DrawingErrorKind};
use std::collections::HashMap;

/// Error of a drawing call, as text (the caller adds the file name).
pub(super) type DResult<T = ()> = std::result::Result<T, String>;

/// Converts a plotters error into text.
pub(super) fn de<E: std::error::Error + Send + Sync>(
    e: plotters::drawing::DrawingAreaErrorKind<E>,
) -> String {
    e.to_string()
}

/// DejaVu Sans, embedded so the charts render the same on a machine without fonts.
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Family name the embedded font is registered under.
pub(super) const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters (once per process).
pub(super) fn register_font() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
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

/// Marker shapes, cycled for series without a fixed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Square,
    Up,
    Diamond,
    Down,
    Cross,
}

const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::Up,
    Marker::Diamond,
    Marker::Down,
    Marker::Cross,
];

/// The methods the planner knows, in legend order, with a fixed colour and marker each.
const KNOWN_METHODS: [(&str, RGBColor, Marker); 9] = [
    ("device-only", RGBColor(110, 110, 110), Marker::Square),
    ("edge-only", RGBColor(140, 86, 75), Marker::Down),
    ("neurosurgeon", RGBColor(31, 119, 180), Marker::Up),
    ("best-split", RGBColor(255, 127, 14), Marker::Diamond),
    ("two-step-pruning", RGBColor(148, 103, 189), Marker::Cross),
    ("two-step", RGBColor(148, 103, 189), Marker::Cross),
    ("2-step", RGBColor(148, 103, 189), Marker::Cross),
    ("three-step", RGBColor(214, 39, 40), Marker::Circle),
    ("oracle", RGBColor(44, 160, 44), Marker::Cross),
];

/// Colours for names outside the fixed tables, in order of first appearance.
const EXTRA: [RGBColor; 8] = [
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(0, 0, 128),
    RGBColor(0, 128, 128),
    RGBColor(128, 0, 0),
    RGBColor(0, 0, 0),
    RGBColor(255, 187, 120),
];

/// A categorical colour beyond the tables: golden-angle hues.
fn generated(i: usize) -> RGBColor {
    let h = (i as f64 * 137.508) % 360.0;
    let hsl = HSLColor(h / 360.0, 0.65, 0.42);
    let (r, g, b) = hsl.rgb();
    RGBColor(r, g, b)
}

/// Colour and marker per series name, consistent across all charts of a study.
#[derive(Clone, Debug, Default)]
pub(super) struct Palette {
    order: Vec<String>,
    style: HashMap<String, (RGBColor, Marker)>,
}

impl Palette {
    /// Methods: the known ones in their fixed order and colours, unknown ones after them in
    /// order of first appearance with the next free colour.
    pub fn methods<'a>(names: impl IntoIterator<Item = &'a str>) -> Palette {
        let mut seen: Vec<&str> = Vec::new();
        for n in names {
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        let mut p = Palette::default();
        for (name, color, marker) in KNOWN_METHODS {
            if seen.contains(&name) {
                p.push(name, color, marker);
            }
        }
        let mut extra = 0;
        for n in seen {
            if !p.style.contains_key(n) {
                let color = EXTRA
                    .get(extra)
                    .copied()
                    .unwrap_or_else(|| generated(extra));
                p.push(n, color, MARKERS[extra % MARKERS.len()]);
                extra += 1;
            }
        }
        p
    }

    /// Categories in the given order, colours from a categorical palette.
    pub fn categories<'a>(names: impl IntoIterator<Item = &'a str>) -> Palette {
        const CAT: [RGBColor; 10] = [
            RGBColor(31, 119, 180),
            RGBColor(214, 39, 40),
            RGBColor(44, 160, 44),
            RGBColor(255, 127, 14),
            RGBColor(148, 103, 189),
            RGBColor(23, 190, 207),
            RGBColor(140, 86, 75),
            RGBColor(227, 119, 194),
            RGBColor(188, 189, 34),
            RGBColor(110, 110, 110),
        ];
        let mut p = Palette::default();
        for n in names {
            if !p.style.contains_key(n) {
                let i = p.order.len();
                let color = CAT.get(i).copied().unwrap_or_else(|| generated(i));
                p.push(n, color, MARKERS[i % MARKERS.len()]);
            }
        }
        p
    }

    fn push(&mut self, name: &str, color: RGBColor, marker: Marker) {
        self.order.push(name.to_string());
        self.style.insert(name.to_string(), (color, marker));
    }

    /// Names in legend order.
    pub fn names(&self) -> &[String] {
        &self.order
    }

    /// Colour and marker of a name (black circle for a name never registered).
    pub fn get(&self, name: &str) -> (RGBColor, Marker) {
        self.style
            .get(name)
            .copied()
            .unwrap_or((BLACK, Marker::Circle))
    }
}

/// A marker at one coordinate: `r` is the half-size in pixels; filled markers get an
/// outline in the full colour so overlapping ones stay distinct.
pub(super) struct Mark<C> {
    at: C,
    shape: Marker,
    r: i32,
    color: RGBColor,
    alpha: f64,
}

/// A marker element at `at` (data coordinates of a chart, or pixels of a plain area).
pub(super) fn marker<C>(shape: Marker, at: C, r: i32, color: RGBColor, alpha: f64) -> Mark<C> {
    Mark {
        at,
        shape,
        r,
        color,
        alpha,
    }
}

impl<'a, C: 'a> PointCollection<'a, C> for &'a Mark<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Mark<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let r = self.r;
        let fill = self.color.mix(self.alpha).filled();
        let edge = self.color.stroke_width(2);
        let rel = |pts: &[(i32, i32)]| -> Vec<(i32, i32)> {
            pts.iter().map(|(dx, dy)| (x + dx, y + dy)).collect()
        };
        let pts = match self.shape {
            Marker::Circle => {
                backend.draw_circle((x, y), r as u32, &fill, true)?;
                return backend.draw_circle((x, y), r as u32, &edge, false);
            }
            Marker::Cross => {
                let w = self.color.stroke_width(3);
                backend.draw_line((x - r, y - r), (x + r, y + r), &w)?;
                return backend.draw_line((x - r, y + r), (x + r, y - r), &w);
            }
            Marker::Square => {
                let s = r - 1;
                rel(&[(-s, -s), (s, -s), (s, s), (-s, s)])
            }
            Marker::Up => rel(&[(0, -r - 1), (r + 1, r), (-r - 1, r)]),
            Marker::Down => rel(&[(0, r + 1), (r + 1, -r), (-r - 1, -r)]),
            Marker::Diamond => rel(&[(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)]),
        };
        backend.fill_polygon(pts.iter().copied(), &fill)?;
        let mut closed = pts.clone();
        closed.push(pts[0]);
        backend.draw_path(closed, &edge)
    }
}

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
        vec![fit(root, study, &st, w - 40), fit(root, what, &st, w - 40)]
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
