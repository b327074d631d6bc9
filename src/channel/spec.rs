//! Parsing of channel spec strings: `kind[:key=value[,key=value]...]`.
//!
//! This module only splits and type-checks; which keys a kind accepts and what they mean lives
//! in `mod.rs`. Every error is an [`Error::InvalidArg`] whose message starts with the whole
//! spec, so the CLI can print it as one line.

use crate::{Error, Result};

/// A spec split into its kind and `key=value` pairs, with the original text kept for errors.
pub(crate) struct Spec<'a> {
    /// The whole spec as the user wrote it.
    pub text: &'a str,
    /// The kind, lower-cased (`fixed`, `awgn`, `4g`, ...).
    pub kind: String,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Spec<'a> {
    /// Splits `text` into kind and pairs; rejects empty keys/values and repeated keys.
    pub fn split(text: &'a str) -> Result<Self> {
        let trimmed = text.trim();
        let (kind, rest) = match trimmed.split_once(':') {
            Some((k, r)) => (k.trim(), Some(r)),
            None => (trimmed, None),
        };
        let mut spec = Spec {
            text,
            kind: kind.to_ascii_lowercase(),
            pairs: Vec::new(),
        };
        if spec.kind.is_empty() {
            return Err(spec.err(
                "no link kind (expected e.g. 4g, fixed:mbps=5, awgn:bw_mhz=1,snr_db=10, \
                 rayleigh:bw_mhz=1,snr_db=10, trace:path=FILE)",
            ));
        }
        if let Some(rest) = rest {
            for item in rest.split(',') {
                let Some((k, v)) = item.split_once('=') else {
                    return Err(spec.err(format!("'{}' is not key=value", item.trim())));
                };
                let (k, v) = (k.trim(), v.trim());
                if k.is_empty() || v.is_empty() {
                    return Err(spec.err(format!("'{}' is not key=value", item.trim())));
                }
                if spec.pairs.iter().any(|(seen, _)| *seen == k) {
                    return Err(spec.err(format!("key '{k}' given twice")));
                }
                spec.pairs.push((k, v));
            }
        }
        Ok(spec)
    }

    /// An error whose message names the spec.
    pub fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::InvalidArg(format!("channel spec '{}': {msg}", self.text))
    }

    /// Fails on the first key not in `allowed`.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in &self.pairs {
            if !allowed.contains(k) {
                return Err(self.err(format!(
                    "unknown key '{k}' for {} (allowed: {})",
                    self.kind,
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The raw value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// The raw value of a required key.
    pub fn req(&self, key: &str) -> Result<&'a str> {
        self.get(key)
            .ok_or_else(|| self.err(format!("missing required key '{key}'")))
    }

    /// A finite float, if given. `str::parse` accepts `inf` and `NaN`, so they are rejected
    /// here explicitly.
    pub fn f64(&self, key: &str) -> Result<Option<f64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(self.err(format!("{key}: '{v}' is not a finite number"))),
        }
    }

    /// A required float that must be > 0.
    pub fn positive(&self, key: &str) -> Result<f64> {
        self.req(key)?;
        let x = self.f64(key)?.unwrap_or(f64::NAN);
        self.check_positive(key, x)?;
        Ok(x)
    }

    /// An optional float that must be > 0 when given.
    pub fn positive_or(&self, key: &str, default: f64) -> Result<f64> {
        let x = self.f64(key)?.unwrap_or(default);
        self.check_positive(key, x)?;
        Ok(x)
    }

    fn check_positive(&self, key: &str, x: f64) -> Result<()> {
        if x > 0.0 {
            Ok(())
        } else {
            Err(self.err(format!("{key} must be > 0 (got {x})")))
        }
    }

    /// An optional non-negative float.
    pub fn non_negative_or(&self, key: &str, default: f64) -> Result<f64> {
        let x = self.f64(key)?.unwrap_or(default);
        if x >= 0.0 {
            Ok(x)
        } else {
            Err(self.err(format!("{key} must be >= 0 (got {x})")))
        }
    }

    /// An optional unsigned integer in `[min, max]`.
    pub fn u64_in(&self, key: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        match v.parse::<u64>() {
            Ok(x) if (min..=max).contains(&x) => Ok(x),
            Ok(x) => Err(self.err(format!("{key} must be in {min}..={max} (got {x})"))),
            Err(_) => Err(self.err(format!("{key}: '{v}' is not a non-negative integer"))),
        }
    }
}

/// Bandwidth, SNR and efficiency of the Shannon-based kinds.
pub(super) fn shannon_params(spec: &Spec) -> Result<(f64, f64, f64)> {
    let bw_mhz = spec.positive("bw_mhz")?;
    spec.req("snr_db")?;
    let snr_db = spec.f64("snr_db")?.unwrap_or(f64::NAN);
    let eff = spec.positive_or("eff", 1.0)?;
    if eff > 1.0 {
        return Err(spec.err(format!(
            "eff must be in (0, 1] (a fraction of capacity), got {eff}"
        )));
    }
    Ok((bw_mhz, snr_db, eff))
}

/// A very low SNR can underflow the rate to 0 (or nearly): reject it rather than divide by 0.
pub(super) fn rate_ok(spec: &Spec, mbps: f64) -> Result<()> {
    if mbps > 0.0 && mbps.is_finite() {
        Ok(())
    } else {
        Err(spec.err(format!(
            "the rate is {mbps} Mbit/s: snr_db is too low to send anything"
        )))
    }
}
