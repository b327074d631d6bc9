//! What an offloading run's rows say: each phase's median and 95th percentile, the link
//! models' prediction errors and the top-1 accuracy.

use crate::channel::quantile_sorted;
use crate::report::OffloadRow;

/// Median and 95th percentile of one phase, ms.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PhaseStats {
    /// `device`, `encode`, `network`, `server`, `total`.
    pub phase: &'static str,
    /// Median, ms.
    pub median_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
}

/// A run's summary.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OffloadSummary {
    /// Per phase.
    pub phases: Vec<PhaseStats>,
    /// Median of |predicted - measured| / measured of the total, TCP-aware model, percent.
    pub tcp_model_mdape_pct: Option<f64>,
    /// The same for the naive model.
    pub naive_model_mdape_pct: Option<f64>,
    /// The TCP-aware model's error relative to the network time alone: the predictions use
    /// the measured compute times, so `|predicted - total| / network_ms`, median, percent.
    pub tcp_network_mdape_pct: Option<f64>,
    /// The same for the naive model.
    pub naive_network_mdape_pct: Option<f64>,
    /// Top-1 hits over requests with a label, and that count.
    pub top1: Option<(usize, usize)>,
}

fn sorted(v: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Median of `|predicted - total_ms| / of(row)`, percent, over the rows that have a
/// prediction.
fn mdape(
    rows: &[OffloadRow],
    predicted: impl Fn(&OffloadRow) -> Option<f64>,
    of: impl Fn(&OffloadRow) -> f64,
) -> Option<f64> {
    let e = sorted(rows.iter().filter_map(|r| {
        let p = predicted(r)?;
        (of(r) > 0.0).then(|| 100.0 * (p - r.total_ms).abs() / of(r))
    }));
    (!e.is_empty()).then(|| quantile_sorted(&e, 0.5))
}

/// The summary of `rows`.
pub fn summarize(rows: &[OffloadRow]) -> OffloadSummary {
    let phase = |phase: &'static str, f: fn(&OffloadRow) -> f64| {
        let v = sorted(rows.iter().map(f));
        PhaseStats {
            phase,
            median_ms: quantile_sorted(&v, 0.5),
            p95_ms: quantile_sorted(&v, 0.95),
        }
    };
    let labelled: Vec<&OffloadRow> = rows.iter().filter(|r| r.label.is_some()).collect();
    OffloadSummary {
        phases: vec![
            phase("device", |r| r.device_ms),
            phase("encode", |r| r.encode_ms),
            phase("network", |r| r.network_ms),
            phase("server", |r| r.server_ms),
            phase("total", |r| r.total_ms),
        ],
        tcp_model_mdape_pct: mdape(rows, |r| r.predicted_total_ms, |r| r.total_ms),
        naive_model_mdape_pct: mdape(rows, |r| r.predicted_naive_ms, |r| r.total_ms),
        tcp_network_mdape_pct: mdape(rows, |r| r.predicted_total_ms, |r| r.network_ms),
        naive_network_mdape_pct: mdape(rows, |r| r.predicted_naive_ms, |r| r.network_ms),
        top1: (!labelled.is_empty()).then(|| {
            let hits = labelled
                .iter()
                .filter(|r| r.label.map(usize::from) == Some(r.prediction))
                .count();
            (hits, labelled.len())
        }),
    }
}
