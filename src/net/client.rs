//! `splitbench offload`: the device. Runs its half of a configuration on the local GPU,
//! sends each inference's payload to a `serve` edge on one persistent `TCP_NODELAY`
//! connection, and times every phase on its own monotonic clock (the edge reports its own
//! times; no difference of two machines' clocks is ever taken). With a description of the
//! link, every request also gets the TCP-aware model's prediction (with the connection's
//! window at send time, from `TCP_INFO`) and the naive one's.

use super::protocol::{read_message, write_message, Hello, Message, Reply, PROTOCOL_VERSION};
use super::tcpinfo::{tcp_info, TcpSettings};
use crate::channel::{Channel, Tcp, Transport, Window};
use crate::compress::{Config, Placement};
use crate::data::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::eval::{argmax, load_parts, DevicePart, SplitParts, TrainedFiles};
use crate::gpu::{run_timed, Executor, GpuContext};
use crate::model::Prepared;
use crate::report::{OffloadManifest, OffloadRow, RunInfo};
use crate::tensor::Rng;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The normalization of seeded random pixels (no dataset): values in [-1, 1].
pub const RANDOM_INPUT_NORM: Normalization = Normalization {
    mean: [0.5; 3],
    std: [0.5; 3],
};

/// What `offload` does.
#[derive(Clone, Debug)]
pub struct OffloadOptions {
    /// The edge's address (`host:port`); unused for device-only.
    pub server: String,
    /// The configuration.
    pub config: Config,
    /// Timed requests.
    pub requests: usize,
    /// Untimed warm-up requests first.
    pub warmup: usize,
    /// Idle gap before every request, ms.
    pub interval_ms: f64,
    /// The uplink the predictions assume, with its RTT (`None`: no predictions).
    pub link: Option<Channel>,
    /// Longest wait for connecting and for each reply.
    pub timeout: Duration,
    /// Seed of the random pixels (without a dataset).
    pub seed: u64,
}

/// An offloading run: one row per timed request and the manifest.
#[derive(Clone, Debug)]
pub struct Offloaded {
    /// The rows.
    pub rows: Vec<OffloadRow>,
    /// The logits of every timed request (as the edge returned them).
    pub logits: Vec<Vec<f32>>,
    /// The manifest.
    pub manifest: OffloadManifest,
}

/// The device's half of one configuration.
// One per run: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum DeviceWork<'a> {
    /// Prefix, encoder, frame.
    Split(DevicePart<'a>),
    /// Edge-only: the pixels are the payload.
    Pixels,
    /// Device-only: the whole model here, nothing sent.
    Whole(Executor<'a>),
}

/// One input: pixels (for edge-only), the normalized image, its label.
struct Input {
    pixels: Vec<u8>,
    image: Vec<f32>,
    label: Option<u8>,
}

/// The `i`-th input: a dataset's image (its pixels recovered exactly from the normalized
/// values: the sources are 8-bit), or seeded random pixels.
fn input(p: &Prepared, data: Option<&Dataset>, i: usize, rng: &mut Rng) -> Input {
    let s = p.model.graph.input_shape();
    let (n, plane) = (s.numel(), s.h * s.w);
    let (pixels, norm, label) = match data {
        Some(d) if !d.is_empty() => {
            let k = i % d.len();
            let x = &d.images[k * n..(k + 1) * n];
            let pixels: Vec<u8> = x
                .iter()
                .enumerate()
                .map(|(j, &v)| {
                    let c = (j / plane) % 3;
                    ((v * d.norm.std[c] + d.norm.mean[c]) * 255.0)
                        .round()
                        .clamp(0.0, 255.0) as u8
                })
                .collect();
            (pixels, d.norm, Some(d.labels[k]))
        }
        _ => {
            let pixels: Vec<u8> = (0..n).map(|_| (rng.next_u64() >> 56) as u8).collect();
            (pixels, RANDOM_INPUT_NORM, None)
        }
    };
    let image = pixels
        .iter()
        .enumerate()
        .map(|(j, &v)| norm.apply((j / plane) % 3, v))
        .collect();
    Input {
        pixels,
        image,
        label,
    }
}

/// Adds a phase to an error: `phase: cause`.
fn phase(what: impl Into<String>) -> impl FnOnce(Error) -> Error {
    let what = what.into();
    move |e| e.context(what)
}

/// A network failure during `what`.
fn wire(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Net(format!("{what}: {e}"))
}

/// The connection to the edge after its welcome.
struct Session {
    stream: TcpStream,
    adapter: String,
    timing: String,
}

/// A connection to `server` with `TCP_NODELAY` and `timeout` on every read and write.
fn open(server: &str, timeout: Duration) -> Result<TcpStream> {
    let addr = server
        .to_socket_addrs()
        .map_err(|e| wire(&format!("resolving {server}"), e))?
        .next()
        .ok_or_else(|| wire(&format!("resolving {server}"), "no address"))?;
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| wire(&format!("connecting to {server}"), e))?;
    let setup = stream
        .set_nodelay(true)
        .and_then(|_| stream.set_read_timeout(Some(timeout)))
        .and_then(|_| stream.set_write_timeout(Some(timeout)));
    setup.map_err(|e| wire("socket setup", e))?;
    Ok(stream)
}

/// The edge's own profile of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeProfile {
    /// The edge's adapter.
    pub adapter: String,
    /// How the edge times its GPU work.
    pub timing: String,
    /// Per-node rows, CSV as `splitbench profile` writes it.
    pub csv: String,
}

/// Asks the edge at `server` for its per-node profile of `p` (which it must serve).
pub fn edge_profile(server: &str, p: &Prepared, timeout: Duration) -> Result<EdgeProfile> {
    let mut stream = open(server, timeout)?;
    let s = p.model.graph.input_shape();
    let ask = Message::ProfileRequest {
        version: PROTOCOL_VERSION,
        model_hash: p.model.hash(),
        input: [s.c as u32, s.h as u32, s.w as u32],
    };
    write_message(&mut stream, &ask).map_err(|e| wire("profile request", e))?;
    match read_message(&mut stream, super::protocol::DEFAULT_MAX_MESSAGE)
        .map_err(|e| wire("profile request", e))?
    {
        Message::Profile {
            adapter,
            timing,
            csv,
        } => Ok(EdgeProfile {
            adapter,
            timing,
            csv,
        }),
        Message::Refuse(reason) => Err(Error::Net(format!(
            "the edge at {server} refused the profile request: {reason}"
        ))),
        m => Err(wire(
            "profile request",
            format!("expected a profile, got {}", m.name()),
        )),
    }
}

fn connect(p: &Prepared, o: &OffloadOptions, norm: Normalization) -> Result<Session> {
    let mut stream = open(&o.server, o.timeout)?;
    let s = p.model.graph.input_shape();
    let n = norm;
    let hello = Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        model_hash: p.model.hash(),
        input: [s.c as u32, s.h as u32, s.w as u32],
        batch: 1,
        config: o.config.to_string(),
        normalization: [
            n.mean[0], n.mean[1], n.mean[2], n.std[0], n.std[1], n.std[2],
        ],
    });
    write_message(&mut stream, &hello).map_err(|e| wire("hello", e))?;
    match read_message(&mut stream, super::protocol::DEFAULT_MAX_MESSAGE)
        .map_err(|e| wire("hello", e))?
    {
        Message::Welcome { adapter, timing } => Ok(Session {
            stream,
            adapter,
            timing,
        }),
        Message::Refuse(reason) => Err(Error::Net(format!(
            "the edge at {} refused: {reason}",
            o.server
        ))),
        m => Err(wire("hello", format!("expected welcome, got {}", m.name()))),
    }
}

/// Sends one payload and waits for its reply; returns the reply and the time from the
/// start of sending to the reply received, ms.
fn exchange(s: &mut Session, id: u64, payload: Vec<u8>) -> Result<(Reply, f64)> {
    let t = Instant::now();
    let what = format!("request {id}");
    write_message(&mut s.stream, &Message::Request { id, payload })
        .map_err(|e| wire(&format!("{what}: sending"), e))?;
    let m = read_message(&mut s.stream, super::protocol::DEFAULT_MAX_MESSAGE)
        .map_err(|e| wire(&format!("{what}: waiting for the reply"), e))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    match m {
        Message::Reply(r) if r.id == id => Ok((r, ms)),
        Message::Reply(r) => Err(wire(&what, format!("reply to request {}", r.id))),
        Message::Error { reason, .. } => Err(wire(&what, format!("the edge failed: {reason}"))),
        m => Err(wire(&what, format!("expected a reply, got {}", m.name()))),
    }
}

/// Runs `o.warmup + o.requests` inferences of `o.config` (see the module docs); calls
/// `progress(done)` after each timed one.
pub fn offload(
    ctx: &GpuContext,
    p: &Prepared,
    files: &TrainedFiles,
    data: Option<&Dataset>,
    o: &OffloadOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Offloaded> {
    let g = &p.model.graph;
    let placement = o.config.resolve(g)?;
    let norm = data.map_or(RANDOM_INPUT_NORM, |d| d.norm);
    let run = RunInfo::new(&ctx.summary);
    let work = match placement {
        Placement::DeviceOnly => {
            DeviceWork::Whole(Executor::new(ctx, &p.model, 1..g.nodes.len(), 1, &[])?)
        }
        Placement::EdgeOnly => DeviceWork::Pixels,
        Placement::Split(split) => {
            let (pruned, bottleneck) = load_parts(&p.torch, &p.model, &o.config, files)?;
            let parts = SplitParts {
                model: pruned.as_ref().unwrap_or(&p.model),
                bottleneck,
            };
            DeviceWork::Split(DevicePart::new(
                ctx,
                &parts,
                split,
                o.config.variant.encoding,
                1,
            )?)
        }
    };
    let mut session = match work {
        DeviceWork::Whole(_) => None,
        _ => Some(connect(p, o, norm).map_err(phase("connecting"))?),
    };
    let mut rng = Rng::new(o.seed);
    let mut rows = Vec::with_capacity(o.requests);
    let mut all_logits = Vec::with_capacity(o.requests);
    let mut last = Instant::now();
    for i in 0..o.warmup + o.requests {
        if o.interval_ms > 0.0 {
            let gap = Duration::from_secs_f64(o.interval_ms / 1e3);
            std::thread::sleep(gap.saturating_sub(last.elapsed()));
        }
        let idle_ms = last.elapsed().as_secs_f64() * 1e3;
        let x = input(p, data, i, &mut rng);
        let t0 = Instant::now();
        let (row, logits) = match (&work, session.as_mut()) {
            (DeviceWork::Whole(exec), _) => {
                exec.set_input(0, &x.image)?;
                let (out, device_ms, _) = run_timed(exec)?;
                let logits = out.into_iter().next().map(|t| t.data).unwrap_or_default();
                let row = OffloadRow {
                    request: i.saturating_sub(o.warmup),
                    config: o.config.clone(),
                    payload_bytes: 0,
                    idle_ms,
                    device_ms,
                    encode_ms: 0.0,
                    network_ms: 0.0,
                    server_ms: 0.0,
                    decode_ms: 0.0,
                    suffix_ms: 0.0,
                    total_ms: t0.elapsed().as_secs_f64() * 1e3,
                    predicted_total_ms: o.link.as_ref().map(|_| device_ms),
                    predicted_naive_ms: o.link.as_ref().map(|_| device_ms),
                    tcp_rtt_ms: None,
                    tcp_cwnd: None,
                    tcp_retrans: None,
                    label: x.label,
                    prediction: argmax(&logits),
                };
                (row, logits)
            }
            (work, Some(s)) => {
                let (payload, device_ms, encode_ms) = match work {
                    DeviceWork::Split(part) => {
                        let (frame, cost) = part.run(&x.image)?;
                        (frame, cost.prefix_ms, cost.encode_ms)
                    }
                    _ => (x.pixels.clone(), 0.0, 0.0),
                };
                let before = tcp_info(&s.stream);
                let bytes = payload.len() as u64;
                let (reply, round_ms) =
                    exchange(s, i as u64, payload).map_err(phase("offloading"))?;
                let after = tcp_info(&s.stream);
                let compute = device_ms + encode_ms + reply.server_ms;
                let predict = |ch: &Channel| compute + ch.rtt_ms() + ch.tx_ms_in_state(bytes, 0);
                let tcp = |ch: &Channel| {
                    let window = before.map_or(Window::Cold, |b| Window::Segments(b.cwnd.into()));
                    ch.clone().with_transport(Transport::Tcp(Tcp {
                        window,
                        ..Tcp::default()
                    }))
                };
                let row = OffloadRow {
                    request: i.saturating_sub(o.warmup),
                    config: o.config.clone(),
                    payload_bytes: bytes,
                    idle_ms,
                    device_ms,
                    encode_ms,
                    network_ms: (round_ms - reply.server_ms).max(0.0),
                    server_ms: reply.server_ms,
                    decode_ms: reply.decode_ms,
                    suffix_ms: reply.suffix_ms,
                    total_ms: t0.elapsed().as_secs_f64() * 1e3,
                    predicted_total_ms: o.link.as_ref().map(|ch| predict(&tcp(ch))),
                    predicted_naive_ms: o
                        .link
                        .as_ref()
                        .map(|ch| predict(&ch.clone().with_transport(Transport::Naive))),
                    tcp_rtt_ms: after.map(|a| a.rtt_ms),
                    tcp_cwnd: before.map(|b| b.cwnd),
                    tcp_retrans: after.map(|a| a.retrans),
                    label: x.label,
                    prediction: argmax(&reply.logits),
                };
                (row, reply.logits)
            }
            (_, None) => {
                return Err(Error::InvalidArg(
                    "no connection to the edge for an offloaded configuration".into(),
                ))
            }
        };
        last = Instant::now();
        if i >= o.warmup {
            rows.push(row);
            all_logits.push(logits);
            progress(rows.len());
        }
    }
    let tcp = TcpSettings::read();
    let (adapter, timing) = session.map(|s| (s.adapter, s.timing)).unwrap_or_default();
    let manifest = OffloadManifest {
        run,
        model: g.name.clone(),
        model_hash: p.model.hash(),
        weights: p.weights_source.clone(),
        config: o.config.to_string(),
        server: if matches!(work, DeviceWork::Whole(_)) {
            String::new()
        } else {
            o.server.clone()
        },
        server_adapter: adapter,
        server_timing: timing,
        requests: o.requests,
        warmup: o.warmup,
        interval_ms: o.interval_ms,
        inputs: match data {
            Some(d) => format!(
                "{} test images of {}x{}x{}",
                d.len(),
                d.shape.c,
                d.shape.h,
                d.shape.w
            ),
            None => format!("seeded random pixels (seed {})", o.seed),
        },
        link: o
            .link
            .as_ref()
            .map(|c| format!("{} (RTT {} ms)", c.spec(), c.rtt_ms())),
        tcp_slow_start_after_idle: tcp.slow_start_after_idle,
        tcp_congestion_control: tcp.congestion_control,
        timing_note: "device_ms, encode_ms: the device's GPU (pass timestamps where the adapter \
            has them); network_ms: the device's monotonic clock from the start of sending to \
            the reply received, minus server_ms; server_ms, decode_ms, suffix_ms: reported by \
            the edge (its clock and GPU); total_ms: the device's clock from the inference's \
            start to the reply; predictions: the measured compute times plus the link models' \
            transfer and RTT (the TCP model with the window TCP_INFO reported before sending)"
            .into(),
    };
    Ok(Offloaded {
        rows,
        logits: all_logits,
        manifest,
    })
}
