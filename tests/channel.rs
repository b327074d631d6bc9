//! Link models: formulas against hand-computed numbers, exact trace integration, Monte Carlo
//! against closed forms, spec and trace-file errors, the committed synthetic trace, and the
//! real traces in ../shared/traces (skipped loudly when absent).

use splitbench::channel::{
    markov, rayleigh_ergodic_mbps, rayleigh_p_miss, rayleigh_quantile_ms, rayleigh_rates_mbps,
    shannon_mbps, summary, synthetic_markov_trace, trace_csv, Channel, LinkKind, Tcp, Trace,
    Transport, TxTimes,
};
use splitbench::Error;
use std::path::{Path, PathBuf};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[track_caller]
fn assert_close(a: f64, b: f64, rel: f64) {
    assert!(close(a, b, rel), "{a} vs {b} (rel tol {rel})");
}

fn one(t: &TxTimes) -> f64 {
    match t {
        TxTimes::One(x) => *x,
        TxTimes::Many(v) => panic!("expected one sample, got {}", v.len()),
    }
}

/// Writes `text` to a fresh file under the target's temp dir and returns its path.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("channel-tests");
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

// ---------------------------------------------------------------- fixed rate and presets

#[test]
fn presets_match_bottlenet_rates() {
    // 4G: 1,000,000 B = 8e6 bit / 5.85e6 bit/s = 1.367521... s = 1367.5214 ms.
    let c = Channel::parse("4g").unwrap();
    assert_close(one(&c.tx_ms(1_000_000)), 1_367.521_367_521_367_4, 1e-12);
    assert_eq!(c.nominal_mbps(), 5.85);
    assert_eq!(c.label(), "4G 5.85 Mbps, RTT 50 ms");
    // 3G: 100,000 B = 0.8 Mbit / 1.1 Mbit/s = 0.727272... s.
    let c = Channel::parse("3g").unwrap();
    assert_close(one(&c.tx_ms(100_000)), 727.272_727_272_727_3, 1e-12);
    assert_eq!(c.label(), "3G 1.1 Mbps, RTT 100 ms");
    // Wi-Fi: 1,000,000 B = 8 Mbit / 18.88 = 0.4237288 s.
    let c = Channel::parse("wifi").unwrap();
    assert_close(one(&c.tx_ms(1_000_000)), 423.728_813_559_322, 1e-12);
    assert_eq!(c.label(), "Wi-Fi 18.88 Mbps, RTT 10 ms");
    assert_eq!(c.kind(), LinkKind::Fixed);
    assert!(!c.is_random());
    // Each preset has its default RTT; rtt_ms= overrides it, 0 included.
    assert_eq!(c.rtt_ms(), 10.0);
    assert_eq!(Channel::parse("3g").unwrap().rtt_ms(), 100.0);
    assert_eq!(Channel::parse("4g:rtt_ms=0").unwrap().rtt_ms(), 0.0);
    // Kinds are case-insensitive, so `4G` works on a command line too.
    assert_eq!(Channel::parse("4G").unwrap().nominal_mbps(), 5.85);
}

#[test]
fn fixed_spec_with_rtt_and_preset_override() {
    // 125,000 B = 1 Mbit at 5 Mbit/s = 0.2 s; RTT kept apart from tx time.
    let c = Channel::parse("fixed:mbps=5,rtt_ms=20").unwrap();
    assert_close(one(&c.tx_ms(125_000)), 200.0, 1e-12);
    assert_eq!(c.rtt_ms(), 20.0);
    assert_eq!(c.label(), "fixed 5 Mbps, RTT 20 ms");
    assert_eq!(c.to_string(), c.label());
    assert_eq!(c.spec(), "fixed:mbps=5,rtt_ms=20");
    let c = Channel::parse("4g:rtt_ms=30").unwrap();
    assert_eq!(c.rtt_ms(), 30.0);
    assert_eq!(c.nominal_mbps(), 5.85);
    assert_eq!(c.label(), "4G 5.85 Mbps, RTT 30 ms");
    // Programmatic constructor for bandwidth sweeps.
    let c = Channel::fixed(2.5, 0.0).unwrap();
    assert_close(one(&c.tx_ms(312_500)), 1000.0, 1e-12); // 2.5 Mbit / 2.5 Mbit/s
    assert!(Channel::fixed(0.0, 0.0).is_err());
    // Nothing to send takes no time.
    assert_eq!(one(&c.tx_ms(0)), 0.0);
}

#[test]
fn protocol_overhead_adds_headers_per_packet() {
    // 3000 B in 1460-B segments = ceil(3000/1460) = 3 packets -> 3000 + 3*40 = 3120 B on the
    // wire; at 1 Mbit/s: 3120 * 8 / 1e6 s = 24.96 ms.
    let c = Channel::parse("fixed:mbps=1,mss=1460,hdr=40").unwrap();
    assert_eq!(c.wire_bytes(3000), 3120);
    assert_eq!(c.wire_bytes(1460), 1500);
    assert_eq!(c.wire_bytes(1461), 1541);
    assert_eq!(c.wire_bytes(0), 0);
    assert_close(one(&c.tx_ms(3000)), 24.96, 1e-12);
    // Either key alone enables the overhead; the other takes the TCP/IPv4 default.
    let c = Channel::parse("fixed:mbps=1,mss=1000").unwrap();
    assert_eq!(c.wire_bytes(2500), 2500 + 3 * 40);
    let c = Channel::parse("fixed:mbps=1,hdr=52").unwrap();
    assert_eq!(c.wire_bytes(2920), 2920 + 2 * 52);
    // Default: none.
    let c = Channel::parse("fixed:mbps=1").unwrap();
    assert_eq!(c.wire_bytes(3000), 3000);
    assert!(c.overhead().is_none());
}

// ---------------------------------------------------------------- AWGN / Shannon

#[test]
fn awgn_shannon_rate_hand_computed() {
    // 1 MHz, 10 dB: SNR = 10, log2(11) = 3.4594316186372973 -> 3.4594 Mbit/s.
    let c = Channel::parse("awgn:bw_mhz=1,snr_db=10").unwrap();
    assert_close(c.nominal_mbps(), 3.459_431_618_637_297_3, 1e-14);
    // 100,000 B = 0.8 Mbit / 3.4594316 Mbit/s = 0.2312519 s.
    assert_close(one(&c.tx_ms(100_000)), 231.251_861_054_310_3, 1e-12);
    assert_eq!(c.label(), "AWGN 1 MHz 10 dB");
    assert_eq!(c.kind(), LinkKind::Awgn);
    // With eff = 0.8: 0.8 * 3.4594316 = 2.7675453 Mbit/s.
    let c = Channel::parse("awgn:bw_mhz=1,snr_db=10,eff=0.8,rtt_ms=5").unwrap();
    assert_close(c.nominal_mbps(), 2.767_545_294_909_838, 1e-14);
    assert_eq!(c.label(), "AWGN 1 MHz 10 dB eff 0.8, RTT 5 ms");
    // 0 dB: log2(1 + 1) = 1, so the rate equals the bandwidth: 2 Mbit/s.
    assert_close(shannon_mbps(2.0, 0.0, 1.0), 2.0, 1e-15);
    // 30 dB: log2(1001) = 9.967226258835993; 5 MHz -> 49.836 Mbit/s.
    assert_close(
        shannon_mbps(5.0, 30.0, 1.0),
        5.0 * 9.967_226_258_835_993,
        1e-14,
    );
    // Negative SNR in dB is legal: -10 dB = 0.1, log2(1.1) = 0.13750352374993502.
    assert_close(
        shannon_mbps(1.0, -10.0, 1.0),
        0.137_503_523_749_935_02,
        1e-13,
    );
}

// ---------------------------------------------------------------- Rayleigh fading

/// E[log2(1 + s g)], g ~ Exp(1), by composite Simpson on [0, 60] (the tail beyond is below
/// e^-60 * log2(1 + 60 s)): an integration independent of the library's E1 closed form.
fn ergodic_bits_per_hz_numeric(snr_db: f64) -> f64 {
    let s = 10f64.powf(snr_db / 10.0);
    let f = |x: f64| (s * x).ln_1p() / std::f64::consts::LN_2 * (-x).exp();
    let (a, b, n) = (0.0, 60.0, 600_000usize);
    let h = (b - a) / n as f64;
    let mut acc = f(a) + f(b);
    for i in 1..n {
        acc += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    acc * h / 3.0
}

#[test]
fn rayleigh_ergodic_rate_matches_integral_and_table() {
    // Closed form e^{1/s} E1(1/s) / ln 2, values from mpmath:
    //   0 dB: e * E1(1) / ln 2 = 0.860347382270886
    //  10 dB: e^0.1 * E1(0.1) / ln 2 = 2.9065148084148054
    //  20 dB: e^0.01 * E1(0.01) / ln 2 = 5.884048233683474
    for (db, want) in [
        (0.0, 0.860_347_382_270_886),
        (10.0, 2.906_514_808_414_805_4),
        (20.0, 5.884_048_233_683_474),
    ] {
        assert_close(rayleigh_ergodic_mbps(1.0, db, 1.0), want, 1e-12);
        assert_close(ergodic_bits_per_hz_numeric(db), want, 1e-9);
    }
    // Fading costs rate (Jensen): ergodic < AWGN at the same mean SNR.
    assert!(rayleigh_ergodic_mbps(1.0, 10.0, 1.0) < shannon_mbps(1.0, 10.0, 1.0));
    let c = Channel::parse("rayleigh:bw_mhz=2,snr_db=10,eff=0.5,draws=10").unwrap();
    assert_close(c.nominal_mbps(), 2.0 * 0.5 * 2.906_514_808_414_805_4, 1e-12);
}

#[test]
fn rayleigh_monte_carlo_mean_rate_converges_to_integral() {
    // Tolerance: 4 standard errors of the sample mean, from the sample's own spread.
    for db in [0.0, 10.0, 20.0] {
        let n = 200_000;
        let rates = rayleigh_rates_mbps(1.0, db, 1.0, n, 7);
        let mean = rates.iter().sum::<f64>() / n as f64;
        let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (var / n as f64).sqrt();
        let exact = ergodic_bits_per_hz_numeric(db);
        assert!(
            (mean - exact).abs() < 4.0 * se,
            "{db} dB: MC {mean} vs integral {exact} (4 se = {})",
            4.0 * se
        );
    }
}

#[test]
fn rayleigh_time_quantiles_and_deadline_miss_match_closed_form() {
    let n = 100_000usize;
    let c = Channel::parse(&format!(
        "rayleigh:bw_mhz=1,snr_db=10,draws={n},seed=3,rtt_ms=10"
    ))
    .unwrap();
    assert!(c.is_random());
    assert_eq!(c.kind(), LinkKind::Rayleigh);
    assert_eq!(c.n_states(), n);
    assert_eq!(c.label(), "Rayleigh 1 MHz 10 dB, RTT 10 ms");
    // 10,000 B = 80,000 bit.
    let payload = 10_000u64;
    let t = c.tx_ms(payload);
    assert_eq!(t.samples_ms().len(), n);
    // Hand check of the closed forms, 80 kbit over 1 MHz at 10 dB:
    //  median: 80000 / (1e6 * log2(1 - 10 ln 0.5)) = 80000 / (1e6 * 2.98751) s = 26.7774 ms;
    //  P(T > 100 ms): x = 80000 / (1e6 * 0.1) = 0.8, (2^0.8 - 1) / 10 = 0.0741101,
    //  1 - exp(-0.0741101) = 0.0714306.
    assert_close(
        rayleigh_quantile_ms(80_000.0 / 8.0, 1.0, 10.0, 1.0, 0.5),
        26.777_448_498_168_845,
        1e-12,
    );
    assert_close(
        rayleigh_p_miss(10_000.0, 1.0, 10.0, 1.0, 100.0),
        0.071_430_559_038_696_88,
        1e-12,
    );
    assert_eq!(
        c.exact_p_miss(payload, 100.0),
        Some(rayleigh_p_miss(10_000.0, 1.0, 10.0, 1.0, 100.0))
    );

    // The sampled quantiles sit where the exact CDF says: P(T <= sampled p_q) is within 4
    // binomial standard errors sqrt(q (1 - q) / n) of q.
    let s = t.summary(Some(100.0));
    for (q, v) in [(0.5, s.p50_ms), (0.95, s.p95_ms), (0.99, s.p99_ms)] {
        let cdf = 1.0 - rayleigh_p_miss(10_000.0, 1.0, 10.0, 1.0, v);
        let tol = 4.0 * (q * (1.0 - q) / n as f64).sqrt();
        assert!((cdf - q).abs() < tol, "q={q}: sample {v} ms has CDF {cdf}");
    }
    // And the median itself within 1 % of the closed form (its MC error is ~0.5 %).
    assert_close(s.p50_ms, 26.777_448_498_168_845, 0.01);
    // Deadline miss: sampled fraction within 4 binomial standard errors of the exact value.
    let p = 0.071_430_559_038_696_88;
    let miss = s.p_miss.unwrap();
    assert!(
        (miss - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt(),
        "{miss} vs {p}"
    );
    // The sample mean is finite (no draw has gain 0) and, by Jensen, above the time at the
    // ergodic rate; the exact expectation is infinite, so no closer check exists.
    let at_ergodic_ms = 80_000.0 / (c.nominal_mbps() * 1e6) * 1e3;
    assert!(
        s.mean_ms.is_finite() && s.mean_ms > at_ergodic_ms,
        "{}",
        s.mean_ms
    );
}

#[test]
fn rayleigh_draws_are_seeded_and_paired_across_payloads() {
    let a = Channel::parse("rayleigh:bw_mhz=1,snr_db=10,draws=1000,seed=5").unwrap();
    let b = Channel::parse("rayleigh:bw_mhz=1,snr_db=10,draws=1000,seed=5").unwrap();
    let c = Channel::parse("rayleigh:bw_mhz=1,snr_db=10,draws=1000,seed=6").unwrap();
    assert_eq!(a.tx_ms(5000), b.tx_ms(5000));
    assert_ne!(a.tx_ms(5000), c.tx_ms(5000));
    // Same draw for every payload: doubling the payload doubles every sample.
    let (t1, t2) = (a.tx_ms(5000), a.tx_ms(10_000));
    for (x, y) in t1.samples_ms().iter().zip(t2.samples_ms()) {
        assert_close(*y, 2.0 * x, 1e-14);
    }
    // Each sample is bits / rate of the matching draw.
    let rates = rayleigh_rates_mbps(1.0, 10.0, 1.0, 1000, 5);
    for (x, r) in t1.samples_ms().iter().zip(&rates) {
        assert_close(*x, 5000.0 * 8.0 / (r * 1e6) * 1e3, 1e-12);
    }
    // The allocation-free paths agree with tx_ms.
    let mut buf = Vec::new();
    a.tx_ms_into(5000, &mut buf);
    assert_eq!(buf, t1.samples_ms());
    assert_eq!(a.tx_ms_in_state(5000, 17), t1.samples_ms()[17]);
    // Defaults: 10,000 draws.
    assert_eq!(
        Channel::parse("rayleigh:bw_mhz=1,snr_db=10")
            .unwrap()
            .n_states(),
        10_000
    );
}

// ---------------------------------------------------------------- summary statistics

#[test]
fn summary_quantiles_interpolate_and_count_misses() {
    // 1..=101: linear-interpolation quantiles are exact: p50 = 51, p95 = 96, p99 = 100.
    let v: Vec<f64> = (1..=101).map(f64::from).collect();
    let s = summary(&v, Some(90.0));
    assert_eq!(
        (s.n, s.mean_ms, s.p50_ms, s.p95_ms, s.p99_ms),
        (101, 51.0, 51.0, 96.0, 100.0)
    );
    // 91..=101 exceed 90: 11 of 101.
    assert_close(s.p_miss.unwrap(), 11.0 / 101.0, 1e-15);
    // [0, 10]: p95 = 0 + 0.95 * 10 = 9.5.
    let s = summary(&[10.0, 0.0], None);
    assert_eq!((s.p50_ms, s.p95_ms, s.p_miss), (5.0, 9.5, None));
    let s = summary(&[], Some(1.0));
    assert_eq!(s.n, 0);
    assert!(s.mean_ms.is_nan());
    // A deterministic link's single sample.
    let s = Channel::parse("4g").unwrap().tx_ms(1000).summary(Some(1.0));
    assert_eq!(s.n, 1);
    assert_eq!(s.p_miss, Some(1.0)); // 8000 bit / 5.85 Mbit/s = 1.37 ms > 1 ms
    assert_eq!(s.p50_ms, s.p99_ms);
}

// ---------------------------------------------------------------- trace replay

/// 1 Mbit/s for [0, 1) s, 3 Mbit/s for [1, 2) s; period 2 s, 4 Mbit per period.
const STEP: &str = "time_s,mbps\n0,1\n1,3\n";

#[test]
fn trace_integration_is_exact_on_a_step_trace() {
    let t = Trace::from_csv_str("step.csv", STEP).unwrap();
    assert_eq!(t.period_s(), 2.0);
    assert_eq!(t.mean_mbps(), 2.0); // (1 + 3) Mbit / 2 s
    assert_eq!(t.name(), "step");
    // 2 Mbit from 0.5 s: 0.5 Mbit in [0.5, 1), then 1.5 Mbit at 3 Mbit/s = 0.5 s -> 1.0 s.
    assert_close(t.tx_s(0.5, 2.0), 1.0, 1e-14);
    // 2 Mbit from 0: 1 Mbit in [0, 1), then 1 Mbit at 3 = 1/3 s -> 4/3 s.
    assert_close(t.tx_s(0.0, 2.0), 4.0 / 3.0, 1e-14);
    // Within one step: 0.6 Mbit from 1.2 s at 3 Mbit/s = 0.2 s.
    assert_close(t.tx_s(1.2, 0.6), 0.2, 1e-14);
    // Exactly to a boundary: 0.5 Mbit from 0.5 ends at 1.0 s -> 0.5 s.
    assert_close(t.tx_s(0.5, 0.5), 0.5, 1e-14);
    assert_eq!(t.tx_s(0.5, 0.0), 0.0);
}

#[test]
fn trace_wraps_around_cyclically() {
    let t = Trace::from_csv_str("step.csv", STEP).unwrap();
    // 2 Mbit from 1.5 s: 1.5 Mbit in [1.5, 2), wrap, 0.5 Mbit at 1 Mbit/s = 0.5 s -> 1.0 s.
    assert_close(t.tx_s(1.5, 2.0), 1.0, 1e-14);
    // 10 Mbit from 0.5 s: 0.5 (to 1 s) + 3 (to 2 s) = 3.5; one whole period +4 = 7.5 at 4 s;
    // 1 more in [4, 5) = 8.5; last 1.5 at 3 Mbit/s = 0.5 s -> ends at 5.5 s: 5.0 s.
    assert_close(t.tx_s(0.5, 10.0), 5.0, 1e-14);
    // A start beyond the period is taken modulo it: 4.5 s is 0.5 s.
    assert_close(t.tx_s(4.5, 2.0), 1.0, 1e-14);
    // Many periods: 4000 Mbit from 0 is exactly 1000 periods = 2000 s.
    assert_close(t.tx_s(0.0, 4000.0), 2000.0, 1e-12);
}

#[test]
fn trace_outages_start_offsets_and_last_row() {
    // Outage then 2 Mbit/s: 1 Mbit from 0 waits 1 s, then 0.5 s -> 1.5 s.
    let t = Trace::from_csv_str("gap.csv", "time_s,mbps\n0,0\n1,2\n").unwrap();
    assert_close(t.tx_s(0.0, 1.0), 1.5, 1e-14);
    // 2 Mbit from 1.5 s: 1 Mbit by 2 s, wrap into the outage [2, 3), 1 Mbit in [3, 3.5) -> 2 s.
    assert_close(t.tx_s(1.5, 2.0), 2.0, 1e-14);
    // Starting inside the outage: 1 Mbit from 0.25 s waits 0.75 s then 0.5 s -> 1.25 s.
    assert_close(t.tx_s(0.25, 1.0), 1.25, 1e-14);
    // A trace need not start at 0: it is shifted; same as STEP.
    let t = Trace::from_csv_str("late.csv", "time_s,mbps\n10,1\n11,3\n").unwrap();
    assert_close(t.tx_s(0.5, 2.0), 1.0, 1e-14);
    assert_eq!(t.points().next(), Some((0.0, 1.0)));
    // Uneven steps: the last row lasts as long as the interval before it (0.5 s):
    // period 3 s, total 1*2 + 3*0.5 + 5*0.5 = 6 Mbit, mean 2 Mbit/s.
    let t = Trace::from_csv_str("uneven.csv", "time_s,mbps\n0,1\n2,3\n2.5,5\n").unwrap();
    assert_eq!(t.period_s(), 3.0);
    assert_close(t.mean_mbps(), 2.0, 1e-15);
    assert_eq!(t.len(), 3);
}

#[test]
fn trace_channel_gives_one_sample_per_offset() {
    let path = temp_file("step_trace.csv", STEP);
    let spec = format!("trace:path={},offsets=4,rtt_ms=15", path.display());
    let c = Channel::parse(&spec).unwrap();
    assert_eq!(c.kind(), LinkKind::Trace);
    assert!(c.is_random());
    assert_eq!(c.n_states(), 4);
    assert_eq!(c.nominal_mbps(), 2.0);
    assert_eq!(c.label(), "trace step-trace (mean 2 Mbps), RTT 15 ms");
    // 250,000 B = 2 Mbit from starts 0, 0.5, 1, 1.5 s:
    //   0 s: 1 Mbit in [0,1) + 1 Mbit at 3 = 1/3 s -> 1333.33 ms
    //   0.5 s: 1000 ms (above);  1 s: 2 Mbit at 3 -> 666.67 ms;  1.5 s: 1000 ms (wraps).
    let t = c.tx_ms(250_000);
    let want = [4000.0 / 3.0, 1000.0, 2000.0 / 3.0, 1000.0];
    for (got, want) in t.samples_ms().iter().zip(want) {
        assert_close(*got, want, 1e-12);
    }
    let s = t.summary(Some(1000.0));
    assert_eq!(s.p_miss, Some(0.25));
    assert_close(s.mean_ms, 1000.0, 1e-12);
    assert_eq!(c.exact_p_miss(250_000, 1000.0), None);
    // scale multiplies every rate (2 then 6 Mbit/s; the step times stay), 2 Mbit from
    //   0 s: 2 Mbit at 2 = 1 s;  0.5 s: 1 Mbit by 1 s + 1 Mbit at 6 = 1/6 s -> 0.6667 s;
    //   1 s: 2 Mbit at 6 = 0.3333 s;  1.5 s: 3 Mbit fit before 2 s -> 0.3333 s.
    let c2 = Channel::parse(&format!("trace:path={},offsets=4,scale=2", path.display())).unwrap();
    let want = [1000.0, 2000.0 / 3.0, 1000.0 / 3.0, 1000.0 / 3.0];
    for (got, want) in c2.tx_ms(250_000).samples_ms().iter().zip(want) {
        assert_close(*got, want, 1e-12);
    }
    assert_eq!(c2.label(), "trace step-trace x2 (mean 4 Mbps)");
    // Default: 1000 offsets.
    let c = Channel::parse(&format!("trace:path={}", path.display())).unwrap();
    assert_eq!(c.n_states(), 1000);
}

// ---------------------------------------------------------------- trace file errors

#[track_caller]
fn bad_trace(text: &str, want: &[&str]) {
    match Trace::from_csv_str("bad.csv", text) {
        Err(Error::BadFile { file, msg }) => {
            assert_eq!(file, Path::new("bad.csv"));
            for w in want {
                assert!(msg.contains(w), "message '{msg}' lacks '{w}'");
            }
            // One line, so the CLI prints it as one.
            assert!(!msg.contains('\n'), "{msg}");
        }
        other => panic!("expected BadFile for {text:?}, got {other:?}"),
    }
}

#[test]
fn malformed_traces_are_rejected_with_file_and_line() {
    bad_trace("", &["empty file"]);
    bad_trace("\n  \n", &["empty file"]);
    bad_trace("time,mbps\n0,1\n1,2\n", &["line 1", "header", "time,mbps"]);
    bad_trace("time_s\n0\n1\n", &["line 1", "header"]);
    bad_trace("mbps,time_s\n0,1\n1,2\n", &["line 1", "header"]);
    bad_trace("time_s,mbps\n0,1\n1\n", &["line 3", "expected 2 fields"]);
    bad_trace(
        "time_s,mbps\n0,1\n1,2,3\n",
        &["line 3", "expected 2 fields"],
    );
    bad_trace(
        "time_s,mbps\n0,1\n1,fast\n",
        &["line 3", "mbps 'fast'", "not a finite number"],
    );
    bad_trace("time_s,mbps\n0,1\nx,2\n", &["line 3", "time_s 'x'"]);
    bad_trace("time_s,mbps\n0,1\n1,NaN\n", &["line 3", "NaN"]);
    bad_trace("time_s,mbps\n0,1\n1,inf\n", &["line 3", "inf"]);
    bad_trace("time_s,mbps\n0,1\n1,-2\n", &["line 3", "negative"]);
    bad_trace(
        "time_s,mbps\n0,1\n2,2\n1,3\n",
        &["line 4", "strictly increase"],
    );
    bad_trace("time_s,mbps\n0,1\n0,2\n", &["line 3", "strictly increase"]);
    bad_trace("time_s,mbps\n", &["0 data row(s)", "at least 2"]);
    bad_trace("time_s,mbps\n0,1\n", &["1 data row(s)"]);
    bad_trace("time_s,mbps\n0,0\n1,0\n2,0\n", &["every rate is 0"]);
    // Blank lines are skipped but still counted, so line numbers match an editor's.
    bad_trace("time_s,mbps\n0,1\n\n1,-2\n", &["line 4"]);
    // CRLF files and a BOM are fine.
    assert!(Trace::from_csv_str("ok.csv", "\u{feff}time_s,mbps\r\n0,1\r\n1,2\r\n").is_ok());
}

#[test]
fn trace_file_errors_name_the_file() {
    let path = temp_file("negative_rate.csv", "time_s,mbps\n0,1\n1,-1\n");
    match Channel::parse(&format!("trace:path={}", path.display())) {
        Err(Error::BadFile { file, msg }) => {
            assert_eq!(file, path);
            assert!(msg.contains("line 3"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-trace.csv");
    match Channel::parse(&format!("trace:path={}", missing.display())) {
        Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("no-such-trace.csv")),
        other => panic!("{other:?}"),
    }
    let binary = temp_file("binary.csv", "");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    assert!(matches!(Trace::load(&binary), Err(Error::BadFile { .. })));
}

// ---------------------------------------------------------------- spec errors

#[track_caller]
fn bad_spec(spec: &str, want: &str) {
    match Channel::parse(spec) {
        Err(Error::InvalidArg(msg)) => {
            assert!(
                msg.starts_with(&format!("channel spec '{spec}': ")),
                "'{msg}' does not start with the spec"
            );
            assert!(msg.contains(want), "'{msg}' lacks '{want}'");
        }
        other => panic!("expected InvalidArg for {spec:?}, got {other:?}"),
    }
}

#[test]
fn malformed_specs_are_rejected_naming_spec_and_problem() {
    bad_spec("", "no link kind");
    bad_spec("5g", "unknown kind '5g'");
    bad_spec("fiber:mbps=1", "unknown kind 'fiber'");
    bad_spec("fixed:mbps=-1", "mbps must be > 0");
    bad_spec("fixed:mbps=0", "mbps must be > 0");
    bad_spec("fixed", "missing required key 'mbps'");
    bad_spec("fixed:rtt_ms=3", "missing required key 'mbps'");
    bad_spec("fixed:mbps=abc", "mbps: 'abc' is not a finite number");
    bad_spec("fixed:mbps=inf", "not a finite number");
    bad_spec("fixed:mbps=NaN", "not a finite number");
    bad_spec(
        "fixed:rate=5",
        "unknown key 'rate' for fixed (allowed: mbps, rtt_ms, mss, hdr, transport, tcp_window)",
    );
    bad_spec("fixed:mbps=5,mbps=6", "key 'mbps' given twice");
    bad_spec("fixed:mbps", "'mbps' is not key=value");
    bad_spec("fixed:mbps=", "not key=value");
    bad_spec("fixed:mbps=5,", "not key=value");
    bad_spec("fixed:mbps=5,rtt_ms=-1", "rtt_ms must be >= 0");
    bad_spec("fixed:mbps=5,mss=0", "mss must be in 1..=");
    bad_spec(
        "fixed:mbps=5,hdr=-4",
        "hdr: '-4' is not a non-negative integer",
    );
    bad_spec("4g:mbps=3", "unknown key 'mbps' for 4g");
    bad_spec("awgn:bw_mhz=1", "missing required key 'snr_db'");
    bad_spec("awgn:snr_db=10", "missing required key 'bw_mhz'");
    bad_spec("awgn:bw_mhz=0,snr_db=10", "bw_mhz must be > 0");
    bad_spec(
        "awgn:bw_mhz=1,snr_db=ten",
        "snr_db: 'ten' is not a finite number",
    );
    bad_spec("awgn:bw_mhz=1,snr_db=10,eff=1.5", "eff must be in (0, 1]");
    bad_spec("awgn:bw_mhz=1,snr_db=10,eff=0", "eff must be > 0");
    bad_spec("awgn:bw_mhz=1,snr_db=-4000", "snr_db is too low");
    bad_spec(
        "awgn:bw_mhz=1,snr_db=10,draws=5",
        "unknown key 'draws' for awgn",
    );
    bad_spec(
        "rayleigh:bw_mhz=1,snr_db=10,draws=0",
        "draws must be in 1..=",
    );
    bad_spec(
        "rayleigh:bw_mhz=1,snr_db=10,draws=1e4",
        "draws: '1e4' is not a non-negative integer",
    );
    bad_spec("rayleigh:bw_mhz=1,snr_db=10,seed=-1", "seed: '-1'");
    bad_spec("trace", "missing required key 'path'");
    bad_spec("trace:path=x.csv,offsets=0", "offsets must be in 1..=");
    bad_spec("trace:path=x.csv,scale=-2", "scale must be > 0");
    bad_spec("trace:file=x.csv", "unknown key 'file' for trace");
}

// ---------------------------------------------------------------- synthetic trace

#[test]
fn synthetic_markov_trace_reproduces_committed_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/traces/synthetic-markov.csv");
    let rows = synthetic_markov_trace(markov::COMMITTED_SEED, markov::COMMITTED_DURATION_S);
    let text = trace_csv(&rows);
    if std::env::var_os("SPLITBENCH_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write synthetic trace");
        eprintln!("SPLITBENCH_BLESS: rewrote {}", path.display());
    }
    let committed = std::fs::read_to_string(&path).expect("committed synthetic trace");
    assert!(
        committed == text,
        "{} differs from synthetic_markov_trace({}, {}); regenerate with SPLITBENCH_BLESS=1",
        path.display(),
        markov::COMMITTED_SEED,
        markov::COMMITTED_DURATION_S
    );
    // It is a valid trace of 600 1-s rows whose rates stay near the chain's levels.
    let t = Trace::load(&path).unwrap();
    assert_eq!((t.len(), t.period_s()), (600, 600.0));
    let mean = t.mean_mbps();
    assert!((0.3..6.0).contains(&mean), "mean {mean}");
    assert!(t.points().all(|(_, r)| r > 0.0 && r < 6.0 * 7.0));
    // Other seeds differ; the same seed is deterministic.
    assert_ne!(synthetic_markov_trace(2, 600), rows);
    assert_eq!(synthetic_markov_trace(1, 600), rows);
}

// ---------------------------------------------------------------- real traces

/// The shared real-trace folder, if this checkout has one beside it.
fn shared_traces() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../shared/traces"),
        PathBuf::from("/work/shared/traces"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read trace dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    v.sort();
    v
}

#[test]
fn real_hsdpa_norway_traces_parse_with_readme_means() {
    let Some(root) = shared_traces() else {
        eprintln!("skipped: no shared/traces folder beside the checkout (../shared/traces)");
        return;
    };
    let files = csv_files(&root.join("hsdpa-norway"));
    // The README lists 80 files; a suite that checked none must fail.
    assert_eq!(files.len(), 80, "hsdpa-norway file count");
    for f in &files {
        let t = Trace::load(f).unwrap_or_else(|e| panic!("{e}"));
        // README: per-trace mean 0.60-4.59 Mbit/s, a plain mean over rows, rounded to 2
        // decimals (so +-0.005). The time-weighted mean we use differs by a few percent.
        let row_mean = t.points().map(|(_, r)| r).sum::<f64>() / t.len() as f64;
        assert!(
            (0.595..4.595).contains(&row_mean),
            "{}: row mean {row_mean}",
            f.display()
        );
        let tw = t.mean_mbps();
        assert!(
            (0.5..5.0).contains(&tw),
            "{}: time-weighted mean {tw}",
            f.display()
        );
    }
    // Through the spec, as a user would pass it.
    let f = root.join("hsdpa-norway/norway_bus_1.csv");
    let c = Channel::parse(&format!("trace:path={},offsets=200", f.display())).unwrap();
    assert!(
        c.label().starts_with("trace norway-bus-1 (mean "),
        "{}",
        c.label()
    );
    let s = c.tx_ms(100_000).summary(Some(1000.0));
    assert!(s.p50_ms > 0.0 && s.p99_ms >= s.p50_ms && s.p_miss.is_some());
}

#[test]
fn every_shared_trace_parses() {
    let Some(root) = shared_traces() else {
        eprintln!("skipped: no shared/traces folder beside the checkout (../shared/traces)");
        return;
    };
    let mut n = 0;
    for dir in ["hsdpa-norway", "fcc-2016", "oboe", "puffer-2022-02-18"] {
        for f in csv_files(&root.join(dir)) {
            let t = Trace::load(&f).unwrap_or_else(|e| panic!("{e}"));
            assert!(t.mean_mbps() > 0.0);
            n += 1;
        }
    }
    assert!(n >= 200, "only {n} traces found");
}

// Speed is measured by the planner's criterion bench (benches/), not in tests.

#[test]
fn tcp_transport_adds_headers_and_slow_start() {
    // 100 KB at 4G with 40 ms RTT: 70 segments; naive = payload bits only.
    let naive = Channel::parse("4g:rtt_ms=40").unwrap();
    let tcp = Channel::parse("4g:rtt_ms=40,transport=tcp").unwrap();
    let warm = Channel::parse("4g:rtt_ms=40,transport=tcp,tcp_window=warm").unwrap();
    let b: u64 = 100_000;
    let n = b.div_ceil(1448);
    let wire = (b + n * 52) as f64;
    let serial = wire * 8.0 / 5.85e3;
    assert!((naive.tx_ms_in_state(b, 0) - b as f64 * 8.0 / 5.85e3).abs() < 1e-9);
    assert!((warm.tx_ms_in_state(b, 0) - serial).abs() < 1e-9);
    // Cold: rounds of 10, 20, 40 segments; the first two wait for an ACK.
    let tau: f64 = 1500.0 * 8.0 / 5.85e3;
    let want = serial + (40.0 + tau - 10.0 * tau).max(0.0) + (40.0 + tau - 20.0 * tau).max(0.0);
    assert!(
        (tcp.tx_ms_in_state(b, 0) - want).abs() < 1e-6,
        "{}",
        tcp.tx_ms_in_state(b, 0)
    );
    assert_eq!(tcp.wire_bytes(b), b + n * 52);
    assert_eq!(tcp.exact_p_miss(b, 100.0), None);
    // The label (charts) does not change with the transport.
    assert_eq!(tcp.label(), naive.label());
}

#[test]
fn a_default_transport_does_not_override_a_given_one() {
    let tcp = Transport::Tcp(Tcp::default());
    let given = Channel::parse("3g:transport=naive")
        .unwrap()
        .with_default_transport(tcp);
    assert_eq!(given.transport(), Transport::Naive);
    let defaulted = Channel::parse("3g").unwrap().with_default_transport(tcp);
    assert_eq!(defaulted.transport(), tcp);
    for (spec, needle) in [
        ("3g:transport=quic", "transport 'quic'"),
        ("3g:tcp_window=warm", "tcp_window needs transport=tcp"),
        ("3g:transport=tcp,tcp_window=hot", "tcp_window 'hot'"),
    ] {
        let e = Channel::parse(spec).unwrap_err().to_string();
        assert!(e.contains(needle), "{spec}: {e}");
    }
}

#[test]
fn tcp_over_a_trace_follows_its_rate_changes() {
    // 1 Mbit/s for 1 s, then 100 Mbit/s: a 100-segment transfer starting at 0 crosses the
    // step.
    let dir = std::env::temp_dir().join(format!("sb-tcp-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("step.csv");
    std::fs::write(&path, "time_s,mbps\n0,1\n1,100\n2,100\n").unwrap();
    let spec = |extra: &str| format!("trace:path={},offsets=1{extra}", path.display());
    let warm = Channel::parse(&spec(",transport=tcp,tcp_window=warm")).unwrap();
    let b = 100 * 1448;
    // The first 1,000,000 wire bits take the whole first second; the other 200,000 go at
    // 100 Mbit/s.
    let wire_bits = (b + 100 * 52) as f64 * 8.0;
    let want_ms = 1000.0 + (wire_bits - 1e6) / 100e3;
    assert!((warm.tx_ms_in_state(b as u64, 0) - want_ms).abs() < 1e-6);
    let cold = Channel::parse(&spec(",transport=tcp,rtt_ms=500")).unwrap();
    assert!(cold.tx_ms_in_state(b as u64, 0) > warm.tx_ms_in_state(b as u64, 0));
}

#[test]
fn deterministic_fast_path_is_a_multiply() {
    // 5.85 Mbit/s: 1 MB = 8e6 bit -> 8e6 / 5.85e6 s = 1367.521... ms.
    let c = Channel::parse("4g:rtt_ms=0").unwrap();
    assert!((c.tx_ms_in_state(1_000_000, 0) - 8e6 / 5.85e6 * 1e3).abs() < 1e-9);
    assert_eq!(c.n_states(), 1);
}
