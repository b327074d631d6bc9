//! Pareto fronts: of (device compute, bytes to send), both minimised (chart d), and of
//! (end-to-end latency, accuracy), latency minimised and accuracy maximised (chart f).

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

/// For each point `(latency_ms, accuracy)`, whether it is on the accuracy-latency front:
/// no other point has latency <= and accuracy >=, one of them strictly. Equal points are
/// all on the front (or all off it); a point with a NaN coordinate never is. O(n log n).
pub fn accuracy_front(points: &[(f64, f64)]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| !points[i].0.is_nan() && !points[i].1.is_nan())
        .collect();
    // By latency, then accuracy descending: a point is dominated iff an earlier point is
    // at least as accurate and differs from it.
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[b].1.total_cmp(&points[a].1))
    });
    let mut on = vec![false; points.len()];
    let mut best: Option<(f64, f64)> = None; // the last front point seen
    for &i in &order {
        let p = points[i];
        let keep = match best {
            None => true,
            Some(b) => p.1 > b.1 || p == b,
        };
        if keep {
            on[i] = true;
            best = Some(p);
        }
    }
    on
}
