//! Pareto fronts: of (device compute, bytes to send), both minimised (chart d), and of
//! (end-to-end latency, accuracy), latency minimised and accuracy maximised (chart f).

use std::cmp::Ordering;

/// For each point `(device_ms, payload_bytes)`, whether it is on the Pareto front when both
/// are minimised: no other point is <= on both and < on one. Equal points are all on the
/// front (or all off it). NaN times are never on the front. O(n log n).
pub fn pareto_front(points: &[(f64, u64)]) -> Vec<bool> {
    front(points, |_| true, |a, b| a.cmp(&b))
}

/// For each point `(latency_ms, accuracy)`, whether it is on the accuracy-latency front:
/// no other point has latency <= and accuracy >=, one of them strictly. Equal points are
/// all on the front (or all off it); a point with a NaN coordinate never is. O(n log n).
pub fn accuracy_front(points: &[(f64, f64)]) -> Vec<bool> {
    front(points, |a| !a.is_nan(), |a, b| b.total_cmp(&a))
}

/// The front of points `(x, y)` with `x` minimised and `y` ranked by `better` (`Less`: the
/// first is better); points whose `x` is NaN or whose `y` is not `valid` are never on it.
fn front<Y: Copy + PartialEq>(
    points: &[(f64, Y)],
    valid: impl Fn(Y) -> bool,
    better: impl Fn(Y, Y) -> Ordering,
) -> Vec<bool> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| !points[i].0.is_nan() && valid(points[i].1))
        .collect();
    // By x, then best y first: a point is dominated iff an earlier point (x no larger) has
    // a y at least as good and differs from it.
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(better(points[a].1, points[b].1))
    });
    let mut on = vec![false; points.len()];
    let mut best: Option<(f64, Y)> = None; // the last front point seen
    for &i in &order {
        let p = points[i];
        let keep = best.is_none_or(|b| better(p.1, b.1) == Ordering::Less || p == b);
        if keep {
            on[i] = true;
            best = Some(p);
        }
    }
    on
}
