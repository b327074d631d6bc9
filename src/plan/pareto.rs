//! Pareto front of (device compute, bytes to send): the configurations that no other
//! configuration beats on both.

/// For each point `(device_ms, payload_bytes)`, whether it is on the Pareto front when both
/// are minimised: no other point is <= on both and < on one. Equal points are all on the
/// front (or all off it). NaN times are never on the front. O(n log n).
pub fn pareto_front(points: &[(f64, u64)]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| !points[i].0.is_nan())
        .collect();
    // By time, then bytes: a point is dominated iff an earlier point (smaller or equal time)
    // has fewer bytes, or equal bytes with a smaller time.
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.cmp(&points[b].1))
    });
    let mut on = vec![false; points.len()];
    let mut best: Option<(f64, u64)> = None; // the last front point seen
    for &i in &order {
        let p = points[i];
        let keep = match best {
            None => true,
            Some(b) => p.1 < b.1 || (p.1 == b.1 && p.0 == b.0),
        };
        if keep {
            on[i] = true;
            best = Some(p);
        }
    }
    on
}
