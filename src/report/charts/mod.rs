//! Charts of a trade-off study, each written as PNG and SVG:
//!
//! | file stem              | shows                                                            |
//! |------------------------|------------------------------------------------------------------|
//! | `layers`               | per-node device time (bars) and feature size at each cut (line)  |
//! | `latency_vs_bandwidth` | end-to-end latency vs uplink rate, one line per method           |
//! | `breakdown`            | stacked device/encode/transmit/decode/edge(/RTT) at 3G, 4G, Wi-Fi |
//! | `tradeoff`             | device compute vs bytes sent per candidate (colour: variant family), Pareto front |
//! | `bytes_per_split`      | exact frame bytes per split point: f32, 8/4/2-bit, bottleneck     |
//! | `cdf`                  | latency CDF per method, one panel per random channel             |
//! | `f_accuracy_latency`   | top-1 accuracy vs end-to-end latency at 3G, 4G, Wi-Fi: candidates, Pareto front per method (only with an accuracy table) |
//!
//! and, apart from a study, of `splitbench validate-link`'s rows ([`draw_link_validation`]):
//!
//! | file stem              | shows                                                            |
//! |------------------------|------------------------------------------------------------------|
//! | `link_validation`      | signed prediction error of the TCP-aware and the naive link model vs payload per transfer, cold and warm windows |
//!
//! Text is drawn with DejaVu Sans embedded in the binary (plotters' `ab_glyph` mode never
//! reads system fonts), so the PNGs look the same on a machine without fonts. A method keeps
//! its colour and marker in every chart. Charts only read rows; a chart whose rows are
//! missing is skipped, not an error.
//!
//! Each chart is one module named after its stem (`bandwidth` draws `latency_vs_bandwidth`,
//! `accuracy_latency` draws `f_accuracy_latency`) that implements `kit::Chart`; `kit` holds
//! what the charts share (title, legend column, mesh, panels, helpers), `palette` the
//! colours and markers, `scale` the axes and the one rule for choosing a log axis.

mod accuracy_latency;
mod bandwidth;
mod breakdown;
mod bytes_per_split;
mod cdf;
mod kit;
mod layers;
mod link_validation;
mod palette;
mod scale;
mod tradeoff;

use crate::error::{Error, Result};
use crate::report::{LinkCheckRow, Study};
use kit::{Area, Chart, DResult};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Size of every chart, pixels (PNG) or user units (SVG).
pub const CHART_SIZE: (u32, u32) = (1200, 750);

/// What [`draw_charts`] wrote and what it skipped.
#[derive(Clone, Debug, Default)]
pub struct Drawn {
    /// Files written, PNG then SVG per chart.
    pub files: Vec<PathBuf>,
    /// One line per skipped chart: `<stem>: <reason>`.
    pub skipped: Vec<String>,
}

/// Draws every chart of `study` into `dir` (created if missing) as PNG and SVG and returns
/// the files written; charts without rows are skipped with a note on stderr.
pub fn draw_study(dir: &Path, study: &Study) -> Result<Vec<PathBuf>> {
    let drawn = draw_charts(dir, study)?;
    for s in &drawn.skipped {
        eprintln!("chart skipped: {s}");
    }
    Ok(drawn.files)
}

/// Like [`draw_study`] but returns the skipped charts instead of printing them.
pub fn draw_charts(dir: &Path, study: &Study) -> Result<Drawn> {
    prepare(dir)?;
    let methods = palette::Palette::methods(
        study
            .tradeoff
            .iter()
            .map(|r| r.method.as_str())
            .chain(study.cdf.iter().map(|r| r.method.as_str()))
            .chain(study.accuracy_latency.iter().map(|r| r.method.as_str())),
    );
    let title = study.title.as_str();
    let mut out = Drawn::default();
    emit(dir, title, layers::Layers::new(study), &mut out)?;
    emit(
        dir,
        title,
        bandwidth::Bandwidth::new(study, &methods),
        &mut out,
    )?;
    emit(
        dir,
        title,
        breakdown::Breakdown::new(study, &methods),
        &mut out,
    )?;
    emit(dir, title, tradeoff::Tradeoff::new(study), &mut out)?;
    emit(dir, title, cdf::Cdf::new(study, &methods), &mut out)?;
    emit(
        dir,
        title,
        bytes_per_split::BytesPerSplit::new(study),
        &mut out,
    )?;
    // Only studies with an accuracy table have chart (f); the others do not list it as
    // skipped.
    if !study.accuracy_latency.is_empty() {
        let chart = accuracy_latency::AccuracyLatency::new(study, &methods);
        emit(dir, title, chart, &mut out)?;
    }
    Ok(out)
}

/// Draws the link-model validation of `rows` (`splitbench validate-link`) into `dir`
/// (created if missing) as `link_validation.png` and `.svg`, titled by the chart alone, and
/// returns the files; without rows that can be drawn it is skipped with a note on stderr
/// and returns no files, like a study's chart without rows.
pub fn draw_link_validation(dir: &Path, rows: &[LinkCheckRow]) -> Result<Vec<PathBuf>> {
    prepare(dir)?;
    let mut out = Drawn::default();
    emit(
        dir,
        "",
        link_validation::LinkValidation::new(rows),
        &mut out,
    )?;
    for s in &out.skipped {
        eprintln!("chart skipped: {s}");
    }
    Ok(out.files)
}

/// Registers the embedded font and creates `dir`: what every chart needs first.
fn prepare(dir: &Path) -> Result<()> {
    if !kit::register_font() {
        return Err(Error::BadFile {
            file: "src/report/fonts/DejaVuSans.ttf".into(),
            msg: "embedded font could not be parsed".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Writes one chart titled `title` (empty: the chart's own `WHAT` alone) as `<stem>.png`
/// and `<stem>.svg`, or records why it was skipped (`None`: nothing to draw).
fn emit<C: Chart>(dir: &Path, title: &str, chart: Option<C>, out: &mut Drawn) -> Result<()> {
    let Some(chart) = chart else {
        out.skipped.push(format!("{}: {}", C::STEM, C::EMPTY));
        return Ok(());
    };
    let fail = |file: &Path, msg: String| Error::BadFile {
        file: file.into(),
        msg: format!("drawing chart failed: {msg}"),
    };
    // No PNG encoder on wasm32 (and no charts: see `kit::register_font`).
    #[cfg(not(target_arch = "wasm32"))]
    {
        let png = dir.join(format!("{}.png", C::STEM));
        let root = BitMapBackend::new(&png, CHART_SIZE).into_drawing_area();
        render(root, title, &chart).map_err(|m| fail(&png, m))?;
        out.files.push(png);
    }
    let svg = dir.join(format!("{}.svg", C::STEM));
    let root = SVGBackend::new(&svg, CHART_SIZE).into_drawing_area();
    render(root, title, &chart).map_err(|m| fail(&svg, m))?;
    out.files.push(svg);
    Ok(())
}

/// Draws `chart` under its title on a white `root` and writes the file.
fn render<DB: DrawingBackend, C: Chart>(root: Area<DB>, title: &str, chart: &C) -> DResult {
    root.fill(&WHITE).map_err(kit::de)?;
    let body = kit::titled(&root, title, C::WHAT)?;
    chart.draw(&root, body)?;
    root.present().map_err(kit::de)
}
