//! The tile choices of one device: those made in this process and the cache file that keeps
//! measured ones across runs; after `tiling` in `gpu`'s order, before `context`, which owns
//! one. No GPU work here: `autotune` measures, this module remembers.
//!
//! The file is JSON, `{"format": 4, "devices": {<device key>: {<shape key>: {"kernel",
//! "k_splits", "ms"}}}}`, at `$SPLITBENCH_TILE_CACHE` (`off` for none), else
//! `$XDG_CACHE_HOME/splitbench/tiles.json`, else `$HOME/.cache/splitbench/tiles.json`. The
//! device key joins the adapter's name, backend, driver and driver version, the wgpu
//! version and a hash of the kernels' source: a choice measured with another driver, wgpu
//! or kernel is never reused. The shape key is [`ConvShape::key`]. The file is rewritten
//! whole (a temporary file renamed over it), merged with what other processes wrote since
//! it was read; one that cannot be read is an empty cache, one that cannot be written is
//! reported in the [`TuneSummary`], never an error: tiles only change speed.

use super::shaders::ConvKernel;
use super::tiling::{plan_for, ConvPlan, ConvShape};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Where a convolution's plan came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TileSource {
    /// Measured on this device in this process.
    Tuned,
    /// Measured on this device before, read from the cache file.
    Cached,
    /// Picked without measuring ([`super::tiling::heuristic`]).
    Heuristic,
}

/// The plan a convolution runs with, and how it was chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TileChoice {
    /// The plan.
    pub plan: ConvPlan,
    /// How it was chosen.
    pub source: TileSource,
    /// Its measured time in ms (the fastest of its timed runs), when measured.
    pub ms: Option<f64>,
}

/// What the tile choices of a context cost and came from, for manifests.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TuneSummary {
    /// `autotune` (measure what the cache does not hold) or `heuristic` (never measure).
    pub mode: String,
    /// The cache file, if any.
    pub cache_file: Option<String>,
    /// The device key the choices are filed under.
    pub device_key: String,
    /// Convolution shapes measured in this process.
    pub tuned: usize,
    /// Convolution shapes whose plan came from the cache file.
    pub cached: usize,
    /// Convolution shapes planned by the heuristic.
    pub heuristic: usize,
    /// Wall-clock time spent measuring candidates, ms.
    pub tuning_ms: f64,
    /// Why the cache file could not be written, if it could not.
    pub save_error: Option<String>,
}

/// One cached choice.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Entry {
    kernel: String,
    k_splits: u32,
    ms: f64,
}

/// The cache file.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct CacheFile {
    format: u32,
    devices: BTreeMap<String, BTreeMap<String, Entry>>,
}

/// The file's format, raised also when the way tiles are measured changes: choices made
/// the old way are not reused.
const FORMAT: u32 = 4;

/// The cache file's path from the environment, or `None` (no file).
fn cache_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SPLITBENCH_TILE_CACHE") {
        return (!p.is_empty() && p != "off").then(|| PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("splitbench").join("tiles.json"))
}

fn read(path: &Path) -> CacheFile {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<CacheFile>(&t).ok())
        .filter(|f| f.format == FORMAT)
        .unwrap_or_default()
}

/// The tile choices of one device (see the module documentation).
#[derive(Debug)]
pub(crate) struct TileCache {
    autotune: bool,
    path: Option<PathBuf>,
    device_key: String,
    stored: BTreeMap<String, Entry>,
    session: HashMap<ConvShape, TileChoice>,
    summary: TuneSummary,
}

impl TileCache {
    /// The choices filed under `device_key`, read from the cache file; measuring is on
    /// unless `SPLITBENCH_AUTOTUNE=0`.
    pub(crate) fn open(device_key: String) -> Self {
        let path = cache_path();
        let stored = path
            .as_deref()
            .map(read)
            .and_then(|mut f| f.devices.remove(&device_key))
            .unwrap_or_default();
        // In a browser nothing may block, and autotuning times tiles synchronously while
        // an executor is built: the heuristic picks there (recorded as such).
        let autotune = !cfg!(target_arch = "wasm32")
            && std::env::var("SPLITBENCH_AUTOTUNE").map_or(true, |v| v != "0");
        Self {
            autotune,
            path,
            device_key,
            stored,
            session: HashMap::new(),
            summary: TuneSummary::default(),
        }
    }

    /// Files the choices at `path` (`None`: no file) instead, reading those stored there;
    /// the choices made so far in this process are kept.
    pub(crate) fn set_path(&mut self, path: Option<PathBuf>) {
        self.stored = path
            .as_deref()
            .map(read)
            .and_then(|mut f| f.devices.remove(&self.device_key))
            .unwrap_or_default();
        self.path = path;
    }

    /// Whether plans not in the cache are measured.
    pub(crate) fn autotune(&self) -> bool {
        self.autotune
    }

    /// Turns measuring on or off; choices made so far in this process are forgotten, so
    /// that every later plan follows the new mode.
    pub(crate) fn set_autotune(&mut self, on: bool) {
        if on != self.autotune {
            self.autotune = on;
            self.session.clear();
        }
    }

    /// The choice for `s` made earlier in this process, else (when measuring is on) the
    /// one in the cache file, if its kernel still exists and plans as it did.
    pub(crate) fn lookup(&mut self, s: &ConvShape) -> Option<TileChoice> {
        if let Some(c) = self.session.get(s) {
            return Some(*c);
        }
        if !self.autotune {
            return None;
        }
        let e = self.stored.get(&s.key())?;
        let kernel: ConvKernel = e.kernel.parse().ok()?;
        let plan = plan_for(s, kernel, e.k_splits > 1).ok()?;
        if plan.k_splits != e.k_splits {
            return None;
        }
        let choice = TileChoice {
            plan,
            source: TileSource::Cached,
            ms: Some(e.ms),
        };
        self.session.insert(*s, choice);
        self.summary.cached += 1;
        Some(choice)
    }

    /// Records a choice made in this process; a measured one is also written to the file.
    pub(crate) fn record(&mut self, choice: TileChoice, tuning_ms: f64) {
        let s = choice.plan.shape;
        self.session.insert(s, choice);
        match choice.source {
            TileSource::Heuristic => self.summary.heuristic += 1,
            TileSource::Cached => self.summary.cached += 1,
            TileSource::Tuned => {
                self.summary.tuned += 1;
                self.summary.tuning_ms += tuning_ms;
                let entry = Entry {
                    kernel: choice.plan.kernel.to_string(),
                    k_splits: choice.plan.k_splits,
                    ms: choice.ms.unwrap_or(0.0),
                };
                self.stored.insert(s.key(), entry.clone());
                if let Err(e) = self.save(&s.key(), entry) {
                    self.summary.save_error = Some(e);
                }
            }
        }
    }

    /// Adds one entry to the file, keeping what other processes wrote since it was read.
    fn save(&self, key: &str, entry: Entry) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut file = read(path);
        file.format = FORMAT;
        file.devices
            .entry(self.device_key.clone())
            .or_default()
            .insert(key.to_string(), entry);
        let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // A temporary name of this process, renamed over the file: readers never see half
        // a file.
        let tmp = path.with_extension(format!("json.{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// What the choices so far cost and came from.
    pub(crate) fn summary(&self) -> TuneSummary {
        TuneSummary {
            mode: if self.autotune {
                "autotune"
            } else {
                "heuristic"
            }
            .into(),
            cache_file: self.path.as_ref().map(|p| p.display().to_string()),
            device_key: self.device_key.clone(),
            ..self.summary.clone()
        }
    }
}
