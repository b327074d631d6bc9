//! The device's kernel-times table (`<profile>_kernels.csv`, written by `splitbench profile
//! --kernels` beside the profile): the median encoder/decoder time of every bottleneck and
//! the median encode/decode time of every codec size that a later trade-off study of the
//! same model can ask for, measured on the same device as the profile. Types, writer and
//! reader only: the study layer says which keys to time and turns rows into its tables.

use super::csvio::read_rows;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What a [`KernelTimeRow`] timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelKind {
    /// A learned bottleneck's encoder (device) and decoder (edge): one 3x3 conv (linear for a
    /// vector feature) each.
    Bottleneck,
    /// The feature codec: per-group min/max + quantize + pack, and unpack + dequantize.
    Codec,
}

/// One measured kernel key. Bottleneck rows fill `feature_c/h/w` and `width`, codec rows
/// `numel`, `group_len` and `bits`; the other kind's columns are empty.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelTimeRow {
    /// `bottleneck` or `codec`.
    pub kind: KernelKind,
    /// Bottleneck: channels of the feature at the split.
    pub feature_c: Option<usize>,
    /// Bottleneck: height of the feature.
    pub feature_h: Option<usize>,
    /// Bottleneck: width of the feature.
    pub feature_w: Option<usize>,
    /// Bottleneck: channels of the code.
    pub width: Option<usize>,
    /// Codec: values of the tensor (per sample).
    pub numel: Option<usize>,
    /// Codec: values per scale group (`numel`: per-tensor scale).
    pub group_len: Option<usize>,
    /// Codec: bits per value.
    pub bits: Option<u32>,
    /// Bottleneck encoder, or codec encode, median ms.
    pub encode_ms_median: f64,
    /// Bottleneck decoder, or codec decode, median ms (measured on the device; a study
    /// divides it by the edge speed-up).
    pub decode_ms_median: f64,
    /// Timed repetitions behind each median.
    pub reps: usize,
    /// How the times were taken (`timestamp-pass`, `wall-clock`, ...).
    pub timing: String,
}

/// The kernel-times file of the profile CSV `profile_csv`: `<stem>_kernels.csv` in the same
/// folder (`device_profile.csv` -> `device_profile_kernels.csv`).
pub fn kernels_path(profile_csv: &Path) -> PathBuf {
    beside(profile_csv, "kernels")
}

/// `<stem>_<part>.csv` in the folder of `profile_csv`.
fn beside(profile_csv: &Path, part: &str) -> PathBuf {
    let stem = profile_csv
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    profile_csv.with_file_name(format!("{stem}_{part}.csv"))
}

/// The rows of a file `profile --kernels` writes, each checked by `check` (`Err`: why, without
/// the file and line); a missing file, a malformed line or a failed check is an
/// [`Error::BadFile`] naming the file (and the line).
fn read_checked<T: serde::de::DeserializeOwned>(
    path: &Path,
    check: impl Fn(&T) -> std::result::Result<(), String>,
) -> Result<Vec<T>> {
    let bad = |msg: String| Error::BadFile {
        file: path.into(),
        msg,
    };
    if !path.is_file() {
        return Err(bad(
            "cannot open: no such file (expected a CSV written by `splitbench profile --kernels`)"
                .into(),
        ));
    }
    let rows: Vec<T> = read_rows(path)?;
    for (i, r) in rows.iter().enumerate() {
        check(r).map_err(|m| bad(format!("line {}: {m}", i + 2)))?;
    }
    Ok(rows)
}

impl KernelTimeRow {
    /// Checks the row's own consistency; `Err` is the reason (without the file and line).
    fn check(&self) -> std::result::Result<(), String> {
        let positive = |name: &str, v: Option<usize>| match v {
            Some(v) if v > 0 => Ok(()),
            Some(_) => Err(format!("{name} must be at least 1")),
            None => Err(format!("a {:?} row needs {name}", self.kind).to_lowercase()),
        };
        match self.kind {
            KernelKind::Bottleneck => {
                positive("feature_c", self.feature_c)?;
                positive("feature_h", self.feature_h)?;
                positive("feature_w", self.feature_w)?;
                positive("width", self.width)?;
            }
            KernelKind::Codec => {
                positive("numel", self.numel)?;
                positive("group_len", self.group_len)?;
                let (n, g) = (self.numel.unwrap_or(0), self.group_len.unwrap_or(0));
                if !n.is_multiple_of(g) {
                    return Err(format!("numel {n} is not a multiple of group_len {g}"));
                }
                match self.bits {
                    Some(1..=8) => {}
                    Some(b) => return Err(format!("bits {b} is not in 1..=8")),
                    None => return Err("a codec row needs bits".into()),
                }
            }
        }
        for (name, v) in [
            ("encode_ms_median", self.encode_ms_median),
            ("decode_ms_median", self.decode_ms_median),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} {v} is not a non-negative number"));
            }
        }
        Ok(())
    }
}

/// One node of a pruned prefix timed on the device (`<profile>_pruned.csv`, written by
/// `splitbench profile --kernels` beside the profile): the nodes that compaction changes in
/// each pruning configuration of the study's search, timed per node like the profile.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrunedTimeRow {
    /// The per-stage ratios (`0.5_0.5_0_0_0`: stem, layer1..layer4).
    pub ratios: String,
    /// The node (its name in the compacted graph, as in the unpruned one).
    pub node: String,
    /// Its output shape in the compacted graph (`1x32x32x32`).
    pub out_shape: String,
    /// Its FLOPs in the compacted graph.
    pub flops: u64,
    /// Median ms.
    pub device_ms_median: f64,
    /// Timed repetitions behind the median.
    pub reps: usize,
    /// How the times were taken.
    pub timing: String,
}

/// The pruned-prefix file of the profile CSV `profile_csv`: `<stem>_pruned.csv` beside it.
pub fn pruned_path(profile_csv: &Path) -> PathBuf {
    beside(profile_csv, "pruned")
}

/// Reads a pruned-prefix CSV; a malformed line or a time that is not a non-negative number
/// is an [`Error::BadFile`] naming the file and the line.
pub fn read_pruned_times_csv(path: &Path) -> Result<Vec<PrunedTimeRow>> {
    read_checked(path, |r: &PrunedTimeRow| {
        if !(r.device_ms_median.is_finite() && r.device_ms_median >= 0.0) {
            Err(format!(
                "device_ms_median {} is not a non-negative number",
                r.device_ms_median
            ))
        } else if r.ratios.is_empty() || r.node.is_empty() {
            Err("ratios and node must be set".into())
        } else {
            Ok(())
        }
    })
}

/// Reads a kernel-times CSV. A missing file, a malformed line or an inconsistent row (a
/// codec row without bits, a negative time, ...) is an [`Error::BadFile`] naming the file
/// and the line.
pub fn read_kernel_times_csv(path: &Path) -> Result<Vec<KernelTimeRow>> {
    read_checked(path, KernelTimeRow::check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "splitbench-kernel-times-{}-{name}.csv",
            std::process::id()
        ));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn round_trip() {
        let rows = vec![
            KernelTimeRow {
                kind: KernelKind::Bottleneck,
                feature_c: Some(64),
                feature_h: Some(8),
                feature_w: Some(8),
                width: Some(16),
                numel: None,
                group_len: None,
                bits: None,
                encode_ms_median: 0.125,
                decode_ms_median: 0.1 + 0.2,
                reps: 5,
                timing: "timestamp-pass".into(),
            },
            KernelTimeRow {
                kind: KernelKind::Codec,
                feature_c: None,
                feature_h: None,
                feature_w: None,
                width: None,
                numel: Some(4096),
                group_len: Some(64),
                bits: Some(4),
                encode_ms_median: 0.03,
                decode_ms_median: 0.02,
                reps: 5,
                timing: "wall-clock".into(),
            },
        ];
        let p = tmp("ok", "");
        crate::report::write_csv(&p, &rows).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("kind,feature_c,"), "{text}");
        assert!(text.contains("\ncodec,,,,,4096,64,4,"), "{text}");
        assert_eq!(read_kernel_times_csv(&p).unwrap(), rows);
    }

    #[test]
    fn bad_files_name_file_and_line() {
        let head = "kind,feature_c,feature_h,feature_w,width,numel,group_len,bits,\
                    encode_ms_median,decode_ms_median,reps,timing\n";
        let cases = [
            ("kind", "conv,,,,,10,10,8,0.1,0.1,3,wall-clock\n", "line 2"),
            (
                "bits",
                "codec,,,,,10,10,,0.1,0.1,3,wall-clock\n",
                "needs bits",
            ),
            (
                "group",
                "codec,,,,,10,3,8,0.1,0.1,3,wall-clock\n",
                "multiple",
            ),
            (
                "neg",
                "bottleneck,4,2,2,1,,,,-1,0.1,3,wall-clock\n",
                "non-negative",
            ),
            (
                "width",
                "bottleneck,4,2,2,,,,,1,0.1,3,wall-clock\n",
                "needs width",
            ),
            ("num", "codec,,,,,ten,10,8,0.1,0.1,3,wall-clock\n", "numel"),
        ];
        for (name, row, needle) in cases {
            let p = tmp(name, &format!("{head}{row}"));
            let e = read_kernel_times_csv(&p).unwrap_err().to_string();
            assert!(e.contains(&*p.to_string_lossy()), "{name}: {e}");
            assert!(e.contains("line 2"), "{name}: {e}");
            assert!(e.contains(needle), "{name}: {e}");
        }
        let missing = std::env::temp_dir().join("splitbench-no-such-kernels.csv");
        let e = read_kernel_times_csv(&missing).unwrap_err().to_string();
        assert!(
            e.contains("no-such-kernels") && e.contains("profile --kernels"),
            "{e}"
        );
    }

    #[test]
    fn path_beside_profile() {
        assert_eq!(
            kernels_path(Path::new("out/device_profile.csv")),
            Path::new("out/device_profile_kernels.csv")
        );
        assert_eq!(
            pruned_path(Path::new("out/device_profile.csv")),
            Path::new("out/device_profile_pruned.csv")
        );
    }

    #[test]
    fn pruned_rows_round_trip_and_bad_ones_name_file_and_line() {
        let head = "ratios,node,out_shape,flops,device_ms_median,reps,timing\n";
        let good = tmp(
            "pruned-good",
            &format!("{head}0.5_0.5_0_0_0,conv1,1x32x32x32,100,0.25,3,timestamp-pass\n"),
        );
        let rows = read_pruned_times_csv(&good).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].node.as_str(), rows[0].device_ms_median),
            ("conv1", 0.25)
        );
        let cases = [
            (
                "pruned-neg",
                "0.5_0_0_0_0,conv1,1x8x4x4,10,-1,3,wall-clock\n",
                "non-negative",
            ),
            (
                "pruned-nan",
                "0.5_0_0_0_0,conv1,1x8x4x4,10,NaN,3,wall-clock\n",
                "non-negative",
            ),
            (
                "pruned-node",
                "0.5_0_0_0_0,,1x8x4x4,10,1,3,wall-clock\n",
                "must be set",
            ),
            (
                "pruned-flops",
                "0.5_0_0_0_0,conv1,1x8x4x4,many,1,3,wall-clock\n",
                "flops",
            ),
        ];
        for (name, row, needle) in cases {
            let p = tmp(name, &format!("{head}{row}"));
            let e = read_pruned_times_csv(&p).unwrap_err().to_string();
            assert!(e.contains(&*p.to_string_lossy()), "{name}: {e}");
            assert!(e.contains("line 2"), "{name}: {e}");
            assert!(e.contains(needle), "{name}: {e}");
        }
    }
}
