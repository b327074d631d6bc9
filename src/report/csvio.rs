//! CSV files: any row type written with a header, a profile CSV read back (an edge
//! machine's times), and a study as CSV files in one folder and back, so charts can be
//! redrawn from the files a run left behind (`layers.csv`, `tradeoff.csv`,
//! `candidates.csv`, `cdf.csv`, `bytes_per_split.csv`, `accuracy_latency.csv` when
//! accuracies are known, plus the chart title in `title.txt`).

use super::rows::{ProfileRow, Study};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// File of the per-node rows (chart a).
pub const LAYERS_CSV: &str = "layers.csv";
/// File of the evaluated points (charts b, c).
pub const TRADEOFF_CSV: &str = "tradeoff.csv";
/// File of the link-independent candidates (chart d).
pub const CANDIDATES_CSV: &str = "candidates.csv";
/// File of the latency distributions (chart e).
pub const CDF_CSV: &str = "cdf.csv";
/// File of the bytes on the wire per split point (chart `bytes_per_split`).
pub const BYTES_CSV: &str = "bytes_per_split.csv";
/// File of the accuracy-latency rows (chart f), written only when accuracies are known.
pub const ACCURACY_LATENCY_CSV: &str = "accuracy_latency.csv";
/// The run manifest (read back only for the accuracy table's path, chart f's title).
pub const MANIFEST_JSON: &str = "manifest.json";
/// File holding the chart title (one line).
pub const TITLE_TXT: &str = "title.txt";

/// Writes the study's rows into `dir` (created if missing), one CSV per row type; a row type
/// with no rows gives an empty file, except the accuracy-latency rows, whose file is only
/// written when there are some (a study without accuracies looks as it always did).
pub fn write_study(dir: &Path, study: &Study) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_csv(&dir.join(LAYERS_CSV), &study.layers)?;
    write_csv(&dir.join(TRADEOFF_CSV), &study.tradeoff)?;
    write_csv(&dir.join(CANDIDATES_CSV), &study.candidates)?;
    write_csv(&dir.join(CDF_CSV), &study.cdf)?;
    write_csv(&dir.join(BYTES_CSV), &study.bytes)?;
    if !study.accuracy_latency.is_empty() {
        write_csv(&dir.join(ACCURACY_LATENCY_CSV), &study.accuracy_latency)?;
    }
    let title = dir.join(TITLE_TXT);
    std::fs::write(&title, format!("{}\n", study.title)).map_err(|e| Error::io(&title, e))
}

/// Reads a study written by [`write_study`] (or by the planner in the same format). A
/// missing file gives no rows of its kind; a malformed one gives [`Error::BadFile`] naming
/// the file and the line. Without `title.txt` the title is the folder's name.
pub fn read_study(dir: &Path) -> Result<Study> {
    let title_path = dir.join(TITLE_TXT);
    let title = match std::fs::read_to_string(&title_path) {
        Ok(t) => t.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Err(e) => return Err(Error::io(&title_path, e)),
    };
    Ok(Study {
        title,
        layers: read_rows(&dir.join(LAYERS_CSV))?,
        tradeoff: read_rows(&dir.join(TRADEOFF_CSV))?,
        candidates: read_rows(&dir.join(CANDIDATES_CSV))?,
        cdf: read_rows(&dir.join(CDF_CSV))?,
        bytes: read_rows(&dir.join(BYTES_CSV))?,
        accuracy_latency: read_rows(&dir.join(ACCURACY_LATENCY_CSV))?,
        accuracy_source: accuracy_source(dir),
    })
}

/// The accuracy table's path as the manifest records it; empty when there is no readable
/// manifest or no table (the chart then names no source).
fn accuracy_source(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(MANIFEST_JSON))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m.get("accuracy_table")?.as_str().map(String::from))
        .unwrap_or_default()
}

/// Reads the study's CSVs in `dir` and draws its charts there (see
/// [`draw_study`](super::draw_study)); returns the chart files.
pub fn redraw(dir: &Path) -> Result<Vec<PathBuf>> {
    let study = read_study(dir)?;
    super::draw_study(dir, &study)
}

/// Rows of one CSV with a header; none when the file does not exist.
pub(super) fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let bad = |msg: String| Error::BadFile {
        file: path.into(),
        msg,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut r = csv::Reader::from_reader(std::io::BufReader::new(file));
    let headers = r
        .headers()
        .map_err(|e| bad(format!("header: {e}")))?
        .clone();
    let mut rows = Vec::new();
    for rec in r.deserialize::<T>() {
        let row = rec.map_err(|e| {
            let line = e.position().map(|p| p.line());
            let what = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                    Some(f) => format!(
                        "column '{}': {}",
                        headers.get(f as usize).unwrap_or("?"),
                        err.kind()
                    ),
                    None => err.kind().to_string(),
                },
                _ => e.to_string(),
            };
            match line {
                Some(l) => bad(format!("line {l}: {what}")),
                None => bad(what),
            }
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// Writes serde rows as CSV with a header.
pub fn write_csv<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut w = csv::Writer::from_path(path).map_err(|e| Error::BadFile {
        file: path.into(),
        msg: e.to_string(),
    })?;
    for r in rows {
        w.serialize(r).map_err(|e| Error::BadFile {
            file: path.into(),
            msg: e.to_string(),
        })?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// Serde rows as CSV text with a header (what [`write_csv`] writes).
pub fn csv_string<T: serde::Serialize>(rows: &[T]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |msg: String| Error::InvalidArg(format!("CSV: {msg}"));
    for r in rows {
        w.serialize(r).map_err(|e| bad(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| bad(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| bad(e.to_string()))
}

/// Reads a profile CSV written by `splitbench profile` (e.g. measured on an edge server).
pub fn read_profile_csv(path: &Path) -> Result<Vec<ProfileRow>> {
    let r = csv::Reader::from_path(path).map_err(|e| Error::BadFile {
        file: path.into(),
        msg: match e.kind() {
            csv::ErrorKind::Io(_) => format!("cannot open: {e}"),
            _ => e.to_string(),
        },
    })?;
    profile_rows(r, path)
}

/// [`read_profile_csv`] of text already read (a browser's upload); `path` names it in
/// errors.
pub fn read_profile_csv_str(text: &str, path: &Path) -> Result<Vec<ProfileRow>> {
    profile_rows(csv::Reader::from_reader(text.as_bytes()), path)
}

fn profile_rows<R: std::io::Read>(mut r: csv::Reader<R>, path: &Path) -> Result<Vec<ProfileRow>> {
    let bad = |msg: String| Error::BadFile {
        file: path.into(),
        msg,
    };
    let mut rows = Vec::new();
    for (i, rec) in r.deserialize::<ProfileRow>().enumerate() {
        let row = rec.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        if !row.device_ms_median.is_finite() || row.device_ms_median < 0.0 {
            return Err(bad(format!(
                "row {}: device_ms_median {} is not a non-negative number",
                i + 2,
                row.device_ms_median
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(bad(
            "no rows (expected a CSV written by `splitbench profile`)".into(),
        ));
    }
    Ok(rows)
}
