//! Colours and markers keyed by series name, the same in every chart of a study, and the
//! marker element that draws them.

use super::kit::distinct;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};
use std::collections::HashMap;

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
        let seen = distinct(names);
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
        for (i, n) in distinct(names).into_iter().enumerate() {
            let color = CAT.get(i).copied().unwrap_or_else(|| generated(i));
            p.push(n, color, MARKERS[i % MARKERS.len()]);
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

    /// The names in legend order that occur in `used` (the series a chart really draws).
    pub fn present<'u>(&self, used: impl IntoIterator<Item = &'u str>) -> Vec<&str> {
        let used = distinct(used);
        self.order
            .iter()
            .map(String::as_str)
            .filter(|n| used.iter().any(|u| u == n))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_first_then_others_in_first_seen_order() {
        let p = Palette::methods(["three-step", "mine", "device-only", "mine", "other"]);
        assert_eq!(p.names(), ["device-only", "three-step", "mine", "other"]);
        assert_eq!(
            p.present(["other", "device-only", "other"]),
            ["device-only", "other"]
        );
        let c = Palette::categories(["b", "a", "b"]);
        assert_eq!(c.names(), ["b", "a"]);
        assert_ne!(c.get("a").0, c.get("b").0);
    }
}
