//! Kernel times a device did not measure: the planner's bottleneck and codec tables from
//! kernel-times rows ([`KernelTable`]), scaling the keys the rows lack from the nearest
//! measured ones, or from the device profile's own rates ([`ProfileRates`]) when there is no
//! row of a kind ([`SCALING_RULES`]). No GPU.

use crate::compress::Bottleneck;
use crate::error::{Error, Result};
use crate::model::Graph;
use crate::plan::{BottleneckKey, BottleneckTable, CodecKey, CodecTable, CodecTime};
use crate::report::{KernelKind, KernelTimeRow, ProfileRow};

/// Rates of a device taken from its per-node profile, for kernels that no kernel-times
/// file measured (see [`KernelTable`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProfileRates {
    /// ms per FLOP of the dense convolutions (`conv`, `conv1x1`; every node with FLOPs
    /// when there is none): sum of their medians / sum of their FLOPs.
    pub conv_ms_per_flop: f64,
    /// ms per byte of the memory-bound nodes (every op but convolutions and linear layers,
    /// reading something; every such node when there is none): sum of their medians / sum
    /// of their input + output bytes.
    pub ms_per_byte: f64,
}

impl ProfileRates {
    /// The rates of a batch-1 profile (`Err` when it has no node with FLOPs or bytes).
    pub fn of(rows: &[ProfileRow]) -> Result<Self> {
        fn rate<'a>(
            rows: impl Iterator<Item = &'a ProfileRow>,
            work: impl Fn(&ProfileRow) -> u64,
        ) -> Option<f64> {
            let (ms, w) = rows.fold((0.0, 0u64), |(ms, w), r| {
                (ms + r.device_ms_median, w + work(r))
            });
            (w > 0 && ms > 0.0).then(|| ms / w as f64)
        }
        let flops = |r: &ProfileRow| r.flops;
        let bytes = |r: &ProfileRow| {
            if r.in_bytes > 0 {
                r.in_bytes + r.out_bytes
            } else {
                0
            }
        };
        let dense = |r: &&ProfileRow| matches!(r.op.as_str(), "conv" | "conv1x1");
        let memory =
            |r: &&ProfileRow| !matches!(r.op.as_str(), "conv" | "conv1x1" | "dwconv" | "linear");
        let conv = rate(rows.iter().filter(dense), flops).or_else(|| rate(rows.iter(), flops));
        let mem = rate(rows.iter().filter(memory), bytes).or_else(|| rate(rows.iter(), bytes));
        match (conv, mem) {
            (Some(conv_ms_per_flop), Some(ms_per_byte)) => Ok(Self {
                conv_ms_per_flop,
                ms_per_byte,
            }),
            _ => Err(Error::InvalidArg(
                "the profile has no node with FLOPs or bytes and a time > 0: no rate to scale \
                 kernel times from"
                    .into(),
            )),
        }
    }
}

/// How many keys of a table were measured and how many scaled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyCounts {
    /// Keys found in the kernel-times rows.
    pub measured: usize,
    /// Keys scaled from other keys or from the profile's rates.
    pub scaled: usize,
}

/// What the scaling rules of [`KernelTable`] are, for manifests.
pub const SCALING_RULES: &str = "bottleneck not in the kernel-times file: the measured \
    bottleneck of the same feature height and width (the same split) with the nearest encoder \
    FLOPs, else the nearest of the same kind (conv or linear), its encoder and decoder times \
    scaled by the FLOP ratio of each half; codec key not in the file: among measured keys of \
    the same bits and scale (per-tensor or per-channel; else the same bits, else any), linear \
    interpolation in numel between the nearest smaller and larger sizes, else proportional to \
    numel from the nearest; a kind with no row at all (or no kernel-times file): bottleneck \
    = its FLOPs x the profile's dense-conv ms per FLOP, codec = its traffic (encode: 2 x 4 x \
    numel read + the packed bits written; decode: the packed bits read + 4 x numel written) \
    x the profile's memory-bound ms per byte";

/// Kernel times by key from kernel-times rows, with scaling for keys that were not
/// measured ([`SCALING_RULES`]).
#[derive(Clone, Debug, Default)]
pub struct KernelTable {
    bottlenecks: Vec<(BottleneckKey, (f64, f64))>,
    codec: Vec<(CodecKey, CodecTime)>,
}

/// FLOPs of a bottleneck's encoder and decoder.
fn bottleneck_flops(key: &BottleneckKey) -> Result<(f64, f64)> {
    let b = Bottleneck::new(key.shape(), key.width)?;
    let flops = |g: Graph| g.nodes[1].flops(&g) as f64;
    Ok((flops(b.encoder_graph()?), flops(b.decoder_graph()?)))
}

/// Bytes the codec of `key` moves: (encode, decode).
fn codec_traffic(key: &CodecKey) -> (f64, f64) {
    let f32s = 4.0 * key.numel as f64;
    let packed = (key.numel as f64 * key.bits as f64 / 8.0).ceil();
    (2.0 * f32s + packed, packed + f32s)
}

impl KernelTable {
    /// The table of `rows` (the last row wins for a key given twice).
    pub fn from_rows(rows: &[KernelTimeRow]) -> Self {
        let mut t = Self::default();
        for r in rows {
            let times = (r.encode_ms_median, r.decode_ms_median);
            match r.kind {
                KernelKind::Bottleneck => {
                    if let (Some(c), Some(h), Some(w), Some(width)) =
                        (r.feature_c, r.feature_h, r.feature_w, r.width)
                    {
                        let key = BottleneckKey {
                            feature: (c, h, w),
                            width,
                        };
                        t.bottlenecks.retain(|(k, _)| *k != key);
                        t.bottlenecks.push((key, times));
                    }
                }
                KernelKind::Codec => {
                    if let (Some(numel), Some(group_len), Some(bits)) =
                        (r.numel, r.group_len, r.bits)
                    {
                        let key = CodecKey {
                            numel,
                            group_len,
                            bits,
                        };
                        t.codec.retain(|(k, _)| *k != key);
                        t.codec.push((
                            key,
                            CodecTime {
                                encode_ms: times.0,
                                decode_ms: times.1,
                            },
                        ));
                    }
                }
            }
        }
        t
    }

    /// Encoder and decoder ms of `key`, and whether it was measured.
    pub fn bottleneck(
        &self,
        key: &BottleneckKey,
        rates: &ProfileRates,
    ) -> Result<((f64, f64), bool)> {
        if let Some((_, t)) = self.bottlenecks.iter().find(|(k, _)| k == key) {
            return Ok((*t, true));
        }
        let (enc, dec) = bottleneck_flops(key)?;
        let (_, h, w) = key.feature;
        let linear = |k: &BottleneckKey| k.feature.1 == 1 && k.feature.2 == 1;
        let same_split: Vec<_> = self
            .bottlenecks
            .iter()
            .filter(|(k, _)| (k.feature.1, k.feature.2) == (h, w))
            .collect();
        let pool: Vec<_> = if same_split.is_empty() {
            self.bottlenecks
                .iter()
                .filter(|(k, _)| linear(k) == linear(key))
                .collect()
        } else {
            same_split
        };
        // (distance in log FLOPs, the reference's times scaled to `key`)
        let mut best: Option<(f64, (f64, f64))> = None;
        for (k, t) in pool {
            let f = bottleneck_flops(k)?;
            let dist = (f.0 / enc).ln().abs();
            if best.is_none_or(|(d, _)| dist < d) {
                best = Some((dist, (t.0 * enc / f.0, t.1 * dec / f.1)));
            }
        }
        let rate = rates.conv_ms_per_flop;
        Ok((best.map_or((enc * rate, dec * rate), |(_, t)| t), false))
    }

    /// Encode and decode ms of `key`, and whether it was measured.
    pub fn codec(&self, key: &CodecKey, rates: &ProfileRates) -> (CodecTime, bool) {
        if let Some((_, t)) = self.codec.iter().find(|(k, _)| k == key) {
            return (*t, true);
        }
        let per_tensor = |k: &CodecKey| k.group_len == k.numel;
        let same_bits = |k: &&(CodecKey, CodecTime)| k.0.bits == key.bits;
        let mut pool: Vec<&(CodecKey, CodecTime)> = self
            .codec
            .iter()
            .filter(same_bits)
            .filter(|(k, _)| per_tensor(k) == per_tensor(key))
            .collect();
        if pool.is_empty() {
            pool = self.codec.iter().filter(same_bits).collect();
        }
        if pool.is_empty() {
            pool = self.codec.iter().collect();
        }
        let n = key.numel as f64;
        let below = pool
            .iter()
            .filter(|(k, _)| k.numel < key.numel)
            .max_by_key(|(k, _)| k.numel);
        let above = pool
            .iter()
            .filter(|(k, _)| k.numel > key.numel)
            .min_by_key(|(k, _)| k.numel);
        let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
        let t = match (below, above) {
            (Some((lo, tl)), Some((hi, th))) => {
                let t = (n - lo.numel as f64) / (hi.numel as f64 - lo.numel as f64);
                CodecTime {
                    encode_ms: lerp(tl.encode_ms, th.encode_ms, t),
                    decode_ms: lerp(tl.decode_ms, th.decode_ms, t),
                }
            }
            (Some((k, t)), None) | (None, Some((k, t))) => {
                let r = n / k.numel as f64;
                CodecTime {
                    encode_ms: t.encode_ms * r,
                    decode_ms: t.decode_ms * r,
                }
            }
            (None, None) => {
                // Same numel, other scale or bits: the same-size row, else the rates.
                match pool.iter().find(|(k, _)| k.numel == key.numel) {
                    Some((_, t)) => *t,
                    None => {
                        let (e, d) = codec_traffic(key);
                        CodecTime {
                            encode_ms: e * rates.ms_per_byte,
                            decode_ms: d * rates.ms_per_byte,
                        }
                    }
                }
            }
        };
        (t, false)
    }

    /// The planner's bottleneck table for `keys`, with how many were measured.
    pub fn bottleneck_table(
        &self,
        keys: &[BottleneckKey],
        rates: &ProfileRates,
    ) -> Result<(BottleneckTable, KeyCounts)> {
        let mut table = BottleneckTable::new();
        let mut n = KeyCounts::default();
        for key in keys {
            let (t, measured) = self.bottleneck(key, rates)?;
            count(&mut n, measured);
            table.insert(*key, t);
        }
        Ok((table, n))
    }

    /// The planner's codec table for `keys`, with how many were measured.
    pub fn codec_table(&self, keys: &[CodecKey], rates: &ProfileRates) -> (CodecTable, KeyCounts) {
        let mut table = CodecTable::new();
        let mut n = KeyCounts::default();
        for key in keys {
            let (t, measured) = self.codec(key, rates);
            count(&mut n, measured);
            table.insert(*key, t);
        }
        (table, n)
    }
}

fn count(n: &mut KeyCounts, measured: bool) {
    if measured {
        n.measured += 1;
    } else {
        n.scaled += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::BottleneckTimes;
    use crate::gpu::{codec::CodecStats, TimingMethod};
    use crate::study::kernel_times::{bottleneck_row, codec_row};

    fn rates() -> ProfileRates {
        ProfileRates {
            conv_ms_per_flop: 1e-9,
            ms_per_byte: 1e-6,
        }
    }

    fn bn(c: usize, h: usize, w: usize, width: usize) -> BottleneckKey {
        BottleneckKey {
            feature: (c, h, w),
            width,
        }
    }

    fn codec(numel: usize, group_len: usize, bits: u32) -> CodecKey {
        CodecKey {
            numel,
            group_len,
            bits,
        }
    }

    fn table(bns: &[(BottleneckKey, (f64, f64))], cs: &[(CodecKey, (f64, f64))]) -> KernelTable {
        let mut rows: Vec<KernelTimeRow> = bns
            .iter()
            .map(|(k, (e, d))| {
                let mut r = bottleneck_row(
                    k,
                    &BottleneckTimes {
                        method: TimingMethod::WallClock,
                        encoder: crate::gpu::Stats::of(&[*e]),
                        decoder: crate::gpu::Stats::of(&[*d]),
                    },
                );
                r.reps = 1;
                r
            })
            .collect();
        rows.extend(cs.iter().map(|(k, (e, d))| {
            codec_row(
                k,
                &CodecStats {
                    encode: crate::gpu::Stats::of(&[*e]),
                    decode: crate::gpu::Stats::of(&[*d]),
                },
                Some(TimingMethod::WallClock),
            )
        }));
        KernelTable::from_rows(&rows)
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }

    #[test]
    fn measured_keys_are_taken_as_they_are() {
        let t = table(
            &[(bn(64, 8, 8, 16), (0.5, 0.25))],
            &[(codec(4096, 4096, 8), (0.1, 0.2))],
        );
        assert_eq!(
            t.bottleneck(&bn(64, 8, 8, 16), &rates()).unwrap(),
            ((0.5, 0.25), true)
        );
        let (c, measured) = t.codec(&codec(4096, 4096, 8), &rates());
        assert!(measured);
        assert_eq!((c.encode_ms, c.decode_ms), (0.1, 0.2));
    }

    #[test]
    fn bottleneck_scales_by_flops_from_the_same_split() {
        // Pruned feature 32x8x8 at width 8: conv FLOPs are 9*C*K*H*W, a quarter of 64x16.
        let t = table(
            &[
                (bn(64, 8, 8, 16), (0.8, 0.4)),
                (bn(64, 8, 8, 4), (0.1, 0.1)),
                (bn(32, 16, 16, 8), (9.0, 9.0)), // another split: never the reference here
            ],
            &[],
        );
        let ((e, d), measured) = t.bottleneck(&bn(32, 8, 8, 8), &rates()).unwrap();
        assert!(!measured);
        // Nearest encoder FLOPs at 8x8: 64->4 (ratio 1), not 64->16 (ratio 4).
        let f = |k| bottleneck_flops(&k).unwrap();
        let (fe, fd) = f(bn(32, 8, 8, 8));
        let (ge, gd) = f(bn(64, 8, 8, 4));
        close(e, 0.1 * fe / ge);
        close(d, 0.1 * fd / gd);
        // Nothing at the same split: the nearest of the same kind (conv), FLOP-scaled.
        let ((e, _), _) = t.bottleneck(&bn(32, 4, 4, 8), &rates()).unwrap();
        let (he, _) = f(bn(32, 4, 4, 8));
        let (ne, _) = f(bn(64, 8, 8, 4));
        close(e, 0.1 * he / ne);
        // No row at all: the profile's conv rate.
        let ((e, d), m) = KernelTable::default()
            .bottleneck(&bn(32, 8, 8, 8), &rates())
            .unwrap();
        assert!(!m);
        close(e, fe * 1e-9);
        close(d, fd * 1e-9);
    }

    #[test]
    fn codec_interpolates_in_numel_within_bits_and_scale() {
        let t = table(
            &[],
            &[
                (codec(1000, 1000, 4), (1.0, 2.0)),
                (codec(3000, 3000, 4), (3.0, 6.0)),
                (codec(2000, 2000, 8), (100.0, 100.0)), // other bits: not used
                (codec(2000, 100, 4), (50.0, 50.0)),    // per-channel: not used
            ],
        );
        let (c, m) = t.codec(&codec(2000, 2000, 4), &rates());
        assert!(!m);
        close(c.encode_ms, 2.0);
        close(c.decode_ms, 4.0);
        // Above the largest: proportional to numel from it.
        let (c, _) = t.codec(&codec(6000, 6000, 4), &rates());
        close(c.encode_ms, 6.0);
        close(c.decode_ms, 12.0);
        // Below the smallest: proportional too.
        let (c, _) = t.codec(&codec(500, 500, 4), &rates());
        close(c.encode_ms, 0.5);
        // Per-channel key: the per-channel row of the same bits.
        let (c, _) = t.codec(&codec(4000, 100, 4), &rates());
        close(c.encode_ms, 100.0);
        // Bits never measured: any row, still linear in numel (1000 and 3000 bracket it).
        let (c, _) = t.codec(&codec(2000, 2000, 2), &rates());
        close(c.encode_ms, 2.0);
        // No codec row: the profile's memory rate x the traffic.
        let (c, _) = KernelTable::default().codec(&codec(1000, 1000, 8), &rates());
        close(c.encode_ms, (8000.0 + 1000.0) * 1e-6);
        close(c.decode_ms, (1000.0 + 4000.0) * 1e-6);
    }

    #[test]
    fn tables_count_measured_and_scaled() {
        let t = table(
            &[(bn(64, 8, 8, 16), (0.5, 0.25))],
            &[(codec(10, 10, 8), (0.1, 0.1))],
        );
        let (b, n) = t
            .bottleneck_table(&[bn(64, 8, 8, 16), bn(64, 8, 8, 8)], &rates())
            .unwrap();
        assert_eq!(
            (b.len(), n),
            (
                2,
                KeyCounts {
                    measured: 1,
                    scaled: 1
                }
            )
        );
        let (c, n) = t.codec_table(
            &[codec(10, 10, 8), codec(20, 20, 8), codec(30, 30, 8)],
            &rates(),
        );
        assert_eq!(
            (c.len(), n),
            (
                3,
                KeyCounts {
                    measured: 1,
                    scaled: 2
                }
            )
        );
    }

    #[test]
    fn rates_of_a_profile() {
        let row = |op: &str, flops: u64, bytes: u64, ms: f64| ProfileRow {
            node: "n".into(),
            op: op.into(),
            out_shape: "1x1x1x1".into(),
            batch: 1,
            flops,
            out_bytes: bytes / 2,
            in_bytes: bytes / 2,
            device_ms_median: ms,
            device_ms_p5: ms,
            device_ms_p95: ms,
            reps: 1,
            dispatches: 1,
            timing: "wall-clock".into(),
        };
        let r = ProfileRates::of(&[
            row("conv", 2_000_000, 100, 2.0),
            row("dwconv", 1_000_000, 100, 50.0),
            row("relu", 0, 4_000, 4.0),
        ])
        .unwrap();
        close(r.conv_ms_per_flop, 1e-6);
        close(r.ms_per_byte, 1e-3);
        assert!(ProfileRates::of(&[row("relu", 0, 0, 0.0)]).is_err());
    }
}
