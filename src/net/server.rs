//! `splitbench serve`: the edge. Accepts connections (each on its own thread, sharing the
//! GPU), checks each device's hello against its model, then answers every request by
//! running the edge's half of the configuration on its GPU and replying with the logits and
//! its own times. A bad message gets an error reply and closes that connection only.

use super::protocol::{read_message, write_message, Hello, Message, ProtocolError, Reply};
use crate::compress::{Config, DecodeLimits, Encoding, Placement};
use crate::data::Normalization;
use crate::error::{Error, Result};
use crate::eval::{load_parts, EdgePart, SplitParts, TrainedFiles};
use crate::gpu::{run_timed, Executor, GpuContext};
use crate::model::Prepared;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Most images one request may carry.
pub const MAX_BATCH: u32 = 256;

/// How the edge serves.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Largest message accepted, bytes.
    pub max_message: usize,
    /// A connection idle this long between messages is closed.
    pub idle_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_message: super::protocol::DEFAULT_MAX_MESSAGE,
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// What the edge knows of itself: its GPU, its model and the trained files beside it.
pub struct Edge<'a> {
    /// The GPU.
    pub ctx: &'a GpuContext,
    /// The model.
    pub model: &'a Prepared,
    /// Its pruned and bottleneck files.
    pub files: &'a TrainedFiles,
    /// Its own per-node profile of the model (batch 1), CSV, for `tradeoff --edge`; `None`:
    /// profile requests are refused.
    pub profile: Option<&'a str>,
}

/// What happened on the server, for its log.
#[derive(Clone, Debug, PartialEq)]
pub enum ServeEvent {
    /// A device connected and was accepted for a configuration.
    Accepted {
        /// The device's address.
        peer: SocketAddr,
        /// Its configuration.
        config: String,
    },
    /// A connection ended: cleanly, or with the reason it was closed.
    Closed {
        /// The device's address.
        peer: SocketAddr,
        /// Requests answered.
        requests: u64,
        /// Why it was closed early (`None`: the device hung up).
        error: Option<String>,
    },
}

/// The edge's half of one accepted configuration.
// One per connection: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum EdgeWork<'a> {
    /// A split: frame in, suffix out.
    Split(EdgePart<'a>),
    /// Edge-only: uint8 pixels in, the whole model out.
    Whole {
        exec: Executor<'a>,
        norm: Normalization,
        per_image: usize,
    },
}

impl<'a> Edge<'a> {
    /// Why a device with this protocol version, model hash and input cannot be served.
    fn check_model(
        &self,
        version: u8,
        hash: &str,
        input: [u32; 3],
    ) -> std::result::Result<(), String> {
        let g = &self.model.model.graph;
        if version != super::protocol::PROTOCOL_VERSION {
            return Err(format!(
                "protocol version {version} (this server speaks {})",
                super::protocol::PROTOCOL_VERSION
            ));
        }
        let own = self.model.model.hash();
        if hash != own {
            return Err(format!(
                "model {} here is {} {} with hash {own}, the device has hash {hash}",
                g.name,
                g.name,
                g.input_shape()
            ));
        }
        let s = g.input_shape();
        if input != [s.c as u32, s.h as u32, s.w as u32] {
            return Err(format!(
                "input {}x{}x{}, the model here takes {s}",
                input[0], input[1], input[2]
            ));
        }
        Ok(())
    }

    /// The refusal reason for `h`, or the pipeline that serves it.
    fn accept(&self, h: &Hello) -> std::result::Result<EdgeWork<'a>, String> {
        let g = &self.model.model.graph;
        self.check_model(h.version, &h.model_hash, h.input)?;
        let s = g.input_shape();
        if h.batch == 0 || h.batch > MAX_BATCH {
            return Err(format!("batch {} not in 1..={MAX_BATCH}", h.batch));
        }
        let batch = h.batch as usize;
        let config: Config = h.config.parse().map_err(|e: Error| e.to_string())?;
        let placement = config.resolve(g).map_err(|e| e.to_string())?;
        let err = |e: Error| e.to_string();
        match placement {
            Placement::DeviceOnly => Err(format!(
                "`{config}` runs on the device alone: nothing to serve"
            )),
            Placement::EdgeOnly if s.c > 3 => Err(format!(
                "uint8 pixels need 1 to 3 channels, the model takes {s}"
            )),
            Placement::EdgeOnly => {
                let exec = Executor::new(self.ctx, &self.model.model, 1..g.nodes.len(), batch, &[])
                    .map_err(err)?;
                let [m0, m1, m2, s0, s1, s2] = h.normalization;
                Ok(EdgeWork::Whole {
                    exec,
                    norm: Normalization {
                        mean: [m0, m1, m2],
                        std: [s0, s1, s2],
                    },
                    per_image: s.numel(),
                })
            }
            Placement::Split(split) => {
                let (pruned, bottleneck) =
                    load_parts(&self.model.torch, &self.model.model, &config, self.files)
                        .map_err(err)?;
                let parts = SplitParts {
                    model: pruned.as_ref().unwrap_or(&self.model.model),
                    bottleneck,
                };
                let part = EdgePart::new(self.ctx, &parts, split, config.variant.encoding, batch)
                    .map_err(err)?;
                Ok(EdgeWork::Split(part))
            }
        }
    }

    /// Serves connections from `listener` until `stop` is set (checked every 50 ms between
    /// connections), each on its own thread; `log` hears about every connection.
    pub fn serve(
        &self,
        listener: &TcpListener,
        opts: &ServeOptions,
        stop: &AtomicBool,
        log: &(dyn Fn(ServeEvent) + Sync),
    ) -> Result<()> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("listener", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(addr.to_string(), e))?;
        let live = AtomicUsize::new(0);
        std::thread::scope(|scope| -> Result<()> {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        live.fetch_add(1, Ordering::Relaxed);
                        let live = &live;
                        scope.spawn(move || {
                            let (requests, error) = self.connection(stream, peer, opts, log);
                            log(ServeEvent::Closed {
                                peer,
                                requests,
                                error,
                            });
                            live.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => return Err(Error::io(addr.to_string(), e)),
                }
            }
            Ok(())
        })
    }

    /// One connection: hello, then requests until the device hangs up or a message is bad.
    /// Returns the requests answered and why it ended early.
    fn connection(
        &self,
        mut stream: TcpStream,
        peer: SocketAddr,
        opts: &ServeOptions,
        log: &(dyn Fn(ServeEvent) + Sync),
    ) -> (u64, Option<String>) {
        let setup = stream
            .set_nonblocking(false)
            .and_then(|_| stream.set_nodelay(true))
            .and_then(|_| stream.set_read_timeout(Some(opts.idle_timeout)))
            // A device that stops reading cannot hold this thread forever.
            .and_then(|_| stream.set_write_timeout(Some(opts.idle_timeout)));
        if let Err(e) = setup {
            return (0, Some(format!("socket setup: {e}")));
        }
        let hello = match read_message(&mut stream, opts.max_message) {
            Ok(Message::Hello(h)) => h,
            Ok(Message::ProfileRequest {
                version,
                model_hash,
                input,
            }) => {
                let answer = self
                    .check_model(version, &model_hash, input)
                    .and_then(|()| {
                        self.profile
                            .ok_or_else(|| "this edge was started without a profile".to_string())
                    });
                let (m, error) = match answer {
                    Ok(csv) => (
                        Message::Profile {
                            adapter: self.ctx.summary.name.clone(),
                            timing: crate::gpu::TimingMethod::best_whole(self.ctx.features)
                                .as_str()
                                .into(),
                            csv: csv.to_string(),
                        },
                        None,
                    ),
                    Err(reason) => (Message::Refuse(reason.clone()), Some(reason)),
                };
                let _ = write_message(&mut stream, &m);
                return (0, error);
            }
            Ok(m) => {
                let reason = format!("expected hello, got {}", m.name());
                let _ = write_message(&mut stream, &Message::Refuse(reason.clone()));
                return (0, Some(reason));
            }
            Err(ProtocolError::Io(e)) => return (0, Some(format!("hello: {e}"))),
            Err(e) => {
                // Malformed, truncated inside its length or oversized: say why, then close.
                let reason = format!("hello: {e}");
                let _ = write_message(&mut stream, &Message::Refuse(reason.clone()));
                return (0, Some(reason));
            }
        };
        let work = match self.accept(&hello) {
            Ok(w) => w,
            Err(reason) => {
                let _ = write_message(&mut stream, &Message::Refuse(reason.clone()));
                return (0, Some(format!("refused: {reason}")));
            }
        };
        let welcome = Message::Welcome {
            adapter: self.ctx.summary.name.clone(),
            timing: crate::gpu::TimingMethod::best_whole(self.ctx.features)
                .as_str()
                .into(),
        };
        if let Err(e) = write_message(&mut stream, &welcome) {
            return (0, Some(format!("welcome: {e}")));
        }
        log(ServeEvent::Accepted {
            peer,
            config: hello.config.clone(),
        });
        let mut answered = 0;
        loop {
            // Every failure ends the connection with an error message naming it.
            let (id, reason) = match read_message(&mut stream, opts.max_message) {
                Ok(Message::Request { id, payload }) => {
                    let t0 = Instant::now();
                    match work.run(&payload) {
                        Ok((logits, decode_ms, suffix_ms)) => {
                            let reply = Message::Reply(Reply {
                                id,
                                decode_ms,
                                suffix_ms,
                                server_ms: t0.elapsed().as_secs_f64() * 1e3,
                                logits,
                            });
                            if let Err(e) = write_message(&mut stream, &reply) {
                                return (answered, Some(format!("reply {id}: {e}")));
                            }
                            answered += 1;
                            continue;
                        }
                        Err(e) => (id, format!("request {id}: {e}")),
                    }
                }
                Err(ProtocolError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return (answered, None);
                }
                Ok(m) => (0, format!("expected a request, got {}", m.name())),
                Err(e) => (0, e.to_string()),
            };
            let error = Message::Error {
                id,
                reason: reason.clone(),
            };
            let _ = write_message(&mut stream, &error);
            return (answered, Some(reason));
        }
    }
}

impl EdgeWork<'_> {
    /// The logits and the decode and suffix times of one request's payload.
    fn run(&self, payload: &[u8]) -> Result<(Vec<f32>, f64, f64)> {
        match self {
            EdgeWork::Split(part) => {
                let (logits, cost) = part.run(payload, &DecodeLimits::default())?;
                Ok((logits, cost.decode_ms, cost.suffix_ms))
            }
            EdgeWork::Whole {
                exec,
                norm,
                per_image,
            } => {
                let t0 = Instant::now();
                let want = exec.batch() * per_image;
                if payload.len() != want {
                    return Err(Error::InvalidArg(format!(
                        "{} pixels, the model takes {} x {per_image}",
                        payload.len(),
                        exec.batch()
                    )));
                }
                let c = exec.graph().input_shape().c;
                let plane = per_image / c;
                let x: Vec<f32> = payload
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| norm.apply((i / plane) % c, p))
                    .collect();
                exec.set_input(0, &x)?;
                let decode_ms = t0.elapsed().as_secs_f64() * 1e3;
                let (out, suffix_ms, _) = run_timed(exec)?;
                let logits = out
                    .into_iter()
                    .next()
                    .map(|t| t.data)
                    .ok_or_else(|| Error::gpu("executor returned no output"))?;
                Ok((logits, decode_ms, suffix_ms))
            }
        }
    }
}

/// Encoding of a request's payload for a configuration (for logs): a frame, or pixels.
pub fn payload_kind(config: &Config) -> &'static str {
    match config.variant.encoding {
        Encoding::Uint8Input => "uint8 pixels",
        Encoding::Nothing => "nothing",
        _ => "wire frame",
    }
}
