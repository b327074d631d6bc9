//! Chart (f)'s rows: every candidate of known accuracy as each method sees it on a link,
//! with the end-to-end latency of the cost model and each method's accuracy-latency front.

use crate::channel::Channel;
use crate::plan::{accuracy_front, Method, Problem, SearchSpace};
use crate::report::AccuracyLatencyRow;

/// Per link, per method (in [`Method::ALL`] order), one row per candidate of the method's
/// set ([`SearchSpace::set`], so a minimum accuracy applies) whose accuracy is known, with
/// `on_front` computed among that method's rows at that link. No rows when no accuracy is
/// known. Latencies are means over the link's states (the presets have one).
pub fn accuracy_latency_rows(
    problem: &Problem,
    space: &SearchSpace,
    links: &[&Channel],
) -> Vec<AccuracyLatencyRow> {
    let table = space.table();
    let mut out = Vec::new();
    for ch in links {
        let n = ch.n_states();
        for m in Method::ALL {
            let known: Vec<(usize, f64)> = space
                .set(m)
                .iter()
                .filter_map(|&i| Some((i, space.candidates[i].accuracy?)))
                .collect();
            let totals: Vec<f64> = known
                .iter()
                .map(|&(i, _)| table.mean_total_ms(i, ch))
                .collect();
            let pts: Vec<(f64, f64)> = totals
                .iter()
                .zip(&known)
                .map(|(&t, &(_, a))| (t, a))
                .collect();
            let front = accuracy_front(&pts);
            for ((&(i, accuracy), total_ms), on_front) in known.iter().zip(totals).zip(front) {
                let c = &space.candidates[i];
                let tx = (0..n).map(|s| c.tx_ms(ch, s)).sum::<f64>() / n as f64;
                out.push(AccuracyLatencyRow {
                    link: ch.label(),
                    method: m.name().into(),
                    config: c.config(problem),
                    accuracy,
                    bytes: c.payload_bytes,
                    device_ms: c.device_ms + c.encode_ms,
                    transmit_ms: tx + c.rtt_ms(ch),
                    edge_ms: c.decode_ms + c.edge_ms,
                    total_ms,
                    on_front,
                });
            }
        }
    }
    out
}
