//! The study's accuracies, in one place: every configuration at the paper's split points for
//! which trained files exist, evaluated through the GPU split pipeline
//! ([`evaluate_config`]), and the three files that hold the results, each with its reader
//! and its writer here:
//!
//! - `accuracy.csv` ([`AccuracyRow`]): per configuration, images, hits, frame bytes and the
//!   reduction against the f32 feature; re-read to resume a run;
//! - `accuracy_table.csv` ([`AccuracyTable`]): `config,accuracy`, what the planner reads
//!   (`config` in the grammar of [`crate::compress::config`], `accuracy` a finite number in
//!   `[0, 100]` in the unit of the minimum accuracy it is compared with);
//! - `accuracy_summary.csv` ([`SummaryRow`]): per split, the most accurate configuration
//!   sending at least [`TARGET_REDUCTION`] times fewer bytes than the f32 feature.

use crate::compress::{
    bottleneck_widths, frame_len, Config, Encoding, Placement, TensorSpec, Variant,
};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::{self, TrainedFiles};
use crate::gpu::GpuContext;
use crate::model::{paper_split_points, Prepared};
use crate::plan::{compressed_encodings, PruneFamily};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Per-configuration details.
pub const DETAIL_CSV: &str = "accuracy.csv";
/// `config,accuracy`, for the planner.
pub const TABLE_CSV: &str = "accuracy_table.csv";
/// The per-split summary.
pub const SUMMARY_CSV: &str = "accuracy_summary.csv";
/// The paper's target: at least this many times fewer bytes than the f32 feature.
pub const TARGET_REDUCTION: f64 = 32.0;

/// Known accuracies by configuration (`accuracy_table.csv`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccuracyTable {
    /// Where it was read from.
    pub path: PathBuf,
    /// Accuracy by configuration, in file order.
    pub entries: Vec<(Config, f64)>,
    /// Index into `entries` by the configuration's canonical text.
    index: HashMap<String, usize>,
}

impl AccuracyTable {
    /// Reads a `config,accuracy` CSV; a malformed file is a one-line [`Error::BadFile`]
    /// naming the file and the line.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::BadFile {
            file: path.into(),
            msg: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses the text of a table (`path` names it in errors). Blank lines are ignored.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let bad = |line: usize, msg: String| Error::BadFile {
            file: path.into(),
            msg: format!("line {line}: {msg}"),
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty());
        let Some((n, header)) = lines.next() else {
            return Err(Error::BadFile {
                file: path.into(),
                msg: "empty file, expected a header `config,accuracy`".into(),
            });
        };
        let cols: Vec<&str> = header.split(',').map(str::trim).collect();
        if cols != ["config", "accuracy"] {
            return Err(bad(
                n,
                format!("header is `{header}`, expected `config,accuracy`"),
            ));
        }
        let mut table = Self {
            path: path.into(),
            ..Default::default()
        };
        for (n, line) in lines {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [config, acc] = f[..] else {
                return Err(bad(
                    n,
                    format!("{} fields, expected 2 (config,accuracy)", f.len()),
                ));
            };
            if config.is_empty() {
                return Err(bad(n, "empty config".into()));
            }
            let config: Config = config.parse().map_err(|e: Error| bad(n, e.to_string()))?;
            let a: f64 = acc
                .parse()
                .map_err(|_| bad(n, format!("accuracy `{acc}` is not a number")))?;
            if !(a.is_finite() && (0.0..=100.0).contains(&a)) {
                return Err(bad(n, format!("accuracy {a} is not in [0, 100]")));
            }
            if !table.insert(config.clone(), a) {
                return Err(bad(n, format!("config `{config}` appears twice")));
            }
        }
        Ok(table)
    }

    /// Adds a configuration; `false` (and no change) when it is already there.
    fn insert(&mut self, config: Config, accuracy: f64) -> bool {
        let key = config.to_string();
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key, self.entries.len());
        self.entries.push((config, accuracy));
        true
    }

    /// The accuracy of `config`, if known.
    pub fn get(&self, config: &Config) -> Option<f64> {
        self.index
            .get(&config.to_string())
            .map(|&i| self.entries[i].1)
    }

    /// The accuracy of device-only (the unchanged model: `<last node>/none`), if known.
    pub fn device_only(&self) -> Option<f64> {
        self.entries
            .iter()
            .find(|(c, _)| c.variant.encoding == Encoding::Nothing)
            .map(|(_, a)| *a)
    }

    /// Number of configurations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One row of `accuracy.csv`.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct AccuracyRow {
    /// The configuration.
    pub config: Config,
    /// Its split label: `device-only`, `edge-only` or a paper split point (`stem`,
    /// `layer1`..).
    pub split: String,
    /// The configuration's variant.
    pub variant: Variant,
    /// Images evaluated.
    pub images: usize,
    /// Top-1 hits.
    pub correct: usize,
    /// Top-1 accuracy, percent.
    pub accuracy_pct: f64,
    /// Frame bytes per image (none when nothing is cut).
    pub frame_bytes: Option<usize>,
    /// Frame bytes per image of the f32 feature at the same split.
    pub f32_frame_bytes: Option<usize>,
    /// `f32_frame_bytes / frame_bytes`.
    pub reduction_vs_f32: Option<f64>,
    /// Wall time of the evaluation, s.
    pub seconds: f64,
}

/// Per split point, the most accurate configuration sending at least `min_reduction` times
/// fewer bytes than the f32 feature (ties: fewer bytes); one row of `accuracy_summary.csv`.
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Split label.
    pub split: String,
    /// The configuration.
    pub config: Config,
    /// Its accuracy, percent.
    pub accuracy_pct: f64,
    /// Device-only's accuracy, percent.
    pub base_pct: f64,
    /// `accuracy_pct - base_pct`.
    pub gap_points: f64,
    /// Frame bytes per image.
    pub frame_bytes: usize,
    /// Against the f32 feature.
    pub reduction_vs_f32: f64,
    /// The reduction asked for.
    pub min_reduction: f64,
    /// Images evaluated.
    pub images: usize,
}

/// `v` rounded to `1/d` (`+ 0.0` turns a rounded -0.0, e.g. a gap of -1e-14, into 0).
fn round(v: f64, d: f64) -> f64 {
    (v * d).round() / d + 0.0
}

/// The summary of `rows` (see [`SummaryRow`]); empty without a device-only row.
pub fn summarize(rows: &[AccuracyRow], min_reduction: f64) -> Vec<SummaryRow> {
    let Some(base) = rows
        .iter()
        .find(|r| r.variant.encoding == Encoding::Nothing)
    else {
        return Vec::new();
    };
    let mut splits: Vec<&str> = Vec::new();
    for r in rows {
        if r.frame_bytes.is_some() && !splits.contains(&r.split.as_str()) {
            splits.push(&r.split);
        }
    }
    let mut out = Vec::new();
    for split in splits {
        let best = rows
            .iter()
            .filter(|r| r.split == split)
            .filter_map(|r| Some((r, r.frame_bytes?, r.reduction_vs_f32?)))
            .filter(|(_, _, red)| *red >= min_reduction)
            .max_by(|a, b| {
                a.0.accuracy_pct
                    .total_cmp(&b.0.accuracy_pct)
                    .then(b.1.cmp(&a.1))
            });
        if let Some((r, bytes, red)) = best {
            out.push(SummaryRow {
                split: split.to_string(),
                config: r.config.clone(),
                accuracy_pct: round(r.accuracy_pct, 1e4),
                base_pct: round(base.accuracy_pct, 1e4),
                gap_points: round(r.accuracy_pct - base.accuracy_pct, 1e4),
                frame_bytes: bytes,
                reduction_vs_f32: round(red, 100.0),
                min_reduction,
                images: r.images,
            });
        }
    }
    out
}

/// The rows of `accuracy.csv` in `dir` evaluated on `images` images (others are dropped:
/// they would be re-evaluated); none when the file does not exist.
pub fn read_rows(dir: &Path, images: usize) -> Result<Vec<AccuracyRow>> {
    let path = dir.join(DETAIL_CSV);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bad = |msg: String| Error::BadFile {
        file: path.clone(),
        msg,
    };
    let mut r = csv::Reader::from_path(&path).map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for (i, row) in r.deserialize::<AccuracyRow>().enumerate() {
        let row = row.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        if row.images == images {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Writes `accuracy.csv` and `accuracy_table.csv` into `dir`, rows in the order given.
pub fn write_rows(dir: &Path, rows: &[AccuracyRow]) -> Result<()> {
    // correct / images in percent has at most 2 decimals for <= 10,000 images; rounding
    // drops the binary noise (94.39999999999999).
    let rounded: Vec<AccuracyRow> = rows
        .iter()
        .map(|r| AccuracyRow {
            accuracy_pct: round(r.accuracy_pct, 1e4),
            reduction_vs_f32: r.reduction_vs_f32.map(|v| round(v, 100.0)),
            seconds: round(r.seconds, 10.0),
            ..r.clone()
        })
        .collect();
    crate::report::write_csv(&dir.join(DETAIL_CSV), &rounded)?;
    let mut t = String::from("config,accuracy\n");
    for r in rows {
        t.push_str(&format!("{},{:.2}\n", r.config, r.accuracy_pct));
    }
    let path = dir.join(TABLE_CSV);
    std::fs::write(&path, t).map_err(|e| Error::io(&path, e))
}

/// Writes `accuracy_summary.csv` into `dir`.
pub fn write_summary(dir: &Path, rows: &[SummaryRow]) -> Result<()> {
    crate::report::write_csv(&dir.join(SUMMARY_CSV), rows)
}

/// Every configuration of the study at the paper's split points for which trained files
/// exist (plain encodings need none), plus device-only and edge-only, each with its split
/// label.
pub fn study_configs(p: &Prepared, files: &TrainedFiles) -> Result<Vec<(String, Config)>> {
    let g = &p.model.graph;
    let mut out = vec![
        ("device-only".to_string(), Config::device_only(g)),
        ("edge-only".to_string(), Config::edge_only(g)),
    ];
    let encodings = compressed_encodings();
    for (label, node) in paper_split_points(g) {
        let name = &g.nodes[node].name;
        let mut push =
            |variant: Variant| out.push((label.to_string(), Config::at(g, node, variant)));
        for &e in &encodings {
            push(Variant::plain(e));
        }
        for k in bottleneck_widths(g.nodes[node].shape.c) {
            // A bottleneck sent as f32 is never worth its bytes: not evaluated (the planner
            // then treats its accuracy as unknown).
            if files.bottleneck(name, k).exists() {
                for &e in encodings.iter().filter(|e| **e != Encoding::F32) {
                    push(Variant {
                        bottleneck: Some(k),
                        ..Variant::plain(e)
                    });
                }
            }
        }
        let mut seen = Vec::new();
        for f in PruneFamily::study() {
            let Some(cfg) = f.config(g, node)? else {
                continue;
            };
            if seen.contains(&cfg) || !files.pruned(&cfg).exists() {
                continue;
            }
            seen.push(cfg);
            for &e in &encodings {
                push(Variant {
                    prune: Some(cfg),
                    ..Variant::plain(e)
                });
            }
        }
    }
    Ok(out)
}

/// What [`evaluate_config`] measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConfigResult {
    /// Top-1 hits.
    pub accuracy: eval::Accuracy,
    /// Frame bytes per image (`None` when nothing is cut).
    pub frame_bytes: Option<usize>,
    /// Frame bytes per image of the f32 feature at the same split.
    pub f32_frame_bytes: Option<usize>,
}

/// What every evaluation of one model shares: the GPU, the trained model and the files
/// next to it, the test set and the images per GPU submission.
#[derive(Clone, Copy)]
pub struct Evaluation<'a> {
    /// The GPU.
    pub ctx: &'a GpuContext,
    /// The trained base model.
    pub model: &'a Prepared,
    /// Its pruned and bottleneck files.
    pub files: &'a TrainedFiles,
    /// The test set.
    pub test: &'a Dataset,
    /// Images per GPU submission.
    pub batch: usize,
}

/// Evaluates `config` on the first `limit` images of the test set through the GPU split
/// pipeline (the whole model for device-only and edge-only). The configuration is checked
/// against the model first.
pub fn evaluate_config(
    e: &Evaluation<'_>,
    config: &Config,
    limit: Option<usize>,
) -> Result<ConfigResult> {
    let (ctx, p, test, batch) = (e.ctx, e.model, e.test, e.batch);
    let placement = config.resolve(&p.model.graph)?;
    let (pruned, bottleneck) = eval::load_parts(&p.torch, &p.model, config, e.files)?;
    let Placement::Split(split) = placement else {
        let mut clf = eval::GpuClassifier::new(ctx, &p.model, batch)?;
        return Ok(ConfigResult {
            accuracy: eval::accuracy(&mut clf, test, limit, &mut |_, _| {})?,
            frame_bytes: None,
            f32_frame_bytes: None,
        });
    };
    let parts = eval::SplitParts {
        model: pruned.as_ref().unwrap_or(&p.model),
        bottleneck,
    };
    let mut clf = eval::SplitClassifier::new(ctx, &parts, split, config.variant.encoding, batch)?;
    let frame_bytes = clf.frame_bytes_per_image()?;
    let f32_frame_bytes = frame_len(&[TensorSpec {
        batch: 1,
        shape: p.model.graph.nodes[split].shape,
        encoding: Encoding::F32,
    }])?;
    Ok(ConfigResult {
        accuracy: eval::accuracy(&mut clf, test, limit, &mut |_, _| {})?,
        frame_bytes: Some(frame_bytes),
        f32_frame_bytes: Some(f32_frame_bytes),
    })
}

/// What [`run`] reports as it goes.
#[derive(Clone, Debug)]
pub enum AccuracyEvent<'a> {
    /// Before the first evaluation: configurations in all, and how many `accuracy.csv`
    /// already holds for this image count.
    Start {
        /// Configurations of the study.
        configs: usize,
        /// Kept from an earlier run.
        kept: usize,
        /// Test images each configuration is evaluated on.
        images: usize,
    },
    /// One configuration evaluated (`index` of `configs`, from 0).
    Evaluated {
        /// Position in the study's configurations.
        index: usize,
        /// Configurations in all.
        configs: usize,
        /// The new row.
        row: &'a AccuracyRow,
    },
}

/// The accuracy table of the study: evaluates every configuration of [`study_configs`] on
/// the first `limit` test images (all when `None`) that `dir`'s `accuracy.csv` does not
/// already hold for that image count, rewriting the detail and table files after each one
/// (an interrupted run loses at most one configuration), then writes the summary and
/// returns it.
pub fn run(
    e: &Evaluation<'_>,
    limit: Option<usize>,
    dir: &Path,
    events: &mut dyn FnMut(AccuracyEvent<'_>),
) -> Result<Vec<SummaryRow>> {
    let images = limit.unwrap_or(e.test.len()).min(e.test.len());
    std::fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
    let mut rows = read_rows(dir, images)?;
    let configs = study_configs(e.model, e.files)?;
    events(AccuracyEvent::Start {
        configs: configs.len(),
        kept: rows.len(),
        images,
    });
    for (index, (label, config)) in configs.iter().enumerate() {
        if rows.iter().any(|r| &r.config == config) {
            continue;
        }
        let t0 = std::time::Instant::now();
        let r = evaluate_config(e, config, Some(images))
            .map_err(|err| err.context(format!("evaluating {config}")))?;
        rows.push(AccuracyRow {
            config: config.clone(),
            split: label.clone(),
            variant: config.variant,
            images: r.accuracy.total,
            correct: r.accuracy.correct,
            accuracy_pct: 100.0 * r.accuracy.top1(),
            frame_bytes: r.frame_bytes,
            f32_frame_bytes: r.f32_frame_bytes,
            reduction_vs_f32: match (r.frame_bytes, r.f32_frame_bytes) {
                (Some(b), Some(f)) if b > 0 => Some(f as f64 / b as f64),
                _ => None,
            },
            seconds: t0.elapsed().as_secs_f64(),
        });
        write_rows(dir, &rows)?;
        if let Some(row) = rows.last() {
            events(AccuracyEvent::Evaluated {
                index,
                configs: configs.len(),
                row,
            });
        }
    }
    write_rows(dir, &rows)?;
    let summary = summarize(&rows, TARGET_REDUCTION);
    write_summary(dir, &summary)?;
    Ok(summary)
}
