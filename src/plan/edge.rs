//! The edge server's per-node times: from a profile CSV measured on the edge machine
//! (`splitbench profile` run there), or the device's times divided by a speed-up factor.

use crate::error::{Error, Result};
use crate::model::Graph;
use crate::report::{read_profile_csv, ProfileRow};
use std::path::{Path, PathBuf};

/// The speed-up used when neither an edge profile nor a speed-up is given.
pub const DEFAULT_EDGE_SPEEDUP: f64 = 10.0;

/// Where the edge times come from; every output of a study names it.
#[derive(Clone, Debug, PartialEq)]
pub enum EdgeSource {
    /// Device times divided by `factor`.
    Speedup {
        /// The factor (> 0).
        factor: f64,
        /// Whether it is [`DEFAULT_EDGE_SPEEDUP`] because none was given.
        default: bool,
    },
    /// A profile CSV written by `splitbench profile` on the edge machine.
    Profile {
        /// The file.
        path: PathBuf,
    },
}

impl EdgeSource {
    /// One line for stdout, manifests, CSV columns and chart titles, e.g.
    /// `device times / 10 (default --edge-speedup)` or `profile edge.csv`. It names the
    /// CLI flag on purpose: these outputs tell a reader how to reproduce the run.
    pub fn describe(&self) -> String {
        match self {
            EdgeSource::Speedup {
                factor,
                default: true,
            } => format!("device times / {factor} (default --edge-speedup)"),
            EdgeSource::Speedup { factor, .. } => {
                format!("device times / {factor} (--edge-speedup)")
            }
            EdgeSource::Profile { path } => format!("profile {}", path.display()),
        }
    }
}

impl std::fmt::Display for EdgeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Per-node edge times and where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeModel {
    /// The source.
    pub source: EdgeSource,
    /// Edge time per graph node, ms (node 0, the input, is 0).
    pub node_ms: Vec<f64>,
    /// How much faster the edge is than the device: the given factor, or for a profile
    /// `sum(device) / sum(edge)` over the whole graph. Edge-side work that the profile does
    /// not cover (feature decoding) is the local measurement divided by this.
    pub speedup: f64,
}

impl EdgeModel {
    /// Edge times = `device_ms / factor` (per node; `factor` > 0 and finite).
    pub fn from_speedup(device_ms: &[f64], factor: f64, default: bool) -> Result<Self> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(Error::InvalidArg(format!(
                "edge speed-up {factor}: expected a positive number"
            )));
        }
        Ok(Self {
            source: EdgeSource::Speedup { factor, default },
            node_ms: device_ms.iter().map(|t| t / factor).collect(),
            speedup: factor,
        })
    }

    /// Reads `path` (a CSV of `splitbench profile`, batch 1) and matches its rows to the
    /// nodes of `graph` (rows are nodes 1.., by name, op and per-sample output shape). A
    /// profile of another model is a [`Error::BadFile`] naming the file and the first node
    /// that does not match. `device_ms` (per node) gives the effective speed-up.
    pub fn from_profile(path: &Path, graph: &Graph, device_ms: &[f64]) -> Result<Self> {
        let rows = read_profile_csv(path)?;
        Self::from_profile_rows(path, &rows, graph, device_ms)
    }

    /// [`Self::from_profile`] on rows already read (`path` names them in errors).
    pub fn from_profile_rows(
        path: &Path,
        rows: &[ProfileRow],
        graph: &Graph,
        device_ms: &[f64],
    ) -> Result<Self> {
        check_profile_rows(path, rows, graph)?;
        let mut node_ms = vec![0.0];
        node_ms.extend(rows.iter().map(|r| r.device_ms_median));
        let dev: f64 = device_ms.iter().skip(1).sum();
        let edge: f64 = node_ms.iter().sum();
        let speedup = if edge > 0.0 && dev > 0.0 {
            dev / edge
        } else {
            1.0
        };
        Ok(Self {
            source: EdgeSource::Profile { path: path.into() },
            node_ms,
            speedup,
        })
    }
}

/// Checks that `rows` (read from `path`) are a batch-1 profile of `graph`: rows are nodes
/// 1.., matched by name, op and per-sample output shape. A profile of another model is a
/// [`Error::BadFile`] naming the file and the first node that does not match.
pub fn check_profile_rows(path: &Path, rows: &[ProfileRow], graph: &Graph) -> Result<()> {
    let bad = |msg: String| Error::BadFile {
        file: path.into(),
        msg,
    };
    let what = format!(
        "not a profile of this model ({} {}, {} nodes)",
        graph.name,
        graph.input_shape(),
        graph.nodes.len() - 1
    );
    let n = graph.nodes.len();
    for k in 1..n.max(rows.len() + 1) {
        let row = rows.get(k - 1);
        let node = graph.nodes.get(k);
        let line = k + 1; // header is line 1
        match (row, node) {
            (Some(r), Some(nd)) => {
                let shape = format!("1x{}", nd.shape);
                if r.node != nd.name || r.op != nd.op.kind() || r.out_shape != shape {
                    return Err(bad(format!(
                        "{what}: line {line} is node '{}' ({}, {}), the model's node {k} is \
                         '{}' ({}, {shape})",
                        r.node,
                        r.op,
                        r.out_shape,
                        nd.name,
                        nd.op.kind()
                    )));
                }
                if r.batch != 1 {
                    return Err(bad(format!(
                        "line {line}: measured at batch {}; the study is per sample, \
                         profile at batch 1",
                        r.batch
                    )));
                }
            }
            (None, Some(nd)) => {
                return Err(bad(format!(
                    "{what}: the file ends after {} rows, the model's node {k} is '{}' ({})",
                    rows.len(),
                    nd.name,
                    nd.op.kind()
                )))
            }
            (Some(r), None) => {
                return Err(bad(format!(
                    "{what}: line {line} is node '{}' ({}), past the model's last node",
                    r.node, r.op
                )))
            }
            (None, None) => break,
        }
    }
    Ok(())
}
