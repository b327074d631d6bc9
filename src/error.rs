//! The crate's one error type (layer 0, used by every module). Every variant names what
//! the user gave (file, key, argument) and what was wrong with it, so the CLI can print it
//! as one line.

use std::path::PathBuf;

/// Errors returned by the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The graph is inconsistent (shape mismatch, bad wiring).
    #[error("graph: {0}")]
    Graph(String),
    /// A model name that the zoo does not know.
    #[error("unknown model '{name}' (known: {known})")]
    UnknownModel {
        /// What was asked for.
        name: String,
        /// Comma-separated list of zoo names.
        known: String,
    },
    /// A weights file could not be read or parsed as a whole.
    #[error("weights file {}: {msg}", file.display())]
    WeightsFile {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// One tensor of a weights file does not match the model.
    #[error("weights file {}: key '{key}': expected {expected}, found {found}", file.display())]
    WeightsKey {
        /// The file.
        file: PathBuf,
        /// The state_dict key.
        key: String,
        /// What the model needs.
        expected: String,
        /// What the file has.
        found: String,
    },
    /// A command-line or API argument is out of range.
    #[error("invalid argument: {0}")]
    InvalidArg(String),
    /// No GPU adapter (or none matching the filter).
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// A GPU operation failed (device request, validation, mapping). `source` keeps
    /// wgpu's own error where there is one, so the CLI prints its cause.
    #[error("GPU: {what}")]
    Gpu {
        /// What was being done.
        what: String,
        /// The error wgpu returned, when there was one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Something valid but beyond what splitbench can run (a tensor larger than the GPU
    /// binds, a graph the trainer cannot build, a cut with several tensors).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A user-supplied input file (CSV, trace, config) is malformed.
    #[error("{}: {msg}", file.display())]
    BadFile {
        /// The file.
        file: PathBuf,
        /// What is wrong (with line number where known).
        msg: String,
    },
    /// A wire frame (see `compress::frame`) is malformed: truncated, oversized, corrupted
    /// or inconsistent. `offset` is the byte where the problem was found.
    #[error("bad frame at byte {offset}: {msg}")]
    BadFrame {
        /// Byte offset in the frame.
        offset: usize,
        /// What is wrong.
        msg: String,
    },
    /// A network exchange failed: connecting, a malformed or missing message, or the peer
    /// refusing or failing a request.
    #[error("{0}")]
    Net(String),
    /// The CPU trainer (candle) failed.
    #[cfg(feature = "train")]
    #[error("training (candle)")]
    Candle(#[source] candle_core::Error),
    /// A step of a longer run failed: `what` names the step, `source` says why.
    #[error("{what}")]
    Context {
        /// The step (`evaluating layer1.1.conv2/4bit-tensor`).
        what: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// I/O on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The text of a GPU error (see [`Error::gpu_from`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GpuCause(String);

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A GPU failure without an underlying error (a callback that never ran, a missing
    /// output).
    pub fn gpu(what: impl Into<String>) -> Self {
        Error::Gpu {
            what: what.into(),
            source: None,
        }
    }

    /// A GPU failure caused by `source` (wgpu's error), while doing `what`.
    pub fn gpu_from(what: impl Into<String>, source: impl std::error::Error + 'static) -> Self {
        // wgpu's errors are not `Send` on wasm32: keep their text, sources included, which
        // is all a reader of the error gets anyway.
        let mut msg = source.to_string();
        let mut cause = source.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !msg.contains(&text) {
                msg = format!("{msg}: {text}");
            }
            cause = e.source();
        }
        Error::Gpu {
            what: what.into(),
            source: Some(Box::new(GpuCause(msg))),
        }
    }

    /// This error, as the cause of a failed step `what`.
    pub fn context(self, what: impl Into<String>) -> Self {
        Error::Context {
            what: what.into(),
            source: Box::new(self),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// A GPU error keeps wgpu's error as its source, so the CLI prints the cause.
    #[test]
    fn a_gpu_error_keeps_its_source() {
        let cause = std::io::Error::other("device lost");
        let e = Error::gpu_from("preparing resnet18", cause);
        assert_eq!(e.to_string(), "GPU: preparing resnet18");
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("device lost")
        );
        assert!(Error::gpu("no output").source().is_none());
    }

    /// A step's context keeps the error that stopped it as its source.
    #[test]
    fn context_keeps_the_cause() {
        let e = Error::InvalidArg("bits 9".into()).context("evaluating conv1/9bit-tensor");
        assert_eq!(e.to_string(), "evaluating conv1/9bit-tensor");
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("invalid argument: bits 9")
        );
    }
}
