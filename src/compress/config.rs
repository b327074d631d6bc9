//! The one configuration grammar of the study: where the network is split, how the
//! on-device part is pruned, the learned bottleneck at the split and the wire encoding of
//! what is sent. Planner, evaluator, accuracy table, wire frame and charts all use these
//! types; a configuration is written and read only through `Display` / `FromStr` here.
//!
//! # Grammar
//!
//! ```text
//! config   = split "/" variant                 split: a node name of the fused graph
//! variant  = [ "prune-" ratios "+" ] [ "bn" width "+" ] encoding
//! ratios   = r "_" r "_" r "_" r "_" r          stem, layer1 .. layer4, each in [0, 1),
//!                                               written as Rust prints an f32 (0, 0.25)
//! encoding = "none" | "uint8-input" | "f32" | bits "bit-" ( "tensor" | "channel" )
//! ```
//!
//! `none` (nothing sent: device-only) is valid only at the graph's last node, `uint8-input`
//! (the raw input as 8-bit pixels: edge-only) only at `input`, a feature encoding only at an
//! intermediate node ([`Config::resolve`] checks this against a graph).
//!
//! ```
//! use splitbench::compress::{Config, Encoding, Family, Scale};
//! let c: Config = "layer1.1.conv2/prune-0.5_0.5_0_0_0+bn16+4bit-tensor".parse()?;
//! assert_eq!(c.variant.bottleneck, Some(16));
//! assert_eq!(c.variant.encoding, Encoding::Quant { bits: 4, scale: Scale::Tensor });
//! assert_eq!(c.variant.family(), Family::Bottleneck);
//! assert_eq!(c.to_string(), "layer1.1.conv2/prune-0.5_0.5_0_0_0+bn16+4bit-tensor");
//! assert!("fc/7bit-sideways".parse::<Config>().is_err());
//! # Ok::<(), splitbench::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::model::{Graph, NodeId, Shape};
use std::fmt;
use std::str::FromStr;

/// Number of stages of a ResNet: stem, `layer1` .. `layer4`.
pub const STAGES: usize = 5;

/// Stage labels, as in [`crate::model::paper_split_points`].
pub const STAGE_NAMES: [&str; STAGES] = ["stem", "layer1", "layer2", "layer3", "layer4"];

/// Which values share one (min, scale) pair of n-bit quantization. The discriminant is the
/// frame's granularity byte (`docs/wire-format.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Scale {
    /// One group per sample (`C*H*W` values).
    Tensor = 0,
    /// One group per (sample, channel) (`H*W` values).
    Channel = 1,
}

impl Scale {
    /// `(groups, group_len)` for `batch` samples of `shape`; `None` on overflow.
    pub fn groups(self, batch: usize, shape: Shape) -> Option<(usize, usize)> {
        let hw = shape.h.checked_mul(shape.w)?;
        let chw = shape.c.checked_mul(hw)?;
        match self {
            Scale::Tensor => Some((batch, chw)),
            Scale::Channel => Some((batch.checked_mul(shape.c)?, hw)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scale::Tensor => "tensor",
            Scale::Channel => "channel",
        }
    }
}

/// How what crosses the split is put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Nothing is sent (device-only: the split is the last node).
    Nothing,
    /// The raw input as uint8 pixels (edge-only: the split is the input).
    Uint8Input,
    /// The feature as f32 values.
    F32,
    /// Uniform `bits`-bit quantization of the feature, bit-packed.
    Quant {
        /// Bits per value, 1..=8.
        bits: u32,
        /// Which values share quantization parameters.
        scale: Scale,
    },
}

impl Encoding {
    /// Bits per transmitted value (0 when nothing is sent, 8 for input pixels).
    pub fn bits(self) -> u32 {
        match self {
            Encoding::Nothing => 0,
            Encoding::Uint8Input => 8,
            Encoding::F32 => 32,
            Encoding::Quant { bits, .. } => bits,
        }
    }

    /// Whether anything is sent.
    pub fn sends(self) -> bool {
        self != Encoding::Nothing
    }

    /// Whether this encodes an intermediate feature (f32 or n-bit): what a wire frame
    /// carries.
    pub fn is_feature(self) -> bool {
        matches!(self, Encoding::F32 | Encoding::Quant { .. })
    }

    /// Whether the encoding is valid after node `split` of a graph whose last node is
    /// `last`: `uint8-input` only at the input (0), `none` only at `last`, a feature only
    /// in between.
    pub fn allowed_at(self, split: NodeId, last: NodeId) -> bool {
        match self {
            Encoding::Uint8Input => split == 0,
            Encoding::Nothing => split == last,
            Encoding::F32 | Encoding::Quant { .. } => split > 0 && split < last,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encoding::Nothing => f.write_str("none"),
            Encoding::Uint8Input => f.write_str("uint8-input"),
            Encoding::F32 => f.write_str("f32"),
            Encoding::Quant { bits, scale } => write!(f, "{bits}bit-{}", scale.name()),
        }
    }
}

impl FromStr for Encoding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |msg: String| {
            Error::InvalidArg(format!(
                "encoding `{s}`: {msg} (expected none, uint8-input, f32 or <1-8>bit-tensor / \
                 <1-8>bit-channel)"
            ))
        };
        match s {
            "none" => return Ok(Encoding::Nothing),
            "uint8-input" => return Ok(Encoding::Uint8Input),
            "f32" => return Ok(Encoding::F32),
            _ => {}
        }
        let (b, scale) = s
            .split_once("bit-")
            .ok_or_else(|| bad("unknown encoding".into()))?;
        let bits: u32 = b
            .parse()
            .ok()
            .filter(|b| (1..=8).contains(b))
            .ok_or_else(|| bad(format!("bits `{b}` not in 1..=8")))?;
        let scale = match scale {
            "tensor" => Scale::Tensor,
            "channel" => Scale::Channel,
            _ => return Err(bad(format!("unknown scale `{scale}`"))),
        };
        Ok(Encoding::Quant { bits, scale })
    }
}

/// Per-stage pruning ratios (`sp1..sp5` of the reference): the fraction of output channels
/// each stage's convs lose, in `[0, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PruneConfig {
    /// Ratio of the stem, `layer1`, `layer2`, `layer3`, `layer4`.
    pub ratios: [f32; STAGES],
}

impl Default for PruneConfig {
    fn default() -> Self {
        Self::NONE
    }
}

impl PruneConfig {
    /// No pruning.
    pub const NONE: Self = Self {
        ratios: [0.0; STAGES],
    };

    /// From a list of exactly [`STAGES`] ratios; errors on a wrong length or a bad ratio.
    /// A ratio of -0 becomes 0 (one spelling per configuration).
    pub fn new(ratios: &[f32]) -> Result<Self> {
        let mut ratios: [f32; STAGES] = ratios.try_into().map_err(|_| {
            Error::InvalidArg(format!(
                "pruning needs {STAGES} ratios ({}), got {}",
                STAGE_NAMES.join(", "),
                ratios.len()
            ))
        })?;
        for r in &mut ratios {
            *r += 0.0;
        }
        let cfg = Self { ratios };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The same ratio for every stage.
    pub fn uniform(ratio: f32) -> Result<Self> {
        Self::new(&[ratio; STAGES])
    }

    /// Checks that every ratio is finite and in `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        for (r, name) in self.ratios.iter().zip(STAGE_NAMES) {
            if !(0.0..1.0).contains(r) {
                return Err(Error::InvalidArg(format!(
                    "pruning ratio of {name} must be in [0, 1), got {r}"
                )));
            }
        }
        Ok(())
    }

    /// The ratios as names use them, stem first: `0_0.5_0_0_0`.
    pub fn ratios_name(&self) -> String {
        let r: Vec<String> = self.ratios.iter().map(|r| format!("{r}")).collect();
        r.join("_")
    }

    /// Parses [`Self::ratios_name`]'s form.
    pub fn parse_ratios(s: &str) -> Result<Self> {
        let ratios = s
            .split('_')
            .map(|x| x.parse::<f32>())
            .collect::<std::result::Result<Vec<f32>, _>>()
            .map_err(|_| Error::InvalidArg(format!("pruning ratios `{s}` are not numbers")))?;
        Self::new(&ratios)
    }

    /// Whether nothing is pruned.
    pub fn is_identity(&self) -> bool {
        self.ratios.iter().all(|&r| r == 0.0)
    }

    /// The config with the ratios of stages that run entirely after node `after` set to 0:
    /// what pruning "the on-device part" of a split after `after` means.
    pub fn on_device(&self, graph: &Graph, after: NodeId) -> Self {
        let mut out = Self::NONE;
        for id in 0..=after.min(graph.output()) {
            if let Some(s) = stage_of(graph, id) {
                out.ratios[s] = self.ratios[s];
            }
        }
        out
    }
}

/// The stage of a node of a ResNet-style graph (fused or not): 0 for the stem (nodes
/// before the first `layer1.` node, the input excluded), `N` for nodes named `layerN.`;
/// `None` for the input, the head (pooling, classifier) and graphs without `layer1`.
pub fn stage_of(graph: &Graph, node: NodeId) -> Option<usize> {
    let n = graph.nodes.get(node)?;
    if node == 0 {
        return None;
    }
    for s in 1..STAGES {
        let rest = n
            .name
            .strip_prefix("layer")
            .and_then(|r| r.strip_prefix(&s.to_string()));
        if rest.is_some_and(|r| r.starts_with('.')) {
            return Some(s);
        }
    }
    let first = graph
        .nodes
        .iter()
        .position(|n| n.name.starts_with("layer1."))?;
    (node < first).then_some(0)
}

/// What a charted configuration is, for colours and legends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// A plain f32 feature.
    F32,
    /// A plain n-bit feature.
    NBit,
    /// A pruned on-device part, f32 or n-bit feature.
    PrunedNBit,
    /// A learned bottleneck (pruned or not).
    Bottleneck,
    /// Edge-only: the input as uint8 pixels.
    Uint8Input,
    /// Device-only: nothing sent.
    None,
}

impl Family {
    /// Every family, in legend order (a family keeps its colour across charts).
    pub const ALL: [Family; 6] = [
        Family::F32,
        Family::NBit,
        Family::PrunedNBit,
        Family::Bottleneck,
        Family::Uint8Input,
        Family::None,
    ];

    /// The CSV name.
    pub fn name(self) -> &'static str {
        match self {
            Family::F32 => "f32",
            Family::NBit => "n-bit",
            Family::PrunedNBit => "pruned+n-bit",
            Family::Bottleneck => "bottleneck",
            Family::Uint8Input => "uint8-input",
            Family::None => "none",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Family::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
                Error::InvalidArg(format!("family `{s}` (known: {})", known.join(", ")))
            })
    }
}

/// Serde as the `Display` / `FromStr` string, so a CSV column holds the grammar's form and a
/// malformed cell is an error naming the problem.
macro_rules! serde_as_string {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_string!(Family, Encoding, Variant, Config);

/// What is done at a split: pruning of the on-device part, a bottleneck and the encoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    /// Per-stage pruning of the on-device part (`None`: unpruned).
    pub prune: Option<PruneConfig>,
    /// Channels of the learned bottleneck's code (`None`: no bottleneck).
    pub bottleneck: Option<usize>,
    /// How the (coded) feature is sent.
    pub encoding: Encoding,
}

impl Variant {
    /// The unchanged feature (or input, or nothing) sent with `encoding`.
    pub fn plain(encoding: Encoding) -> Self {
        Self {
            prune: None,
            bottleneck: None,
            encoding,
        }
    }

    /// Whether the variant only encodes the unchanged feature.
    pub fn is_plain(&self) -> bool {
        self.prune.is_none() && self.bottleneck.is_none()
    }

    /// Its family: `bottleneck` (any variant with one), `pruned+n-bit` (pruned, f32 or
    /// n-bit), else by encoding.
    pub fn family(&self) -> Family {
        if self.bottleneck.is_some() {
            Family::Bottleneck
        } else if self.prune.is_some() {
            Family::PrunedNBit
        } else {
            match self.encoding {
                Encoding::F32 => Family::F32,
                Encoding::Quant { .. } => Family::NBit,
                Encoding::Uint8Input => Family::Uint8Input,
                Encoding::Nothing => Family::None,
            }
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.prune {
            write!(f, "prune-{}+", p.ratios_name())?;
        }
        if let Some(k) = self.bottleneck {
            write!(f, "bn{k}+")?;
        }
        write!(f, "{}", self.encoding)
    }
}

impl FromStr for Variant {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |msg: String| Error::InvalidArg(format!("variant `{s}`: {msg}"));
        let mut parts: Vec<&str> = s.split('+').collect();
        let encoding: Encoding = parts
            .pop()
            .unwrap_or_default()
            .parse()
            .map_err(|e: Error| bad(e.to_string()))?;
        let mut v = Variant::plain(encoding);
        for p in parts {
            if let Some(r) = p.strip_prefix("prune-") {
                if v.prune.is_some() || v.bottleneck.is_some() {
                    return Err(bad("`prune-` comes first, once".into()));
                }
                v.prune = Some(PruneConfig::parse_ratios(r).map_err(|e| bad(e.to_string()))?);
            } else if let Some(k) = p.strip_prefix("bn") {
                if v.bottleneck.is_some() {
                    return Err(bad("more than one bottleneck".into()));
                }
                let k: usize = k.parse().ok().filter(|&k| k > 0).ok_or_else(|| {
                    bad(format!("bottleneck width `{k}` is not a positive integer"))
                })?;
                v.bottleneck = Some(k);
            } else {
                return Err(bad(format!(
                    "unknown part `{p}` (expected prune-<ratios>+, bn<width>+ before the encoding)"
                )));
            }
        }
        if !v.is_plain() && !v.encoding.is_feature() {
            return Err(bad(format!(
                "pruning and bottlenecks apply to a feature, not to `{}`",
                v.encoding
            )));
        }
        Ok(v)
    }
}

/// A configuration of the study: the split node (by name) and what is done there.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Name of the node after which the graph is cut (`input` for edge-only, the last node
    /// for device-only).
    pub split: String,
    /// Pruning, bottleneck and encoding.
    pub variant: Variant,
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.split, self.variant)
    }
}

impl FromStr for Config {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (split, variant) = s.split_once('/').ok_or_else(|| {
            Error::InvalidArg(format!(
                "config `{s}`: expected `<split node>/<variant>`, e.g. \
                 `layer1.1.conv2/4bit-tensor`"
            ))
        })?;
        if split.is_empty() {
            return Err(Error::InvalidArg(format!("config `{s}`: empty split node")));
        }
        let variant = variant
            .parse()
            .map_err(|e: Error| Error::InvalidArg(format!("config `{s}`: {}", strip(&e))))?;
        Ok(Config {
            split: split.to_string(),
            variant,
        })
    }
}

/// An [`Error::InvalidArg`]'s message without its `invalid argument: ` prefix, to nest it.
fn strip(e: &Error) -> String {
    match e {
        Error::InvalidArg(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Where a configuration cuts a graph, checked by [`Config::resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Everything runs on the device (`<last node>/none`).
    DeviceOnly,
    /// Everything runs on the edge; the input is sent (`input/uint8-input`).
    EdgeOnly,
    /// Cut after this intermediate node.
    Split(NodeId),
}

impl Config {
    /// The configuration of `variant` after node `split` of `graph`.
    pub fn at(graph: &Graph, split: NodeId, variant: Variant) -> Self {
        Self {
            split: graph.nodes[split].name.clone(),
            variant,
        }
    }

    /// Device-only for `graph`: its last node, nothing sent.
    pub fn device_only(graph: &Graph) -> Self {
        Self::at(graph, graph.output(), Variant::plain(Encoding::Nothing))
    }

    /// Edge-only: the input sent as uint8 pixels.
    pub fn edge_only(graph: &Graph) -> Self {
        Self::at(graph, 0, Variant::plain(Encoding::Uint8Input))
    }

    /// Checks the configuration against `graph` (a fused graph, as the study's names are)
    /// and says where it cuts: the split node must exist, and `none` is only valid at the
    /// last node, `uint8-input` only at the input, a feature encoding only in between. A
    /// bottleneck has at most the feature's channels. Errors list the valid choices.
    pub fn resolve(&self, graph: &Graph) -> Result<Placement> {
        let last = graph.output();
        let bad = |msg: String| Error::InvalidArg(format!("config `{self}`: {msg}"));
        let id = graph
            .nodes
            .iter()
            .position(|n| n.name == self.split)
            .ok_or_else(|| {
                bad(format!(
                    "no node `{}` in {}; {}",
                    self.split,
                    graph.name,
                    choices(graph)
                ))
            })?;
        let enc = self.variant.encoding;
        if !enc.allowed_at(id, last) {
            let why = match enc {
                Encoding::Nothing => format!(
                    "`none` (device-only) is only valid at the last node: `{}/none`",
                    graph.nodes[last].name
                ),
                Encoding::Uint8Input => {
                    "`uint8-input` (edge-only) is only valid at the input: `input/uint8-input`"
                        .to_string()
                }
                _ => format!(
                    "`{}` is not an intermediate node, a feature cannot be sent there; {}",
                    self.split,
                    choices(graph)
                ),
            };
            return Err(bad(why));
        }
        if let Some(k) = self.variant.bottleneck {
            let c = graph.nodes[id].shape.c;
            if k > c {
                return Err(bad(format!(
                    "a bottleneck of {k} channels for the {c}-channel feature of `{}`: the \
                     width must be in 1..={c}",
                    self.split
                )));
            }
        }
        Ok(match enc {
            Encoding::Nothing => Placement::DeviceOnly,
            Encoding::Uint8Input => Placement::EdgeOnly,
            _ => Placement::Split(id),
        })
    }
}

/// The valid split nodes of `graph`, for error messages.
fn choices(graph: &Graph) -> String {
    let last = graph.output();
    let inner: Vec<&str> = graph.nodes[1..last]
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    format!(
        "valid: `input/uint8-input`, `{}/none`, or a feature encoding after one of {}",
        graph.nodes[last].name,
        inner.join(", ")
    )
}
